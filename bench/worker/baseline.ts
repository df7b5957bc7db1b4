/**
 * BenchBaseline: the bench's yardstick object. It does the bare work Spool's objects do —
 * one INSERT per RPC, N rows in one transaction, one `send` of the same frame to every
 * socket, a queue's send / receive / ack as bare INSERTs, SELECT + UPDATEs and DELETEs —
 * with no API around it (no validation, ids, dedup, counters or response shaping), so each
 * scenario reports Spool as a ratio to it, measured in the same run on the same server.
 * Ships only in the bench Worker (bench/wrangler.bench.toml), never in production.
 */
import { DurableObject } from "cloudflare:workers";
import { migrate } from "../../durable-objects/shared/sql";
import type { BenchEnv } from "./env";

const MIGRATIONS: readonly string[] = [
  `CREATE TABLE rows (seq INTEGER PRIMARY KEY, body TEXT NOT NULL, at INTEGER NOT NULL)`,
  // The queue-cycle baseline: a message is visible while leased_until is 0.
  `CREATE TABLE q (seq INTEGER PRIMARY KEY, body TEXT NOT NULL, leased_until INTEGER NOT NULL DEFAULT 0)`,
  `CREATE INDEX q_ready ON q (leased_until, seq)`,
];

/** How long the bare queue leases a message (it never expires leases: the bench acks them all). */
const BARE_LEASE_MS = 60_000;

/** A message as the bench sends it to both Spool and the baseline. */
export interface BenchMessage {
  body: unknown;
  key?: string;
  headers?: Record<string, string>;
}

export interface InsertResult {
  rows: number;
  /** Time spent inside the SQL transaction, ms (workerd's clock only advances on I/O, so often 0). */
  sqlMs: number;
}

export class BenchBaseline extends DurableObject<BenchEnv> {
  // The fan-out baseline numbers frames like a partition does; a bare object keeps no log,
  // so the counter lives in memory and may restart after hibernation (harmless here).
  private offset = 0;

  constructor(ctx: DurableObjectState, env: BenchEnv) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => migrate(ctx.storage.sql, MIGRATIONS, "bench"));
  }

  /** One INSERT in one transaction per call: the per-request baseline for single publishes. */
  insertOne(body: string): number {
    return this.ctx.storage.transactionSync(() => {
      this.ctx.storage.sql.exec("INSERT INTO rows (body, at) VALUES (?, ?)", body, Date.now());
      return this.ctx.storage.sql.exec<{ seq: number }>("SELECT last_insert_rowid() AS seq").one().seq;
    });
  }

  /** The same rows a batch publish writes, in one transaction, with nothing around them. */
  insertRows(messages: BenchMessage[]): InsertResult {
    const started = performance.now();
    const at = Date.now();
    this.ctx.storage.transactionSync(() => {
      for (const m of messages) {
        this.ctx.storage.sql.exec("INSERT INTO rows (body, at) VALUES (?, ?)", JSON.stringify(m.body), at);
      }
    });
    return { rows: messages.length, sqlMs: performance.now() - started };
  }

  /** Queue-cycle baseline, send: one INSERT per message, in one transaction. */
  queueSend(bodies: string[]): number {
    this.ctx.storage.transactionSync(() => {
      for (const body of bodies) this.ctx.storage.sql.exec("INSERT INTO q (body) VALUES (?)", body);
    });
    return bodies.length;
  }

  /**
   * Queue-cycle baseline, receive: one SELECT of up to `max` visible rows and one UPDATE per
   * row taking its lease; the answer is built from the stored JSON (receipt = seq).
   */
  queueReceive(max: number): string {
    const parts: string[] = [];
    this.ctx.storage.transactionSync(() => {
      const rows = this.ctx.storage.sql.exec<{ seq: number; body: string }>(
        "SELECT seq, body FROM q WHERE leased_until = 0 ORDER BY seq LIMIT ?", max,
      ).toArray();
      const until = Date.now() + BARE_LEASE_MS;
      for (const r of rows) {
        this.ctx.storage.sql.exec("UPDATE q SET leased_until = ? WHERE seq = ?", until, r.seq);
        parts.push(`{"seq":${r.seq},"receipt":"${r.seq}","body":${r.body}}`);
      }
    });
    return `{"messages":[${parts.join(",")}]}`;
  }

  /** Queue-cycle baseline, ack: one DELETE per receipt, in one transaction. */
  queueAck(receipts: string[]): { acked: number; failed: string[] } {
    let acked = 0;
    this.ctx.storage.transactionSync(() => {
      for (const r of receipts) acked += this.ctx.storage.sql.exec("DELETE FROM q WHERE seq = ?", Number(r)).rowsWritten > 0 ? 1 : 0;
    });
    return { acked, failed: [] };
  }

  /** WebSocket upgrade for the fan-out baseline (hibernation API, like Spool's subscribers). */
  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("expected a WebSocket upgrade", { status: 426 });
    }
    const pair = new WebSocketPair();
    this.ctx.acceptWebSocket(pair[1]);
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  /** Serialises each message once, in Spool's frame shape, and sends it to every socket. */
  publish(messages: BenchMessage[]): { frames: number; sockets: number } {
    const sockets = this.ctx.getWebSockets();
    const timestamp = Date.now();
    for (const m of messages) {
      const offset = this.offset++;
      const frame = JSON.stringify({
        type: "message", partition: 0, offset, id: `bench-${offset}`, key: m.key ?? null,
        body: m.body, headers: m.headers ?? {}, timestamp,
      });
      for (const ws of sockets) ws.send(frame);
    }
    return { frames: messages.length * sockets.length, sockets: sockets.length };
  }

  /** How many sockets are attached (the harness waits for all subscribers before publishing). */
  sockets(): number {
    return this.ctx.getWebSockets().length;
  }

  override async webSocketMessage(): Promise<void> {
    // Subscribers of the baseline only listen.
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, "closed");
    } catch {
      // already closed
    }
  }
}
