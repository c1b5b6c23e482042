"""One live tail: back-fill (or resume), then the live stream, as SSE events.

Events: ``entry`` (id = cursor, data = the entry), ``live`` (back-fill done, live from
here), ``missed`` (this client was too slow; data says how many entries it lost),
``notice`` (a resume older than the back-fill limit could not be replayed whole).

Hand-over: the subscription and the hub's snapshot are taken together, so every
record is either in the snapshot (joined with the Elasticsearch back-fill,
deduplicated by id) or arrives in the queue afterwards (deduplicated against what was
already sent). Nothing falls between them.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from log_api.cursor import TailCursor
from log_api.es import EsReader
from log_api.formats import entry_json
from log_api.live import HANDOVER_SECONDS, LiveHub, LiveRecord, Snapshot, Subscription
from log_api.metrics import ApiMetrics
from log_api.query import ScopedQuery
from logpipe.seen import SeenIds

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


def _recent(snap: Snapshot, sq: ScopedQuery) -> Iterable[LiveRecord]:
    """Ring records young enough to be missing from Elasticsearch, newest first."""
    horizon = time.monotonic() - HANDOVER_SECONDS
    for rec in reversed(snap.ring):
        if rec.arrived < horizon:
            return
        if sq.matches(rec.doc):
            yield rec


async def _from_es(reader: EsReader, sq: ScopedQuery, order: str, limit: int,
                   after: tuple[int, str] | None) -> list[_Item]:
    out: list[_Item] = []
    if limit <= 0:
        return out
    async for hits in reader.scan(sq, order, min(limit + 1, 1000), after):
        for h in hits:
            out.append(_Item(h.sort[0], h.sort[1], h.source))
        if len(out) > limit:
            break
    return out


async def _backfill(reader: EsReader, sq: ScopedQuery, snap: Snapshot, n: int) -> list[_Item]:
    """The newest n entries: Elasticsearch joined with what it may not hold yet."""
    if n <= 0:
        return []
    items = {i.id: i for i in await _from_es(reader, sq, "newest", n, None)}
    for rec in _recent(snap, sq):
        items.setdefault(rec.id, _Item(rec.ts_ns, rec.id, rec.doc))
    return sorted(items.values(), key=lambda i: (i.ts_ns, i.id))[-n:]


async def _resume_es(reader: EsReader, sq: ScopedQuery, snap: Snapshot, cur: TailCursor,
                     limit: int) -> tuple[list[_Item], bool]:
    """Everything after the cursor's (ts, id); True when more than ``limit`` were there."""
    found = await _from_es(reader, sq, "oldest", limit, (cur.ts_ns, cur.id))
    items = {i.id: i for i in found}
    mark = (cur.ts_ns, cur.id)
    for rec in _recent(snap, sq):
        newer = (rec.ts_ns, rec.id) > mark
        if cur.offsets is not None:  # live cursor: anything past its Kafka position too
            newer = newer or rec.offset > cur.offsets.get(rec.partition, -1)
        if newer:
            items.setdefault(rec.id, _Item(rec.ts_ns, rec.id, rec.doc))
    ordered = sorted(items.values(), key=lambda i: (i.ts_ns, i.id))
    return ordered[:limit], len(found) > limit


def _resume_ring(snap: Snapshot, sq: ScopedQuery, cur: TailCursor) -> list[_Item]:
    """Exact replay from the hub's ring: every record after the cursor's Kafka position."""
    offsets = cur.offsets or {}
    return [_Item(r.ts_ns, r.id, r.doc, r.partition, r.offset) for r in snap.ring
            if r.offset > offsets.get(r.partition, -1) and sq.matches(r.doc)]


async def tail_events(
    hub: LiveHub, reader: EsReader, metrics: ApiMetrics, sub: Subscription, snap: Snapshot,
    backfill: int, resume: TailCursor | None, backfill_max: int,
) -> AsyncGenerator[Event, None]:
    sq = sub.query
    seen = SeenIds(SEEN_IDS)
    try:
        vec: dict[int, int] = {}
        if resume is not None and resume.offsets is not None and hub.covers(snap, resume.offsets):
            items = _resume_ring(snap, sq, resume)
            vec = dict(resume.offsets)
        elif resume is not None:
            items, cut = await _resume_es(reader, sq, snap, resume, backfill_max)
            if cut:
                yield {"event": "notice", "data": orjson.dumps({
                    "notice": f"more than {backfill_max} entries since the last event id; "
                              "sending the oldest of them, then live",
                }).decode()}
        else:
            items = await _backfill(reader, sq, snap, backfill)
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
        yield {"event": "live", "data": orjson.dumps({"sent": sent}).decode()}
        while True:
            if sub.missed:
                missed, sub.missed = sub.missed, 0
                metrics.tail_missed.inc(missed)
                yield {"event": "missed", "data": orjson.dumps({
                    "missed": missed,
                    "reason": "this client read more slowly than entries arrived",
                }).decode()}
            rec = await sub.queue.get()
            vec[rec.partition] = max(rec.offset, vec.get(rec.partition, -1))
            if not seen.add(rec.id):
                continue
            metrics.tail_events.inc()
            yield _entry_event(rec.doc, TailCursor(rec.ts_ns, rec.id, dict(vec)))
    finally:
        hub.unsubscribe(sub)

