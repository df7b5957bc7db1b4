/**
 * Live tail of a topic: the SDK's subscription on every partition, from now on, newest
 * message first. The SDK reconnects and resumes without gap or duplicate; the line above
 * the list shows its connection status. With an access key, which a browser cannot put on
 * a stream (only tokens go in URLs), the tail reads the log every second instead.
 */
import type { Spool, TopicMessage } from "../../../client/index";
import { fill, fmtTime, h, pretty } from "../dom";
import { explain, isNotFound, type Session } from "../session";
import type { ViewContext } from "../view";

/** Messages the list keeps; older ones drop off the bottom. */
export const TAIL_KEEP = 200;
/** How often the polling tail (access keys) reads the log. */
export const TAIL_POLL_MS = 1_000;

export function tailSection(ctx: ViewContext, topic: string): HTMLElement {
  const list = h("ol", { class: "tail", "data-testid": "tail", "aria-live": "polite", reversed: true });
  const state = h("p", { class: "tail-state", "data-testid": "tail-state", "data-state": "stopped" }, "Stopped.");
  const button = h("button", { type: "button", class: "primary", "aria-pressed": "false", "data-testid": "tail-toggle" }, "Start live tail");
  let stop: (() => void) | null = null;

  const add = (m: TopicMessage) => {
    list.prepend(h("li", { "data-offset": m.offset, "data-partition": m.partition },
      h("span", { class: "muted" }, `p${m.partition} @${m.offset} · ${fmtTime(m.timestamp)}${m.key ? ` · key ${m.key}` : ""}`),
      h("pre", { class: "body" }, pretty(m.body))));
    while (list.children.length > TAIL_KEEP) list.lastElementChild!.remove();
  };
  const setState = (kind: string, text: string) => {
    state.dataset.state = kind;
    fill(state, text);
  };

  const start = async () => {
    button.textContent = "Stop live tail";
    button.setAttribute("aria-pressed", "true");
    const controller = new AbortController();
    const halt = () => controller.abort();
    ctx.signal.addEventListener("abort", halt, { once: true });
    stop = () => {
      ctx.signal.removeEventListener("abort", halt);
      halt();
    };
    try {
      const partitions = await partitionCount(ctx.session, topic);
      const client = ctx.session.streamClient(topic);
      if (client) await stream(client, topic, partitions, controller.signal, add, setState);
      else await poll(ctx.session, topic, partitions, controller.signal, add, setState);
    } catch (err) {
      if (!controller.signal.aborted) setState("error", explain(err));
    }
  };

  button.addEventListener("click", () => {
    if (stop) {
      stop();
      stop = null;
      button.textContent = "Start live tail";
      button.setAttribute("aria-pressed", "false");
      setState("stopped", "Stopped.");
    } else {
      void start();
    }
  });
  return h("div", null, h("div", { class: "inline" }, button, state), list,
    h("small", { class: "muted" }, "Messages published from the moment you start, on every partition."));
}

type SetState = (kind: string, text: string) => void;

/**
 * How many partitions to follow: `GET /v1/topics/{t}/partitions`, which `subscribe` alone
 * may read; where a server does not have that route yet, the topic's status (`manage`).
 */
async function partitionCount(session: Session, topic: string): Promise<number> {
  try {
    return (await session.get<{ partitions: number }>(`/v1/topics/${encodeURIComponent(topic)}/partitions`)).partitions;
  } catch (err) {
    if (!isNotFound(err)) throw err;
    return (await session.spool.topic(topic).info()).config.partitions;
  }
}

async function stream(client: Spool, topic: string, partitions: number, signal: AbortSignal, add: (m: TopicMessage) => void, setState: SetState): Promise<void> {
  signal.addEventListener("abort", () => void client.close(), { once: true });
  const states = new Map<number, string>();
  let transport = "";
  setState("connecting", "Connecting…");
  void (async () => {
    for await (const s of client.status()) {
      if (s.stream.partition === undefined) continue;
      states.set(s.stream.partition, s.type);
      transport = s.stream.transport;
      const connected = [...states.values()].filter((v) => v === "connected").length;
      if (s.type === "reconnecting") setState("reconnecting", `Reconnecting (attempt ${s.attempt})…`);
      else if (connected === partitions) setState("connected", `Live: connected (${transport}) on ${partitions} partition${partitions === 1 ? "" : "s"}.`);
      else if (s.type === "disconnected") setState("reconnecting", "Connection lost; reconnecting…");
    }
  })();
  const topicHandle = client.topic(topic);
  await Promise.all(Array.from({ length: partitions }, async (_, partition) => {
    const sub = topicHandle.subscribe({ partition, from: "latest", onGap: () => undefined });
    for await (const m of sub) add(m);
    const error = await sub.closed;
    if (error && !signal.aborted) throw error;
  }));
}

async function poll(session: Session, topic: string, partitions: number, signal: AbortSignal, add: (m: TopicMessage) => void, setState: SetState): Promise<void> {
  const handle = session.spool.topic(topic);
  // Start at the end of each partition: a `since` after every message reads nothing and answers `next`.
  const next = await Promise.all(Array.from({ length: partitions }, async (_, partition) => (await handle.read({ partition, since: 999_999_999_999_999, limit: 1 })).next));
  setState("polling", "Live: reading the log every second (an access key cannot open a stream from a browser; sign in with a token for a push stream).");
  while (!signal.aborted) {
    for (let partition = 0; partition < partitions; partition++) {
      const page = await handle.read({ partition, from: next[partition], limit: 100 });
      for (const m of page.messages) add(m);
      next[partition] = page.next;
    }
    await new Promise((r) => setTimeout(r, TAIL_POLL_MS));
  }
}

