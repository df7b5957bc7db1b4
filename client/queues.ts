/**
 * A queue handle: `spool.queue<Job>("jobs")`. HTTP methods named as the routes and the
 * queue object's RPC methods are (send, receive, ack, nack, extend, …), plus `consume`
 * for the WebSocket push consumer. Sends get client-generated ids, so retrying one after
 * a network failure is deduplicated by the server instead of enqueued twice.
 */
import { Consumer, type ConsumeOptions } from "./consume.js";
import { seg, type ClientContext } from "./context.js";
import type { MessageHandler } from "./handlers.js";
import { newId } from "./ids.js";
import type {
  AckResult, ExtendResult, NackResult, PeekedMessage, QueueConfig, QueueCreated, QueueInfo, QueueMessage,
  QueueMessageInput, ReceiptLike, ReceiveOptions, RedriveOptions, SendResult,
} from "./types.js";

export interface SendOptions {
  signal?: AbortSignal | undefined;
}

export class Queue<T = unknown> {
  private readonly path: string;

  constructor(private readonly ctx: ClientContext, readonly name: string) {
    this.path = `/v1/queues/${seg(name)}`;
  }

  /** Creates the queue or changes its config (`PUT`). Changing `fifo` later is a `ConflictError`. */
  configure(config: Partial<QueueConfig> = {}): Promise<QueueCreated> {
    return this.ctx.http.request("PUT", this.path, { body: config, idempotent: true });
  }

  /** Config and stats. */
  info(): Promise<QueueInfo> {
    return this.ctx.http.request("GET", this.path, { idempotent: true });
  }

  /** Deletes the queue and all its messages. */
  async delete(): Promise<void> {
    await this.ctx.http.request("DELETE", this.path, { idempotent: true });
  }

  /**
   * Sends one message, or a batch (1–1000, written whole or not at all). A missing `id`
   * is generated here so a retry of this call is recognised as a duplicate.
   */
  send(message: QueueMessageInput<T>, options?: SendOptions): Promise<SendResult>;
  send(messages: QueueMessageInput<T>[], options?: SendOptions): Promise<SendResult[]>;
  async send(input: QueueMessageInput<T> | QueueMessageInput<T>[], options: SendOptions = {}): Promise<SendResult | SendResult[]> {
    const batch = Array.isArray(input);
    const messages = (batch ? input : [input]).map((m) => ({ ...m, id: m.id ?? newId() }));
    const res = await this.ctx.http.request<{ messages: SendResult[] }>("POST", `${this.path}/messages`, {
      body: batch ? { messages } : messages[0],
      signal: options.signal,
      idempotent: true,
    });
    return batch ? res.messages : res.messages[0]!;
  }

  /** Leases up to `max` messages (long-polling up to `wait` seconds when none is visible). */
  async receive(options: ReceiveOptions = {}): Promise<QueueMessage<T>[]> {
    const { signal, ...body } = options;
    const res = await this.ctx.http.request<{ messages: QueueMessage<T>[] }>("POST", `${this.path}/receive`, { body, signal });
    return res.messages;
  }

  /** Acknowledges deliveries: they are gone for good. Receipts that failed are listed, not thrown. */
  ack(receipts: ReceiptLike | ReceiptLike[]): Promise<AckResult> {
    return this.ctx.http.request("POST", `${this.path}/ack`, { body: { receipts: toReceipts(receipts) }, idempotent: true });
  }

  /** Hands deliveries back: visible again after `delay` seconds (0). */
  nack(receipts: ReceiptLike | ReceiptLike[], options: { delay?: number } = {}): Promise<NackResult> {
    return this.ctx.http.request("POST", `${this.path}/nack`, { body: { receipts: toReceipts(receipts), ...options }, idempotent: true });
  }

  /** Sets the leases to end `visibilityTimeout` seconds from now. */
  extend(receipts: ReceiptLike | ReceiptLike[], visibilityTimeout: number): Promise<ExtendResult> {
    return this.ctx.http.request("POST", `${this.path}/extend`, { body: { receipts: toReceipts(receipts), visibilityTimeout }, idempotent: true });
  }

  /** Looks at messages in `seq` order without leasing them. */
  async peek(options: { limit?: number } = {}): Promise<PeekedMessage<T>[]> {
    const res = await this.ctx.http.request<{ messages: PeekedMessage<T>[] }>("GET", `${this.path}/messages`, { query: { limit: options.limit }, idempotent: true });
    return res.messages;
  }

  /** Deletes every message; returns how many. */
  async purge(): Promise<number> {
    const res = await this.ctx.http.request<{ purged: number }>("POST", `${this.path}/purge`, { idempotent: true });
    return res.purged;
  }

  /** Moves dead letters (this is the dead-letter queue) back to `to` or where they came from; returns how many. */
  async redrive(options: RedriveOptions = {}): Promise<number> {
    const res = await this.ctx.http.request<{ moved: number }>("POST", `${this.path}/redrive`, { body: options });
    return res.moved;
  }

  /**
   * Push consumer over WebSocket: acks when `handler` resolves, nacks with backoff when it
   * throws, extends leases of long handlers, reconnects. Stop it with `stop()` or `await using`.
   */
  consume(handler: MessageHandler<QueueMessage<T>>, options: ConsumeOptions<T> = {}): Consumer<T> {
    return new Consumer<T>(this.ctx, this.name, handler, options);
  }
}

function toReceipts(input: ReceiptLike | ReceiptLike[]): string[] {
  const list = Array.isArray(input) ? input : [input];
  return list.map((r) => {
    const receipt = typeof r === "string" ? r : r.receipt;
    if (receipt === undefined) throw new TypeError("message has no receipt (at-most-once queues need no ack)");
    return receipt;
  });
}
