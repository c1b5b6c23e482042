"""Per-token limits: concurrent requests of a kind, open point-in-times, time ranges.

A token past a limit gets 429 with ``Retry-After``; nothing it does costs another
token's share (the caps are counted per token hash, plus a total for point-in-times).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field

from log_api.errors import BadRequest, TooManyRequests
from log_api.filters import Filters
from log_api.settings import ApiSettings

# What a token may run at once, and the setting that says how many.
KINDS = {"search": "search_max_per_token", "download": "download_max_per_token"}


@dataclass
class Slot:
    """One running request; ``release`` is idempotent (a body and a background task may
    both end it)."""

    limiter: ConcurrencyLimiter
    kind: str
    token: str
    released: bool = field(default=False)

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.limiter.release(self)


class ConcurrencyLimiter:
    def __init__(self, settings: ApiSettings) -> None:
        self.settings = settings
        self.running: dict[tuple[str, str], int] = {}

    def cap(self, kind: str) -> int:
        value: int = getattr(self.settings, KINDS[kind])
        return value

    def acquire(self, kind: str, token: str) -> Slot:
        key = (kind, token)
        cap = self.cap(kind)
        if self.running.get(key, 0) >= cap:
            raise TooManyRequests(
                f"this token already runs {cap} {kind} requests at once (the limit, "
                f"{KINDS[kind]}); wait for one to finish", self.settings.retry_after_s)
        self.running[key] = self.running.get(key, 0) + 1
        return Slot(self, kind, token)

    def release(self, slot: Slot) -> None:
        key = (slot.kind, slot.token)
        left = self.running.get(key, 0) - 1
        if left > 0:
            self.running[key] = left
        else:
            self.running.pop(key, None)

    def count(self, kind: str, token: str) -> int:
        return self.running.get((kind, token), 0)


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
