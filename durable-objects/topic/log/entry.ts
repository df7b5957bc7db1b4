/**
 * A message just appended, as the partition's other modules get it after the commit
 * (`afterAppend`). Its body and headers stay the JSON text they were stored as and are
 * parsed only when read: a 1,000-message publish that nobody follows live parses nothing,
 * and live frames are built from the text by concatenation (live/frames.ts `messageJson`).
 * The text is what the writer made with `JSON.stringify`, so it is exactly what
 * stringifying the parsed value again would give.
 *
 * It reads like any LogEntry (`body` and `headers` are getters; `toJSON` gives the plain
 * message), but a spread (`{...e}`) or a structured clone copies only own fields: hand
 * other code `toJSON()` when it needs a plain object.
 */
import type { LogEntry } from "../types";

export class AppendedEntry implements LogEntry {
  #body: unknown;
  #headers: Record<string, string> | undefined;
  #parsedBody = false;

  constructor(
    readonly partition: number,
    readonly offset: number,
    readonly id: string,
    readonly key: string | null,
    /** The body as stored: JSON text. */
    readonly bodyJson: string,
    /** The headers as stored: JSON text, or null for none. */
    readonly headersJson: string | null,
    readonly timestamp: number,
  ) {}

  get body(): unknown {
    if (!this.#parsedBody) {
      this.#body = JSON.parse(this.bodyJson) as unknown;
      this.#parsedBody = true;
    }
    return this.#body;
  }

  get headers(): Record<string, string> {
    this.#headers ??= this.headersJson ? (JSON.parse(this.headersJson) as Record<string, string>) : {};
    return this.#headers;
  }

  toJSON(): LogEntry {
    return { partition: this.partition, offset: this.offset, id: this.id, key: this.key, body: this.body, headers: this.headers, timestamp: this.timestamp };
  }
}
