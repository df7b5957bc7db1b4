/**
 * Looking around and credentials: `ls` (queues and topics, every page), `info` (a queue's or
 * a topic's config and figures), `token` (mint a capability token; prints just the token so
 * `TOKEN=$(spool token …)` works) and `keys` (access keys: list, create, revoke).
 */
import { NotFoundError, type QueueInfo, type QueueSummary, type TopicInfo, type TopicSummary } from "../client/index";
import { capabilitiesOption, intOption, stringOption, UsageError, type CommandSpec } from "./args";
import type { Context } from "./context";

/** Items per list page asked of the server (the API's largest). */
const LIST_PAGE = 1000;

export const ls: CommandSpec = {
  name: "ls",
  summary: "list queues and topics",
  usage: "[queues|topics]",
  description:
    "Lists every queue with its stats and every topic with its partition count (following the API's pages). " +
    "A table on a terminal; piped, one JSON object per line: {\"type\":\"queue\",\"name\",\"stats\"} or {\"type\":\"topic\",\"name\",\"partitions\"}.",
  options: { json: { type: "boolean", help: "JSON lines on a terminal too" } },
  examples: ["spool ls", "spool ls queues --json | jq -r .name"],
  args: [0, 1],
  async run(ctx, [what], options) {
    if (what !== undefined && what !== "queues" && what !== "topics") throw new UsageError(`ls takes queues or topics, not '${what}'`);
    const out = ctx.out.withJson(options.json === true);
    const queues = what === "topics" ? [] : await everyPage<QueueSummary>(ctx, "/v1/queues", "queues");
    const topics = what === "queues" ? [] : await everyPage<TopicSummary>(ctx, "/v1/topics", "topics");
    if (!out.human) {
      for (const q of queues) out.json({ type: "queue", ...q });
      for (const t of topics) out.json({ type: "topic", ...t });
      return;
    }
    if (what !== "topics") {
      if (queues.length === 0) out.line("no queues");
      else out.table([["QUEUE", "VISIBLE", "IN FLIGHT", "DELAYED", "CONSUMERS", "DEAD-LETTERED"], ...queues.map((q) => [
        q.name, String(q.stats.visible), String(q.stats.inFlight), String(q.stats.delayed), String(q.stats.consumers), String(q.stats.deadLettered),
      ])]);
    }
    if (what === undefined) out.line("");
    if (what !== "queues") {
      if (topics.length === 0) out.line("no topics");
      else out.table([["TOPIC", "PARTITIONS"], ...topics.map((t) => [t.name, String(t.partitions)])]);
    }
  },
};

export const info: CommandSpec = {
  name: "info",
  summary: "show a queue's or a topic's config and figures",
  usage: "<queue|topic>",
  description:
    "Prints what GET /v1/queues/<name> or GET /v1/topics/<name> answers (config and stats; for a topic each partition's offsets and " +
    "subscribers and each group's lag). When a queue and a topic share the name, both are printed (queue first).",
  options: {
    queue: { type: "boolean", help: "only the queue of that name" },
    topic: { type: "boolean", help: "only the topic of that name" },
    json: { type: "boolean", help: "one JSON line on a terminal too" },
  },
  examples: ["spool info jobs", "spool info orders --topic | jq '.partitions[].next'"],
  args: [1, 1],
  async run(ctx, [name], options) {
    const out = ctx.out.withJson(options.json === true);
    const wantQueue = options.topic !== true;
    const wantTopic = options.queue !== true;
    const [queue, topic] = await Promise.all([
      wantQueue ? orMissing<QueueInfo>(ctx.spool.queue(name!).info()) : undefined,
      wantTopic ? orMissing<TopicInfo>(ctx.spool.topic(name!).info()) : undefined,
    ]);
    const found = [queue, topic].filter((x) => x !== undefined);
    if (found.length === 0) {
      const what = wantQueue && wantTopic ? "queue or topic" : wantQueue ? "queue" : "topic";
      throw new NotFoundError({ code: "NOT_FOUND", status: 404, message: `no ${what} named '${name}'` });
    }
    for (const item of found) out.human ? out.line(JSON.stringify(item, null, 2)) : out.json(item);
  },
};

export const token: CommandSpec = {
  name: "token",
  summary: "mint a short-lived capability token (admin key only)",
  usage: "",
  description:
    "Mints a token that may do only what --cap grants, for --ttl seconds, and prints the token alone (or, with --json, " +
    "{token, expiresAt}). Resources are queues/<name> or topics/<name>, a name ending in * matching every name with that prefix. " +
    "Actions: queues send, receive, manage; topics publish, subscribe, consume, manage.",
  options: {
    ttl: { type: "string", value: "<s>", help: "lifetime in seconds, 1-86400 (900)" },
    cap: { type: "string", multiple: true, value: "<resource:actions>", help: "a capability, repeatable: topics/chat:subscribe,publish" },
    json: { type: "boolean", help: "print {token, expiresAt}" },
  },
  examples: ["TOKEN=$(spool token --ttl 900 --cap 'topics/chat.*:subscribe,publish' --cap queues/jobs:send)"],
  args: [0, 0],
  async run(ctx, _args, options) {
    const ttl = intOption(options, "ttl", 1, 86400, 900)!;
    const result = await ctx.spool.createToken({ ttl, capabilities: capabilitiesOption(options) as never });
    if (options.json === true) ctx.out.json(result);
    else ctx.out.line(result.token);
  },
};

export const keys: CommandSpec = {
  name: "keys",
  summary: "list, create or revoke access keys (admin key only)",
  usage: "[ls | create --cap … | rm <accessKeyId>]",
  description:
    "Access keys are long-lived, revocable service credentials (use them as 'Bearer <accessKeyId>:<secretAccessKey>'). " +
    "'spool keys' lists them without secrets; 'spool keys create' prints a new key with its secret, shown only this once; " +
    "'spool keys rm <id>' revokes one. A server without access keys answers with exit code 1 and says so.",
  options: {
    cap: { type: "string", multiple: true, value: "<resource:actions>", help: "create: a capability, repeatable" },
    description: { type: "string", value: "<text>", help: "create: a note for people" },
  },
  examples: ["spool keys", "spool keys create --cap queues/jobs:send,receive --description 'billing worker'", "spool keys rm SPKJ5W3QX2NDAZ7RKLM4TBVE"],
  args: [0, 2],
  async run(ctx, [action = "ls", id], options) {
    try {
      if (action === "ls" && id === undefined) {
        for (const key of await everyPage<Record<string, unknown>>(ctx, "/v1/keys", "keys")) ctx.out.json(key);
      } else if (action === "create" && id === undefined) {
        const description = stringOption(options, "description");
        const body = { capabilities: capabilitiesOption(options), ...(description === undefined ? {} : { description }) };
        ctx.out.json(await ctx.http.request("POST", "/v1/keys", { body }));
        ctx.out.tell("the secret is shown only this once: store it now");
      } else if (action === "rm" && id !== undefined) {
        await ctx.http.request("DELETE", `/v1/keys/${encodeURIComponent(id)}`, { idempotent: true });
        ctx.out.tell(`revoked ${id}`);
      } else {
        throw new UsageError("keys takes ls, create --cap …, or rm <accessKeyId>");
      }
    } catch (err) {
      if (err instanceof NotFoundError && /^no route/.test(err.message)) {
        throw new NotFoundError({ code: "NOT_FOUND", status: 404, message: `this server has no access keys yet (${ctx.url}/v1/keys is not a route)` });
      }
      throw err;
    }
  },
};

/** Every item of a paged list (`?limit=&cursor=`, answered with `next` while more remain). */
async function everyPage<T>(ctx: Context, path: string, field: string): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | undefined;
  do {
    const page = await ctx.http.request<Record<string, unknown>>("GET", path, { query: { limit: LIST_PAGE, cursor }, idempotent: true, signal: ctx.signal });
    items.push(...((page[field] as T[] | undefined) ?? []));
    cursor = typeof page.next === "string" ? page.next : undefined;
  } while (cursor !== undefined);
  return items;
}

async function orMissing<T>(request: Promise<T>): Promise<T | undefined> {
  try {
    return await request;
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  }
}
