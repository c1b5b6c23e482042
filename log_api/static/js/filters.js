// The filter bar shared by the three views: namespace / app / pod / container pickers
// (filled from the field-values endpoint, so they list only what the token may read),
// level, words, an include regex and, for History and Overview, the time range; plus the
// structured filters a click adds (a field chip, a trace/request id, a pattern), shown
// as removable chips. The bar reads and writes its state as a query string, which the
// page keeps in the URL's hash (never a token: that stays in sessionStorage).

import { call } from "./api.js";
import { el, LEVELS } from "./util.js";

const PICKERS = [["namespace", "namespace"], ["app", "app"], ["pod", "pod"], ["container", "container"]];
const RANGES = [["15m", "Last 15 minutes"], ["1h", "Last hour"], ["6h", "Last 6 hours"],
  ["24h", "Last 24 hours"], ["7d", "Last 7 days"], ["30d", "Last 30 days"], ["custom", "Between…"]];

function localInput(iso) {
  // datetime-local wants local wall time without a zone.
  const d = new Date(iso);
  const off = d.getTimezoneOffset() * 60000;
  return new Date(d.getTime() - off).toISOString().slice(0, 19);
}

/** Parameters that are structured filters, shown as chips rather than inputs. */
export function isExtra(key) {
  return key.startsWith("field.") || ["has_field", "trace", "pattern"].includes(key);
}

/** Whether a filter set asks for one trace: its lines read best oldest first. */
export function isTrace(values) { return (values.extra || []).some((f) => f.key === "trace"); }

export class FilterBar {
  constructor(root, { prefix, range = true, pickerRange = "24h", onSubmit = () => {} }) {
    this.onSubmit = onSubmit;
    this.hasRange = range;
    this.pickerRange = pickerRange;
    this.selects = {};
    this.pickerSeq = 0; // loadPickers' requests, numbered
    this.pickerAsked = {}; // picker -> the number of the newest request that fills it
    for (const [name, label] of PICKERS) {
      const sel = el("select", { id: `${prefix}-${name}`, "aria-label": label, "data-field": name },
        el("option", { value: "", text: `all ${label}s` }));
      sel.addEventListener("change", () => {
        if (name === "namespace" || name === "app") this.loadPickers(name);
        this.onSubmit();
      });
      this.selects[name] = sel;
      root.append(sel);
    }
    this.level = el("select", { id: `${prefix}-level`, "aria-label": "level" },
      el("option", { value: "", text: "any level" }),
      ...["debug", "info", "warn", "error"].map((l) => el("option", { value: `min:${l}`, text: `${l} and above` })),
      ...LEVELS.map((l) => el("option", { value: l, text: `only ${l}` })));
    this.level.addEventListener("change", () => this.onSubmit());
    this.q = el("input", { id: `${prefix}-q`, type: "search", placeholder: "words (/)", "aria-label": "words in the message" });
    this.include = el("input", { id: `${prefix}-include`, type: "search", placeholder: "regex", "aria-label": "regular expression" });
    for (const input of [this.q, this.include]) {
      input.addEventListener("keydown", (ev) => { if (ev.key === "Enter") this.onSubmit(); });
    }
    root.append(this.level, this.q, this.include);
    // field.<name>=<value>, has_field, trace and pattern: added by clicks, removed by ×.
    this.extra = [];
    this.extraRoot = el("span", { class: "fchips", id: `${prefix}-extra`, "aria-label": "structured filters" });
    // name=value (exact) or a bare name (the line has that field), suggested from /fields.
    this.fieldList = el("datalist", { id: `${prefix}-field-list` });
    this.field = el("input", { id: `${prefix}-field`, type: "search", list: `${prefix}-field-list`, class: "field-input",
      placeholder: "field=value", "aria-label": "parsed field filter: name=value, or a name the line must have",
      title: "A parsed JSON/logfmt field: name=value (exact), or a name the line must have; Enter adds it" });
    this.field.addEventListener("focus", () => this.loadFieldValues());
    this.field.addEventListener("keydown", (ev) => {
      if (ev.key !== "Enter" || !this.field.value.trim()) return;
      const text = this.field.value.trim();
      const eq = text.indexOf("=");
      this.field.value = "";
      if (eq > 0) this.addFilter({ key: `field.${text.slice(0, eq)}`, value: text.slice(eq + 1) });
      else this.addFilter({ key: "has_field", value: text.replace(/=$/, "") });
    });
    if (range) {
      this.range = el("select", { id: `${prefix}-range`, "aria-label": "time range" },
        ...RANGES.map(([v, t]) => el("option", { value: v, text: t })));
      this.range.value = "1h";
      this.since = el("input", { id: `${prefix}-since`, type: "datetime-local", step: "1", "aria-label": "from", hidden: true });
      this.until = el("input", { id: `${prefix}-until`, type: "datetime-local", step: "1", "aria-label": "until", hidden: true });
      this.range.addEventListener("change", () => {
        const custom = this.range.value === "custom";
        if (custom && !this.since.value) {
          this.since.value = localInput(Date.now() - 3600e3);
          this.until.value = localInput(Date.now());
        }
        this.since.hidden = this.until.hidden = !custom;
        this.loadPickers();
        this.onSubmit();
      });
      for (const input of [this.since, this.until]) input.addEventListener("change", () => this.onSubmit());
      root.append(this.range, this.since, this.until);
    }
    root.append(this.field, this.fieldList, this.extraRoot);
  }

  /** Suggestions for the field input: the top names and values under the current filters. */
  async loadFieldValues() {
    const p = this.params({ regex: false, time: false });
    for (const [k, v] of (this.hasRange ? this.timeParams() : [["since", this.pickerRange]])) p.set(k, v);
    p.append("field", "field.*");
    p.set("top", "10");
    let body;
    try { body = await call("/fields", p); } catch { return; }
    const options = [];
    for (const [name, values] of Object.entries(body.fields)) {
      if (!name.startsWith("field.")) continue;
      for (const v of values) options.push(el("option", { value: `${name.slice(6)}=${v.value}`, label: `${v.count} lines` }));
    }
    this.fieldList.replaceChildren(...options.slice(0, 500));
  }

  /** Add a structured filter ({key: "field.user", value: "bo", label?}); submits. */
  addFilter(f, submit = true) {
    if (!this.extra.some((x) => x.key === f.key && x.value === f.value)) this.extra.push(f);
    this.drawExtra();
    if (submit) this.onSubmit();
  }

  removeFilter(f) {
    this.extra = this.extra.filter((x) => !(x.key === f.key && x.value === f.value));
    this.drawExtra();
    this.onSubmit();
  }

  drawExtra() {
    this.extraRoot.replaceChildren(...this.extra.map((f) => {
      // A pattern reads better as its text (known when it came from a click, not from a URL).
      const text = f.key === "has_field" ? `has ${f.value}`
        : f.key === "pattern" && f.label ? `pattern: ${f.label}` : `${f.key}=${f.value}`;
      return el("span", { class: "fchip", "data-key": f.key, "data-value": f.value, title: `${f.key}=${f.value}` },
        el("span", { text: text.length > 60 ? `${text.slice(0, 59)}…` : text }),
        el("button", { class: "link", text: "×", title: `Remove ${text}`, "aria-label": `Remove ${text}`,
          onclick: () => this.removeFilter(f) }));
    }));
  }

  /** since/until as the API reads them (relative like 1h, or RFC 3339). */
  timeParams() {
    if (!this.hasRange) return [];
    if (this.range.value !== "custom") return [["since", this.range.value]];
    const out = [];
    if (this.since.value) out.push(["since", new Date(this.since.value).toISOString()]);
    if (this.until.value) out.push(["until", new Date(this.until.value).toISOString()]);
    return out;
  }

  params({ regex = true, time = true } = {}) {
    const p = new URLSearchParams();
    for (const [name] of PICKERS) if (this.selects[name].value) p.append(name, this.selects[name].value);
    const lv = this.level.value;
    if (lv.startsWith("min:")) p.set("min_level", lv.slice(4));
    else if (lv) p.append("level", lv);
    if (this.q.value.trim()) p.set("q", this.q.value.trim());
    if (regex && this.include.value) p.append("include", this.include.value);
    if (time) for (const [k, v] of this.timeParams()) p.set(k, v);
    for (const f of this.extra) p.append(f.key, f.value);
    return p;
  }

  /** The bar as a query string for the URL (the API's own parameter names). */
  toQuery() {
    const p = this.params({ time: false });
    if (this.hasRange) {
      if (this.range.value !== "custom") p.set("since", this.range.value);
      else for (const [k, v] of this.timeParams()) p.set(k, v);
    }
    return p.toString();
  }

  /** The reverse of toQuery(): every filter the string names, the rest cleared. */
  fromQuery(query) {
    const p = new URLSearchParams(query);
    const v = { level: p.get("min_level") ? `min:${p.get("min_level")}` : (p.get("level") || ""),
      q: p.get("q") || "", include: p.get("include") || "" };
    for (const [name] of PICKERS) v[name] = p.get(name) || "";
    const since = p.get("since");
    if (this.hasRange && since) {
      if (RANGES.some(([r]) => r === since && r !== "custom")) v.range = since;
      else Object.assign(v, { range: "custom", since, until: p.get("until") });
    }
    v.extra = [];
    for (const [k, val] of p) if (isExtra(k)) v.extra.push({ key: k, value: val });
    this.set(v);
  }

  /** Set filters from elsewhere (Overview -> History); absent keys keep their value. */
  set(values) {
    for (const [name] of PICKERS) {
      if (name in values) this._choose(this.selects[name], values[name] || "");
    }
    if ("level" in values) this.level.value = values.level || "";
    if ("q" in values) this.q.value = values.q || "";
    if ("include" in values) this.include.value = values.include || "";
    if ("extra" in values) { this.extra = [...(values.extra || [])]; this.drawExtra(); }
    if (this.hasRange && values.range) {
      this.range.value = values.range;
      const custom = values.range === "custom";
      this.since.hidden = this.until.hidden = !custom;
      if (custom) {
        this.since.value = values.since ? localInput(values.since) : "";
        this.until.value = values.until ? localInput(values.until) : "";
      }
    }
  }

  values() {
    const v = {};
    for (const [name] of PICKERS) v[name] = this.selects[name].value;
    v.level = this.level.value;
    v.q = this.q.value;
    v.include = this.include.value;
    v.extra = [...this.extra];
    if (this.hasRange) {
      v.range = this.range.value;
      if (this.range.value === "custom") {
        v.since = this.since.value ? new Date(this.since.value).toISOString() : null;
        v.until = this.until.value ? new Date(this.until.value).toISOString() : null;
      }
    }
    return v;
  }

  _choose(sel, value) {
    if (value && ![...sel.options].some((o) => o.value === value)) {
      sel.append(el("option", { value, text: value }));
    }
    sel.value = value;
  }

  /** Refill the pickers below ``changed`` (all when absent) from the field values. */
  async loadPickers(changed) {
    const order = PICKERS.map(([n]) => n);
    const from = changed ? order.indexOf(changed) + 1 : 0;
    const fields = order.slice(from);
    if (!fields.length) return;
    const p = new URLSearchParams();
    // Narrow by the pickers above, so apps follow the namespace, pods the app.
    for (const name of order.slice(0, from)) if (this.selects[name].value) p.append(name, this.selects[name].value);
    const time = this.hasRange ? this.timeParams() : [["since", this.pickerRange]];
    for (const [k, v] of time) p.set(k, v);
    for (const f of fields) p.append("field", f);
    // Each picker is filled by the newest request that covers it: an older answer
    // arriving last (apps of every namespace) must not replace the narrowed list.
    const asked = ++this.pickerSeq;
    for (const f of fields) this.pickerAsked[f] = asked;
    let body;
    try { body = await call("/fields", p); } catch { return; }
    for (const f of fields) {
      if (this.pickerAsked[f] !== asked) continue;
      const sel = this.selects[f];
      const keep = sel.value;
      const label = sel.options[0].textContent;
      sel.replaceChildren(el("option", { value: "", text: label }),
        ...(body.fields[f] || []).map((v) => el("option", { value: v.value, text: `${v.value} (${v.count})` })));
      this._choose(sel, keep);
    }
  }

  focusWords() { this.q.focus(); }
}
