/**
 * Overview: every queue and topic, a page at a time, with their figures and per-second
 * rates sampled while the page is open. The search box filters what is loaded and opens a
 * queue or topic by exact name, so a credential that may not list can still get anywhere
 * it is allowed.
 */
import type { QueueSummary, TopicInfo, TopicSummary } from "../../../client/index";
import { sparkline } from "../charts";
import { fill, fmtBytes, fmtInt, h, keepFocus, notice, table } from "../dom";
import { rates, SAMPLE_INTERVAL_MS } from "../rates";
import { explain, isForbidden, type Session } from "../session";
import { linkTo, NAME, type ViewContext } from "../view";

/** Rows per page of each list. */
export const PAGE_SIZE = 50;
/** Topic status calls in flight at once (each is one request from the browser). */
const TOPIC_CONCURRENCY = 4;

interface Paged<T> {
  items: T[];
  next?: string;
  /** Pages loaded so far: a refresh reloads that many. */
  pages: number;
  error?: unknown;
}

async function loadPages<T>(session: Session, kind: "queues" | "topics", pages: number): Promise<Paged<T>> {
  const items: T[] = [];
  let cursor: string | undefined;
  let loaded = 0;
  do {
    const page = await session.get<Record<string, unknown> & { next?: string }>(`/v1/${kind}`, { limit: PAGE_SIZE, cursor });
    items.push(...((page[kind] as T[]) ?? []));
    cursor = page.next ?? undefined;
    loaded++;
  } while (cursor && loaded < pages);
  // Keep the pages asked for: a server that pages not at all still shows that many screenfuls.
  return { items, next: cursor, pages };
}

export async function overview(ctx: ViewContext): Promise<void> {
  const { session } = ctx;
  const search = h("input", { type: "search", id: "search", placeholder: "Filter, or type a name to open", "data-search": true, autocomplete: "off", "aria-describedby": "search-hint" });
  const openers = h("div", { class: "openers", "aria-live": "polite" });
  const queuesBox = h("div", { "data-testid": "queues" });
  const topicsBox = h("div", { "data-testid": "topics" });
  let queues: Paged<QueueSummary> = { items: [], pages: 1 };
  let topics: Paged<TopicSummary> = { items: [], pages: 1 };
  const topicInfo = new Map<string, TopicInfo | unknown>();

  fill(ctx.root,
    h("h1", { tabindex: -1 }, "Overview"),
    h("div", { class: "search" },
      h("label", { for: "search" }, "Search"), search,
      h("small", { id: "search-hint" }, "Press / to come here. Filters the rows below; Enter opens an exact name."), openers),
    h("section", { "aria-labelledby": "queues-h" }, h("h2", { id: "queues-h" }, "Queues"), queuesBox),
    h("section", { "aria-labelledby": "topics-h" }, h("h2", { id: "topics-h" }, "Topics"), topicsBox));

  const filterText = () => search.value.trim().toLowerCase();
  const matches = (name: string) => name.toLowerCase().includes(filterText());

  const renderOpeners = () => {
    const name = search.value.trim();
    fill(openers, NAME.test(name)
      ? [h("a", { href: linkTo("queues", name), class: "button secondary" }, `Open queue “${name}”`), " ",
         h("a", { href: linkTo("topics", name), class: "button secondary" }, `Open topic “${name}”`)]
      : null);
  };

  const more = (what: "queues" | "topics") => h("button", {
    type: "button", class: "secondary",
    onclick: async () => {
      if (what === "queues") queues = { ...queues, pages: queues.pages + 1 };
      else topics = { ...topics, pages: topics.pages + 1 };
      await refresh();
    },
  }, `Load ${PAGE_SIZE} more ${what}`);

  const renderQueues = () => {
    if (queues.error) return fill(queuesBox, listRefused("queues", queues.error));
    const matching = queues.items.filter((q) => matches(q.name));
    // A server that ignores `limit` answers everything at once: show it a page at a time anyway.
    const shown = matching.slice(0, queues.pages * PAGE_SIZE);
    fill(queuesBox,
      table(["queue", "visible", "in flight", "delayed", "dead-lettered", "sent/s", "acked/s"], shown.map((q) => [
        h("a", { href: linkTo("queues", q.name) }, q.name),
        fmtInt(q.stats.visible), fmtInt(q.stats.inFlight), fmtInt(q.stats.delayed), fmtInt(q.stats.deadLettered),
        sparkline(rates.of(`q:${q.name}`, "sent"), `${q.name} sent per second`),
        sparkline(rates.of(`q:${q.name}`, "acked"), `${q.name} acked per second`),
      ]), "Queues", "queue-table"),
      shown.length === 0 ? notice("info", queues.items.length ? "No loaded queue matches the filter." : "No queues yet: the first send creates one.") : null,
      queues.next || matching.length > shown.length ? more("queues") : null);
  };

  const renderTopics = () => {
    if (topics.error) return fill(topicsBox, listRefused("topics", topics.error));
    const matching = topics.items.filter((t) => matches(t.name));
    const shown = matching.slice(0, topics.pages * PAGE_SIZE);
    fill(topicsBox,
      table(["topic", "partitions", "next offsets", "bytes", "live subscribers", "messages/s"], shown.map((t) => {
        const info = topicInfo.get(t.name);
        if (!info || !(typeof info === "object" && "partitions" in info)) {
          const why = info === undefined ? "…" : isForbidden(info) ? "not allowed" : "unavailable";
          return [h("a", { href: linkTo("topics", t.name) }, t.name), fmtInt(t.partitions), why, "", "", ""];
        }
        const parts = (info as TopicInfo).partitions;
        return [
          h("a", { href: linkTo("topics", t.name) }, t.name),
          fmtInt(t.partitions),
          h("span", { title: parts.map((p) => `partition ${p.partition}: ${p.next}`).join("\n") },
            parts.length <= 4 ? parts.map((p) => fmtInt(p.next)).join(" · ") : `${fmtInt(parts.reduce((n, p) => n + p.next, 0))} in all`),
          fmtBytes(parts.reduce((n, p) => n + p.bytes, 0)),
          fmtInt(parts.reduce((n, p) => n + p.subscribers, 0)),
          sparkline(rates.of(`t:${t.name}`, "next"), `${t.name} messages per second`),
        ];
      }), "Topics", "topic-table"),
      shown.length === 0 ? notice("info", topics.items.length ? "No loaded topic matches the filter." : "No topics yet: the first publish creates one.") : null,
      topics.next || matching.length > shown.length ? more("topics") : null);
  };

  const refresh = async () => {
    const [q, t] = await Promise.allSettled([loadPages<QueueSummary>(session, "queues", queues.pages), loadPages<TopicSummary>(session, "topics", topics.pages)]);
    queues = q.status === "fulfilled" ? q.value : { ...queues, items: [], error: q.reason };
    topics = t.status === "fulfilled" ? t.value : { ...topics, items: [], error: t.reason };
    for (const item of queues.items) rates.add(`q:${item.name}`, { sent: item.stats.sent, acked: item.stats.acked });
    const visibleTopics = topics.items.filter((x) => matches(x.name)).slice(0, topics.pages * PAGE_SIZE);
    await statusOfTopics(session, visibleTopics.map((x) => x.name), topicInfo);
    if (ctx.signal.aborted) return;
    keepFocus(queuesBox, renderQueues);
    keepFocus(topicsBox, renderTopics);
  };

  search.addEventListener("input", () => {
    renderOpeners();
    renderQueues();
    renderTopics();
  });
  search.addEventListener("keydown", (e) => {
    if (e.key !== "Enter") return;
    const name = search.value.trim();
    const exact = queues.items.find((q) => q.name === name) ? "queues" : topics.items.find((t) => t.name === name) ? "topics" : null;
    if (exact) location.hash = linkTo(exact, name);
  });
  ctx.every(SAMPLE_INTERVAL_MS, refresh);
}

async function statusOfTopics(session: Session, names: string[], into: Map<string, TopicInfo | unknown>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < names.length) {
      const name = names[next++]!;
      try {
        const info = await session.spool.topic(name).info();
        into.set(name, info);
        rates.add(`t:${name}`, { next: info.partitions.reduce((n, p) => n + p.next, 0) });
      } catch (err) {
        into.set(name, err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(TOPIC_CONCURRENCY, names.length) }, worker));
}

function listRefused(kind: "queues" | "topics", err: unknown): HTMLElement {
  if (isForbidden(err)) {
    return notice("warn", `Listing ${kind} needs “manage” on ${kind}/*, which this credential lacks. Type a name in the search box to open one you may use.`);
  }
  return notice("error", explain(err));
}
