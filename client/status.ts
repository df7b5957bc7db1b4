/**
 * Connection status of every stream the client holds (subscriptions, consumers), as an
 * async iterable of a discriminated union: `for await (const s of spool.status())`.
 * Each iterator sees the events emitted after it was created; a slow reader keeps at most
 * STATUS_BUFFER events (the oldest are dropped).
 */
import { Channel } from "./channel.js";

/** Events an iterator may hold before the oldest are dropped. */
export const STATUS_BUFFER = 256;

/** What a stream is: `"subscribe topic chat#0"`, `"consume queue jobs"`, … */
export interface StreamRef {
  kind: "subscribe" | "consume" | "group";
  /** The queue or topic name. */
  name: string;
  /** For topic subscriptions. */
  partition?: number | undefined;
  /** For consumer groups. */
  group?: string | undefined;
  transport: "websocket" | "sse" | "http";
}

export type ConnectionStatus =
  | { type: "connecting"; stream: StreamRef; attempt: number }
  | { type: "connected"; stream: StreamRef }
  | { type: "disconnected"; stream: StreamRef; code?: number | undefined; reason?: string | undefined; error?: Error | undefined }
  | { type: "reconnecting"; stream: StreamRef; attempt: number; delayMs: number; error?: Error | undefined }
  | { type: "gap"; stream: StreamRef; from: number; to: number }
  | { type: "closed"; stream: StreamRef; error?: Error | undefined };

export class StatusHub {
  private readonly listeners = new Set<Channel<ConnectionStatus>>();
  private ended = false;

  emit(status: ConnectionStatus): void {
    for (const ch of this.listeners) {
      ch.push(status);
      if (ch.size > STATUS_BUFFER) void ch.next();
    }
  }

  /** A new iterator of statuses from now on; it ends when the client closes. */
  iterate(): AsyncIterableIterator<ConnectionStatus> {
    const ch: Channel<ConnectionStatus> = new Channel({ onReturn: () => this.listeners.delete(ch) });
    if (this.ended) ch.end();
    else this.listeners.add(ch);
    return ch;
  }

  end(): void {
    this.ended = true;
    for (const ch of this.listeners) ch.end();
    this.listeners.clear();
  }
}
