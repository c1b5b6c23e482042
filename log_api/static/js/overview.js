// Overview: level donut (counts and %), app share bars (top N + other) and the volume
// histogram stacked by level, drawn as inline SVG, and the top log patterns of each app.
// Clicking a slice, bar, bucket or pattern opens History with that filter added.

import { call } from "./api.js";
import { FilterBar } from "./filters.js";
import { el, fmtInt, levelColour, LEVELS, shortTime, svg } from "./util.js";

const TOP_APPS = 10;
const PATTERN_APPS = 6; // apps whose patterns are listed (the largest first)
const PATTERNS_PER_APP = 5;
const UNIT_MS = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 604800e3 };
const $ = (id) => document.getElementById(id);

function clickable(node, label, action) {
  node.setAttribute("tabindex", "0");
  node.setAttribute("role", "button");
  node.setAttribute("aria-label", label);
  node.classList.add("clickable");
  node.addEventListener("click", action);
  node.addEventListener("keydown", (ev) => { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); action(); } });
  node.append(svg("title", {}, label));
  return node;
}

const pct = (p) => `${p.toFixed(p > 0 && p < 1 ? 2 : 1)}%`;

export class Overview {
  constructor(onDrill, { onQuery = () => {} } = {}) {
    this.onDrill = onDrill;
    this.onQuery = onQuery;
    this.bar = new FilterBar($("overview-filters"), { prefix: "overview", onSubmit: () => this.refresh() });
    this.bar.include.hidden = true; // statistics are exact aggregations: no regex there
    $("overview-refresh").addEventListener("click", () => this.refresh());
  }

  shown() { this.bar.loadPickers(); this.refresh(); }

  drill(extra) { this.onDrill({ ...this.bar.values(), include: "", ...extra }); }

  async refresh() {
    this.onQuery(this.bar.toQuery());
    const generation = (this.generation = (this.generation || 0) + 1);
    const status = $("overview-status");
    status.textContent = "loading…";
    status.className = "muted";
    const p = this.bar.params({ regex: false });
    const apps = new URLSearchParams(p);
    apps.set("top", String(TOP_APPS));
    const byApp = new URLSearchParams(p);
    byApp.set("by_app", "true");
    try {
      const [levels, share, hist] = await Promise.all([
        call("/stats/levels", byApp), call("/stats/apps", apps), call("/stats/histogram", p)]);
      // A filter changed while this was in flight: the newer refresh draws, even when
      // its answer came first (a slower, older answer must not replace it).
      if (generation !== this.generation) return;
      this.drawLevels(levels);
      this.drawApps(share, levels.by_app || []);
      this.drawHistogram(hist);
      status.textContent = `${fmtInt(levels.total)} entries`;
      this.refreshPatterns(p, share, generation);
    } catch (err) {
      if (generation !== this.generation) return;
      status.textContent = err.message;
      status.className = "error";
    }
    this.refreshAudit(p, generation);
  }

  // One /patterns request per app (the largest apps of the range): each app's own exact
  // counts, level, first/last seen and "new", rather than a global list cut by app.
  async refreshPatterns(p, share, generation) {
    const root = $("chart-patterns");
    const apps = share.top.filter((a) => a.app != null).slice(0, PATTERN_APPS).map((a) => a.app);
    if (!apps.length) { root.replaceChildren(el("div", { class: "empty", text: "no entries in this range" })); return; }
    let answers;
    try {
      answers = await Promise.all(apps.map((app) => {
        const q = new URLSearchParams(p);
        q.delete("app");
        q.set("app", app);
        q.set("limit", String(PATTERNS_PER_APP));
        return call("/patterns", q);
      }));
    } catch (err) {
      if (generation === this.generation) root.replaceChildren(el("div", { class: "error", text: `patterns: ${err.message}` }));
      return;
    }
    if (generation !== this.generation) return; // a newer refresh is drawing
    this.drawPatterns(apps, answers);
  }

  drawPatterns(apps, answers) {
    const root = $("chart-patterns");
    const head = el("thead", {}, el("tr", {}, ...["app", "pattern", "entries", "level", "first seen", "last seen"]
      .map((c) => el("th", { text: c }))));
    const body = el("tbody");
    apps.forEach((app, i) => {
      const a = answers[i];
      a.patterns.forEach((pt, k) => {
        const level = LEVELS.includes(pt.level) ? pt.level : "unknown";
        const text = pt.pattern ?? "(indexed before patterns: no pattern)";
        const tr = el("tr", { "data-app": app, "data-pattern": pt.pattern_id },
          el("td", { class: "app", text: k === 0 ? app : "" }),
          el("td", { class: "ptext" }, el("code", { text: text.length > 160 ? `${text.slice(0, 159)}…` : text }),
            pt.new ? el("span", { class: "badge new", text: "new", title: `not seen in the ${a.lookback} before this range` }) : null),
          el("td", { class: "n", text: `${fmtInt(pt.count)} · ${pct(pt.percent)}` }),
          el("td", {}, el("span", { class: `lv lv-${level}`, text: level })),
          el("td", { class: "t", text: pt.first_seen ? shortTime(pt.first_seen) : "", title: pt.first_seen || "" }),
          el("td", { class: "t", text: pt.last_seen ? shortTime(pt.last_seen) : "", title: pt.last_seen || "" }));
        if (pt.pattern_id) {
          tr.classList.add("clickable");
          tr.tabIndex = 0;
          const go = () => this.drill({ app, extra: [...this.bar.values().extra, { key: "pattern", value: pt.pattern_id, label: text }] });
          tr.addEventListener("click", go);
          tr.addEventListener("keydown", (ev) => { if (ev.key === "Enter") go(); });
        }
        body.append(tr);
      });
      if (a.other) {
        body.append(el("tr", { class: "muted" }, el("td"), el("td", { text: `${fmtInt(a.other.patterns)} more patterns` }),
          el("td", { class: "n", text: fmtInt(a.other.count) }), el("td"), el("td"), el("td")));
      }
    });
    root.replaceChildren(el("table", { class: "fields patterns", id: "patterns-table" }, head, body));
  }

  // The audit takes only node, namespace, app and the range: other filters are dropped.
  async refreshAudit(p, generation) {
    const root = $("chart-audit");
    const q = new URLSearchParams();
    for (const [k, v] of new URLSearchParams(p)) if (["namespace", "node", "app", "since", "until"].includes(k)) q.append(k, v);
    try {
      const audit = await call("/audit", q);
      if (generation === this.generation) this.drawAudit(audit);
    } catch (err) {
      if (generation === this.generation) root.replaceChildren(el("div", { class: "error", text: `audit: ${err.message}` }));
    }
  }

  drawAudit(a) {
    const root = $("chart-audit");
    const verdict = el("p", { id: "audit-verdict", class: a.complete ? "ok" : "error",
      text: a.complete ? `Complete: all ${fmtInt(a.acked)} entries the collectors read are in Elasticsearch.`
        : `Not complete: ${fmtInt(a.missing)} missing, ${fmtInt(a.in_flight)} in flight, ${fmtInt(a.dead_lettered)} dead-lettered, ${fmtInt(a.gap_bytes)} bytes never read.` });
    const lag = a.forwarder_lag == null ? "unknown" : fmtInt(a.forwarder_lag);
    const summary = el("p", { class: "muted", text: `${fmtInt(a.acked)} acknowledged by Kafka · ${fmtInt(a.indexed)} indexed · forwarder lag ${lag} records` });
    const head = (...cols) => el("thead", {}, el("tr", {}, ...cols.map((c) => el("th", { text: c }))));
    const nodes = el("table", { class: "fields", id: "audit-nodes" }, head("node", "streams", "acked", "indexed", "dead-lettered", "unaccounted", "bytes never read"),
      el("tbody", {}, ...a.nodes.map((n) => el("tr", {}, el("td", { text: n.node }), ...[n.streams, n.acked, n.indexed, n.dead_lettered, n.unaccounted, n.gap_bytes].map((v) => el("td", { class: "n", text: fmtInt(v) }))))));
    const parts = [verdict, summary, nodes];
    if (a.gaps.length) {
      parts.push(el("table", { class: "fields", id: "audit-gaps" }, head("kind", "cause", "count", "bytes", "example"),
        el("tbody", {}, ...a.gaps.map((g) => el("tr", {}, el("td", { text: g.kind }), el("td", { text: g.cause }),
          el("td", { class: "n", text: fmtInt(g.count) }), el("td", { class: "n", text: fmtInt(g.bytes) }), el("td", { text: g.detail }))))));
    }
    if (!a.nodes.length) parts.push(el("div", { class: "empty", text: "no collector ledger in this range" }));
    root.replaceChildren(...parts);
  }

  drawLevels(body) {
    const root = $("chart-levels");
    if (!body.total) { root.replaceChildren(el("div", { class: "empty", text: "no entries in this range" })); return; }
    const R = 62, W = 26, C = 2 * Math.PI * R;
    const chart = svg("svg", { viewBox: "0 0 180 180", width: "180", height: "180", role: "img", "aria-label": "Level ratio" });
    let offset = 0;
    for (const lv of body.levels) {
      if (!lv.count) continue;
      const len = (lv.count / body.total) * C;
      const slice = svg("circle", { cx: 90, cy: 90, r: R, fill: "none", stroke: levelColour(lv.level),
        "stroke-width": W, "stroke-dasharray": `${len} ${C - len}`, "stroke-dashoffset": String(-offset),
        transform: "rotate(-90 90 90)", "data-level": lv.level });
      chart.append(clickable(slice, `${lv.level}: ${fmtInt(lv.count)} (${pct(lv.percent)})`, () => this.drill({ level: lv.level })));
      offset += len;
    }
    // Inline style: the stylesheet's chart text size would win over an attribute.
    chart.append(svg("text", { x: 90, y: 92, "text-anchor": "middle", style: "font-size:20px;font-weight:600" }, fmtInt(body.total)),
      svg("text", { x: 90, y: 110, "text-anchor": "middle" }, "entries"));
    const legend = el("table", { class: "legend", id: "levels-legend" },
      el("tbody", {}, ...body.levels.map((lv) => {
        const tr = el("tr", { class: lv.count ? "clickable" : "muted", "data-level": lv.level },
          el("td", {}, el("span", { class: "swatch", style: `background:${levelColour(lv.level)}` }), lv.level),
          el("td", { class: "n", text: fmtInt(lv.count) }),
          el("td", { class: "n", text: pct(lv.percent) }));
        if (lv.count) {
          tr.tabIndex = 0;
          tr.addEventListener("click", () => this.drill({ level: lv.level }));
          tr.addEventListener("keydown", (ev) => { if (ev.key === "Enter") this.drill({ level: lv.level }); });
        }
        return tr;
      })));
    root.replaceChildren(el("div", { class: "donut-wrap" }, chart, legend));
  }

  // Each app's share of entries with no level found: where a logpipe.io/level rule helps.
  drawApps(body, byApp) {
    const root = $("chart-apps");
    const unknown = new Map(byApp.map((a) => [a.app, (a.levels.find((lv) => lv.level === "unknown") || { percent: 0 }).percent]));
    const rows = [...body.top.map((a) => ({ ...a, other: false })), ...(body.other ? [{ ...body.other, other: true }] : [])];
    if (!rows.length || !body.total_entries) { root.replaceChildren(el("div", { class: "empty", text: "no entries in this range" })); return; }
    const rowH = 22, labelW = 130, barW = 230, H = rows.length * rowH + 4;
    const most = Math.max(...rows.map((r) => r.entries));
    const chart = svg("svg", { viewBox: `0 0 ${labelW + barW + 200} ${H}`, width: labelW + barW + 200, height: H, role: "img", "aria-label": "App share" });
    rows.forEach((r, i) => {
      const y = i * rowH + 2;
      const name = r.other ? `other (${body.apps_total - body.top.length} apps)` : (r.app ?? "(no app)");
      const w = Math.max(1, (r.entries / most) * barW);
      chart.append(svg("text", { x: labelW - 6, y: y + 14, "text-anchor": "end" }, name.length > 20 ? `${name.slice(0, 19)}…` : name));
      const rect = svg("rect", { x: labelW, y: y + 3, width: w, height: rowH - 7, rx: 2,
        fill: r.other ? "var(--muted)" : "var(--accent)", "data-app": r.other ? "" : (r.app ?? "") });
      const label = `${name}: ${fmtInt(r.entries)} entries (${pct(r.entries_percent)}), ${pct(r.bytes_percent)} of bytes`;
      chart.append(r.other || r.app == null ? rect : clickable(rect, label, () => this.drill({ app: r.app })));
      const unk = r.other || !unknown.has(r.app) ? "" : ` · ${pct(unknown.get(r.app))} unknown`;
      chart.append(svg("text", { x: labelW + w + 6, y: y + 14, "data-unknown": r.other ? "" : (r.app ?? "") }, `${fmtInt(r.entries)} · ${pct(r.entries_percent)}${unk}`));
    });
    root.replaceChildren(chart);
  }

  drawHistogram(body) {
    const root = $("chart-histogram");
    const buckets = body.buckets;
    if (!buckets.length || !buckets.some((b) => b.total)) { root.replaceChildren(el("div", { class: "empty", text: "no entries in this range" })); return; }
    const W = Math.max(480, Math.round(root.clientWidth || 960)), H = 190, left = 48, bottom = 22, top = 8;
    const plotW = W - left - 8, plotH = H - bottom - top;
    const most = Math.max(...buckets.map((b) => b.total));
    const bw = plotW / buckets.length;
    const step = UNIT_MS[body.interval.slice(-1)] * Number(body.interval.slice(0, -1));
    const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img", "aria-label": `Entries per ${body.interval}`, preserveAspectRatio: "xMinYMin meet" });
    chart.append(svg("line", { class: "axis", x1: left, x2: W - 8, y1: top + plotH, y2: top + plotH }),
      svg("text", { x: left - 6, y: top + 9, "text-anchor": "end" }, fmtInt(most)),
      svg("text", { x: left - 6, y: top + plotH, "text-anchor": "end" }, "0"));
    const every = Math.max(1, Math.ceil(buckets.length / 8));
    buckets.forEach((b, i) => {
      const x = left + i * bw;
      if (i % every === 0) chart.append(svg("text", { x, y: H - 6 }, shortTime(b.start, step >= 86400e3).slice(0, step >= 86400e3 ? 11 : 5)));
      if (!b.total) return;
      const g = svg("g", { "data-start": b.start });
      let y = top + plotH;
      for (const lv of LEVELS) {
        const n = b.levels[lv] || 0;
        if (!n) continue;
        const h = (n / most) * plotH;
        y -= h;
        g.append(svg("rect", { x: x + 0.5, y, width: Math.max(bw - 1, 1), height: h, fill: levelColour(lv) }));
      }
      const start = new Date(b.start);
      const end = new Date(start.getTime() + step);
      const detail = LEVELS.filter((lv) => b.levels[lv]).map((lv) => `${lv} ${fmtInt(b.levels[lv])}`).join(", ");
      chart.append(clickable(g, `${shortTime(b.start)}: ${fmtInt(b.total)} entries (${detail})`,
        () => this.drill({ range: "custom", since: start.toISOString(), until: end.toISOString() })));
    });
    const legend = el("div", { class: "muted" }, ...LEVELS.map((lv) => el("span", { style: "margin-right:12px" },
      el("span", { class: "swatch", style: `background:${levelColour(lv)}` }), lv)));
    root.replaceChildren(chart, legend, el("div", { class: "muted", text: `one bar per ${body.interval}` }));
  }
}
