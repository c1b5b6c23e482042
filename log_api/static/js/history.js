// History: search newest first (a trace or request id: oldest first, the order things
// happened) with infinite scroll through the cursor, an entry's fields and context on
// click, a download of the current query, and export jobs. A field chip adds its
// filter; an id link opens that id's lines from every app the token may read.

import { ApiError, call, downloadLink } from "./api.js";
import { FilterBar, isTrace } from "./filters.js";
import { el, fmtInt, LEVELS, logLine, matcher, messageParts, onStructure, onStructureClick, rawSwitch,
  shortTime, source } from "./util.js";

const PAGE = 200;
const CONTEXT = 15;
const TRACE_SPAN_MS = 3600e3; // an id's lines are looked for this far either side of the line clicked
const HIDDEN_KEY = "logpipe.exports.hidden"; // jobs this tab hid with ×
const $ = (id) => document.getElementById(id);

export class History {
  constructor({ onQuery = () => {} } = {}) {
    this.onQuery = onQuery;
    this.rows = $("history-rows");
    this.more = $("history-more");
    this.total = $("history-total");
    this.scroll = $("history-scroll");
    this.detail = $("detail");
    this.bar = new FilterBar($("history-filters"), { prefix: "history", onSubmit: () => this.search() });
    this.cursor = null;
    this.loading = false;
    this.generation = 0;
    this.jobs = new Map();
    this.polling = new Set();
    $("history-search").addEventListener("click", () => this.search());
    $("dl-button").addEventListener("click", () => this.download());
    $("export-button").addEventListener("click", () => this.createExport());
    $("detail-close").addEventListener("click", () => this.closeDetail());
    this.observer = new IntersectionObserver((items) => {
      if (items.some((i) => i.isIntersecting)) this.nextPage();
    }, { root: this.scroll, rootMargin: "400px" });
    this.observer.observe(this.more);
    this.rows.addEventListener("keydown", (ev) => this.onKey(ev));
    const actions = {
      field: (name, value) => this.bar.addFilter({ key: `field.${name}`, value }),
      trace: (id, ts) => this.openTrace(id, ts),
    };
    onStructureClick(this.rows, actions);
    onStructureClick($("detail-context"), actions);
    onStructureClick($("detail-fields"), actions);
    rawSwitch($("history-raw"), document.querySelector("#view-history .history-body"));
    // The token's jobs from the API: they survive a reload and show those of other tabs.
    this.loadJobs();
  }

  hiddenJobs() {
    try { return new Set(JSON.parse(sessionStorage.getItem(HIDDEN_KEY) || "[]")); } catch { return new Set(); }
  }

  hideJob(id) {
    const hidden = this.hiddenJobs();
    hidden.add(id);
    sessionStorage.setItem(HIDDEN_KEY, JSON.stringify([...hidden].slice(-200)));
  }

  async loadJobs() {
    let body;
    try { body = await call("/exports"); } catch { return; } // signed out, or an older API
    const hidden = this.hiddenJobs();
    // Newest first from the API; prepending oldest first keeps the newest on top.
    for (const job of [...body.exports].reverse()) {
      if (hidden.has(job.id)) continue;
      this.showJob(job);
      if (job.state === "running") this.pollJob(job.id);
    }
  }

  shown() { this.bar.loadPickers(); this.loadJobs(); if (!this.searched) this.search(); }

  /** Filters from the Overview, then search. */
  apply(values) {
    this.bar.set(values);
    this.bar.loadPickers();
    this.search();
  }

  /**
   * Every line with this trace or request id that the token may read, whatever app,
   * oldest first: the other filters are cleared, the range is the hour either side of
   * the line the link was on (ids are unique; the range only bounds the search).
   */
  openTrace(id, ts) {
    const at = ts ? new Date(ts).getTime() : NaN;
    const range = Number.isNaN(at) ? { range: "24h" } : { range: "custom",
      since: new Date(at - TRACE_SPAN_MS).toISOString(), until: new Date(at + TRACE_SPAN_MS).toISOString() };
    this.apply({ namespace: "", app: "", pod: "", container: "", level: "", q: "", include: "",
      extra: [{ key: "trace", value: id }], ...range });
  }

  async search() {
    this.searched = true;
    this.generation += 1; // an older request still running is discarded when it returns
    this.loading = false;
    this.cursor = null;
    this.done = false;
    this.rows.replaceChildren();
    this.closeDetail();
    this.total.textContent = "searching…";
    const v = this.bar.values();
    this.matchRe = matcher(v.q, v.include);
    this.params = this.bar.params();
    this.order = isTrace(v) ? "oldest" : "newest";
    this.onQuery(this.bar.toQuery());
    await this.nextPage(true);
  }

  async nextPage(first = false) {
    if (this.loading || this.done || (!first && !this.cursor)) return;
    const gen = this.generation;
    this.loading = true;
    this.more.textContent = "loading…";
    const p = new URLSearchParams(this.params);
    p.set("order", this.order);
    p.set("size", String(PAGE));
    if (this.cursor) p.set("cursor", this.cursor);
    try {
      const page = await call("/search", p);
      if (gen !== this.generation) return;
      if (page.total !== null && page.total !== undefined) {
        this.total.textContent = `${fmtInt(page.total)} matching entries, ${this.order} first`;
      } else if (first) {
        this.total.textContent = `${this.order} first`;
      }
      this.rows.append(...page.entries.map((e) => this.row(e)));
      this.cursor = page.next_cursor;
      this.done = !this.cursor;
      this.more.textContent = this.done
        ? (this.rows.childElementCount ? "— end of results —" : "nothing matches these filters in this range")
        : "";
    } catch (err) {
      if (gen !== this.generation) return;
      this.total.textContent = "";
      this.more.textContent = err.message;
      this.more.className = "more error";
      this.done = true;
      return;
    } finally {
      if (gen === this.generation) this.loading = false;
    }
    this.more.className = "more muted";
    // A short first page may leave the sentinel visible without a scroll event.
    if (!this.done && this.scroll.scrollHeight <= this.scroll.clientHeight + 400) this.nextPage();
  }

  row(e) {
    const level = LEVELS.includes(e.level) ? e.level : "unknown";
    const tr = el("tr", { tabindex: "0", "data-id": e.id },
      el("td", { class: "c-time", text: shortTime(e.ts), title: e.ts }),
      el("td", {}, el("span", { class: `lv lv-${level}`, text: level.toUpperCase() })),
      el("td", { class: "src muted", text: source(e), title: source(e) }),
      el("td", { class: "msg" }, messageParts(e, this.matchRe)));
    tr.addEventListener("click", (ev) => { if (!onStructure(ev)) this.openDetail(e, tr); });
    return tr;
  }

  onKey(ev) {
    const tr = ev.target.closest("tr");
    if (!tr || onStructure(ev)) return; // Enter on a chip or link is that chip's click
    if (ev.key === "Enter") { tr.click(); ev.preventDefault(); }
    else if (ev.key === "ArrowDown" || ev.key === "j") { tr.nextElementSibling?.focus(); ev.preventDefault(); }
    else if (ev.key === "ArrowUp" || ev.key === "k") { tr.previousElementSibling?.focus(); ev.preventDefault(); }
  }

  async openDetail(e, tr) {
    for (const s of this.rows.querySelectorAll("tr.sel")) s.classList.remove("sel");
    tr.classList.add("sel");
    this.detail.hidden = false;
    const fields = $("detail-fields");
    const shown = Object.entries(e).filter(([, v]) => v !== null && v !== undefined
      && !(Array.isArray(v) && !v.length) && !(typeof v === "object" && !Object.keys(v).length));
    fields.replaceChildren(...shown.map(([k, v]) => el("tr", { "data-key": k },
      el("th", { text: k }), this.detailValue(e, k, v))));
    const ctx = $("detail-context");
    ctx.replaceChildren(el("div", { class: "muted", text: "loading…" }));
    try {
      const p = new URLSearchParams({ before: String(CONTEXT), after: String(CONTEXT) });
      const c = await call(`/entries/${encodeURIComponent(e.id)}/context`, p);
      const self = logLine(c.entry, this.matchRe, true);
      self.classList.add("self");
      ctx.replaceChildren(...c.before.map((x) => logLine(x, null, true)), self,
        ...c.after.map((x) => logLine(x, null, true)));
      // Centre the entry inside the context box only (scrollIntoView would move the panel).
      ctx.scrollTop = self.offsetTop - ctx.clientHeight / 2;
    } catch (err) {
      ctx.replaceChildren(el("div", { class: "error", text: err.message }));
    }
  }

  // The parsed fields as chips (one per line, a click filters) and the ids as links.
  detailValue(e, key, value) {
    if (key === "fields") {
      return el("td", { class: "detail-chips" }, ...Object.entries(value).map(([n, v]) => el("div", {},
        el("button", { type: "button", class: "chip", "data-field": n, "data-value": v,
          title: `Show only lines with ${n}=${v}`, text: `${n}=${v}` }))));
    }
    if (key === "trace_id" || key === "request_id") {
      return el("td", {}, el("a", { class: "idlink", href: `#history?trace=${encodeURIComponent(value)}`,
        "data-trace": value, "data-ts": e.ts, title: `Every app's lines with ${key} ${value}, oldest first`, text: value }));
    }
    return el("td", { text: typeof value === "object" ? JSON.stringify(value) : String(value) });
  }

  closeDetail() {
    this.detail.hidden = true;
    for (const s of this.rows.querySelectorAll("tr.sel")) s.classList.remove("sel");
  }

  async download() {
    const p = this.bar.params();
    p.set("format", $("dl-format").value);
    if ($("dl-gzip").checked) p.set("gzip", "true");
    // A plain link with a one-minute, single-use ticket: the browser streams the file to disk.
    try { await downloadLink("/download", p); } catch (err) { this.showJob({ id: "error", state: "failed", error: err.message, written: 0 }); }
  }

  async createExport() {
    const p = this.bar.params();
    p.set("format", $("export-format").value);
    try {
      const job = await call("/exports", p, { method: "POST" });
      this.showJob(job);
      this.pollJob(job.id);
    } catch (err) {
      this.showJob({ id: "error", state: "failed", error: err.message, written: 0 });
    }
  }

  showJob(job) {
    let li = this.jobs.get(job.id);
    if (!li) {
      li = el("li", { "data-job": job.id });
      this.jobs.set(job.id, li);
      $("exports").prepend(li);
    }
    const parts = [el("strong", { text: `Export ${job.format || ""}` })];
    if (job.state === "running") {
      parts.push(el("progress", { max: "1", value: String(job.progress ?? 0), "aria-label": "export progress" }),
        el("span", { class: "muted", text: `${fmtInt(job.written)}${job.total != null ? ` / ${fmtInt(job.total)}` : ""} entries` }),
        el("button", { class: "link", text: "Cancel", onclick: () => this.cancelJob(job.id) }));
    } else if (job.state === "done") {
      parts.push(el("span", { text: `${fmtInt(job.written)} entries` }),
        el("a", { href: "#", text: "Download file", onclick: (ev) => { ev.preventDefault(); downloadLink(`/exports/${job.id}/file`).catch((err) => this.showJob({ ...job, state: "failed", error: err.message })); } }),
        el("span", { class: "muted", text: job.expires ? `available until ${shortTime(job.expires)}` : "" }));
    } else {
      parts.push(el("span", { class: job.state === "failed" ? "error" : "muted", text: job.error || job.state }));
    }
    parts.push(el("span", { class: "spacer" }),
      el("button", { class: "link", text: "×", title: "Hide", "aria-label": "Hide", onclick: () => { li.remove(); this.jobs.delete(job.id); this.hideJob(job.id); } }));
    li.replaceChildren(...parts);
  }

  async pollJob(id) {
    if (this.polling.has(id)) return; // one poller per job, however often the list reloads
    this.polling.add(id);
    try {
      for (;;) {
        await new Promise((r) => setTimeout(r, 700));
        if (!this.jobs.has(id)) return;
        try {
          const job = await call(`/exports/${id}`);
          this.showJob(job);
          if (job.state !== "running") return;
        } catch (err) {
          if (err instanceof ApiError) this.showJob({ id, state: "failed", error: err.message, written: 0 });
          return;
        }
      }
    } finally {
      this.polling.delete(id);
    }
  }

  async cancelJob(id) {
    try { await call(`/exports/${id}`, null, { method: "DELETE" }); } catch { /* gone already */ }
    this.showJob({ id, state: "cancelled", written: 0, error: "cancelled" });
  }
}
