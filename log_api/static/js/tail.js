// Live tail: SSE over fetch(), start / pause / resume / clear, automatic reconnect that
// resumes after the last event id (no gap, no repeat), a visible note for missed
// entries, a gap the server could not hand over live fetched from history between two
// marker notes, and auto-scroll that stops while the reader has scrolled up. JSON/logfmt
// lines show their message and field chips: a chip click adds its filter (the tail starts
// again with it), an id link opens History on that trace.

import { ApiError, call, streamEvents } from "./api.js";
import { FilterBar } from "./filters.js";
import { el, logLine, matcher, onStructureClick, rawSwitch } from "./util.js";

const MAX_LINES = 5000; // the DOM stays fast; older lines drop off the top
const MAX_BACKOFF_MS = 10000;
const GAP_PAGE = 1000; // entries per search request when fetching a gap
const STICK_PX = 40;

const $ = (id) => document.getElementById(id);

export class LiveTail {
  constructor({ onTrace = () => {}, onQuery = () => {} } = {}) {
    this.lines = $("tail-lines");
    this.statusEl = $("tail-status");
    this.toggleBtn = $("tail-toggle");
    this.jump = $("tail-jump");
    this.countEl = $("tail-count");
    this.backfill = $("tail-backfill");
    this.bar = new FilterBar($("tail-filters"), { prefix: "tail", range: false,
      onSubmit: () => { onQuery(this.bar.toQuery()); this.filtersChanged(); } });
    onStructureClick(this.lines, {
      field: (name, value) => this.bar.addFilter({ key: `field.${name}`, value }),
      trace: onTrace,
    });
    rawSwitch($("tail-raw"), this.lines);
    this.state = "stopped";
    this.lastEventId = null;
    this.controller = null;
    this.seen = new Set();
    this.pending = [];
    this.count = 0;
    this.unseen = 0;
    this.stick = true;
    this.toggleBtn.addEventListener("click", () => this.toggle());
    $("tail-clear").addEventListener("click", () => this.clear());
    this.jump.addEventListener("click", () => this.scrollToEnd());
    this.lines.addEventListener("scroll", () => {
      const l = this.lines;
      this.stick = l.scrollHeight - l.scrollTop - l.clientHeight < STICK_PX;
      if (this.stick) { this.unseen = 0; this.jump.hidden = true; }
    });
  }

  shown() { this.bar.loadPickers(); }

  setState(state, detail = "") {
    this.state = state;
    this.statusEl.className = `status ${state}`;
    this.statusEl.textContent = detail ? `${state}: ${detail}` : state;
    const running = ["connecting", "live", "reconnecting"].includes(state);
    this.toggleBtn.textContent = running ? "Pause" : state === "paused" ? "Resume" : "Start";
  }

  toggle() {
    if (["connecting", "live", "reconnecting"].includes(this.state)) this.pause();
    else if (this.state === "paused" && this.lastEventId) this.run();
    else this.start();
  }

  start() {
    this.stop();
    this.lastEventId = null;
    this.seen.clear();
    this.run();
  }

  pause() {
    this.stop();
    this.setState("paused", "Resume continues exactly where it stopped");
  }

  stop() {
    if (this.controller) this.controller.abort();
    this.controller = null;
  }

  clear() {
    this.lines.replaceChildren();
    this.pending = [];
    this.count = 0;
    this.unseen = 0;
    this.jump.hidden = true;
    this.countEl.textContent = "";
  }

  filtersChanged() {
    if (["connecting", "live", "reconnecting"].includes(this.state)) {
      this.note("filters changed; starting again");
      this.start();
    } else if (this.state === "paused") {
      // Resuming the old cursor would mix the old filters' replay in: start afresh.
      this.lastEventId = null;
      this.setState("paused", "filters changed; Resume starts again with them");
    }
  }

  params() {
    const p = this.bar.params({ time: false });
    p.set("backfill", this.lastEventId ? "0" : String(Math.max(0, Number(this.backfill.value) || 0)));
    return p;
  }

  async run() {
    const controller = new AbortController();
    this.controller = controller;
    const v = this.bar.values();
    this.matchRe = matcher(v.q, v.include);
    let delay = 500;
    this.setState("connecting");
    while (this.controller === controller) {
      let reason = "the server ended the stream";
      try {
        await streamEvents("/tail", this.params(), {
          lastEventId: this.lastEventId,
          signal: controller.signal,
          onOpen: () => { delay = 500; if (this.lastEventId) this.setState("live"); },
          onEvent: (ev) => this.onEvent(ev),
        });
      } catch (err) {
        if (controller.signal.aborted) return;
        if (err instanceof ApiError && err.status >= 400 && err.status < 500 && err.status !== 429) {
          this.setState("failed", err.message);
          this.controller = null;
          return;
        }
        reason = err.message || String(err);
      }
      if (this.controller !== controller) return;
      this.setState("reconnecting", `${reason}; retrying in ${(delay / 1000).toFixed(1)}s`);
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, MAX_BACKOFF_MS);
    }
  }

  onEvent(ev) {
    if (ev.event === "entry") {
      if (ev.id) this.lastEventId = ev.id;
      const entry = JSON.parse(ev.data);
      if (this.seen.has(entry.id)) return;
      this.seen.add(entry.id);
      if (this.seen.size > 4 * MAX_LINES) this.seen = new Set([...this.seen].slice(-2 * MAX_LINES));
      this.pending.push(logLine(entry, this.matchRe));
      this.schedule();
    } else if (ev.event === "live") {
      this.setState("live");
    } else if (ev.event === "missed") {
      const n = JSON.parse(ev.data).missed;
      this.note(`⚠ ${n} entries missed: they arrived faster than this page could read them. Narrow the filters, or use History for the full record.`);
    } else if (ev.event === "notice") {
      this.note(`⚠ ${JSON.parse(ev.data).notice}`);
    } else if (ev.event === "gap") {
      this.fillGap(JSON.parse(ev.data));
    }
  }

  // The server could not hand these entries over live (the forwarder lagged more than
  // its window): fetch the range from history, oldest first, and show the ones not
  // shown yet as one block between two notes, where the gap was announced.
  async fillGap(gap) {
    const controller = this.controller;
    this.flush(); // the block goes after what was received before the gap event
    const mark = (text) => el("div", { class: "note gap", role: "note", text });
    const start = mark(`⤵ entries from ${gap.from} to ${gap.to} could not be followed live (${gap.reason}); fetching them from history…`);
    this.lines.append(start);
    const p = this.bar.params({ time: false });
    for (const [k, v] of [["since", gap.from], ["until", gap.to], ["order", "oldest"], ["size", String(GAP_PAGE)]]) p.set(k, v);
    let at = start;
    let shown = 0;
    try {
      for (;;) {
        const page = await call("/search", p, { signal: controller && controller.signal });
        for (const entry of page.entries) {
          if (this.seen.has(entry.id)) continue;
          this.seen.add(entry.id);
          const line = logLine(entry, this.matchRe);
          at.after(line);
          at = line;
          shown += 1;
        }
        if (!page.next_cursor) break;
        p.set("cursor", page.next_cursor);
      }
      at.after(mark(gap.indexed === false
        ? `⤒ end of the gap: ${shown} entries from history so far; the forwarder had not indexed all of it yet: search History for ${gap.from} to ${gap.to} later`
        : `⤒ end of the gap: ${shown} entries from history`));
    } catch (err) {
      if (controller && controller.signal.aborted) return;
      at.after(mark(`⚠ the gap from ${gap.from} to ${gap.to} could not be fetched (${err.message}); use History for that range`));
    }
    this.count += shown;
    this.showCount();
    if (this.stick) this.lines.scrollTop = this.lines.scrollHeight;
  }

  showCount() {
    this.countEl.textContent = `${this.count.toLocaleString("en-US")} line${this.count === 1 ? "" : "s"}`;
  }

  note(text) {
    this.pending.push(el("div", { class: "note", role: "note", text }));
    this.schedule();
  }

  // Lines are added once per animation frame, so a burst does not re-layout per entry.
  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => this.flush());
  }

  flush() {
    this.frame = null;
    if (!this.pending.length) return;
    const batch = this.pending;
    this.pending = [];
    this.lines.append(...batch);
    const added = batch.filter((n) => n.classList.contains("line")).length;
    this.count += added;
    const extra = this.lines.childElementCount - MAX_LINES;
    for (let i = 0; i < extra; i++) this.lines.firstElementChild.remove();
    this.showCount();
    if (this.stick) this.lines.scrollTop = this.lines.scrollHeight;
    else {
      this.unseen += added;
      this.jump.hidden = false;
      this.jump.textContent = `↓ ${this.unseen} new`;
    }
  }

  scrollToEnd() {
    this.stick = true;
    this.lines.scrollTop = this.lines.scrollHeight;
    this.unseen = 0;
    this.jump.hidden = true;
  }
}
