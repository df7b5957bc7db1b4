/**
 * A Durable Streams request body as bytes: any content type, sent whole or chunked, read
 * up to the Worker's body limit (`SPOOL_MAX_BODY_BYTES`, else `413` before anything is
 * stored). A body over the limit is read to its end and dropped before the 413 goes out:
 * a client that sends its whole body before reading the answer (Node's fetch does) would
 * otherwise see its connection reset instead of the 413.
 */
import { ApiError } from "../../durable-objects/shared/errors";
import { DEFAULT_MAX_BODY_BYTES } from "../http";

export function maxBodyBytes(raw: string | undefined): number {
  const n = Number(raw);
  return Number.isFinite(n) && n > 0 ? n : DEFAULT_MAX_BODY_BYTES;
}

function tooLarge(limit: number): ApiError {
  return new ApiError("PAYLOAD_TOO_LARGE", `request body exceeds ${limit} bytes`, { limit });
}

/** The body's bytes (empty when there is none). */
export async function readBody(req: Request, limit: number): Promise<Uint8Array> {
  const declared = Number(req.headers.get("content-length") ?? "NaN");
  if (Number.isFinite(declared) && declared > limit) {
    await drain(req.body);
    throw tooLarge(limit);
  }
  if (!req.body) return new Uint8Array();
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      reader.releaseLock();
      await drain(req.body);
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** Reads a body to its end, keeping nothing. */
async function drain(body: ReadableStream<Uint8Array> | null): Promise<void> {
  if (!body) return;
  const reader = body.getReader();
  while (!(await reader.read()).done);
}
