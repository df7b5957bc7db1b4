/**
 * A topic handle: `spool.topic<Chat>("chat")`. Publishing (batched automatically),
 * reading the log, live subscriptions (WebSocket or SSE), consumer groups and fan-out
 * subscriptions, named as the routes and the partition's RPC methods are.
 */
import { seg, type ClientContext } from "./context.js";
import { Group } from "./groups.js";
import { newId } from "./ids.js";
import { PublishBatcher, type BatchOptions } from "./publisher.js";
import { Subscription, type SubscribeOptions } from "./subscribe.js";
import type {
  PublishResult, ReadOptions, ReadResult, SubscriptionConfig, SubscriptionStatus, TopicConfig, TopicCreated, TopicInfo,
  TopicMessageInput,
} from "./types.js";

export class Topic<T = unknown> {
  private readonly path: string;
  private readonly batcher: PublishBatcher;

  constructor(private readonly ctx: ClientContext, readonly name: string, batching: BatchOptions = {}) {
    this.path = `/v1/topics/${seg(name)}`;
    this.batcher = new PublishBatcher((messages) => this.publishBatch(messages as TopicMessageInput<T>[]), batching);
  }

  /** Creates the topic or changes its config (`PUT`). Lowering `partitions` is a `ConflictError`. */
  configure(config: Partial<TopicConfig> = {}): Promise<TopicCreated> {
    return this.ctx.http.request("PUT", this.path, { body: config, idempotent: true });
  }

  /** Config, partitions (first/next offsets, subscribers) and groups with lag. */
  info(): Promise<TopicInfo> {
    return this.ctx.http.request("GET", this.path, { idempotent: true });
  }

  async delete(): Promise<void> {
    await this.ctx.http.request("DELETE", this.path, { idempotent: true });
  }

  /**
   * Publishes one message — batched with others published within a few milliseconds — or
   * an explicit batch (one request, validated whole). Ids are generated when missing, so
   * retries are deduplicated.
   */
  publish(message: TopicMessageInput<T>): Promise<PublishResult>;
  publish(messages: TopicMessageInput<T>[]): Promise<PublishResult[]>;
  publish(input: TopicMessageInput<T> | TopicMessageInput<T>[]): Promise<PublishResult | PublishResult[]> {
    if (Array.isArray(input)) return this.publishBatch(input);
    return this.batcher.add({ ...input, id: input.id ?? newId() });
  }

  /** Sends publishes still waiting for their batch and waits for their answers. */
  flush(): Promise<void> {
    return this.batcher.flush();
  }

  /** Reads a page of the log of one partition. */
  read(options: ReadOptions = {}): Promise<ReadResult<T>> {
    const { signal, ...query } = options;
    return this.ctx.http.request("GET", `${this.path}/messages`, { query: { ...query }, signal, idempotent: true });
  }

  /** How many partitions the topic has (a `subscribe` or `publish` credential may ask). */
  async partitions(): Promise<number> {
    return (await this.ctx.http.request<{ partitions: number }>("GET", `${this.path}/partitions`, { idempotent: true })).partitions;
  }

  /**
   * A live subscription to every partition (or, with `partition`, to one), as an async
   * iterable that reconnects and resumes each partition without gap or duplicate:
   *
   *   for await (const m of topic.subscribe({ from: "earliest" })) console.log(m.partition, m.offset, m.body);
   */
  subscribe(options: SubscribeOptions = {}): Subscription<T> {
    return new Subscription<T>(this.ctx, this.name, options);
  }

  /** A consumer group of this topic (created by its first receive or by `configure`). */
  group(name: string): Group<T> {
    return new Group<T>(this.ctx, this.name, name);
  }

  /** @deprecated Use `fanOut(name)`: `subscribe()` is the live stream; this is the forwarder. Kept for one release. */
  subscription(name: string): FanOut {
    return this.fanOut(name);
  }

  /** A fan-out: the server forwards this topic into a queue or to a webhook (`/subscriptions/{s}` on the wire). */
  fanOut(name: string): FanOut {
    const path = `${this.path}/subscriptions/${seg(name)}`;
    const http = this.ctx.http;
    return {
      configure: (config) => http.request("PUT", path, { body: config, idempotent: true }),
      info: () => http.request("GET", path, { idempotent: true }),
      delete: async () => void (await http.request("DELETE", path, { idempotent: true })),
    };
  }

  private async publishBatch(messages: TopicMessageInput<T>[]): Promise<PublishResult[]> {
    const withIds = messages.map((m) => ({ ...m, id: m.id ?? newId() }));
    const res = await this.ctx.http.request<{ messages: PublishResult[] }>("POST", `${this.path}/messages`, {
      body: { messages: withIds },
      idempotent: true,
    });
    return res.messages;
  }
}

/** A topic → queue or topic → webhook forwarder. */
export interface FanOut {
  configure(config: SubscriptionConfig): Promise<unknown>;
  info(): Promise<SubscriptionStatus>;
  delete(): Promise<void>;
}
