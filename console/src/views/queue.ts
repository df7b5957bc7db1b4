/**
 * Queue page: stats (refreshed and charted while open), config (editable), and the
 * actions of queue-actions.ts. Each part asks the API for itself, so a credential that
 * may send but not manage still gets the send form, and the parts it may not use say so.
 */
import type { QueueConfig, QueueInfo } from "../../../client/index";
import { sparkline } from "../charts";
import { facts, fill, fmtAge, fmtBytes, fmtInt, h, notice } from "../dom";
import { field, int, onSubmit, text } from "../forms";
import { rates, SAMPLE_INTERVAL_MS } from "../rates";
import { explain, isNotFound } from "../session";
import { linkTo, type ViewContext } from "../view";
import { peekSection, redriveSection, sendSection } from "./queue-actions";

export async function queuePage(ctx: ViewContext, name: string): Promise<void> {
  const queue = ctx.session.spool.queue(name);
  const links = h("p", { class: "crumbs" }, h("a", { href: "#/" }, "← Overview"));
  const stats = h("div", { "data-testid": "queue-stats", "aria-live": "off" });
  const configBox = h("div", { "data-testid": "queue-config" });
  fill(ctx.root,
    h("h1", { tabindex: -1 }, h("span", { class: "kind" }, "Queue "), name),
    links,
    h("section", { "aria-labelledby": "stats-h" }, h("h2", { id: "stats-h" }, "Stats"), stats),
    h("section", { "aria-labelledby": "peek-h" }, h("h2", { id: "peek-h" }, "Messages"), peekSection(ctx, queue)),
    h("section", { "aria-labelledby": "send-h" }, h("h2", { id: "send-h" }, "Send a message"), sendSection(ctx, queue)),
    h("section", { "aria-labelledby": "dead-h" }, h("h2", { id: "dead-h" }, "Purge and redrive"), redriveSection(ctx, queue)),
    h("section", { "aria-labelledby": "config-h" }, h("h2", { id: "config-h" }, "Config"), configBox));

  let configShown = false;
  ctx.every(SAMPLE_INTERVAL_MS, async () => {
    let info: QueueInfo;
    try {
      info = await queue.info();
    } catch (err) {
      fill(stats, notice(isNotFound(err) ? "info" : "warn", isNotFound(err) ? `Queue “${name}” does not exist yet: the first send creates it.` : explain(err)));
      if (!configShown) fill(configBox, notice("warn", "Config is shown to credentials that may manage this queue."));
      return;
    }
    rates.add(`q:${name}`, { sent: info.stats.sent, acked: info.stats.acked });
    const s = info.stats;
    fill(stats,
      facts([
        ["visible", fmtInt(s.visible)], ["in flight", fmtInt(s.inFlight)], ["delayed", fmtInt(s.delayed)],
        ["messages", fmtInt(s.messages)], ["bytes", fmtBytes(s.bytes)], ["oldest", fmtAge(s.oldestAgeMs)],
        ["consumers", fmtInt(s.consumers)], ["sent", fmtInt(s.sent)], ["received", fmtInt(s.received)],
        ["acked", fmtInt(s.acked)], ["dead-lettered", fmtInt(s.deadLettered)], ["duplicates", fmtInt(s.duplicates)],
      ], "queue-facts"),
      h("p", { class: "charts" },
        "sent ", sparkline(rates.of(`q:${name}`, "sent"), "sent per second", 180, 32),
        " acked ", sparkline(rates.of(`q:${name}`, "acked"), "acked per second", 180, 32)));
    const dlq = info.config.deadLetterQueue;
    fill(links, h("a", { href: "#/" }, "← Overview"),
      dlq ? [" · ", h("a", { href: linkTo("queues", dlq), "data-testid": "dlq-link" }, `Dead-letter queue: ${dlq}`)] : " · dead letters are dropped (no dead-letter queue)");
    if (!configShown) {
      configShown = true;
      fill(configBox, configForm(ctx, name, info.config));
    }
  });
}

type NumberKey = "visibilityTimeout" | "maxReceives" | "deduplicationWindow" | "delay" | "retention" | "maxMessages" | "maxBytes" | "maxMessageBytes";
const NUMBERS: Array<[NumberKey, string, string]> = [
  ["visibilityTimeout", "Visibility timeout (s)", "1–43200"],
  ["maxReceives", "Max receives", "0–1000; 0 = never dead-letter"],
  ["deduplicationWindow", "Deduplication window (s)", "0–86400"],
  ["delay", "Delay (s)", "0–900"],
  ["retention", "Retention (s)", "60–1209600"],
  ["maxMessages", "Max messages", ""],
  ["maxBytes", "Max bytes", ""],
  ["maxMessageBytes", "Max message bytes", ""],
];

function configForm(ctx: ViewContext, name: string, config: QueueConfig): HTMLElement {
  const status = h("div", { "aria-live": "polite" });
  const dlq = config.deadLetterQueue;
  const form = h("form", { class: "config", "data-testid": "config-form" },
    h("fieldset", null,
      h("legend", { class: "visually-hidden" }, "Queue config"),
      h("div", { class: "grid" },
        NUMBERS.map(([key, label, hint]) => field(label, h("input", { name: key, type: "number", inputmode: "numeric", min: 0, value: config[key] }), hint || undefined)),
        field("Dead-letter queue", h("input", { name: "deadLetterQueue", type: "text", value: dlq ?? "", placeholder: "none: drop" }), "Empty: drop messages after max receives"),
        field("Delivery", h("select", { name: "delivery" },
          ["at-least-once", "at-most-once"].map((d) => h("option", { value: d, selected: d === config.delivery }, d)))),
        field("FIFO", h("input", { name: "fifo", type: "checkbox", checked: config.fifo, disabled: true }), "Fixed when the queue is created")),
      h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Save config"))),
    status);
  onSubmit(form, status, async (data) => {
    const patch: Partial<QueueConfig> = {};
    for (const [key, label] of NUMBERS) {
      const v = int(data.get(key), label);
      if (v !== undefined && v !== config[key]) patch[key] = v;
    }
    const newDlq = text(data.get("deadLetterQueue")).trim() || null;
    if (newDlq !== config.deadLetterQueue) patch.deadLetterQueue = newDlq;
    const delivery = text(data.get("delivery")) as QueueConfig["delivery"];
    if (delivery !== config.delivery) patch.delivery = delivery;
    if (Object.keys(patch).length === 0) return "Nothing changed.";
    const saved = await ctx.session.spool.queue(name).configure(patch);
    Object.assign(config, saved.config);
    return `Saved: ${Object.keys(patch).join(", ")}.`;
  });
  return form;
}
