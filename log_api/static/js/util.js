// Small helpers: DOM building without innerHTML (entries are untrusted text), time
// formatting, level colours and match highlighting.

export const LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "unknown"];

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

export const SVG_NS = "http://www.w3.org/2000/svg";
export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined) node.setAttribute(k, v);
  }
  for (const c of children) if (c) node.append(c);
  return node;
}

export function levelColour(level) {
  return getComputedStyle(document.documentElement).getPropertyValue(`--${level}`).trim() || "#888";
}

const pad = (n, w = 2) => String(n).padStart(w, "0");

/** RFC 3339 with nanoseconds -> local "MM-DD HH:MM:SS.mmm" (and the full text for titles). */
export function shortTime(ts, withDate = true) {
  const d = new Date(ts);
  if (Number.isNaN(d.getTime())) return ts || "";
  const t = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
  return withDate ? `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${t}` : t;
}

export function source(e) {
  return `${e.namespace || "-"}/${e.pod || e.container_name || e.app || "-"}/${e.container_name || "-"}`;
}

/** A matcher for highlighting: the query's words and the include regex (JS syntax). */
export function matcher(words, regex) {
  const parts = [];
  for (const w of (words || "").split(/\W+/).filter(Boolean)) {
    parts.push(w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  }
  if (regex) {
    try { new RegExp(regex); parts.push(`(?:${regex})`); } catch { /* RE2-only syntax: no highlight */ }
  }
  if (!parts.length) return null;
  try { return new RegExp(parts.join("|"), "gi"); } catch { return null; }
}

/** The message as text nodes with <mark> around matches. */
export function highlighted(message, re) {
  const frag = document.createDocumentFragment();
  if (!re) { frag.append(message); return frag; }
  let last = 0;
  re.lastIndex = 0;
  for (let m = re.exec(message); m; m = re.exec(message)) {
    if (m[0] === "") { re.lastIndex++; continue; }
    frag.append(message.slice(last, m.index), el("mark", { text: m[0] }));
    last = m.index + m[0].length;
  }
  frag.append(message.slice(last));
  return frag;
}

/** One log line for the live tail and the context list. */
export function logLine(e, re, withDate = false) {
  const level = LEVELS.includes(e.level) ? e.level : "unknown";
  return el("div", { class: `line l-${level}`, "data-id": e.id },
    // Real spaces between the parts, so a copied line reads as it looks.
    el("span", { class: "t", text: shortTime(e.ts, withDate), title: e.ts }), " ",
    el("span", { class: `lv lv-${level}`, text: level.toUpperCase() }), " ",
    el("span", { class: "src muted", text: `[${source(e)}]` }), " ",
    highlighted(e.message || "", re));
}

export function fmtInt(n) { return Number(n).toLocaleString("en-US"); }
