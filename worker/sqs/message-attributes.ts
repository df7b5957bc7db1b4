/**
 * SQS message attributes and bodies: AWS's validation rules (SQS Developer Guide, "Message
 * attribute components" and "data types"; SendMessage `MessageBody`), the MD5 digests AWS
 * returns (`MD5OfMessageBody`, and `MD5OfMessageAttributes` as the guide's "Calculating the
 * MD5 message digest for message attributes" defines it), and how attributes are kept in a
 * Spool message: each value is a header (its string, or the base64 of a binary value), and
 * every type other than plain `String` is kept beside the headers (`attributeTypes`), so
 * attributes round-trip exactly through SQS while `/v1` sees plain string headers.
 */
import { SqsError, invalidParameter } from "./errors";
import { md5 } from "./md5";

/** One attribute as SQS carries it, with a binary value as bytes. */
export interface SqsAttribute {
  DataType: string;
  StringValue?: string;
  BinaryValue?: Uint8Array;
}

export type SqsAttributes = Record<string, SqsAttribute>;

/** Most attributes per message (AWS). */
export const MAX_MESSAGE_ATTRIBUTES = 10;
const MAX_NAME_LENGTH = 256;
const NAME_CHARS = /^[A-Za-z0-9_.-]+$/;
const TYPE = /^(String|Number|Binary)(\..+)?$/s;
/** Characters a body or string value may hold (the W3C XML Char production, as AWS lists it). */
const INVALID_CHAR = /[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;
/** Significant digits a Number attribute may have (AWS: 38). */
const MAX_NUMBER_DIGITS = 38;

/** Throws `InvalidMessageContents` for a body with characters SQS does not accept. */
export function checkBody(body: string): void {
  if (INVALID_CHAR.test(body)) throw new SqsError("InvalidMessageContents", "Invalid binary character in the message body. Allowed characters: #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF.");
}

/** Validates attributes as SendMessage does; throws the first problem as AWS words it. */
export function checkAttributes(attributes: SqsAttributes): void {
  const names = Object.keys(attributes);
  if (names.length > MAX_MESSAGE_ATTRIBUTES) {
    throw new SqsError("InvalidParameterValue", `Number of message attributes [${names.length}] exceeds the allowed maximum [${MAX_MESSAGE_ATTRIBUTES}].`);
  }
  for (const name of names) {
    const a = attributes[name]!;
    if (!validName(name)) {
      throw new SqsError("InvalidParameterValue", `Message (user) attribute name '${name.slice(0, 100)}' is invalid. The attribute name can contain A-Z, a-z, 0-9, underscore (_), hyphen (-) and period (.) characters, must not start with 'AWS.' or 'Amazon.', must not start or end with a period, must not contain consecutive periods, and must be at most ${MAX_NAME_LENGTH} characters.`);
    }
    if (!a.DataType) throw new SqsError("InvalidParameterValue", `The message attribute '${name}' must contain non-empty message attribute type.`);
    const type = TYPE.exec(a.DataType);
    if (!type || a.DataType.length > MAX_NAME_LENGTH || INVALID_CHAR.test(a.DataType)) {
      throw new SqsError("InvalidParameterValue", `The type of message (user) attribute '${name}' is invalid. You must use only the following supported type prefixes: Binary, Number, String.`);
    }
    if (type[1] === "Binary") {
      if (!a.BinaryValue || a.BinaryValue.byteLength === 0) {
        throw new SqsError("InvalidParameterValue", `The message attribute '${name}' with type 'Binary' must use field 'Binary'.`);
      }
      continue;
    }
    if (a.StringValue === undefined || a.StringValue === "") {
      throw new SqsError("InvalidParameterValue", `The message attribute '${name}' must contain non-empty message attribute value for message attribute type '${type[1]}'.`);
    }
    if (INVALID_CHAR.test(a.StringValue)) throw new SqsError("InvalidMessageContents", `Invalid binary character in the value of message attribute '${name}'.`);
    if (type[1] === "Number" && !validNumber(a.StringValue)) {
      throw invalidParameter(`MessageAttributes.${name}`, a.StringValue, "Can't convert the value to a number of at most 38 significant digits.");
    }
  }
}

function validName(name: string): boolean {
  const lower = name.toLowerCase();
  return name.length <= MAX_NAME_LENGTH && NAME_CHARS.test(name) && !lower.startsWith("aws.") && !lower.startsWith("amazon.")
    && !name.startsWith(".") && !name.endsWith(".") && !name.includes("..");
}

function validNumber(value: string): boolean {
  if (!NUMBER.test(value)) return false;
  const mantissa = value.replace(/^[-+]/, "").split(/[eE]/)[0]!.replace(".", "").replace(/^0+/, "");
  return mantissa.replace(/0+$/, "").length <= MAX_NUMBER_DIGITS;
}

const encoder = new TextEncoder();

/** Bytes SQS counts for a message: its body and each attribute's name, type and value. */
export function messageSize(body: string, attributes: SqsAttributes): number {
  let n = encoder.encode(body).byteLength;
  for (const [name, a] of Object.entries(attributes)) {
    n += encoder.encode(name).byteLength + encoder.encode(a.DataType).byteLength;
    n += a.BinaryValue ? a.BinaryValue.byteLength : encoder.encode(a.StringValue ?? "").byteLength;
  }
  return n;
}

/** Hex MD5 of a string's UTF-8 bytes (`MD5OfMessageBody`, `MD5OfBody`). */
export function md5Hex(data: string | Uint8Array): string {
  return md5(typeof data === "string" ? encoder.encode(data) : data);
}

/**
 * `MD5OfMessageAttributes` (also used for `MD5OfMessageSystemAttributes`): attributes sorted
 * by name; for each, the name, the data type, one transport byte (1 for String and Number
 * types, 2 for Binary) and the value, each of the three strings preceded by its length as a
 * 4-byte big-endian integer. Undefined when there are no attributes.
 */
export function md5OfAttributes(attributes: SqsAttributes): string | undefined {
  const names = Object.keys(attributes).sort();
  if (names.length === 0) return undefined;
  const parts: Uint8Array[] = [];
  const withLength = (bytes: Uint8Array): void => {
    const len = new Uint8Array(4);
    new DataView(len.buffer).setUint32(0, bytes.byteLength);
    parts.push(len, bytes);
  };
  for (const name of names) {
    const a = attributes[name]!;
    withLength(encoder.encode(name));
    withLength(encoder.encode(a.DataType));
    const binary = a.DataType.startsWith("Binary");
    parts.push(Uint8Array.of(binary ? 2 : 1));
    withLength(binary ? (a.BinaryValue ?? new Uint8Array()) : encoder.encode(a.StringValue ?? ""));
  }
  const all = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.byteLength;
  }
  return md5Hex(all);
}

/** Attributes as a Spool message keeps them: string headers, and the types that are not plain `String`. */
export function toHeaders(attributes: SqsAttributes): { headers: Record<string, string>; attributeTypes: Record<string, string> } {
  const headers: Record<string, string> = {};
  const attributeTypes: Record<string, string> = {};
  for (const [name, a] of Object.entries(attributes)) {
    define(headers, name, a.BinaryValue ? toBase64(a.BinaryValue) : (a.StringValue ?? ""));
    if (a.DataType !== "String") define(attributeTypes, name, a.DataType);
  }
  return { headers, attributeTypes };
}

/** A stored message's headers back as attributes: a header without a kept type is a `String`. */
export function fromHeaders(headers: Record<string, string>, attributeTypes: Record<string, string> | undefined): SqsAttributes {
  const out: SqsAttributes = {};
  for (const [name, value] of Object.entries(headers)) {
    const type = attributeTypes?.[name] ?? "String";
    const binary = type.startsWith("Binary") ? fromBase64(value) : null;
    // A binary type whose stored value is not base64 cannot happen through SQS; shown as a String then.
    const attribute: SqsAttribute = binary ? { DataType: type, BinaryValue: binary } : { DataType: type.startsWith("Binary") ? "String" : type, StringValue: value };
    define(out, name, attribute);
  }
  return out;
}

/** Sets an own property, so a `__proto__` name stays a name (RPC and JSON keep it). */
function define<T>(target: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

export function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/** Bytes of a base64 string, or null when it is not base64. */
export function fromBase64(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 === 1) return null;
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

/**
 * The attributes a ReceiveMessage asked for by `MessageAttributeNames`: `All` or `.*` for
 * every one, `prefix.*` for those starting with `prefix.`, otherwise exact names.
 */
export function selectAttributes(all: SqsAttributes, requested: readonly string[]): SqsAttributes {
  if (requested.length === 0) return {};
  const everything = requested.some((r) => r === "All" || r === ".*");
  const out: SqsAttributes = {};
  for (const [name, a] of Object.entries(all)) {
    const wanted = everything || requested.some((r) => (r.endsWith(".*") ? name.startsWith(r.slice(0, -1)) : r === name));
    if (wanted) define(out, name, a);
  }
  return out;
}
