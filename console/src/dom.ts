/**
 * The console's whole view layer: `h()` builds elements (text always goes in as text, never
 * as HTML, so nothing a message or a name holds can run in the page), plus the formatters
 * every view shares.
 */

type Child = Node | string | number | null | undefined | false | Child[];
type Handler = (event: Event) => void;
export interface Props {
  class?: string;
  /** Plain attributes (`id`, `type`, `aria-*`, `for`, …); `true` sets an empty attribute, `false` leaves it out. */
  [attribute: string]: string | number | boolean | Handler | undefined;
}

/** `h("button", {class: "primary", onclick: go}, "Send")`. `on*` props become listeners. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props | null = null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === false) continue;
    if (typeof value === "function") el.addEventListener(key.slice(2), value as EventListener);
    else if (key === "value" && "value" in el) (el as HTMLInputElement).value = String(value);
    else if (key === "checked" && el instanceof HTMLInputElement) el.checked = value === true;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

export function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else parent.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
  }
}

/** Replaces everything inside `el`. */
export function fill(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

const SVG = "http://www.w3.org/2000/svg";
export function svg(tag: string, attrs: Record<string, string | number>, ...children: Node[]): SVGElement {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.appendChild(c);
  return el;
}

/** A notice in place of something the credential may not see, or that failed. */
export function notice(kind: "info" | "warn" | "error" | "ok", ...children: Child[]): HTMLElement {
  return h("p", { class: `notice notice-${kind}`, role: kind === "error" || kind === "warn" ? "alert" : "status" }, ...children);
}

const integer = new Intl.NumberFormat("en", { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat("en", { maximumFractionDigits: 1 });

export function fmtInt(n: number): string {
  return integer.format(n);
}

export function fmtRate(perSecond: number): string {
  return `${perSecond >= 10 ? integer.format(perSecond) : decimal.format(perSecond)}/s`;
}

export function fmtBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? integer.format(v) : decimal.format(v)} ${units[u]}`;
}

export function fmtTime(ms: number): string {
  return new Date(ms).toLocaleString("en-GB", { dateStyle: "short", timeStyle: "medium" });
}

export function fmtAge(ms: number): string {
  if (ms <= 0) return "–";
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

/** A JSON value pretty-printed for a `<pre>`. */
export function pretty(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : JSON.stringify(value, null, 2);
}

/** A `<dl>` of label → value pairs, for stats. */
export function facts(pairs: Array<[string, Child]>, testId?: string): HTMLElement {
  return h("dl", { class: "facts", "data-testid": testId }, pairs.map(([k, v]) => h("div", { "data-fact": k }, h("dt", null, k), h("dd", null, v))));
}

/** A table whose header row is `columns`; wraps in a scroll box so a phone scrolls it sideways. */
export function table(columns: string[], rows: Child[][], caption?: string, testId?: string): HTMLElement {
  return h("div", { class: "table-scroll", tabindex: 0, role: "region", "aria-label": caption ?? columns.join(", ") },
    h("table", { "data-testid": testId },
      caption ? h("caption", { class: "visually-hidden" }, caption) : null,
      h("thead", null, h("tr", null, columns.map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", null, rows.map((r) => h("tr", null, r.map((cell) => h("td", null, cell)))))));
}

/**
 * Re-renders `box` with `render` and puts keyboard focus back on the same link or button
 * (matched by href, else by text), so a refresh every few seconds never throws a keyboard
 * user back to the top of the page.
 */
export function keepFocus(box: HTMLElement, render: () => void): void {
  const active = document.activeElement;
  if (!(active instanceof HTMLElement) || !box.contains(active)) return render();
  const href = active.getAttribute("href");
  const label = active.textContent;
  const tag = active.tagName;
  render();
  const candidates = [...box.querySelectorAll<HTMLElement>(tag)];
  const again = candidates.find((el) => (href !== null ? el.getAttribute("href") === href : el.textContent === label));
  again?.focus();
}
