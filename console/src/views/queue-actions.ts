/**
 * What the queue page does to a queue: peek at messages (body pretty-printed, headers,
 * attempts, state), send one, purge it and redrive its dead letters (both confirmed first).
 */
import type { PeekedMessage, Queue } from "../../../client/index";
import { fill, fmtTime, h, notice, pretty, table } from "../dom";
import { confirmAction, field, int, onSubmit, readBody, readHeaders, text } from "../forms";
import { explain } from "../session";
import type { ViewContext } from "../view";

export function peekSection(ctx: ViewContext, queue: Queue): HTMLElement {
  const out = h("div", { "data-testid": "peek-result", "aria-live": "polite" });
  const limit = h("select", { id: "peek-limit" }, [10, 50, 100].map((n) => h("option", { value: n }, String(n))));
  const peek = async () => {
    fill(out, notice("info", "Loading…"));
    try {
      const messages = await queue.peek({ limit: Number(limit.value) });
      fill(out, messages.length === 0 ? notice("info", "No messages.") : messageTable(messages));
    } catch (err) {
      fill(out, notice("warn", explain(err)));
    }
  };
  return h("div", null,
    h("div", { class: "inline" },
      h("label", { for: "peek-limit" }, "Show up to"), limit,
      h("button", { type: "button", class: "primary", onclick: peek, "data-testid": "peek" }, "Peek"),
      h("small", null, "In send order, without taking a lease.")),
    out);
}

function messageTable(messages: PeekedMessage[]): HTMLElement {
  return table(["seq", "id", "state", "attempts", "sent", "headers", "body"], messages.map((m) => [
    String(m.seq), h("code", null, m.id), h("span", { class: `state state-${m.state}` }, m.state), String(m.attempts), fmtTime(m.sentAt),
    Object.keys(m.headers).length ? h("pre", { class: "headers" }, Object.entries(m.headers).map(([k, v]) => `${k}: ${v}`).join("\n")) : "–",
    h("pre", { class: "body" }, pretty(m.body)),
  ]), "Messages", "peek-table");
}

export function sendSection(ctx: ViewContext, queue: Queue): HTMLElement {
  const status = h("div", { "aria-live": "polite", "data-testid": "send-status" });
  const form = h("form", { "data-testid": "send-form" },
    h("fieldset", null,
      h("legend", { class: "visually-hidden" }, "Message"),
      field("Body (JSON)", h("textarea", { name: "body", rows: 4, required: true, spellcheck: "false", class: "code" }, '{\n  "hello": "world"\n}')),
      h("label", { class: "check" }, h("input", { type: "checkbox", name: "asText" }), " send as text (a string body)"),
      h("div", { class: "grid" },
        field("Headers", h("textarea", { name: "headers", rows: 2, spellcheck: "false", class: "code", placeholder: "name: value" }), "One “name: value” per line"),
        field("Delay (s)", h("input", { name: "delay", type: "number", min: 0, max: 900, inputmode: "numeric" })),
        field("Id", h("input", { name: "id", type: "text", placeholder: "generated" }), "Same id within the dedup window: not sent twice"),
        field("Group (FIFO)", h("input", { name: "group", type: "text" }))),
      h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Send"))),
    status);
  onSubmit(form, status, async (data) => {
    const group = text(data.get("group")).trim();
    const id = text(data.get("id")).trim();
    const sent = await queue.send({
      body: readBody(text(data.get("body")), data.get("asText") !== null),
      headers: readHeaders(text(data.get("headers"))),
      delay: int(data.get("delay"), "Delay"),
      ...(id ? { id } : {}),
      ...(group ? { group } : {}),
    });
    return sent.duplicate ? `Duplicate of message ${sent.id} (seq ${sent.seq}): not sent again.` : `Sent ${sent.id} as seq ${sent.seq}.`;
  });
  return form;
}

export function redriveSection(ctx: ViewContext, queue: Queue): HTMLElement {
  const status = h("div", { "aria-live": "polite", "data-testid": "redrive-status" });
  const form = h("form", { "data-testid": "redrive-form" },
    h("fieldset", null,
      h("legend", null, "Redrive: move this queue's dead letters back"),
      h("div", { class: "grid" },
        field("To", h("input", { name: "to", type: "text", placeholder: "where each came from" }), "Letters from a group or subscription need a queue here"),
        field("At most", h("input", { name: "max", type: "number", min: 1, inputmode: "numeric", placeholder: "all" }))),
      h("div", { class: "actions" }, h("button", { type: "submit", class: "primary", "data-testid": "redrive" }, "Redrive…"))),
    status);
  onSubmit(form, status, async (data) => {
    const to = text(data.get("to")).trim() || undefined;
    const max = int(data.get("max"), "At most");
    const ok = await confirmAction("Redrive dead letters?", `Move ${max ?? "every"} message of “${queue.name}” back to ${to ? `“${to}”` : "the queue each came from"}, attempts reset.`, "Redrive");
    if (!ok) return "Cancelled.";
    const moved = await queue.redrive({ to, max });
    return `Moved ${moved} message${moved === 1 ? "" : "s"}.`;
  });

  const purgeStatus = h("div", { "aria-live": "polite", "data-testid": "purge-status" });
  const purge = async () => {
    const ok = await confirmAction("Purge the queue?", `Delete every message of “${queue.name}”. Config, dedup records and counters stay. This cannot be undone.`, "Purge");
    if (!ok) return fill(purgeStatus, notice("info", "Cancelled."));
    try {
      const n = await queue.purge();
      fill(purgeStatus, notice("ok", `Purged ${n} message${n === 1 ? "" : "s"}.`));
    } catch (err) {
      fill(purgeStatus, notice("error", explain(err)));
    }
  };
  return h("div", null, form,
    h("div", { class: "danger-zone" },
      h("button", { type: "button", class: "danger", onclick: purge, "data-testid": "purge" }, "Purge…"),
      h("small", null, " Deletes every message in this queue."), purgeStatus));
}
