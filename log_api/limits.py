"""Per-token limits: concurrent requests of a kind, open point-in-times, time ranges.

A token past a limit gets 429 with ``Retry-After``; nothing it does costs another
token's share (the caps are counted per token hash, plus a total for point-in-times).
Concurrent requests are counted over every replica (log_api/shared.py); point-in-times
are counted per replica (each closes its own oldest: a bound of the replicas times the
cap on Elasticsearch's contexts, and a cursor works on any replica whatever happens).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field

from log_api.errors import BadRequest, TooManyRequests
from log_api.filters import Filters
from log_api.settings import ApiSettings
from log_api.shared import Place, Slots

log = logging.getLogger(__name__)

# What a token may run at once, and the setting that says how many.
KINDS = {"search": "search_max_per_token", "download": "download_max_per_token",
         "tail": "tail_max_per_token"}
# Streams, counted over every replica. A search lasts a fraction of a second: a shared
# place would add an Elasticsearch write or two to each, about doubling it, so searches
# are counted per replica (at most the cap times the replicas run at once).
SHARED = frozenset({"download", "tail"})
NOUNS = {"search": "searches", "download": "downloads", "tail": "live tails"}


@dataclass(eq=False)  # held in a set, by identity
class Slot:
    """One running request's place; ``release`` is idempotent (a body and a background
    task may both end it) and synchronous (it hands the shared write to a task)."""

    limiter: ConcurrencyLimiter
    kind: str
    token: str
    place: Place | None  # None: counted by this replica only
    released: bool = field(default=False)

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.limiter.release(self)


class ConcurrencyLimiter:
    """Per-token caps on requests running at once. A stream (``SHARED``) holds a place in
    ``<prefix>_state`` (log_api/shared.py), renewed while it runs, so the cap counts every
    replica; the places of a replica that died free themselves after ``replica_lease_s``."""

    def __init__(self, settings: ApiSettings, slots: Slots) -> None:
        self.settings = settings
        self.slots = slots
        self.holder = f"replica-{uuid.uuid4().hex[:12]}"
        self.held: set[Slot] = set()  # this replica's, until their release is written
        self._tasks: set[asyncio.Task[None]] = set()
        self._renewer: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def cap(self, kind: str) -> int:
        value: int = getattr(self.settings, KINDS[kind])
        return value

    async def acquire(self, kind: str, token: str) -> Slot:
        self._loop = asyncio.get_running_loop()  # where a release from a thread goes
        cap = self.cap(kind)
        place = None
        if kind in SHARED:
            place = await self.slots.take(kind, token, cap, self.holder,
                                          self.settings.replica_lease_s)
            refused = place is None
        else:
            refused = self.count(kind, token) >= cap
        if refused:
            where = "every replica" if kind in SHARED else "this replica"
            raise TooManyRequests(
                f"this token already runs {cap} {NOUNS[kind]} at once (the limit, "
                f"{KINDS[kind]}, counts {where}); wait for one to finish",
                self.settings.retry_after_s)
        slot = Slot(self, kind, token, place)
        self.held.add(slot)
        return slot

    def release(self, slot: Slot) -> None:
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:  # a sync background task runs in Starlette's thread pool
            running = None
        if running is None and self._loop is not None:
            self._loop.call_soon_threadsafe(self._free, slot)
        else:
            self._free(slot)

    def _free(self, slot: Slot) -> None:
        place = slot.place
        if place is None:
            self.held.discard(slot)
            return

        async def free() -> None:
            try:
                await self.slots.release(place)
            except Exception as exc:  # its lease runs out anyway
                log.warning("could not free a %s place of a token: %s", slot.kind, exc)
            finally:
                self.held.discard(slot)

        task = asyncio.get_running_loop().create_task(free())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def count(self, kind: str, token: str) -> int:
        """Places this replica holds (or is still freeing) for ``token``."""
        return sum(1 for s in self.held if s.kind == kind and s.token == token)

    def start(self) -> None:
        async def renew() -> None:
            while True:
                await asyncio.sleep(self.settings.replica_lease_s / 3)
                for slot in list(self.held):
                    if slot.released or slot.place is None:
                        continue
                    try:
                        renewed = await self.slots.renew(slot.place,
                                                         self.settings.replica_lease_s)
                        if not renewed and not slot.released:  # not freed meanwhile
                            log.warning("a %s place expired before it was renewed (this "
                                        "replica stalled); the cap may be passed once",
                                        slot.kind)
                    except Exception as exc:
                        log.warning("could not renew a %s place: %s", slot.kind, exc)

        self._renewer = asyncio.create_task(renew(), name="slot-renewer")

    async def close(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
        for slot in list(self.held):
            slot.release()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=10)


class PitTracker:
    """The point-in-times search cursors keep open, per token, oldest first.

    Past ``pit_max_per_token`` (or ``pit_max_total`` over all tokens) the oldest is
    closed: its cursor still works, the next page opens a fresh one (pages are ordered
    by (ts, id), see log_api/es.py), so a client that abandons cursors only costs itself
    a reopen, never Elasticsearch an unbounded number of contexts.
    """

    def __init__(self, settings: ApiSettings, keep_alive_s: float) -> None:
        self.settings = settings
        self.keep_alive_s = keep_alive_s
        self.by_token: dict[str, OrderedDict[str, float]] = {}

    def _expire(self, now: float) -> None:
        for token, pits in list(self.by_token.items()):
            for pit, opened in list(pits.items()):
                if now - opened > self.keep_alive_s:  # Elasticsearch freed it already
                    del pits[pit]
            if not pits:
                del self.by_token[token]

    def total(self) -> int:
        return sum(len(p) for p in self.by_token.values())

    def of_token(self, token: str) -> int:
        return len(self.by_token.get(token, ()))

    def forget(self, pit: str, token: str) -> None:
        pits = self.by_token.get(token)
        if pits is not None and pits.pop(pit, None) is not None and not pits:
            del self.by_token[token]

    def keep(self, token: str, pit: str) -> list[str]:
        """Note ``pit`` as open for ``token``; returns the PITs to close now."""
        now = time.monotonic()
        self._expire(now)
        self.forget(pit, token)
        pits = self.by_token.setdefault(token, OrderedDict())
        pits[pit] = now
        evict: list[str] = []
        while len(pits) > self.settings.pit_max_per_token:
            evict.append(pits.popitem(last=False)[0])
        while self.total() > self.settings.pit_max_total:
            # The oldest PIT of the token holding the most: the heaviest user pays first.
            heavy = max(self.by_token.values(), key=len)
            evict.append(heavy.popitem(last=False)[0])
            for t in [t for t, p in self.by_token.items() if not p]:
                del self.by_token[t]
        return evict


def es_duration_s(text: str) -> float:
    """An Elasticsearch duration (``5m``, ``30s``, ``1h``, ``500ms``) in seconds."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    for unit in ("ms", "s", "m", "h", "d"):
        if text.endswith(unit) and text[: -len(unit)].isdigit():
            return int(text[: -len(unit)]) * units[unit]
    return 300.0  # Elasticsearch refuses what is not a duration; the page then says so


def check_range(filters: Filters, settings: ApiSettings, now_ns: int) -> None:
    """Refuse a range longer than ``max_range_s`` (an open start counts as unbounded)."""
    cap = settings.max_range_s
    if cap is None:
        return
    if filters.since_ns is None:
        raise BadRequest(f"give since=: this API limits a request's range to {cap:g} s "
                         "(max_range_s)")
    until = filters.until_ns if filters.until_ns is not None else now_ns
    span = (until - filters.since_ns) / 1e9
    if span > cap:
        raise BadRequest(f"the range since..until is {span:.0f} s, above the limit of "
                         f"{cap:g} s (max_range_s); narrow it, or split it into several")
