"""One live tail: back-fill (or resume), then the live stream, as SSE events.

Events: ``entry`` (id = cursor, data = the entry), ``live`` (back-fill done, live from
here), ``missed`` (this client was too slow; data says how many entries it lost),
``notice`` (a resume older than the back-fill limit could not be replayed whole, or a
gap waits for the forwarder), ``gap`` (a time range to fetch again from history).

Hand-over: the subscription and the hub's snapshot are taken together, so every
record is either in the snapshot (joined with the Elasticsearch back-fill,
deduplicated by id) or arrives in the queue afterwards (deduplicated against what was
already sent). Which ring records the back-fill needs follows from the forwarders'
committed offsets; records neither committed nor still in the ring are read once from
Kafka for their time range, and once the forwarder has indexed them the client gets a
``gap`` event to fetch that range. Nothing falls between them silently.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from log_api.cursor import TailCursor
from log_api.es import EsReader
from log_api.formats import entry_json
from log_api.lag import PendingSpan
from log_api.live import Handover, LiveHub, LiveRecord, Snapshot, Subscription, decode_value
from log_api.metrics import ApiMetrics
from log_api.query import ScopedQuery
from logpipe.errors import RecordError
from logpipe.seen import SeenIds
from logpipe.timefmt import format_ns, parse_ns

Event = dict[str, str]
SEEN_IDS = 20_000  # ids remembered to drop duplicates (hand-over, producer replays)


@dataclass(slots=True)
class _Item:
    ts_ns: int
    id: str
    doc: dict[str, Any]
    partition: int | None = None
    offset: int | None = None


def _entry_event(doc: dict[str, Any], cursor: TailCursor) -> Event:
    return {"event": "entry", "id": cursor.encode(), "data": entry_json(doc).decode()}


def _recent(snap: Snapshot, sq: ScopedQuery, horizon: float) -> Iterable[LiveRecord]:
    """Ring records young enough to be missing from Elasticsearch, newest first."""
    for rec in reversed(snap.ring):
        if rec.arrived < horizon:
            return
        if sq.matches(rec.doc):
            yield rec


async def _from_es(reader: EsReader, sq: ScopedQuery, order: str, limit: int,
                   after: tuple[int, str] | None, cut: list[bool] | None = None) -> list[_Item]:
    out: list[_Item] = []
    if limit <= 0:
        return out
    async for hits in reader.scan(sq, order, min(limit + 1, 1000), after,
                                  max_scanned=reader.tail_scan_cap(sq), cut=cut):
        for h in hits:
            out.append(_Item(h.sort[0], h.sort[1], h.source))
        if len(out) > limit:
            break
    return out


async def _backfill(reader: EsReader, sq: ScopedQuery, snap: Snapshot, n: int,
                    horizon: float) -> list[_Item]:
    """The newest n entries: Elasticsearch joined with what it may not hold yet."""
    if n <= 0:
        return []
    items = {i.id: i for i in await _from_es(reader, sq, "newest", n, None)}
    for rec in _recent(snap, sq, horizon):
        items.setdefault(rec.id, _Item(rec.ts_ns, rec.id, rec.doc))
    return sorted(items.values(), key=lambda i: (i.ts_ns, i.id))[-n:]


async def _resume_es(reader: EsReader, sq: ScopedQuery, snap: Snapshot, cur: TailCursor,
                     limit: int, horizon: float) -> tuple[list[_Item], bool]:
    """Everything after the cursor's (ts, id); True when more than ``limit`` were there,
    or when a regex scan stopped at its cap with entries left unread."""
    cut: list[bool] = []
    found = await _from_es(reader, sq, "oldest", limit, (cur.ts_ns, cur.id), cut)
    items = {i.id: i for i in found}
    mark = (cur.ts_ns, cur.id)
    for rec in _recent(snap, sq, horizon):
        newer = (rec.ts_ns, rec.id) > mark
        if cur.offsets is not None:  # live cursor: anything past its Kafka position too
            newer = newer or rec.offset > cur.offsets.get(rec.partition, -1)
        if newer:
            items.setdefault(rec.id, _Item(rec.ts_ns, rec.id, rec.doc))
    ordered = sorted(items.values(), key=lambda i: (i.ts_ns, i.id))
    return ordered[:limit], len(found) > limit or bool(cut)


def _resume_ring(snap: Snapshot, sq: ScopedQuery, cur: TailCursor) -> list[_Item]:
    """Exact replay from the hub's ring: every record after the cursor's Kafka position."""
    offsets = cur.offsets or {}
    return [_Item(r.ts_ns, r.id, r.doc, r.partition, r.offset) for r in snap.ring
            if r.offset > offsets.get(r.partition, -1) and sq.matches(r.doc)]


def _matcher(sq: ScopedQuery, request_keys: frozenset[str]) -> Callable[[bytes], int | None]:
    def match(value: bytes) -> int | None:
        """The entry time of a Kafka value when it is a record this tail shows."""
        try:
            doc = decode_value(value, request_keys)
            ts_ns = parse_ns(doc["ts"])
        except (RecordError, ValueError):
            return None
        return ts_ns if sq.matches(doc) else None
    return match


def _event(name: str, data: dict[str, Any]) -> Event:
    return {"event": name, "data": orjson.dumps(data).decode()}


@dataclass
class _Gap:
    """A gap found at hand-over, told to the client once the forwarder indexed it."""

    ends: dict[int, int]  # partition -> offset the group must have committed
    span: PendingSpan
    until_ns: int  # the hand-over time: the range's end when the read was cut short
    committed_at: float | None = None
    found_at: float = field(default_factory=time.monotonic)
    indexed: bool = True  # False: sent at the wait deadline, the forwarder still behind

    def data(self) -> dict[str, Any]:
        first = self.span.first_ns if self.span.first_ns is not None else self.until_ns
        last = self.span.last_ns + 1 if self.span.last_ns is not None else self.until_ns
        return {"from": format_ns(first),
                "to": format_ns(last if self.span.complete else max(last, self.until_ns)),
                "reason": "lag_exceeds_ring", "entries": self.span.count,
                "complete": self.span.complete, "indexed": self.indexed}


async def _find_gap(hub: LiveHub, sq: ScopedQuery, snap: Snapshot,
                    plan: Handover) -> _Gap | None:
    """Read the unbridged offsets from Kafka once: the time range of what this tail
    would miss (None when none of it matches the tail's filter)."""
    span = await asyncio.to_thread(hub.forwarder.scan, plan.gap, _matcher(sq, hub.request_keys),
                                   hub.settings.tail_gap_scan_max)
    if not span.count:
        return None
    return _Gap({p: end for p, (_, end) in plan.gap.items()}, span, snap.taken_ns)


async def _gap_indexed(hub: LiveHub, gap: _Gap) -> bool:
    """Whether the forwarder has committed the whole gap and the index refreshed since,
    or the wait for it is over (a stalled forwarder must not leave the client unaware)."""
    if time.monotonic() - gap.found_at > hub.settings.tail_gap_wait_max_s:
        gap.indexed = False
        return True
    if gap.committed_at is None:
        offsets = await hub.forwarder.offsets(max_age=1.0)
        if offsets is None or any(offsets.committed.get(p, 0) < end
                                  for p, end in gap.ends.items()):
            return False
        gap.committed_at = time.monotonic()
    return time.monotonic() - gap.committed_at >= hub.settings.tail_handover_margin_s


async def tail_events(
    hub: LiveHub, reader: EsReader, metrics: ApiMetrics, sub: Subscription, snap: Snapshot,
    backfill: int, resume: TailCursor | None, backfill_max: int,
) -> AsyncGenerator[Event, None]:
    sq = sub.query
    seen = SeenIds(SEEN_IDS)
    try:
        vec: dict[int, int] = {}
        plan: Handover | None = None  # None: replayed from the ring, exact
        if resume is not None and resume.offsets is not None and hub.covers(snap, resume.offsets):
            items = _resume_ring(snap, sq, resume)
            vec = dict(resume.offsets)
        elif resume is not None:
            plan = await hub.handover(snap)
            items, cut = await _resume_es(reader, sq, snap, resume, backfill_max, plan.horizon)
            if cut:
                yield _event("notice", {
                    "notice": f"more than {backfill_max} entries since the last event id, "
                              "or more than the regex scan limit to look through; sending "
                              "the oldest found, then live: search History for the rest",
                })
        else:
            plan = await hub.handover(snap)
            items = await _backfill(reader, sq, snap, backfill, plan.horizon)
        sent = 0
        for item in items:
            if not seen.add(item.id):
                continue
            offsets = None
            if item.partition is not None and item.offset is not None:
                vec[item.partition] = item.offset
                offsets = dict(vec)
            yield _entry_event(item.doc, TailCursor(item.ts_ns, item.id, offsets))
            sent += 1
        metrics.tail_events.inc(sent)
        # The client now holds everything up to the snapshot's positions.
        vec = {p: max(o, vec.get(p, -1)) for p, o in snap.positions.items()}
        gap: _Gap | None = None
        if plan is not None and not plan.lag_known:
            # Bridged the whole ring, but what is older may be missing as well.
            metrics.tail_gaps.labels("lag_unknown").inc()
            unknown_ns = int(hub.settings.tail_lag_unknown_s * 1e9)
            yield _event("gap", {"from": format_ns(snap.taken_ns - unknown_ns),
                                 "to": format_ns(snap.taken_ns), "reason": "lag_unknown"})
        elif plan is not None and plan.gap:
            gap = await _find_gap(hub, sq, snap, plan)
            if gap is not None:
                metrics.tail_gaps.labels("lag_exceeds_ring").inc()
                yield _event("notice", {"notice": (
                    f"{gap.span.count} entries from {gap.data()['from']} to "
                    f"{gap.data()['to']} are not indexed yet and no longer held live; "
                    "a gap event follows once the forwarder has indexed them")})
        yield _event("live", {"sent": sent})
        while True:
            if sub.missed:
                missed, sub.missed = sub.missed, 0
                metrics.tail_missed.inc(missed)
                yield _event("missed", {
                    "missed": missed,
                    "reason": "this client read more slowly than entries arrived",
                })
            if gap is not None and await _gap_indexed(hub, gap):
                yield _event("gap", gap.data())
                gap = None
            if gap is None:
                rec = await sub.queue.get()
            else:
                try:  # wake up to check the forwarder's progress on the gap
                    rec = await asyncio.wait_for(sub.queue.get(), 1.0)
                except TimeoutError:
                    continue
            vec[rec.partition] = max(rec.offset, vec.get(rec.partition, -1))
            if not seen.add(rec.id):
                continue
            metrics.tail_events.inc()
            yield {"event": "entry", "id": TailCursor(rec.ts_ns, rec.id, dict(vec)).encode(),
                   "data": rec.entry_data()}
    finally:
        hub.unsubscribe(sub)

