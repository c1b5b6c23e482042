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

// The keys a structured logger puts its message under (logpipe/structured.py): the
// chip that would repeat the message shown in front of the chips is left out.
const MESSAGE_KEYS = new Set(["msg", "message", "event", "log", "text", "body", "short_message",
  "@message", "Message", "MESSAGE", "Msg"]);
const CHIP_CHARS = 80;

const clip = (text) => (text.length > CHIP_CHARS ? `${text.slice(0, CHIP_CHARS - 1)}…` : text);

/** A link that opens History on every line of this trace or request id. */
function idLink(kind, id, ts) {
  return el("a", { class: "idlink", href: `#history?trace=${encodeURIComponent(id)}`, "data-trace": id,
    "data-ts": ts || "", "data-kind": kind, title: `Every app's lines with ${kind} ${id}, oldest first` },
  clip(`${kind}=${id}`));
}

/** Whether the entry has structure worth showing: a message of its own, fields or ids. */
export function isStructured(e) {
  return Boolean(e.msg || (e.fields && Object.keys(e.fields).length) || e.trace_id || e.request_id);
}

/**
 * The message part of a line: for a JSON/logfmt line its msg, its fields as key=value
 * chips (a click filters on one) and its trace/request ids as links; the raw line is
 * kept beside it, shown by the per-line "raw" toggle or the view's raw switch (CSS).
 */
export function messageParts(e, re) {
  const frag = document.createDocumentFragment();
  if (!isStructured(e)) { frag.append(highlighted(e.message || "", re)); return frag; }
  const fields = e.fields || {};
  const ids = new Map(); // value -> kind, for the fields that hold an id
  if (e.trace_id) ids.set(e.trace_id, "trace_id");
  if (e.request_id) ids.set(e.request_id, "request_id");
  const sv = el("span", { class: "sv" });
  if (e.msg) sv.append(el("span", { class: "msgtext" }, highlighted(e.msg, re)));
  const chips = el("span", { class: "chips" });
  const linked = new Set();
  for (const [name, value] of Object.entries(fields)) {
    if (e.msg && value === e.msg && MESSAGE_KEYS.has(name)) continue;
    if (ids.has(value)) {
      linked.add(value);
      chips.append(idLink(ids.get(value), value, e.ts));
      continue;
    }
    chips.append(el("button", { type: "button", class: "chip", "data-field": name, "data-value": value,
      title: `Show only lines with ${name}=${value}` }, clip(`${name}=${value}`)));
  }
  // Ids found elsewhere than in a plain key (W3C traceparent, a nested key) still link.
  for (const [value, kind] of ids) if (!linked.has(value)) chips.append(idLink(kind, value, e.ts));
  if (chips.childElementCount) sv.append(e.msg ? " " : "", chips);
  frag.append(sv, el("span", { class: "raw-text" }, highlighted(e.message || "", re)), " ",
    el("button", { type: "button", class: "rawtoggle link", title: "Show the raw line / the fields",
      "aria-label": "Toggle the raw line", text: "raw" }));
  return frag;
}

/**
 * Clicks on chips, id links and raw toggles inside ``root``, delegated: ``field(name,
 * value)`` and ``trace(id, ts)`` say what the view does with them.
 */
export function onStructureClick(root, { field, trace }) {
  root.addEventListener("click", (ev) => {
    const target = ev.target.closest(".chip, .idlink, .rawtoggle");
    if (!target || !root.contains(target)) return;
    ev.preventDefault();
    if (target.classList.contains("chip")) field(target.dataset.field, target.dataset.value);
    else if (target.classList.contains("idlink")) trace(target.dataset.trace, target.dataset.ts);
    else {
      const line = target.closest(".line, tr");
      const raw = line.classList.toggle("show-raw");
      target.textContent = raw ? "fields" : "raw";
    }
  });
}

/** Whether a click landed on a chip, link or toggle (a row's own click ignores those). */
export function onStructure(ev) { return Boolean(ev.target.closest(".chip, .idlink, .rawtoggle")); }

/** One log line for the live tail and the context list. */
export function logLine(e, re, withDate = false) {
  const level = LEVELS.includes(e.level) ? e.level : "unknown";
  return el("div", { class: `line l-${level}${isStructured(e) ? " structured" : ""}`, "data-id": e.id },
    // Real spaces between the parts, so a copied line reads as it looks.
    el("span", { class: "t", text: shortTime(e.ts, withDate), title: e.ts }), " ",
    el("span", { class: `lv lv-${level}`, text: level.toUpperCase() }), " ",
    el("span", { class: "src muted", text: `[${source(e)}]` }), " ",
    messageParts(e, re));
}

export function fmtInt(n) { return Number(n).toLocaleString("en-US"); }

const RAW_KEY = "logpipe.raw";
const rawSwitches = [];

/** The views' "raw lines" switches: one setting for the tab, kept in sessionStorage. */
export function rawSwitch(input, container) {
  rawSwitches.push([input, container]);
  const apply = (on) => {
    for (const [i, c] of rawSwitches) { i.checked = on; c.classList.toggle("all-raw", on); }
  };
  input.addEventListener("change", () => {
    sessionStorage.setItem(RAW_KEY, input.checked ? "1" : "");
    apply(input.checked);
  });
  apply(sessionStorage.getItem(RAW_KEY) === "1");
}
