/**
 * Reading a request body within the Worker's limit (`SPOOL_MAX_BODY_BYTES`, default 8 MiB):
 * the one reader behind the JSON routes, SQS and Durable Streams. A declared length over the
 * limit is refused before anything is read; a chunked body is counted as it streams and
 * refused the moment it passes the limit, so no request can make the Worker buffer more.
 */
export const DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024;

/** The configured body limit in bytes. */
export function maxBodyBytes(raw: string | undefined): number {
  const n = Number(raw);
  return Number.isFinite(n) && n > 0 ? n : DEFAULT_MAX_BODY_BYTES;
}

export interface ReadBodyOptions {
  /** The error to throw past the limit (each protocol words its own). */
  tooLarge: () => Error;
  /**
   * Read an over-limit body to its end (keeping nothing) before refusing: a client that
   * sends its whole body before reading the answer (Node's fetch does) then sees the 413
   * instead of a reset connection. Costs reading the rest; off by default.
   */
  drainOnRefusal?: boolean;
}

/** The body's bytes (empty when there is none), or `tooLarge()` past `limit`. */
export async function readBody(req: Request, limit: number, options: ReadBodyOptions): Promise<Uint8Array> {
  const declared = Number(req.headers.get("content-length") ?? "NaN");
  if (Number.isFinite(declared) && declared > limit) {
    if (options.drainOnRefusal) await drain(req.body);
    throw options.tooLarge();
  }
  if (!req.body) return new Uint8Array();
  // A declared length within the limit bounds the body (HTTP framing): read it in one call.
  if (Number.isFinite(declared)) return new Uint8Array(await req.arrayBuffer());
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      if (options.drainOnRefusal) {
        reader.releaseLock();
        await drain(req.body);
      } else {
        await reader.cancel();
      }
      throw options.tooLarge();
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

/** Reads a body to its end, keeping nothing. */
async function drain(body: ReadableStream<Uint8Array> | null): Promise<void> {
  if (!body) return;
  const reader = body.getReader();
  while (!(await reader.read()).done);
}
