/**
 * Message field schemas used wherever a message enters: the Worker's routes and the
 * `publish` frames a partition object receives on a subscription socket.
 */
import { z } from "@hono/zod-openapi";
import { MAX_HEADERS } from "../../protocol/limits";

/** Message headers: string → string, at most 32 entries. */
export const HeadersSchema = z
  .record(z.string().min(1).max(256), z.string().max(4096))
  .refine((h) => Object.keys(h).length <= MAX_HEADERS, { message: `at most ${MAX_HEADERS} headers` });

/** A producer-chosen message id: 1–128 printable ASCII characters. */
export const MessageIdSchema = z.string().regex(/^[\x20-\x7e]{1,128}$/, "1-128 printable ASCII characters");

