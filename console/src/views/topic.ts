/**
 * Topic page: partitions (offsets, bytes, live subscribers), consumer groups with their lag
 * per partition as bars, subscriptions with lag and last error, and the actions of
 * topic-actions.ts and tail.ts. Refreshed while open; parts the credential may not use say so.
 */
import type { SubscriptionStatus, TopicInfo } from "../../../client/index";
import { bars, sparkline } from "../charts";
import { facts, fill, fmtBytes, fmtInt, fmtTime, h, keepFocus, notice, table } from "../dom";
import { rates, SAMPLE_INTERVAL_MS } from "../rates";
import { explain, isNotFound } from "../session";
import { linkTo, NAME, type ViewContext } from "../view";
import { publishSection, readSection } from "./topic-actions";
import { tailSection } from "./tail";

export async function topicPage(ctx: ViewContext, name: string): Promise<void> {
  const topic = ctx.session.spool.topic(name);
  const partitions = h("div", { "data-testid": "partitions" });
  const groups = h("div", { "data-testid": "groups" });
  const subscriptions = h("div", { "data-testid": "subscriptions" });
  let partitionCount = 1;
  fill(ctx.root,
    h("h1", { tabindex: -1 }, h("span", { class: "kind" }, "Topic "), name),
    h("p", { class: "crumbs" }, h("a", { href: "#/" }, "← Overview")),
    h("section", { "aria-labelledby": "parts-h" }, h("h2", { id: "parts-h" }, "Partitions"), partitions),
    h("section", { "aria-labelledby": "tail-h" }, h("h2", { id: "tail-h" }, "Live tail"), tailSection(ctx, name)),
    h("section", { "aria-labelledby": "groups-h" }, h("h2", { id: "groups-h" }, "Consumer groups"), groups),
    h("section", { "aria-labelledby": "subs-h" }, h("h2", { id: "subs-h" }, "Subscriptions"), subscriptionsSection(ctx, name, subscriptions)),
    h("section", { "aria-labelledby": "read-h" }, h("h2", { id: "read-h" }, "Read from an offset or a time"), readSection(ctx, topic, () => partitionCount)),
    h("section", { "aria-labelledby": "pub-h" }, h("h2", { id: "pub-h" }, "Publish"), publishSection(ctx, topic)));

  ctx.every(SAMPLE_INTERVAL_MS, async () => {
    let info: TopicInfo;
    try {
      info = await topic.info();
    } catch (err) {
      const text = isNotFound(err) ? `Topic “${name}” does not exist yet: the first publish creates it.` : explain(err);
      fill(partitions, notice(isNotFound(err) ? "info" : "warn", text));
      fill(groups, notice("info", "Groups are shown to credentials that may manage this topic."));
      return;
    }
    partitionCount = info.config.partitions;
    rates.add(`t:${name}`, { next: info.partitions.reduce((n, p) => n + p.next, 0) });
    fill(partitions,
      facts([
        ["partitions", fmtInt(info.config.partitions)],
        ["messages kept", fmtInt(info.partitions.reduce((n, p) => n + p.next - p.first, 0))],
        ["bytes", fmtBytes(info.partitions.reduce((n, p) => n + p.bytes, 0))],
        ["live subscribers", fmtInt(info.partitions.reduce((n, p) => n + p.subscribers, 0))],
      ], "topic-facts"),
      h("p", { class: "charts" }, "published ", sparkline(rates.of(`t:${name}`, "next"), "messages published per second", 180, 32)),
      table(["partition", "first", "next", "bytes", "live subscribers"], info.partitions.map((p) => [
        String(p.partition), fmtInt(p.first), fmtInt(p.next), fmtBytes(p.bytes), fmtInt(p.subscribers),
      ]), "Partitions", "partition-table"));
    const blocks = await groupBlocks(ctx, name, info);
    keepFocus(groups, () => fill(groups, ...blocks));
  });
}

/** Each group's lag per partition (its status needs `consume`), as bars. */
async function groupBlocks(ctx: ViewContext, topic: string, info: TopicInfo): Promise<HTMLElement[]> {
  if (info.groups.length === 0) return [notice("info", "No consumer groups: the first poll creates one.")];
  return Promise.all(info.groups.map(async (g) => {
    const head = h("h3", null, g.name, h("span", { class: "muted" }, ` · lag ${fmtInt(g.lag)}`));
    try {
      const status = await ctx.session.spool.topic(topic).group(g.name).info();
      return h("div", { class: "group", "data-group": g.name }, head,
        bars(status.partitions.map((p) => ({ label: `partition ${p.partition}`, value: p.lag })), `Lag of ${g.name} per partition`),
        h("small", { class: "muted" }, status.partitions.map((p) => `p${p.partition}: committed ${p.committed}, in flight ${p.inFlight}`).join(" · ")));
    } catch (err) {
      return h("div", { class: "group", "data-group": g.name }, head, notice("warn", explain(err)));
    }
  }));
}

/**
 * The API has no list of a topic's subscriptions, so they are looked up by name; names
 * looked up are remembered for this tab and refreshed with the page.
 */
function subscriptionsSection(ctx: ViewContext, topic: string, box: HTMLElement): HTMLElement {
  const key = `spool.console.subscriptions.${topic}`;
  const remembered = (): string[] => JSON.parse(sessionStorage.getItem(key) ?? "[]") as string[];
  const input = h("input", { id: "sub-name", type: "text", placeholder: "subscription name", autocomplete: "off" });
  const show = async () => {
    const names = remembered();
    if (names.length === 0) return fill(box, notice("info", "Look up a subscription by name to see its lag and last error."));
    const rows = await Promise.all(names.map(async (n) => {
      try {
        return subscriptionRow(n, await ctx.session.spool.topic(topic).subscription(n).info());
      } catch (err) {
        return [n, "", "", "", explain(err)];
      }
    }));
    fill(box, table(["subscription", "target", "lag", "delivered / failed", "last error"], rows, "Subscriptions", "subscription-table"));
  };
  const form = h("form", { class: "inline" },
    h("label", { for: "sub-name" }, "Subscription"), input,
    h("button", { type: "submit", class: "secondary" }, "Look up"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const n = input.value.trim();
    if (!NAME.test(n)) return fill(box, notice("warn", "Not a valid name."));
    sessionStorage.setItem(key, JSON.stringify([...new Set([...remembered(), n])]));
    input.value = "";
    void show();
  });
  ctx.every(SAMPLE_INTERVAL_MS * 2, show);
  return h("div", null, form, box);
}

function subscriptionRow(name: string, s: SubscriptionStatus): Array<string | HTMLElement> {
  const target = s.target as { type?: string; queue?: string; url?: string } | undefined;
  const where = target?.type === "queue" && target.queue
    ? h("a", { href: linkTo("queues", target.queue) }, `queue ${target.queue}`)
    : `webhook ${target?.url ?? ""}`;
  const err = s.lastError as { message?: string; at?: number } | null | undefined;
  return [
    name, where, fmtInt(Number(s.lag ?? 0)), `${fmtInt(Number(s.delivered ?? 0))} / ${fmtInt(Number(s.failed ?? 0))}`,
    err?.message ? `${err.message}${err.at ? ` (${fmtTime(err.at)})` : ""}` : "none",
  ];
}
