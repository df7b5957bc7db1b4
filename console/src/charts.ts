/**
 * The console's charts, as inline SVG and plain elements (no chart library): a sparkline
 * of a rate over the last minutes, and horizontal bars for lag per partition. Colours come
 * from CSS variables, so both follow the light or dark theme.
 */
import { fmtInt, fmtRate, h, svg } from "./dom";

/**
 * A small line chart of `values` (oldest first), scaled to its own maximum. Carries its
 * latest value as text beside it and in its accessible name, since a line alone says
 * nothing to a screen reader.
 */
export function sparkline(values: readonly number[], label: string, width = 120, height = 28): HTMLElement {
  const latest = values.at(-1);
  const text = latest === undefined ? "–" : fmtRate(latest);
  const chart = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, class: "spark", role: "img", "aria-label": `${label}: ${text}` });
  if (values.length >= 2) {
    const max = Math.max(...values, 1e-9);
    const step = width / (values.length - 1);
    const y = (v: number) => (height - 2 - (v / max) * (height - 4)).toFixed(1);
    const points = values.map((v, i) => `${(i * step).toFixed(1)},${y(v)}`);
    chart.appendChild(svg("path", { d: `M0,${height} L${points.join(" L")} L${width},${height} Z`, class: "spark-area" }));
    chart.appendChild(svg("path", { d: `M${points.join(" L")}`, class: "spark-line" }));
  } else {
    chart.appendChild(svg("line", { x1: 0, y1: height - 2, x2: width, y2: height - 2, class: "spark-empty" }));
  }
  return h("span", { class: "spark-wrap", title: label }, chart, h("span", { class: "spark-value" }, text));
}

/** One bar per entry, widths relative to the largest, the value written beside each. */
export function bars(entries: ReadonlyArray<{ label: string; value: number }>, caption: string): HTMLElement {
  const max = Math.max(1, ...entries.map((e) => e.value));
  return h("div", { class: "bars", role: "list", "aria-label": caption },
    entries.map((e) => {
      const fill = h("span", { class: "bar-fill" });
      // CSSOM, not a style attribute: the page's CSP allows no inline styles.
      fill.style.width = `${(e.value / max) * 100}%`;
      return h("div", { class: "bar", role: "listitem", "aria-label": `${e.label}: ${fmtInt(e.value)}` },
        h("span", { class: "bar-label" }, e.label),
        h("span", { class: "bar-track" }, fill),
        h("span", { class: "bar-value" }, fmtInt(e.value)));
    }));
}
