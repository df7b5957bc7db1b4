/**
 * A Durable Streams request body as bytes: any content type, sent whole or chunked, read
 * up to the Worker's body limit (`SPOOL_MAX_BODY_BYTES`, else `413` before anything is
 * stored). A body over the limit is read to its end and dropped before the 413 goes out:
 * a client that sends its whole body before reading the answer (Node's fetch does) would
 * otherwise see its connection reset instead of the 413.
 */
import { ApiError } from "../../durable-objects/shared/errors";
import { readBody } from "../body";

export { maxBodyBytes } from "../body";

function tooLarge(limit: number): ApiError {
  return new ApiError("PAYLOAD_TOO_LARGE", `request body exceeds ${limit} bytes`, { limit });
}

/** The body's bytes (empty when there is none); an over-limit body is drained before the 413. */
export async function readStreamBody(req: Request, limit: number): Promise<Uint8Array> {
  return readBody(req, limit, { tooLarge: () => tooLarge(limit), drainOnRefusal: true });
}
