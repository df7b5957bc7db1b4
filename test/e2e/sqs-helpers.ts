/**
 * Helpers for the SQS e2e tests: real AWS SDK v3 clients pointed at the local server, the
 * SDK's own SigV4 signer (`@smithy/signature-v4`) for hand-built JSON and query-protocol
 * requests, access keys with chosen capabilities, and an MD5-of-attributes written from
 * AWS's description (not from the server's code), to check the server's digests.
 */
import { createHash, createHmac } from "node:crypto";
import { SQSClient } from "@aws-sdk/client-sqs";
import { SignatureV4 } from "@smithy/signature-v4";
import { adminKey, api, url } from "./helpers";

export const REGION = "eu-west-1";
export const ACCOUNT = "000000000000";

export interface Creds {
  accessKeyId: string;
  secretAccessKey: string;
}

export const adminCreds = (): Creds => ({ accessKeyId: "admin", secretAccessKey: adminKey() });

/** An unmodified SDK client: only `endpoint`, `region` and credentials are set. */
export function sqsClient(creds: Creds = adminCreds()): SQSClient {
  return new SQSClient({ endpoint: url(), region: REGION, credentials: creds });
}

export const queueUrlOf = (name: string): string => `${url()}/${ACCOUNT}/${name}`;

/** Creates an access key with `capabilities` through /v1/keys. */
export async function accessKey(capabilities: Record<string, string[]>): Promise<Creds> {
  const res = await api<{ accessKeyId: string; secretAccessKey: string }>("POST", "/v1/keys", { capabilities });
  if (res.status !== 201) throw new Error(`POST /v1/keys -> ${res.status} ${JSON.stringify(res.body)}`);
  return { accessKeyId: res.body.accessKeyId, secretAccessKey: res.body.secretAccessKey };
}

/** The `Checksum` the SDK's signer wants, on node:crypto. */
class Sha256 {
  readonly #hash;
  constructor(secret?: string | Uint8Array | ArrayBuffer | ArrayBufferView) {
    const key = secret === undefined ? undefined : typeof secret === "string" ? secret : Buffer.from(secret instanceof ArrayBuffer ? new Uint8Array(secret) : new Uint8Array(secret.buffer, secret.byteOffset, secret.byteLength));
    this.#hash = key === undefined ? createHash("sha256") : createHmac("sha256", key);
  }
  update(data: string | Uint8Array | ArrayBufferView): void {
    this.#hash.update(typeof data === "string" ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.#hash.digest());
  }
  reset(): void {}
}

export interface RawRequest {
  method?: "GET" | "POST";
  path?: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: string;
  creds?: Creds | null;
  /** The signing time (default now). */
  date?: Date;
  region?: string;
  service?: string;
  /** Presign into the query string instead of an Authorization header. */
  presign?: boolean;
}

export interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
}

/** Sends a request signed by the SDK's SigV4 signer (or unsigned with `creds: null`). */
export async function rawRequest(r: RawRequest): Promise<RawResponse> {
  const base = new URL(url());
  const request = {
    method: r.method ?? "POST",
    protocol: base.protocol,
    hostname: base.hostname,
    port: Number(base.port),
    path: r.path ?? "/",
    query: r.query ?? {},
    headers: { host: base.host, ...(r.headers ?? {}) } as Record<string, string>,
    body: r.body,
  };
  let signed = request;
  if (r.creds !== null) {
    const signer = new SignatureV4({ service: r.service ?? "sqs", region: r.region ?? REGION, credentials: r.creds ?? adminCreds(), sha256: Sha256 });
    signed = (r.presign
      ? await signer.presign(request, { signingDate: r.date ?? new Date(), expiresIn: 300 })
      : await signer.sign(request, { signingDate: r.date ?? new Date() })) as typeof request;
  }
  const query = new URLSearchParams(signed.query as Record<string, string>).toString().replace(/\+/g, "%20");
  const headers = { ...signed.headers };
  delete headers.host;
  const res = await fetch(`${base.origin}${signed.path}${query ? `?${query}` : ""}`, { method: signed.method, headers, body: signed.body });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** A JSON-protocol request (`X-Amz-Target: AmazonSQS.<action>`), signed unless `creds: null`. */
export async function jsonRequest(action: string, body: unknown, options: Omit<RawRequest, "body"> = {}): Promise<RawResponse & { json: any }> {
  const res = await rawRequest({
    ...options,
    headers: { "content-type": "application/x-amz-json-1.0", "x-amz-target": `AmazonSQS.${action}`, ...(options.headers ?? {}) },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  let json: unknown = undefined;
  try {
    json = JSON.parse(res.text);
  } catch {
    json = undefined;
  }
  return { ...res, json };
}

/** A query-protocol form POST (`Action=…&Version=2012-11-05&…`), as older SDKs send. */
export async function queryRequest(params: Record<string, string>, options: Omit<RawRequest, "body"> = {}): Promise<RawResponse> {
  const form = new URLSearchParams({ Version: "2012-11-05", ...params }).toString();
  return rawRequest({ ...options, headers: { "content-type": "application/x-www-form-urlencoded; charset=utf-8", ...(options.headers ?? {}) }, body: form });
}

/** The text of the first `<name>` element of an XML document. */
export function xmlText(xml: string, name: string): string | undefined {
  const m = new RegExp(`<${name}>([\\s\\S]*?)</${name}>`).exec(xml);
  return m ? decodeXml(m[1]!) : undefined;
}

export function xmlTexts(xml: string, name: string): string[] {
  return [...xml.matchAll(new RegExp(`<${name}>([\\s\\S]*?)</${name}>`, "g"))].map((m) => decodeXml(m[1]!));
}

function decodeXml(s: string): string {
  return s.replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n))).replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&amp;/g, "&");
}

export interface AttributeValue {
  DataType: string;
  StringValue?: string;
  BinaryValue?: Uint8Array;
}

/**
 * MD5OfMessageAttributes as the SQS Developer Guide describes it: attributes sorted by
 * name; each as name, data type (each a 4-byte big-endian length and UTF-8 bytes), a
 * transport byte (1 string/number, 2 binary) and the value with its length.
 */
export function md5OfAttributes(attributes: Record<string, AttributeValue>): string {
  const hash = createHash("md5");
  const withLength = (bytes: Buffer): void => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(bytes.length);
    hash.update(len);
    hash.update(bytes);
  };
  for (const name of Object.keys(attributes).sort()) {
    const a = attributes[name]!;
    withLength(Buffer.from(name, "utf8"));
    withLength(Buffer.from(a.DataType, "utf8"));
    if (a.BinaryValue !== undefined) {
      hash.update(Buffer.from([2]));
      withLength(Buffer.from(a.BinaryValue));
    } else {
      hash.update(Buffer.from([1]));
      withLength(Buffer.from(a.StringValue ?? "", "utf8"));
    }
  }
  return hash.digest("hex");
}

export const md5 = (s: string): string => createHash("md5").update(s, "utf8").digest("hex");
