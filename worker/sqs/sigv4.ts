/**
 * AWS Signature Version 4 verification for SQS requests, in both forms AWS defines: the
 * `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…` header with
 * `X-Amz-Date`, and the presigned query (`X-Amz-Algorithm`, `X-Amz-Credential`,
 * `X-Amz-Date`, `X-Amz-Expires`, `X-Amz-SignedHeaders`, `X-Amz-Signature`). The canonical
 * request, string to sign and signing key follow AWS's SigV4 specification ("Create a
 * canonical request", "Create a string to sign", "Calculate the signature"): path segments
 * normalised and URI-encoded once more (every service but S3), query pairs sorted and
 * RFC 3986-encoded, signed headers lower-cased with whitespace collapsed, and the payload's
 * SHA-256. Any region is accepted; the service must be `sqs`; the request time may be at
 * most 15 minutes from the server's clock (AWS's `RequestExpired` window).
 */
import { timingSafeEqual } from "../auth";
import { SqsError } from "./errors";

export const ALGORITHM = "AWS4-HMAC-SHA256";
export const SERVICE = "sqs";
/** How far a request's time may be from the server's (AWS: 15 minutes). */
export const MAX_SKEW_MS = 15 * 60 * 1000;
/** Longest presigned validity AWS allows (7 days). */
const MAX_PRESIGNED_SECONDS = 604_800;
const UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD";

/** What a request says about its signature, before anything is verified. */
export interface SigV4Claim {
  accessKeyId: string;
  /** `YYYYMMDD` of the credential scope. */
  scopeDate: string;
  region: string;
  /** `YYYYMMDDTHHMMSSZ`. */
  amzDate: string;
  signedHeaders: string[];
  signature: string;
  /** Seconds the presigned URL is valid; null for the header form. */
  expires: number | null;
}

/** The request as it arrived: method, URL exactly as sent, headers, raw body. */
export interface SignedRequest {
  method: string;
  url: URL;
  headers: Headers;
  body: Uint8Array;
}

const incomplete = (message: string): SqsError => new SqsError("IncompleteSignature", message);
const mismatch = (message: string): SqsError => new SqsError("SignatureDoesNotMatch", message);

/** Reads the signature claim of a request; throws for a missing or malformed one. */
export function readClaim(req: SignedRequest): SigV4Claim {
  const header = req.headers.get("authorization");
  const query = req.url.searchParams;
  if (header) return claimFromHeader(header, req.headers);
  if (query.has("X-Amz-Signature") || query.has("X-Amz-Algorithm")) return claimFromQuery(query);
  throw new SqsError("MissingAuthenticationToken", "Request is missing Authentication Token");
}

function claimFromHeader(header: string, headers: Headers): SigV4Claim {
  const space = header.indexOf(" ");
  const algorithm = space < 0 ? header : header.slice(0, space);
  if (algorithm !== ALGORITHM) throw incomplete(`Unsupported AWS 'algorithm': '${algorithm.slice(0, 40)}'`);
  const fields = new Map<string, string>();
  for (const part of header.slice(space + 1).split(",")) {
    const eq = part.indexOf("=");
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const credential = fields.get("Credential");
  const signedHeaders = fields.get("SignedHeaders");
  const signature = fields.get("Signature");
  if (!credential || !signedHeaders || !signature) {
    throw incomplete("Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters.");
  }
  const amzDate = headers.get("x-amz-date");
  if (!amzDate) throw incomplete("Authorization header requires existence of a 'X-Amz-Date' header.");
  return { ...scope(credential), amzDate, signedHeaders: signedHeaders.split(";"), signature, expires: null };
}

function claimFromQuery(query: URLSearchParams): SigV4Claim {
  const algorithm = query.get("X-Amz-Algorithm");
  if (algorithm !== ALGORITHM) throw incomplete(`Unsupported AWS 'algorithm': '${(algorithm ?? "").slice(0, 40)}'`);
  const credential = query.get("X-Amz-Credential");
  const amzDate = query.get("X-Amz-Date");
  const signedHeaders = query.get("X-Amz-SignedHeaders");
  const signature = query.get("X-Amz-Signature");
  const expiresText = query.get("X-Amz-Expires");
  if (!credential || !amzDate || !signedHeaders || !signature || !expiresText) {
    throw incomplete("AWS query-string parameters must include 'X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Signature', 'X-Amz-SignedHeaders', 'X-Amz-Date' and 'X-Amz-Expires'.");
  }
  const expires = Number(expiresText);
  if (!/^\d{1,7}$/.test(expiresText) || expires < 1 || expires > MAX_PRESIGNED_SECONDS) {
    throw new SqsError("InvalidParameterValue", `X-Amz-Expires must be an integer from 1 to ${MAX_PRESIGNED_SECONDS}.`);
  }
  return { ...scope(credential), amzDate, signedHeaders: signedHeaders.split(";"), signature, expires };
}

/** `AKID/20240101/us-east-1/sqs/aws4_request` → its parts. */
function scope(credential: string): Pick<SigV4Claim, "accessKeyId" | "scopeDate" | "region"> {
  const parts = credential.split("/");
  if (parts.length !== 5 || parts.some((p) => p === "")) {
    throw incomplete(`Credential should have the form <accessKeyId>/<date>/<region>/${SERVICE}/aws4_request.`);
  }
  const [accessKeyId, scopeDate, region, service, terminator] = parts as [string, string, string, string, string];
  if (terminator !== "aws4_request") throw mismatch("Credential should be scoped with a valid terminator: 'aws4_request'.");
  if (service !== SERVICE) throw mismatch(`Credential should be scoped to correct service: '${SERVICE}'.`);
  return { accessKeyId, scopeDate, region };
}

/** ms epoch of `YYYYMMDDTHHMMSSZ`, or NaN. */
export function parseAmzDate(amzDate: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  return m ? Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) : Number.NaN;
}

/** Refuses a request signed too far from `now`, or a presigned URL that has expired. */
export function checkTime(claim: SigV4Claim, now: number): void {
  const at = parseAmzDate(claim.amzDate);
  if (Number.isNaN(at)) throw incomplete(`Date must be in ISO-8601 'basic format'. Got '${claim.amzDate.slice(0, 40)}'.`);
  if (claim.scopeDate !== claim.amzDate.slice(0, 8)) {
    throw mismatch(`Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${claim.scopeDate}' != '${claim.amzDate.slice(0, 8)}'.`);
  }
  if (at > now + MAX_SKEW_MS) throw new SqsError("RequestExpired", `Signature not yet current: ${claim.amzDate} is still later than the server's time plus 15 minutes.`);
  if (claim.expires === null) {
    if (at < now - MAX_SKEW_MS) throw new SqsError("RequestExpired", `Signature expired: ${claim.amzDate} is now earlier than the server's time minus 15 minutes.`);
  } else if (at + claim.expires * 1000 < now) {
    throw new SqsError("RequestExpired", "Request has expired.");
  }
}

/** Throws `SignatureDoesNotMatch` unless `claim.signature` is the request's signature under `secret`. */
export async function verifySignature(req: SignedRequest, claim: SigV4Claim, secret: string): Promise<void> {
  if (!claim.signedHeaders.includes("host")) throw mismatch("'Host' must be a signed header.");
  const bodyHash = hex(await crypto.subtle.digest("SHA-256", req.body));
  const declared = req.headers.get("x-amz-content-sha256");
  if (declared !== null && declared !== UNSIGNED_PAYLOAD && declared !== bodyHash) {
    throw mismatch("The provided 'x-amz-content-sha256' header does not match what was computed.");
  }
  // The payload hash the client signed: its declared one, else the body's; a presigned URL
  // may also have been signed as UNSIGNED-PAYLOAD.
  const candidates = declared !== null ? [declared] : claim.expires !== null ? [bodyHash, UNSIGNED_PAYLOAD] : [bodyHash];
  const key = await signingKey(secret, claim.scopeDate, claim.region);
  for (const payloadHash of candidates) {
    const canonical = canonicalRequest(req, claim, payloadHash);
    const stringToSign = [ALGORITHM, claim.amzDate, `${claim.scopeDate}/${claim.region}/${SERVICE}/aws4_request`, hex(await sha256(canonical))].join("\n");
    const signature = hex(await crypto.subtle.sign("HMAC", key, utf8(stringToSign)));
    if (timingSafeEqual(signature, claim.signature.toLowerCase())) return;
  }
  throw mismatch("The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.");
}

/** The canonical request of AWS's SigV4 specification. */
export function canonicalRequest(req: SignedRequest, claim: SigV4Claim, payloadHash: string): string {
  const headers = claim.signedHeaders.map((name) => `${name}:${(req.headers.get(name) ?? "").replace(/[ \t]+/g, " ").trim()}`);
  return [req.method, canonicalPath(req.url.pathname), canonicalQuery(req.url.searchParams), ...headers, "", claim.signedHeaders.join(";"), payloadHash].join("\n");
}

/** Path segments normalised (`.`, `..`, empty ones dropped) and each URI-encoded once more. */
export function canonicalPath(path: string): string {
  const segments: string[] = [];
  for (const segment of path.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") segments.pop();
    else segments.push(segment);
  }
  const joined = `/${segments.join("/")}${segments.length > 0 && path.endsWith("/") ? "/" : ""}`;
  return escapeUri(joined).replace(/%2F/g, "/");
}

/** Every query pair but `X-Amz-Signature`, encoded and sorted by key, then value. */
export function canonicalQuery(params: URLSearchParams): string {
  const pairs: Array<[string, string]> = [];
  for (const [k, v] of params) if (k !== "X-Amz-Signature") pairs.push([escapeUri(k), escapeUri(v)]);
  pairs.sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join("&");
}

/** RFC 3986 encoding: everything but `A-Z a-z 0-9 - _ . ~`. */
export function escapeUri(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Signing keys by secret, day and region (as the SDKs cache them): four HMACs saved per request. */
const signingKeys = new Map<string, CryptoKey>();
const SIGNING_KEY_CACHE_SIZE = 100;

async function signingKey(secret: string, date: string, region: string): Promise<CryptoKey> {
  const cacheKey = `${date}\n${region}\n${secret}`;
  const cached = signingKeys.get(cacheKey);
  if (cached) return cached;
  let raw: ArrayBuffer = utf8(`AWS4${secret}`).buffer as ArrayBuffer;
  for (const part of [date, region, SERVICE, "aws4_request"]) raw = await hmac(raw, part);
  const key = await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  signingKeys.set(cacheKey, key);
  if (signingKeys.size > SIGNING_KEY_CACHE_SIZE) signingKeys.delete(signingKeys.keys().next().value!);
  return key;
}

async function hmac(key: ArrayBuffer, data: string): Promise<ArrayBuffer> {
  const k = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return crypto.subtle.sign("HMAC", k, utf8(data));
}

const sha256 = (s: string): Promise<ArrayBuffer> => crypto.subtle.digest("SHA-256", utf8(s));
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

export function hex(buf: ArrayBuffer): string {
  return Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join("");
}
