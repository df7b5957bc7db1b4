/**
 * Form plumbing shared by the views: a confirmation dialog (a native modal `<dialog>`, so
 * focus stays inside it and Escape cancels), reading JSON and header fields, and a submit
 * handler that disables the form while its call runs and reports the outcome beside it.
 */
import { explain } from "./session";
import { fill, h, notice } from "./dom";

/** Asks before something that cannot be undone; resolves true only on an explicit yes. */
export function confirmAction(title: string, text: string, yes: string): Promise<boolean> {
  return new Promise((resolve) => {
    const dialog = h("dialog", { class: "confirm", "aria-labelledby": "confirm-title" });
    const done = (answer: boolean) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    fill(dialog,
      h("h2", { id: "confirm-title" }, title),
      h("p", null, text),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "secondary", onclick: () => done(false) }, "Cancel"),
        h("button", { type: "button", class: "danger", "data-testid": "confirm-yes", onclick: () => done(true) }, yes)));
    dialog.addEventListener("cancel", (e) => {
      e.preventDefault();
      done(false);
    });
    document.body.appendChild(dialog);
    dialog.showModal();
    // Focus the harmless choice first: Enter alone never purges.
    (dialog.querySelector("button.secondary") as HTMLButtonElement).focus();
  });
}

/** A JSON text field's value: parsed, or the text itself when `asText` (a string body). */
export function readBody(text: string, asText: boolean): unknown {
  if (asText) return text;
  try {
    return JSON.parse(text);
  } catch {
    throw new Error("Body is not valid JSON (tick “send as text” to send it as a string).");
  }
}

/** Headers from `name: value` lines; blank lines ignored. */
export function readHeaders(text: string): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const colon = line.indexOf(":");
    if (colon <= 0) throw new Error(`Header line “${line}” is not “name: value”.`);
    out[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  return Object.keys(out).length ? out : undefined;
}

/**
 * Wires `form`'s submit: runs `action` with the form disabled, then shows what it returned
 * (a success line) or why it failed in `status`.
 */
export function onSubmit(form: HTMLFormElement, status: HTMLElement, action: (data: FormData) => Promise<string>): void {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    // Read before disabling: a disabled fieldset's controls are left out of FormData.
    const data = new FormData(form);
    const fieldset = form.querySelector("fieldset");
    fieldset?.setAttribute("disabled", "");
    fill(status, notice("info", "Working…"));
    try {
      fill(status, notice("ok", await action(data)));
    } catch (err) {
      fill(status, notice("error", explain(err)));
    } finally {
      fieldset?.removeAttribute("disabled");
    }
  });
}

/** A labelled input; `hint` goes below it and into its accessible description. */
export function field(label: string, input: HTMLElement, hint?: string): HTMLElement {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  if (hint) input.setAttribute("aria-describedby", `${id}-hint`);
  return h("div", { class: "field" }, h("label", { for: id }, label), input, hint ? h("small", { id: `${id}-hint` }, hint) : null);
}

export function text(v: FormDataEntryValue | null): string {
  return typeof v === "string" ? v : "";
}

/** A whole number from a form field, or undefined when left empty. */
export function int(v: FormDataEntryValue | null, name: string): number | undefined {
  const s = text(v).trim();
  if (s === "") return undefined;
  const n = Number(s);
  if (!Number.isInteger(n)) throw new Error(`${name} must be a whole number.`);
  return n;
}
