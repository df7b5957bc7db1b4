/**
 * Tokens: mint a scoped, short-lived token with a form (admin key only), to hand to a
 * browser or a service, or to sign in to this console with less than the admin key.
 */
import type { Capabilities, QueueAction, TopicAction } from "../../../client/index";
import { fill, fmtTime, h, notice } from "../dom";
import { field, int, onSubmit } from "../forms";
import type { ViewContext } from "../view";

const ACTIONS: { queues: QueueAction[]; topics: TopicAction[] } = {
  queues: ["send", "receive", "manage"],
  topics: ["publish", "subscribe", "consume", "manage"],
};

export function tokensPage(ctx: ViewContext): void {
  fill(ctx.root, h("h1", { tabindex: -1 }, "Tokens"));
  if (ctx.session.kind !== "admin") {
    ctx.root.append(notice("warn", "Only the admin key may mint tokens. You are signed in with an " + (ctx.session.kind === "key" ? "access key" : "a token") + "."));
    return;
  }
  const rows = h("div", { class: "cap-rows" });
  const addRow = (kind: "queues" | "topics" = "queues", pattern = "", actions: string[] = []) => rows.append(capabilityRow(kind, pattern, actions));
  addRow("queues", "", ["send"]);
  const result = h("div", { "aria-live": "polite", "data-testid": "token-result" });
  const form = h("form", { "data-testid": "token-form" },
    h("fieldset", null,
      h("legend", null, "Capabilities"),
      h("p", { class: "muted" }, "A pattern is an exact name or a prefix ending in *. Listing needs manage on queues/* or topics/*."),
      rows,
      h("button", { type: "button", class: "secondary", onclick: () => addRow("topics") }, "Add a capability"),
      h("div", { class: "grid" }, field("Lifetime (s)", h("input", { name: "ttl", type: "number", min: 1, max: 86400, value: 3600, required: true, inputmode: "numeric" }), "1–86400")),
      h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Mint token"))));
  const status = h("div", { "aria-live": "polite" });
  onSubmit(form, status, async (data) => {
    const capabilities: Capabilities = {};
    for (const row of rows.querySelectorAll<HTMLElement>(".cap-row")) {
      const kind = (row.querySelector("select") as HTMLSelectElement).value as "queues" | "topics";
      const pattern = (row.querySelector("input[type=text]") as HTMLInputElement).value.trim();
      const actions = [...row.querySelectorAll<HTMLInputElement>("input[type=checkbox]:checked")].map((c) => c.value) as Array<QueueAction | TopicAction>;
      if (!pattern && actions.length === 0) continue;
      if (!pattern || actions.length === 0) throw new Error("Each capability needs a pattern and at least one action.");
      capabilities[`${kind}/${pattern}`] = actions;
    }
    if (Object.keys(capabilities).length === 0) throw new Error("Add at least one capability.");
    const minted = await ctx.session.spool.createToken({ ttl: int(data.get("ttl"), "Lifetime") ?? 3600, capabilities });
    const box = h("textarea", { readonly: true, rows: 3, class: "code", "data-testid": "minted-token", "aria-label": "The token" }, minted.token);
    fill(result,
      h("h2", null, "Your token"), box,
      h("p", null, `Expires ${fmtTime(minted.expiresAt)}. Shown once: copy it now. `,
        h("button", { type: "button", class: "secondary", onclick: () => void navigator.clipboard?.writeText(minted.token) }, "Copy")),
      h("pre", { class: "body" }, JSON.stringify(capabilities, null, 2)));
    box.focus();
    box.select();
    return "Minted.";
  });
  ctx.root.append(form, status, result);
}

function capabilityRow(kind: "queues" | "topics", pattern: string, checked: string[]): HTMLElement {
  const id = Math.random().toString(36).slice(2, 8);
  const actions = h("span", { class: "actions-list" });
  const select = h("select", { "aria-label": "Kind" }, ["queues", "topics"].map((k) => h("option", { value: k, selected: k === kind }, k)));
  const renderActions = (k: "queues" | "topics", on: string[]) => fill(actions, ACTIONS[k].map((a) =>
    h("label", { class: "check" }, h("input", { type: "checkbox", value: a, checked: on.includes(a) }), ` ${a}`)));
  select.addEventListener("change", () => renderActions(select.value as "queues" | "topics", []));
  renderActions(kind, checked);
  const row = h("div", { class: "cap-row", role: "group", "aria-label": "Capability" },
    select, h("span", { "aria-hidden": "true" }, "/"),
    h("input", { type: "text", value: pattern, placeholder: "name or prefix*", "aria-label": "Pattern", id: `cap-${id}` }),
    actions,
    h("button", { type: "button", class: "link", "aria-label": "Remove this capability", onclick: () => row.remove() }, "Remove"));
  return row;
}

