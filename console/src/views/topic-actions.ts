/**
 * What the topic page does besides watching: read a partition from an offset or a time,
 * and publish a message.
 */
import type { ReadOptions, Topic } from "../../../client/index";
import { fill, fmtTime, h, notice, pretty, table } from "../dom";
import { field, int, onSubmit, readBody, readHeaders, text } from "../forms";
import type { ViewContext } from "../view";

export function readSection(ctx: ViewContext, topic: Topic, partitions: () => number): HTMLElement {
  const status = h("div", { "aria-live": "polite", "data-testid": "read-result" });
  const form = h("form", { "data-testid": "read-form" },
    h("fieldset", null,
      h("legend", { class: "visually-hidden" }, "Read"),
      h("div", { class: "grid" },
        field("Partition", h("input", { name: "partition", type: "number", min: 0, value: 0, inputmode: "numeric" })),
        field("From offset", h("input", { name: "from", type: "number", min: 0, inputmode: "numeric", placeholder: "first kept" })),
        field("Or since", h("input", { name: "since", type: "datetime-local", step: 1 }), "Your local time"),
        field("Limit", h("input", { name: "limit", type: "number", min: 1, max: 1000, value: 20, inputmode: "numeric" }))),
      h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Read"))),
    status);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const data = new FormData(form);
    try {
      const options: ReadOptions = { partition: int(data.get("partition"), "Partition") ?? 0, limit: int(data.get("limit"), "Limit") ?? 20 };
      const from = int(data.get("from"), "From offset");
      const since = text(data.get("since"));
      if (from !== undefined && since) throw new Error("Give an offset or a time, not both.");
      if (from !== undefined) options.from = from;
      if (since) options.since = new Date(since).getTime();
      if (options.partition! >= partitions()) throw new Error(`The topic has partitions 0 to ${partitions() - 1}.`);
      const page = await topic.read(options);
      fill(status,
        h("p", { class: "muted" }, `${page.messages.length} message(s) of partition ${options.partition}; first kept offset ${page.first}, next ${page.next}.`),
        page.messages.length ? table(["offset", "id", "key", "time", "headers", "body"], page.messages.map((m) => [
          String(m.offset), h("code", null, m.id), m.key ?? "–", fmtTime(m.timestamp),
          Object.keys(m.headers).length ? h("pre", { class: "headers" }, Object.entries(m.headers).map(([k, v]) => `${k}: ${v}`).join("\n")) : "–",
          h("pre", { class: "body" }, pretty(m.body)),
        ]), "Messages read", "read-table") : null);
    } catch (err) {
      fill(status, notice("warn", err instanceof Error ? err.message : String(err)));
    }
  });
  return form;
}

export function publishSection(ctx: ViewContext, topic: Topic): HTMLElement {
  const status = h("div", { "aria-live": "polite", "data-testid": "publish-status" });
  const form = h("form", { "data-testid": "publish-form" },
    h("fieldset", null,
      h("legend", { class: "visually-hidden" }, "Message"),
      field("Body (JSON)", h("textarea", { name: "body", rows: 4, required: true, spellcheck: "false", class: "code" }, '{\n  "hello": "world"\n}')),
      h("label", { class: "check" }, h("input", { type: "checkbox", name: "asText" }), " send as text (a string body)"),
      h("div", { class: "grid" },
        field("Key", h("input", { name: "key", type: "text" }), "Picks the partition; the compaction key"),
        field("Headers", h("textarea", { name: "headers", rows: 2, spellcheck: "false", class: "code", placeholder: "name: value" }), "One “name: value” per line"),
        field("Id", h("input", { name: "id", type: "text", placeholder: "generated" }))),
      h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Publish"))),
    status);
  onSubmit(form, status, async (data) => {
    const key = text(data.get("key")).trim();
    const id = text(data.get("id")).trim();
    const [done] = await topic.publish([{
      body: readBody(text(data.get("body")), data.get("asText") !== null),
      headers: readHeaders(text(data.get("headers"))),
      ...(key ? { key } : {}),
      ...(id ? { id } : {}),
    }]);
    return done!.duplicate ? `Duplicate of ${done!.id}: not published again.` : `Published ${done!.id} to partition ${done!.partition} at offset ${done!.offset}.`;
  });
  return form;
}
