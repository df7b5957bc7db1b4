/**
 * Messages from stdin for `send` and `publish`: one JSON value per line (blank lines are
 * skipped), grouped into batches that fit one request — at most 1,000 messages (the API's
 * batch limit) and about 4 MiB of JSON (half the server's default 8 MiB body limit).
 * A line that is not JSON stops the run with its line number and how many went before it.
 */
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { UsageError } from "./args";

/** The API's largest batch. */
export const MAX_BATCH_MESSAGES = 1000;
/** JSON bytes per request, well under the server's default SPOOL_MAX_BODY_BYTES (8 MiB). */
export const MAX_BATCH_BYTES = 4 * 1024 * 1024;

export interface Line {
  /** 1-based line number in the input. */
  number: number;
  value: unknown;
  bytes: number;
}

/** Batches of parsed lines, in input order. */
export async function* batches(input: Readable, signal: AbortSignal): AsyncGenerator<Line[]> {
  const lines = createInterface({ input, crlfDelay: Infinity });
  signal.addEventListener("abort", () => lines.close(), { once: true });
  let batch: Line[] = [];
  let bytes = 0;
  let number = 0;
  let accepted = 0;
  for await (const text of lines) {
    number++;
    if (text.trim() === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      const shown = text.length > 60 ? `${text.slice(0, 57)}…` : text;
      throw new UsageError(`line ${number} is not JSON: ${shown} (the ${accepted} messages before it were sent)`);
    }
    const size = Buffer.byteLength(text);
    if (batch.length > 0 && (batch.length >= MAX_BATCH_MESSAGES || bytes + size > MAX_BATCH_BYTES)) {
      accepted += batch.length;
      yield batch;
      batch = [];
      bytes = 0;
    }
    batch.push({ number, value, bytes: size });
    bytes += size;
  }
  if (signal.aborted) return;
  if (batch.length > 0) yield batch;
}

/** Turns a line into a message: the body itself, or with `--messages` a whole message object. */
export function toMessage<M extends { body: unknown }>(line: Line, wholeMessages: boolean, extra: Partial<M>): M {
  if (!wholeMessages) return { ...extra, body: line.value } as M;
  const v = line.value;
  if (typeof v !== "object" || v === null || Array.isArray(v) || !("body" in v)) {
    throw new UsageError(`line ${line.number}: with --messages each line is a message object with a "body"`);
  }
  return { ...extra, ...(v as object) } as M;
}
