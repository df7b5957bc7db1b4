/**
 * Topic commands: `publish`, `tail` (live, every partition at once, resuming after drops
 * through the SDK's subscriptions) and `read` (pages through the log). Messages print as
 * one JSON object per line when piped and as one readable line each on a terminal.
 */
import { AuthError, type Subscription, type TopicMessage, type TopicMessageInput, type TransportName } from "../client/index";
import { headersOption, intOption, jsonArgument, startOption, stringOption, UsageError, type CommandSpec } from "./args";
import type { Context } from "./context";
import { batches, toMessage } from "./input";
import { count, formatTopicMessage } from "./output";

/** Messages per read request (the API's largest page). */
const READ_PAGE = 1000;

export const publish: CommandSpec = {
  name: "publish",
  summary: "publish a message to a topic (or one per line of stdin)",
  usage: "<topic> [json|-]",
  description:
    "Publishes one message whose body is the JSON argument, or, with '-' or no argument and stdin not a terminal, one message per line of stdin, " +
    "in batches of up to 1,000. The first publish creates the topic. Prints {id, partition, offset, duplicate} per message " +
    "(on a terminal, only a summary for many).",
  options: {
    key: { type: "string", value: "<key>", help: "message key: picks the partition, keeps per-key order" },
    id: { type: "string", value: "<id>", help: "message id (deduplicated within the topic's window); one message only" },
    header: { type: "string", multiple: true, value: "<name=value>", help: "a header, repeatable" },
    messages: { type: "boolean", help: "stdin lines are whole message objects {body, key?, id?, headers?}" },
  },
  examples: [`spool publish chat '{"text": "hi"}'`, `spool publish orders '{"order": 1}' --key customer-1`, "spool publish chat - < history.ndjson"],
  args: [1, 2],
  async run(ctx, [name, body], options) {
    const topic = ctx.spool.topic(name!);
    const extra: Partial<TopicMessageInput<unknown>> = { key: stringOption(options, "key"), headers: headersOption(options) };
    for (const k of Object.keys(extra) as (keyof typeof extra)[]) if (extra[k] === undefined) delete extra[k];
    if (body !== undefined && body !== "-") {
      const id = stringOption(options, "id");
      ctx.out.json(await topic.publish([{ ...extra, ...(id === undefined ? {} : { id }), body: jsonArgument(body) }]).then((r) => r[0]));
      return;
    }
    if (stringOption(options, "id") !== undefined) throw new UsageError("--id names one message; give the body as an argument");
    if (body === undefined && process.stdin.isTTY) throw new UsageError("give the message as JSON, or '-' to read one per line of stdin");
    const started = Date.now();
    const progress = ctx.out.progress();
    let published = 0;
    for await (const batch of batches(process.stdin, ctx.signal)) {
      const results = await topic.publish(batch.map((l) => toMessage<TopicMessageInput<unknown>>(l, options.messages === true, extra)));
      published += results.length;
      if (!ctx.out.human) for (const r of results) ctx.out.json(r);
      progress.update(`published ${count(published)} messages to ${name}…`);
    }
    const seconds = (Date.now() - started) / 1000;
    progress.done(`published ${count(published)} message${published === 1 ? "" : "s"} to ${name} in ${seconds.toFixed(1)} s`);
  },
};

export const tail: CommandSpec = {
  name: "tail",
  summary: "follow a topic live (every partition), resuming after drops",
  usage: "<topic>",
  description:
    "Prints each message of the topic as it is published: one JSON object per line when piped, one readable line " +
    "(partition:offset, time, key, body) on a terminal. --from picks where to start in each partition. The stream " +
    "reconnects by itself after a drop or a server restart and resumes where it was: no gap, no duplicate. Runs until Ctrl-C (exit code 130).",
  options: {
    from: { type: "string", value: "<latest|earliest|n>", help: "start at new messages (latest, the default), the oldest kept one, or an offset" },
    partition: { type: "string", value: "<p>", help: "follow only this partition" },
    transport: { type: "string", value: "<websocket|sse>", help: "pin a transport (default: WebSocket, Server-Sent Events where it is blocked)" },
    json: { type: "boolean", help: "JSON lines on a terminal too" },
  },
  examples: ["spool tail chat", "spool tail orders --from earliest --json | jq .body"],
  args: [1, 1],
  async run(ctx, [name], options) {
    const from = startOption(options, "latest");
    const transport = transportOption(options);
    const one = intOption(options, "partition", 0, 63);
    const partitions = one === undefined ? await partitionCount(ctx, name!) : 1;
    const list = one === undefined ? [...Array(partitions).keys()] : [one];
    const topic = ctx.spool.topic(name!);
    const out = ctx.out.withJson(options.json === true);
    const which = list.length === 1 ? `partition ${list[0]}` : `partitions 0-${list.length - 1}`;
    ctx.out.tell(`following ${name} (${which}) from ${from}; Ctrl-C stops`);
    const subs: Subscription[] = list.map((partition) =>
      topic.subscribe({
        partition,
        from,
        transport,
        signal: ctx.signal,
        onGap: (g) => ctx.out.note(`spool: offsets ${g.from}-${g.to - 1} of ${name}#${g.partition} were removed by retention before they were read; going on from ${g.to}`),
      }),
    );
    void reportStatus(ctx, name!, list, subs);
    await Promise.all(subs.map(async (sub) => {
      for await (const m of sub) out.human ? out.line(formatTopicMessage(m as TopicMessage)) : out.json(m);
    }));
    if (ctx.signal.aborted) return 130;
    for (const sub of subs) {
      const error = await sub.closed;
      if (error) throw error;
    }
  },
};

export const read: CommandSpec = {
  name: "read",
  summary: "read a topic partition's log from an offset or a time",
  usage: "<topic>",
  description:
    "Prints the messages of one partition in offset order, from --from (default: the oldest kept) or --since, " +
    "up to --limit or the end of the log. JSON lines when piped, readable lines on a terminal.",
  options: {
    partition: { type: "string", value: "<p>", help: "partition (0)" },
    from: { type: "string", value: "<n>", help: "first offset (default: the oldest kept)" },
    since: { type: "string", value: "<time>", help: "start at a time instead: ms since the epoch or an ISO date" },
    limit: { type: "string", value: "<n>", help: "at most this many messages" },
    json: { type: "boolean", help: "JSON lines on a terminal too" },
  },
  examples: ["spool read orders --partition 3 --from 0", "spool read chat --since 2026-11-29T10:00:00Z --json"],
  args: [1, 1],
  async run(ctx, [name], options) {
    const partition = intOption(options, "partition", 0, 63, 0)!;
    let from = intOption(options, "from", 0, Number.MAX_SAFE_INTEGER);
    const since = sinceOption(options);
    if (from !== undefined && since !== undefined) throw new UsageError("give --from or --since, not both");
    const limit = intOption(options, "limit", 1, Number.MAX_SAFE_INTEGER);
    const topic = ctx.spool.topic(name!);
    const out = ctx.out.withJson(options.json === true);
    const progress = ctx.out.progress();
    let printed = 0;
    let first: number | undefined;
    let next = 0;
    for (;;) {
      const page = Math.min(READ_PAGE, limit === undefined ? READ_PAGE : limit - printed);
      const res = await topic.read({ partition, limit: page, signal: ctx.signal, ...(from !== undefined ? { from } : since !== undefined && printed === 0 ? { since } : {}) });
      if (first === undefined && from !== undefined && res.first > from) ctx.out.note(`spool: offsets ${from}-${res.first - 1} were removed by retention; reading from ${res.first}`);
      first ??= res.first;
      for (const m of res.messages) out.human ? out.line(formatTopicMessage(m)) : out.json(m);
      printed += res.messages.length;
      next = res.next;
      progress.update(`read ${count(printed)} messages…`);
      if (res.messages.length === 0 || (limit !== undefined && printed >= limit)) break;
      from = res.next;
    }
    progress.done();
    ctx.out.tell(`${count(printed)} message${printed === 1 ? "" : "s"} from ${name}#${partition}; next offset ${next}`);
  },
};

function transportOption(options: Record<string, unknown>): TransportName {
  const raw = options.transport;
  if (raw !== undefined && raw !== "websocket" && raw !== "sse") throw new UsageError(`--transport takes websocket or sse, not '${String(raw)}'`);
  // Node 20 has no global WebSocket (Node 22 has): Server-Sent Events give the same stream.
  if (typeof (globalThis as { WebSocket?: unknown }).WebSocket !== "function") {
    if (raw === "websocket") throw new UsageError("this Node has no WebSocket (Node 22 has one); use --transport sse");
    return "sse";
  }
  return (raw as TransportName | undefined) ?? "auto";
}

function sinceOption(options: Record<string, unknown>): number | undefined {
  const raw = options.since;
  if (typeof raw !== "string") return undefined;
  const ms = /^\d+$/.test(raw) ? Number(raw) : Date.parse(raw);
  if (!Number.isFinite(ms)) throw new UsageError(`--since takes ms since the epoch or an ISO date, not '${raw}'`);
  return ms;
}

/** Partitions of a topic: from its info (needs manage), else from /partitions (subscribe is enough), else 1. */
async function partitionCount(ctx: Context, name: string): Promise<number> {
  try {
    return (await ctx.spool.topic(name).info()).partitions.length;
  } catch (err) {
    if (!(err instanceof AuthError) || err.code !== "FORBIDDEN") throw err;
  }
  try {
    const res = await ctx.http.request<{ partitions: number }>("GET", `/v1/topics/${encodeURIComponent(name)}/partitions`, { idempotent: true });
    return res.partitions;
  } catch {
    ctx.out.note(`spool: this credential cannot see how many partitions ${name} has; following partition 0 (--partition picks another)`);
    return 1;
  }
}

/** Drops and resumes on stderr (a plain line each), so a person or a log sees why output paused. */
async function reportStatus(ctx: Context, name: string, partitions: number[], subs: Subscription[]): Promise<void> {
  const connected = new Set<number>();
  const dropped = new Set<number>();
  for await (const s of ctx.spool.status()) {
    const p = s.stream.partition ?? 0;
    if (s.type === "connected") {
      connected.add(p);
      if (dropped.delete(p)) {
        const at = subs[partitions.indexOf(p)]?.resumeFrom;
        ctx.out.note(`spool: reconnected to ${name}#${p}${at === undefined ? "" : `, resuming at offset ${at}`}`);
      }
    } else if (s.type === "reconnecting" && !dropped.has(p)) {
      dropped.add(p);
      ctx.out.note(connected.has(p) ? `spool: connection to ${name}#${p} lost; reconnecting…` : `spool: cannot connect to ${name}#${p} yet; retrying…`);
    }
  }
}
