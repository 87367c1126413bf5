// Small charts drawn as inline SVG: grouped bars over days, and horizontal bars per person.
// No library and no build step; every label goes in as text nodes, never as markup.
const SVG = "http://www.w3.org/2000/svg";

function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined) el.setAttribute(key, String(value));
  }
  for (const child of children) el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return el;
}

/** A round axis top at or above `max` (1, 2 or 5 times a power of ten) and its tick step. */
export function niceScale(max, ticks = 4) {
  if (!(max > 0)) return { top: 1, step: 1 };
  const raw = max / ticks;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((m) => m >= raw);
  return { top: Math.ceil(max / step) * step, step };
}

/** Grouped bars per label (a day), one bar per series; each bar says its value in a tooltip. */
export function barChart({ title, labels, series, height = 180, width = 640, onPick = null }) {
  const pad = { left: 36, right: 8, top: 8, bottom: 28 };
  const max = Math.max(0, ...series.flatMap((x) => x.values));
  const { top, step } = niceScale(max);
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const band = labels.length ? plotW / labels.length : plotW;
  const barW = Math.max(1, (band * 0.8) / Math.max(1, series.length));
  const y = (v) => pad.top + plotH - (v / top) * plotH;
  const total = series.map((x) => `${x.name} ${x.values.reduce((a, b) => a + b, 0)}`).join(", ");
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img",
    "aria-label": `${title}: ${total}`, preserveAspectRatio: "xMidYMid meet" });
  svg.append(s("title", {}, title));
  for (let v = 0; v <= top; v += step) {
    svg.append(s("line", { x1: pad.left, x2: width - pad.right, y1: y(v), y2: y(v), class: "grid" }));
    svg.append(s("text", { x: pad.left - 4, y: y(v) + 4, class: "tick", "text-anchor": "end" }, v));
  }
  const every = Math.max(1, Math.ceil(labels.length / 12));
  labels.forEach((label, i) => {
    const x0 = pad.left + i * band + band * 0.1;
    series.forEach((x, j) => {
      const value = x.values[i] || 0;
      const bar = s("rect", { x: x0 + j * barW, y: y(value), width: Math.max(1, barW - 1),
        height: Math.max(0, pad.top + plotH - y(value)), class: `bar ${x.cls || ""}`,
        "data-series": x.key || x.name, "data-label": label, "data-value": value },
      s("title", {}, `${label} · ${x.name}: ${value}`));
      if (onPick) bar.addEventListener("click", () => onPick(x, label, i));
      svg.append(bar);
    });
    if (i % every === 0) {
      svg.append(s("text", { x: pad.left + i * band + band / 2, y: height - 10, class: "tick", "text-anchor": "middle" },
        label));
    }
  });
  return svg;
}

/** One horizontal bar per row (a staff member), longest first as given. */
export function hbarChart({ title, rows, width = 640, rowH = 22 }) {
  const pad = { left: 140, right: 48, top: 4, bottom: 4 };
  const height = pad.top + pad.bottom + Math.max(1, rows.length) * rowH;
  const max = Math.max(1, ...rows.map((r) => r.value));
  const plotW = width - pad.left - pad.right;
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img",
    "aria-label": `${title}: ${rows.map((r) => `${r.label} ${r.value}`).join(", ") || "none"}` });
  svg.append(s("title", {}, title));
  rows.forEach((r, i) => {
    const yTop = pad.top + i * rowH;
    const w = (r.value / max) * plotW;
    svg.append(s("text", { x: pad.left - 6, y: yTop + rowH * 0.7, class: "tick", "text-anchor": "end" }, r.label));
    svg.append(s("rect", { x: pad.left, y: yTop + 3, width: Math.max(1, w), height: rowH - 6, class: "bar a" },
      s("title", {}, `${r.label}: ${r.value}`)));
    svg.append(s("text", { x: pad.left + w + 4, y: yTop + rowH * 0.7, class: "tick" }, r.value));
  });
  return svg;
}

/** A legend for a chart's series, as HTML (swatches carry the series' class). */
export function legend(series) {
  const el = document.createElement("div");
  el.className = "legend";
  for (const x of series) {
    const item = document.createElement("span");
    const swatch = document.createElement("i");
    swatch.className = `swatch ${x.cls || ""}`;
    item.append(swatch, document.createTextNode(x.name));
    el.append(item);
  }
  return el;
}
