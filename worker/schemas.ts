/**
 * Schemas shared by several routes. Each route file keeps its own request schemas; what
 * lives here is what more than one resource uses.
 */
import { z } from "@hono/zod-openapi";
import { NAME_PATTERN } from "../protocol/names";

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

export { HeadersSchema, MessageBodySchema, MessageIdSchema } from "../durable-objects/shared/message-schemas";

/** Standard error responses, for the OpenAPI document. */
export function errorResponses(...statuses: number[]): Record<number, { description: string; content: { "application/json": { schema: typeof ErrorSchema } } }> {
  const out: Record<number, { description: string; content: { "application/json": { schema: typeof ErrorSchema } } }> = {};
  for (const s of statuses) out[s] = { description: "error", content: { "application/json": { schema: ErrorSchema } } };
  return out;
}
