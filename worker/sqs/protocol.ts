/**
 * The two wire protocols of SQS, parsed into one input shape and rendered back:
 *  - AWS JSON 1.0: `Content-Type: application/x-amz-json-1.0`, `X-Amz-Target:
 *    AmazonSQS.<Action>`, a JSON object in, a JSON object out; errors as
 *    `{"__type": "com.amazonaws.sqs#<Shape>", "message"}` with `x-amzn-query-error`.
 *  - The query protocol (older SDKs): `Action=<Action>&…` form-encoded in the body or the
 *    URL, lists and maps flattened (`AttributeName.1`, `Attribute.1.Name`/`.Value`,
 *    `MessageAttribute.1.Value.StringValue`, `SendMessageBatchRequestEntry.1.Id`, …); XML
 *    out (`<ActionResponse><ActionResult>…</ActionResult><ResponseMetadata>…`), errors as
 *    `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>`.
 * Actions see the JSON protocol's input shape whichever protocol carried the request.
 */
import { SqsError } from "./errors";

export type Protocol = "json" | "query";

/** An action's input in the JSON protocol's shape (query requests are converted to it). */
export type SqsInput = Record<string, unknown>;

export interface ParsedRequest {
  action: string;
  input: SqsInput;
}

const XMLNS = "http://queue.amazonaws.com/doc/2012-11-05/";
const JSON_TYPE = "application/x-amz-json-1.0";
const TARGET_PREFIX = "AmazonSQS.";

/** Which protocol a request speaks, from its content type (and the JSON protocol's target header). */
export function protocolOf(headers: Headers): Protocol {
  const type = (headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  if (type.startsWith("application/x-amz-json")) return "json";
  return type === "" && headers.has("x-amz-target") ? "json" : "query";
}

const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/** The action and its input; throws `SqsError` for a missing action or a body that does not parse. */
export function parseRequest(protocol: Protocol, headers: Headers, url: URL, body: Uint8Array): ParsedRequest {
  if (protocol === "json") {
    const target = headers.get("x-amz-target");
    if (!target) throw new SqsError("MissingAction", "The request must contain the header X-Amz-Target: AmazonSQS.<Action>.");
    if (!target.startsWith(TARGET_PREFIX)) throw new SqsError("InvalidAction", `The action or operation requested is invalid: '${target.slice(0, 100)}'.`);
    let input: unknown;
    try {
      input = body.byteLength === 0 ? {} : JSON.parse(decoder.decode(body));
    } catch {
      throw new SqsError("SerializationException", "The request body is not a valid UTF-8 JSON document.");
    }
    if (typeof input !== "object" || input === null || Array.isArray(input)) {
      throw new SqsError("SerializationException", "The request body must be a JSON object.");
    }
    return { action: target.slice(TARGET_PREFIX.length), input: input as SqsInput };
  }
  const params = new URLSearchParams(url.search);
  const type = (headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  if (body.byteLength > 0 && (type === "application/x-www-form-urlencoded" || type === "")) {
    let text: string;
    try {
      text = decoder.decode(body);
    } catch {
      throw new SqsError("MalformedQueryString", "The request body is not valid UTF-8.");
    }
    for (const [k, v] of new URLSearchParams(text)) params.append(k, v);
  }
  const action = params.get("Action");
  if (!action) throw new SqsError("MissingAction", "The request must contain the parameter Action.");
  return { action, input: fromQuery(params) };
}

// ---- query → JSON shape ----

/** Flattened query lists and their JSON member names. */
const LISTS: Record<string, string> = {
  AttributeName: "AttributeNames",
  MessageAttributeName: "MessageAttributeNames",
  MessageSystemAttributeName: "MessageSystemAttributeNames",
  TagKey: "TagKeys",
  StringListValue: "StringListValues",
  BinaryListValue: "BinaryListValues",
};
/** Flattened query maps: JSON member name, key element, value element. */
const MAPS: Record<string, [string, string, string]> = {
  Attribute: ["Attributes", "Name", "Value"],
  Tag: ["Tags", "Key", "Value"],
  MessageAttribute: ["MessageAttributes", "Name", "Value"],
  MessageSystemAttribute: ["MessageSystemAttributes", "Name", "Value"],
};
const ENTRIES = new Set(["SendMessageBatchRequestEntry", "DeleteMessageBatchRequestEntry", "ChangeMessageVisibilityBatchRequestEntry"]);

type Tree = { [key: string]: string | Tree };

/** `a.1.b=x` pairs → a tree; then lists, maps and batch entries take their JSON shape. */
export function fromQuery(params: URLSearchParams): SqsInput {
  const root: Tree = Object.create(null) as Tree;
  for (const [key, value] of params) {
    if (key === "Action" || key === "Version" || key.startsWith("X-Amz-")) continue;
    const path = key.split(".");
    let node = root;
    for (const [i, part] of path.entries()) {
      if (i === path.length - 1) {
        if (typeof node[part] !== "object") node[part] = value;
      } else {
        const next = node[part];
        node = typeof next === "object" ? next : (node[part] = Object.create(null) as Tree);
      }
    }
  }
  return convert(root);
}

function convert(tree: Tree): SqsInput {
  const out: SqsInput = {};
  for (const [key, value] of Object.entries(tree)) {
    if (typeof value === "string") define(out, key, value);
    else if (Object.hasOwn(LISTS, key)) define(out, LISTS[key]!, indexed(value).map((v) => (typeof v === "string" ? v : convert(v))));
    else if (Object.hasOwn(MAPS, key)) {
      const [member, k, v] = MAPS[key]!;
      const map: SqsInput = {};
      for (const entry of indexed(value)) {
        if (typeof entry !== "object" || typeof entry[k] !== "string") continue;
        const val = entry[v];
        define(map, entry[k], val === undefined ? undefined : typeof val === "string" ? val : convert(val));
      }
      define(out, member, map);
    } else if (ENTRIES.has(key)) define(out, "Entries", indexed(value).map((e) => (typeof e === "string" ? e : convert(e))));
    else define(out, key, convert(value));
  }
  return out;
}

/** The members `1`, `2`, … of a flattened list, in index order. */
function indexed(tree: Tree): Array<string | Tree> {
  return Object.keys(tree)
    .filter((k) => /^[1-9]\d{0,4}$/.test(k))
    .sort((a, b) => Number(a) - Number(b))
    .map((k) => tree[k]!);
}

function define(target: SqsInput, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

// ---- rendering ----

/** Repeated XML elements of list members, per member name (batch entries depend on the action). */
const XML_LIST_ELEMENTS: Record<string, string> = {
  QueueUrls: "QueueUrl",
  queueUrls: "QueueUrl",
  Messages: "Message",
  Failed: "BatchResultErrorEntry",
  StringListValues: "StringListValue",
  BinaryListValues: "BinaryListValue",
};

export function render(protocol: Protocol, action: string, output: SqsInput, requestId: string): Response {
  if (protocol === "json") {
    return new Response(JSON.stringify(output), { status: 200, headers: { "content-type": JSON_TYPE, "x-amzn-RequestId": requestId } });
  }
  const result = Object.keys(output).length > 0 ? `<${action}Result>${xmlFields(output, action)}</${action}Result>` : "";
  const xml = `<?xml version="1.0"?><${action}Response xmlns="${XMLNS}">${result}<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`;
  return new Response(xml, { status: 200, headers: { "content-type": "text/xml", "x-amzn-RequestId": requestId } });
}

export function renderError(protocol: Protocol, err: SqsError, requestId: string): Response {
  const headers: Record<string, string> = { "x-amzn-RequestId": requestId, "x-amzn-query-error": `${err.queryCode};${err.fault}` };
  if (protocol === "json") {
    headers["content-type"] = JSON_TYPE;
    return new Response(JSON.stringify({ __type: `com.amazonaws.sqs#${err.type}`, message: err.message }), { status: err.status, headers });
  }
  headers["content-type"] = "text/xml";
  const xml = `<?xml version="1.0"?><ErrorResponse xmlns="${XMLNS}"><Error><Type>${err.fault}</Type><Code>${escapeXml(err.queryCode)}</Code><Message>${escapeXml(err.message)}</Message><Detail/></Error><RequestId>${requestId}</RequestId></ErrorResponse>`;
  return new Response(xml, { status: err.status, headers });
}

function xmlFields(obj: SqsInput, action: string): string {
  let out = "";
  for (const [key, value] of Object.entries(obj)) {
    if (value === undefined || value === null) continue;
    if (Object.hasOwn(MAPS_BY_MEMBER, key)) {
      const [element, k, v] = MAPS_BY_MEMBER[key]!;
      for (const [name, val] of Object.entries(value as SqsInput)) {
        out += `<${element}><${k}>${escapeXml(name)}</${k}>${xmlValue(v, val, action)}</${element}>`;
      }
    } else if (Array.isArray(value)) {
      const element = key === "Successful" ? `${action}ResultEntry` : (XML_LIST_ELEMENTS[key] ?? key);
      for (const item of value) out += xmlValue(element, item, action);
    } else {
      out += xmlValue(key, value, action);
    }
  }
  return out;
}

function xmlValue(element: string, value: unknown, action: string): string {
  if (typeof value === "object" && value !== null) return `<${element}>${xmlFields(value as SqsInput, action)}</${element}>`;
  return `<${element}>${escapeXml(String(value))}</${element}>`;
}

const MAPS_BY_MEMBER: Record<string, [string, string, string]> = Object.fromEntries(
  Object.entries(MAPS).map(([element, [member, k, v]]) => [member, [element, k, v]]),
);

/** XML text escaping (a carriage return too, which XML parsers would otherwise turn into a line feed). */
export function escapeXml(s: string): string {
  return s.replace(/[&<>"'\r]/g, (c) => `&#${c.charCodeAt(0)};`);
}
