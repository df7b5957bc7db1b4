/**
 * Schemas shared by several routes. Each route file keeps its own request schemas; what
 * lives here is what more than one resource uses.
 */
import { z } from "@hono/zod-openapi";
import { NAME_PATTERN } from "./names";

export const NameSchema = z.string().regex(NAME_PATTERN).openapi({ example: "jobs" });

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: "QUEUE_FULL" }),
      message: z.string(),
      details: z.record(z.string(), z.unknown()).optional(),
    }),
  })
  .openapi("Error");

/** Message headers: string → string, at most 32 entries. */
export const HeadersSchema = z
  .record(z.string().min(1).max(256), z.string().max(4096))
  .refine((h) => Object.keys(h).length <= 32, { message: "at most 32 headers" });

/** A producer-chosen message id: 1–128 printable ASCII characters. */
export const MessageIdSchema = z.string().regex(/^[\x20-\x7e]{1,128}$/, "1-128 printable ASCII characters");

/** Standard error responses, for the OpenAPI document. */
export function errorResponses(...statuses: number[]): Record<number, { description: string; content: { "application/json": { schema: typeof ErrorSchema } } }> {
  const out: Record<number, { description: string; content: { "application/json": { schema: typeof ErrorSchema } } }> = {};
  for (const s of statuses) out[s] = { description: "error", content: { "application/json": { schema: ErrorSchema } } };
  return out;
}
