/**
 * What every handle (queue, topic, subscription, consumer) shares with the `Spool` that
 * made it: the HTTP client, the status hub, and the registry of open streams that
 * `close()` shuts down.
 */
import type { Http } from "./http.js";
import type { StatusHub } from "./status.js";

/** Anything `Spool.close()` must shut down. */
export interface Closable {
  close(): Promise<void>;
}

export interface ClientContext {
  readonly http: Http;
  readonly status: StatusHub;
  /** Tracks an open stream until the returned function is called. */
  track(stream: Closable): () => void;
}

/** Path segment for a queue, topic or group name (names are URL-safe, but be strict). */
export function seg(name: string): string {
  return encodeURIComponent(name);
}
