"""The collector's main loop: discover -> tail -> (parse, join, enrich, produce in
``Source``) -> checkpoint, plus rotation handling and health.

One thread does all reading and producing (the delivery reports run inside
``poll`` on it too), so the acknowledgement bookkeeping needs no locks.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from collector.checkpoint import Checkpoint, CheckpointStore, fingerprint
from collector.discovery import Discovery
from collector.enrich import cri_meta, docker_meta, host_meta
from collector.files import TrackedFile, file_id, id_prefix
from collector.ledger import Ledger
from collector.level_detect import LevelRule, compile_level_rule
from collector.metrics import CollectorMetrics
from collector.multiline import MultilineRules, PatternRefused, compile_start
from collector.podmeta import PodMetadata, apply_pod, pod_metadata_on
from collector.producer import KafkaOutput, Stopping
from collector.resume import Found, plan_stream, resume, split_fp
from collector.rotated import ROTATED_ERRORS, HeadCache, list_siblings, open_sibling
from collector.settings import CollectorSettings
from collector.source import Source

log = logging.getLogger(__name__)
POLL_ALL_S = 1.0  # every open file is read at least this often, inotify or not
SWEEP_S = 0.01  # flush timeouts and rotation checks are looked at this often
DRAIN_GRACE_S = 1.0  # a renamed/deleted file is read for at least this long
IDLE_WAIT_S = 0.01  # nothing read: wait this long in the producer's poll


class Agent:
    def __init__(self, settings: CollectorSettings) -> None:
        self.s = settings
        self.metrics = CollectorMetrics()
        self.stopping = threading.Event()
        self.store = CheckpointStore(settings.state_dir, self._checkpoint_problem)
        self.first_start = not self.store.exists()
        self.discovery = Discovery(settings, self.metrics.symlinks_refused.inc)
        # Bad or missing Kubernetes credentials raise ConfigError here, before Kafka.
        self.pods = PodMetadata(settings, self.metrics) \
            if pod_metadata_on(settings) else None
        self.scans = 0  # rescans done (pod metadata is re-applied at each)
        self.out = KafkaOutput(settings, self.metrics, self.stopping, self._tick,
                               self._extend_deadlines)
        self.sources: dict[str, Source] = {}
        self.saved: dict[tuple[int, int], list[Checkpoint]] = {}  # (dev, inode) -> loaded
        self._rules: dict[str | None, MultilineRules] = {}  # start pattern -> rules
        self._level_rules: dict[str, LevelRule | None] = {}  # rule text -> compiled
        self.heartbeat = time.monotonic()
        self.started = False
        self._next_save = 0.0
        self._last_acks = 0
        self._last_produced = 0
        self._nopen = 0
        self.heads = HeadCache()  # fingerprints of rotated siblings already looked at
        self._next_ledger = 0.0
        self.ledger = Ledger(settings.node_name,
                             self.out.produce_ledger if settings.ledger_topic else None)
        self.scratch = os.path.join(settings.state_dir, "scratch")  # gunzipped siblings

    def _checkpoint_problem(self, what: str) -> None:
        self.metrics.checkpoint_damaged.labels(what).inc()

    # -- lifecycle -----------------------------------------------------------------
    def stop(self) -> None:
        self.stopping.set()

    def run(self) -> None:
        for cp in self.store.load():
            self.saved.setdefault((cp.dev, cp.inode), []).append(cp)
        self.discovery.watch()
        try:
            if self.pods is not None:
                self.pods.start(self.s.pod_metadata_wait_s)
            self._rescan(initial=True)
            self._recover_rotated()
            self.saved.clear()
            self.started = True
            self._loop()
        except Stopping:
            pass
        finally:
            self._shutdown()

    def _loop(self) -> None:
        next_scan = time.monotonic() + self.s.scan_interval_s
        next_sweep = next_poll_all = 0.0
        while not self.stopping.is_set():
            now = time.monotonic()
            self.heartbeat = now
            if self.discovery.changed.is_set() or now >= next_scan:
                self.discovery.changed.clear()
                self._rescan(initial=False)
                next_scan = now + self.s.scan_interval_s
            # With inotify, read only files written to (or with a backlog); every
            # POLL_ALL_S read them all anyway, since inotify can drop events.
            poll_all = not self.discovery.watching or now >= next_poll_all
            if poll_all:
                next_poll_all = now + POLL_ALL_S
            got = self._read_pass(poll_all)
            if self.out.service(0):
                self._rewind()
            if now >= next_sweep:  # timeouts and rotation checks need no finer grain
                next_sweep = now + SWEEP_S
                now_ns = time.monotonic_ns()
                for src in list(self.sources.values()):
                    src.flush_due(now_ns)
                    if now >= src.next_check:
                        self._check(src, now)
            self._tick()
            if not got and self.out.service(IDLE_WAIT_S):  # wait for reports, not spinning
                self._rewind()

    def _shutdown(self) -> None:
        try:
            for src in self.sources.values():
                src.flush_all()
        except Stopping:
            pass  # Kafka is full/down: the held entries are re-read after restart
        self.out.close(self.s.shutdown_timeout_s)
        self._send_ranges()  # the ranges just acknowledged, then their own acks
        self.out.close(self.s.shutdown_timeout_s)
        self._save(force=True)
        self.discovery.stop()
        if self.pods is not None:
            self.pods.close()
        for src in self.sources.values():
            for f in src.files():
                f.close()

    def _tick(self) -> None:
        """Periodic work, also run while blocked on backpressure."""
        now = time.monotonic()
        self.heartbeat = now
        if now >= self._next_save:
            self._save()
            self._next_save = now + self.s.checkpoint_interval_s

    def _rewind(self) -> None:
        """A delivery failed: back to the checkpoints on a fresh producer."""
        deadline = time.monotonic() + self.s.rotate_wait_s
        for src in self.sources.values():
            src.rewind(deadline)
            for f in src.files():  # ranges not acknowledged are sent again
                f.ledger_sent, f.ledger_sent_entries = f.ledger_at, f.ledger_entries
        self.out.replace_producer()

    def _extend_deadlines(self, seconds: float) -> None:
        """Time paused by Kafka does not count against rotate_wait_s: a rotated file is
        given up only for being slow to read, never because Kafka was down."""
        for src in self.sources.values():
            for f in src.draining:
                f.drain_deadline += seconds

    # -- reading -------------------------------------------------------------------
    def _read_pass(self, poll_all: bool) -> int:
        """One chunk from every source that has something; returns bytes read."""
        total = 0
        now_ns = time.monotonic_ns()
        rate = self.s.rate_limit_lines
        if poll_all:
            self.discovery.take_dirty()
            candidates = list(self.sources.values())
        else:
            dirty = self.discovery.take_dirty()
            candidates = [src for src in self.sources.values()
                          if src.backlog or src.draining or src.path in dirty]
        for src in candidates:
            f = src.reading()
            if f is None:
                continue
            if rate and not self._allowed(src, rate, now_ns):
                continue
            # A renamed/deleted file is complete once it is past a grace period for
            # writers that still hold it (logrotate "create" before the app reopens).
            done = f.drain_deadline > 0 and now_ns / 1e9 >= (
                f.drain_deadline - self.s.rotate_wait_s + DRAIN_GRACE_S)
            src.last_lines = 0
            n = src.read(f, now_ns, at_end=done)
            src.tokens -= src.last_lines
            # more may be waiting (a full chunk, or a tail still being written)
            src.backlog = n > 0 or f.tail_len > 0
            total += n
            if n == 0 and done:
                src.retire(f)  # read to its end: the next file of this path goes on
        return total

    @staticmethod
    def _allowed(src: Source, rate: float, now_ns: int) -> bool:
        """Token bucket of one second's worth of lines; False pauses the source."""
        now = now_ns / 1e9
        if src.refilled == 0.0:
            src.tokens, src.refilled = rate, now
        src.tokens = min(rate, src.tokens + (now - src.refilled) * rate)
        src.refilled = now
        return src.tokens > 0

    # -- discovery and rotation ------------------------------------------------------
    def _rescan(self, initial: bool) -> None:
        found = self.discovery.scan()
        for path, kind in found.items():
            if path not in self.sources:
                src = self.sources[path] = self._new_source(path, kind)
                self._open_current(src, initial)
        for path in list(self.sources):
            src = self.sources[path]
            if path not in found:
                if src.current is not None:
                    src.next_check = 0.0  # gone from the scan: check it now
                elif src.idle():
                    del self.sources[path]  # kept while it exists: it remembers next_gen
        if self.pods is not None:  # annotation and label changes take effect here
            for src in list(self.sources.values()):
                self._enrich(src)
        self.scans += 1

    def _meta(self, path: str, kind: str) -> dict[str, object]:
        if kind == "docker":
            meta = docker_meta(path, self.s.default_namespace)[0]
            link = self.discovery.aliases.get(path)
            if link is not None:  # cri-dockerd: the CRI path names the pod
                cri = cri_meta(link, self.s.default_namespace)
                for key in ("namespace", "pod", "pod_uid", "container_name"):
                    if cri.get(key) and not meta.get(key):
                        meta[key] = cri[key]
                if meta.get("namespace") == self.s.default_namespace and cri.get("pod"):
                    meta["namespace"] = cri["namespace"]
            return meta
        if kind == "cri":
            return cri_meta(path, self.s.default_namespace)
        return host_meta(path, self.s.host_namespace)

    def _new_source(self, path: str, kind: str) -> Source:
        src = Source(path, kind, self._meta(path, kind), MultilineRules(), self.out)
        self._enrich(src, force=True)
        return src

    def _enrich(self, src: Source, force: bool = False) -> None:
        apply_pod(src, self.pods, self._rules_for, force, self._level_rule_for)

    def _level_rule_for(self, app: object, rule: str | None = None) -> LevelRule | None:
        """The pod's logpipe.io/level rule, else the app's level_rules setting."""
        if rule is None and isinstance(app, str):
            rule = self.s.level_rules.get(app)
        if not rule:
            return None
        if rule not in self._level_rules:
            try:
                self._level_rules[rule] = compile_level_rule(
                    rule, self.s.multiline_start_max_chars)
            except PatternRefused as exc:  # pods.py checks annotations; never crash on one
                log.warning("level rule %r refused (%s); the built-in detection applies",
                            rule[:200], exc, extra={"event": "level_rule_refused"})
                self.metrics.level_rules_refused.labels("setting").inc()
                self._level_rules[rule] = None
        return self._level_rules[rule]

    def _rules_for(self, app: object, start: str | None = None) -> MultilineRules:
        """Rules by start pattern: the pod's annotation, else the app's setting."""
        if start is None and isinstance(app, str):
            start = self.s.multiline_start_patterns.get(app)
        rules = self._rules.get(start)
        if rules is None:
            try:
                compiled = compile_start(start, self.s.multiline_start_max_chars) \
                    if start else None
            except PatternRefused as exc:  # pods.py checks annotations; never crash on one
                log.warning("multi-line start %r refused (%s); the built-in rules apply",
                            (start or "")[:200], exc, extra={"event": "multiline_pattern_refused"})
                self.metrics.patterns_refused.labels("setting").inc()
                compiled = None
            rules = self._rules[start] = MultilineRules(
                enabled=self.s.multiline, flush_ns=self.s.multiline_flush_ms * 1_000_000,
                max_bytes=self.s.multiline_max_bytes, max_lines=self.s.multiline_max_lines,
                max_line_bytes=self.s.max_line_bytes, start=compiled)
        return rules

    def _open_files(self) -> int:
        return sum(1 for src in self.sources.values() for f in src.files() if f.fd >= 0)

    def _make_room(self) -> bool:
        """Respect max_open_files by giving up the oldest draining file (counted)."""
        if self._nopen < self.s.max_open_files:
            self._nopen += 1  # an estimate between exact counts (kept cheap for 1000s)
            return True
        self._nopen = self._open_files()
        if self._nopen < self.s.max_open_files:
            return True
        draining = [(src.draining[0].drain_deadline, src) for src in self.sources.values()
                    if src.draining]
        if not draining:
            return False
        src = min(draining, key=lambda d: d[0])[1]
        self._give_up(src, src.draining[0], "open-files cap")
        return True

    def _give_up(self, src: Source, f: TrackedFile, why: str) -> None:
        left = max(0, f.size() - f.pos)
        self.metrics.given_up.inc(left)
        log.warning("giving up %d unread bytes of %s (%s)", left, f.path, why,
                    extra={"event": "given_up", "path": f.path, "bytes": left, "reason": why})
        if left:
            self.ledger.send_gap(f.file_id, f.path, src.meta, src.kind, src.key, "given_up",
                                 f.pos, left, why)
        src.retire(f)
        f.close()  # given up for good: not even a rewind reads it again

    def _open_current(self, src: Source, initial: bool) -> None:
        if not self._make_room():
            return
        try:
            fd = os.open(src.path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return
        st = os.fstat(fd)
        stale = time.time() - st.st_mtime > self.s.idle_tail_flush_s
        fp = fingerprint(fd, force=stale)
        if fp is None:  # empty or first line incomplete: identify it later
            os.close(fd)
            return
        f = self._tracked(src, fd, st.st_dev, st.st_ino, fp, 0)
        if src.next_gen is not None:
            if src.next_gen[:2] == (st.st_dev, st.st_ino):
                f.set_generation(src.next_gen[2], self.s.node_name)
            src.next_gen = None
        if initial:
            resume(f, st.st_size, self.saved,
                   self.first_start and self.s.start_at == "tail", self.s.node_name)
        src.current = f
        if src.kind == "docker" and src.base_meta.get("container_name") is None:
            src.base_meta = self._meta(src.path, src.kind)  # config.v2.json written late
            self._enrich(src, force=True)

    def _tracked(self, src: Source, fd: int, dev: int, ino: int, fp: str,
                 gen: int) -> TrackedFile:
        return TrackedFile(src.path, src.kind, fd, dev, ino, fp, gen, self.s.node_name,
                           self.out.on_failed, self.out.acked)

    def _recover_rotated(self) -> None:
        """Every stream's files rotated while we were down are read to their end
        first, oldest first: the checkpointed ones from their checkpoint, the ones
        never seen from their head (``collector.resume.plan_stream``)."""
        left: dict[str, list[Checkpoint]] = {}
        for cps in self.saved.values():
            for cp in cps:
                left.setdefault(cp.path, []).append(cp)
        for path in sorted(set(left) | set(self.sources)):
            self._find_siblings(path, left.get(path, []))

    def _find_siblings(self, path: str, saved: list[Checkpoint]) -> None:
        """Read the stream's rotated files it has not read (nor is reading)."""
        src = self.sources.get(path)
        hist = self.store.history(path)
        files = src.files() if src is not None else []
        known = set(hist.done) | {f.base_fp for f in files}
        tracked = {(f.dev, f.inode) for f in files}
        found, lost = plan_stream(path, saved, known, hist.floor_ns, self.heads, tracked)
        for gone in lost:
            cp = gone.checkpoint
            fid = file_id(id_prefix(self.s.node_name, cp.dev, cp.inode, cp.fp))
            self._lost(path, src, fid, cp.offset, gone.cause, max(0, cp.end - cp.offset),
                       "gone (deleted, or truncated with no copy) while the collector was "
                       "down; at least these bytes past its checkpoint were not read")
        for item in found:
            if src is None:
                src = self.sources[path] = self._new_source(path, self._kind_of(path))
            if not self._make_room():
                log.warning("open-files cap: not reading rotated %s", item.sibling.path)
                break
            self._read_sibling(src, item)

    def _read_sibling(self, src: Source, item: Found) -> None:
        sib = item.sibling
        try:
            fd = open_sibling(sib, self.scratch)
        except ROTATED_ERRORS as exc:  # e.g. a .gz still being written: the next look
            log.warning("cannot read rotated %s yet: %s", sib.path, exc)
            self.heads.forget(sib)
            return
        cp = item.checkpoint
        if cp is not None:  # the same entries as before the restart: the same ids
            base, gen = split_fp(cp.fp)
            f = self._tracked(src, fd, cp.dev, cp.inode, base, gen)
            f.start_at(cp.offset)
            how = "checkpointed"
        else:
            f = self._tracked(src, fd, sib.dev, sib.inode, item.fp, 0)
            how = "unseen"
        f.drain_deadline = time.monotonic() + self.s.rotate_wait_s
        src.draining.append(f)  # oldest first, all before the live file
        src.backlog = True
        self.metrics.rotated_found.labels(how).inc()
        log.info("reading rotated file %s of %s from %d (%s)", sib.path, src.path, f.pos, how,
                 extra={"event": "rotated_found", "path": src.path, "file": sib.path,
                        "offset": f.pos, "how": how})

    def _lost(self, path: str, src: Source | None, fid: str, offset: int, cause: str,
              nbytes: int, detail: str = "") -> None:
        """Bytes no one can read any more: counted, logged and put in the ledger (at
        least ``nbytes``: what was written after the last look is not known)."""
        self.metrics.lost_bytes.labels(cause).inc(nbytes)
        log.warning("%s: %d bytes can no longer be read (%s)", path, nbytes, cause,
                    extra={"event": "lost", "path": path, "bytes": nbytes, "cause": cause})
        meta = src.meta if src is not None else self._meta(path, self._kind_of(path))
        kind = src.kind if src is not None else self._kind_of(path)
        key = src.key if src is not None else path.encode()
        self.ledger.send_gap(fid, path, meta, kind, key, cause, offset, nbytes, detail)

    def _prune(self, src: Source) -> None:
        """Forget acknowledged retired files; remember them as read to the end, so a
        rotated (or gzip'd) copy of them is never read again."""
        before = src.retired[:]
        src.prune()
        if len(src.retired) != len(before):
            hist = self.store.history(src.path)
            now = time.time_ns()
            for f in before:
                if f not in src.retired:
                    hist.finished(f.base_fp, now)

    def _kind_of(self, path: str) -> str:
        for kind, root, _ in self.discovery.patterns:
            if path.startswith(root.rstrip("/") + "/"):
                return kind
        return "file"

    def _check(self, src: Source, now: float) -> None:
        """Rename, deletion, copytruncate, drain deadlines, for one path."""
        src.next_check = now + self.s.rotate_check_s
        for f in list(src.draining):
            if now > f.drain_deadline:
                self._give_up(src, f, "rotate_wait_s deadline")
        cur = src.current
        try:
            st: os.stat_result | None = os.stat(src.path)
        except OSError:
            st = None
        if cur is not None:
            if st is None or (st.st_dev, st.st_ino) != (cur.dev, cur.inode):
                self.metrics.rotations.labels("delete" if st is None else "rename").inc()
                cur.drain_deadline = now + self.s.rotate_wait_s
                src.draining.append(cur)
                src.current = None
                # Rotated twice since the last look: the file in between is a sibling.
                self._find_siblings(src.path, [])
            else:
                cur.seen_size = st.st_size
                fp = fingerprint(cur.fd)
                if st.st_size < cur.pos or (fp is not None and fp != cur.base_fp) or (
                        fp is None and cur.pos > 0):
                    self._truncated(src, cur, fp)
        if src.current is None and st is not None:
            self._open_current(src, initial=False)
        self._prune(src)

    def _truncated(self, src: Source, cur: TrackedFile, fp: str | None) -> None:
        """copytruncate: the same inode starts over; a new generation gets new ids.
        What was written after our last read is in logrotate's copy: read it there."""
        self.metrics.rotations.labels("truncate").inc()
        log.info("%s was truncated at %d; reading it again from 0", cur.path, cur.pos,
                 extra={"event": "truncated", "path": cur.path, "offset": cur.pos})
        copy = self._copy_of(cur)
        if fp is None:
            # The new first line is not complete yet: identify the file once it is
            # (by _open_current), still as the next generation of this inode.
            src.next_gen = (cur.dev, cur.inode, cur.gen + 1)
            live_fd = -1
        else:
            nf = self._tracked(src, cur.fd, cur.dev, cur.inode, fp or cur.base_fp, cur.gen + 1)
            src.current = nf
            live_fd = cur.fd
        if copy is not None:
            if live_fd < 0:
                os.close(cur.fd)
            cur.fd = copy  # same identity and offsets: the copy holds the same bytes
            if src.current is cur:
                src.current = None
            cur.drain_deadline = time.monotonic() + self.s.rotate_wait_s
            src.draining.append(cur)
            self.metrics.rotated_found.labels("copy").inc()
            return
        # No copy: what was written after the last look is gone, however much it was
        # (often nothing): the audit says so rather than call the file complete.
        self._lost(cur.path, src, cur.file_id, cur.pos, "truncated",
                   max(0, cur.seen_size - cur.pos), "truncated with no copy found: at least "
                   "these bytes, and whatever was written after the last look, were not read")
        if live_fd >= 0:
            cur.fd = -1  # the new generation owns the descriptor
        if src.current is cur:
            src.current = None
        src.retire(cur)

    def _copy_of(self, cur: TrackedFile) -> int | None:
        """A descriptor on the copy copytruncate made of ``cur`` (same first line, at
        least as long as what we read), or None."""
        for sib in reversed(list_siblings(cur.path)):  # newest first
            if self.heads.fingerprint(sib) != cur.base_fp or (not sib.gz and sib.size <= cur.pos):
                continue
            try:
                fd = open_sibling(sib, self.scratch)
            except ROTATED_ERRORS:
                continue
            if os.fstat(fd).st_size <= cur.pos:
                os.close(fd)
                continue
            log.info("reading the rest of %s from its copy %s at %d", cur.path, sib.path,
                     cur.pos, extra={"event": "truncate_copy", "path": cur.path,
                                     "file": sib.path, "offset": cur.pos})
            return fd
        return None

    # -- checkpoints and health ------------------------------------------------------
    def _send_ranges(self) -> None:
        """Ledger ranges for what got acknowledged since the last ones."""
        if not self.started:
            return
        self.ledger.retry()
        for src in self.sources.values():
            for f in src.files():
                self.ledger.send_range(f, src.meta, src.kind, src.key)

    def _save(self, force: bool = False) -> None:
        cps: list[Checkpoint] = []
        lag = 0
        for src in self.sources.values():
            self._prune(src)
            for f in src.files():
                # A checkpoint is only as far as the ledger holds (collector.ledger).
                cps.append(Checkpoint(f.path, f.dev, f.inode, f.fp, f.ledger_at, f.pos))
                lag += max(0, f.pos - f.acked)
        if (self.started or force) and self.store.save(cps, set(self.sources)):
            self.metrics.checkpoint_writes.inc()
        # Only now, with the checkpoint at each file's ledger_at on disk: a range sent
        # from there is replaced (same id) by the one a restart sends from there.
        now = time.monotonic()
        if force or self.ledger.produce is None or now >= self._next_ledger:
            self._next_ledger = now + self.s.ledger_interval_s
            self._send_ranges()
        self.out.note_acks()
        m = self.metrics
        self._nopen = self._open_files()
        m.files_open.set(self._nopen)
        m.checkpoint_lag.set(lag)
        produced, acks = self.out.produced, self.out.acked[0]
        m.produced.inc(produced - self._last_produced)
        m.acked.inc(acks - self._last_acks)
        self._last_produced, self._last_acks = produced, acks

    def live(self) -> tuple[bool, str]:
        age = time.monotonic() - self.heartbeat
        return age < 30, f"main loop last ran {age:.1f}s ago"

    def ready(self) -> tuple[bool, str]:
        if not self.started:
            return False, "starting: discovering files"
        now, limit, out = time.monotonic(), self.s.unready_after_s, self.out
        blocked = out.blocked_since
        if blocked and now - blocked > limit:
            return False, (f"backpressure: Kafka has not taken records for "
                           f"{now - blocked:.0f}s (last error: {out.last_error})")
        # A quiet node fills no queue: readiness also follows the brokers themselves
        # and how long records wait for an acknowledgement.
        down = out.unreachable_since
        if down and now - down > limit:
            return False, (f"no Kafka broker reachable for {now - down:.0f}s "
                           f"(last error: {out.last_error})")
        age = out.unacked_age()
        if age > limit:
            return False, (f"{out.in_flight()} records unacknowledged for {age:.0f}s "
                           f"(last error: {out.last_error})")
        pods = f"; {self.pods.state()}" if self.pods is not None else ""
        return True, (f"ok: {len(self.sources)} sources, {self.out.in_flight()} records in "
                      f"flight{pods}")
