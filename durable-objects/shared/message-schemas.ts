/**
 * Message field schemas used wherever a message enters: the Worker's routes and the
 * `publish` frames a partition object receives on a subscription socket. What passes here
 * is stored exactly as sent (API.md, Conventions → Input hygiene): header names are kept
 * as written (`__proto__` included), and a body nests at most `MAX_BODY_DEPTH` deep, so
 * nothing downstream that walks it (JSON.stringify, RPC cloning) can run out of stack.
 */
import { z } from "@hono/zod-openapi";
import { MAX_BODY_DEPTH, MAX_HEADERS } from "../../protocol/limits";

const MAX_HEADER_NAME = 256;
const MAX_HEADER_VALUE = 4096;

/**
 * True when `value` nests arrays/objects more than `max` deep (a scalar is depth 0, `[]`
 * depth 1). Iterative, so a body nested 100,000 deep costs a loop, not a stack overflow,
 * and it stops at the first branch past `max`.
 */
export function nestedDeeperThan(value: unknown, max: number): boolean {
  if (typeof value !== "object" || value === null) return false;
  const pending: Array<[object, number]> = [[value, 1]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [node, depth] = next;
    if (depth > max) return true;
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (typeof child === "object" && child !== null) pending.push([child, depth + 1]);
    }
  }
  return false;
}

/** A message body: any JSON value, nested at most `MAX_BODY_DEPTH` arrays/objects deep. */
export const MessageBodySchema = z
  .unknown()
  .superRefine((body, ctx) => {
    if (nestedDeeperThan(body, MAX_BODY_DEPTH)) {
      ctx.addIssue({ code: "custom", message: `nests arrays and objects more than ${MAX_BODY_DEPTH} deep` });
    }
  })
  .openapi({ description: `any JSON value, nested at most ${MAX_BODY_DEPTH} arrays/objects deep` });

/**
 * Message headers: string → string, at most 32 entries, names 1–256 and values up to 4096
 * characters. Parsed by hand because a zod record drops a `__proto__` key: every name the
 * client sent comes out as an own data property (defined, not assigned, so `__proto__` is
 * a key and not a prototype). A plain object rather than a null-prototype one, which RPC
 * cannot clone.
 */
export const HeadersSchema = z
  .unknown()
  .transform((raw, ctx): Record<string, string> => {
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
      ctx.addIssue({ code: "custom", message: "must be an object of header name to string value" });
      return z.NEVER;
    }
    const names = Object.keys(raw);
    if (names.length > MAX_HEADERS) {
      ctx.addIssue({ code: "custom", message: `at most ${MAX_HEADERS} headers` });
      return z.NEVER;
    }
    const headers: Record<string, string> = {};
    for (const name of names) {
      const value: unknown = (raw as Record<string, unknown>)[name];
      if (name.length < 1 || name.length > MAX_HEADER_NAME) {
        ctx.addIssue({ code: "custom", path: [name], message: `header names are 1-${MAX_HEADER_NAME} characters` });
      } else if (typeof value !== "string") {
        ctx.addIssue({ code: "custom", path: [name], message: "header values must be strings" });
      } else if (value.length > MAX_HEADER_VALUE) {
        ctx.addIssue({ code: "custom", path: [name], message: `header values are at most ${MAX_HEADER_VALUE} characters` });
      } else {
        Object.defineProperty(headers, name, { value, enumerable: true, writable: true, configurable: true });
      }
    }
    return headers;
  })
  .openapi({
    type: "object",
    additionalProperties: { type: "string", maxLength: MAX_HEADER_VALUE },
    maxProperties: MAX_HEADERS,
    description: `header name (1-${MAX_HEADER_NAME} characters, kept exactly) -> string value`,
  });

/** A producer-chosen message id: 1–128 printable ASCII characters. */
export const MessageIdSchema = z.string().regex(/^[\x20-\x7e]{1,128}$/, "1-128 printable ASCII characters");
