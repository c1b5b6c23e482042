"""Log patterns of a range: each entry's message with its variable parts masked
(logpipe/structured.py, derived by the forwarder), counted exactly."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Query

from log_api.deps import RangedQueryDep, ReaderDep
from log_api.errors import BadRequest
from log_api.es import EsReader, guarded
from log_api.models import Pattern, PatternApp, PatternOther, Patterns
from log_api.query import NANOS_FORMAT, ScopedQuery
from log_api.routes.common import ERRORS
from log_api.routes.stats import no_regex, pct
from logpipe.levels import LEVELS
from logpipe.timefmt import format_ns, parse_ns

router = APIRouter(tags=["statistics"])

# One composite bucket per (pattern, level, app): paging through every bucket gives
# exact counts however many patterns, apps or shards there are (a terms aggregation's
# top-N is only exact when no shard cuts its list). ``pattern`` is a function of
# ``pattern_id``, so it adds no buckets; it only brings the text along.
COMPOSITE_SOURCES: list[dict[str, Any]] = [
    {"pattern_id": {"terms": {"field": "pattern_id", "missing_bucket": True}}},
    {"pattern": {"terms": {"field": "pattern", "missing_bucket": True}}},
    {"level": {"terms": {"field": "level"}}},
    {"app": {"terms": {"field": "app", "missing_bucket": True}}},
]
COMPOSITE_PAGE = 10_000
MAX_NEW_IDS = 10_000  # ids looked up in the lookback at once
MAX_LOOKBACK_S = 366 * 86400
_DURATION = re.compile(r"(\d{1,9})(s|m|h|d|w)")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_LEVEL_ORDER = {lv: i for i, lv in enumerate(LEVELS)}


class _Acc:
    __slots__ = ("apps", "count", "hi", "levels", "lo", "text")

    def __init__(self) -> None:
        self.text: str | None = None
        self.count = 0
        self.levels: dict[str, int] = {}
        self.apps: dict[str | None, int] = {}
        self.lo: str | None = None
        self.hi: str | None = None

    def add(self, bucket: dict[str, Any]) -> None:
        key, n = bucket["key"], int(bucket["doc_count"])
        self.text = self.text or key.get("pattern")
        self.count += n
        self.levels[key["level"]] = self.levels.get(key["level"], 0) + n
        self.apps[key.get("app")] = self.apps.get(key.get("app"), 0) + n


@router.get("/patterns", response_model=Patterns, responses=ERRORS,
            summary="Log patterns of a range with exact counts, levels, first/last seen "
            "and whether each is new")
async def patterns(
    sq: RangedQueryDep, reader: ReaderDep,
    limit: Annotated[int, Query(ge=1, le=1000, description="How many patterns to list "
                                "(most entries first); the rest are summed in `other`.")] = 50,
    lookback: Annotated[str, Query(description="How far before `since` a pattern must be "
                                   "absent to count as new (30m, 1d, 7d ...).")] = "1d",
) -> Patterns:
    no_regex(sq)
    lookback_ns = _duration(lookback)
    query = sq.es_query()
    rows = await _every_bucket(reader, query)
    found: dict[str | None, _Acc] = {}
    for bucket in rows:
        found.setdefault(bucket["key"].get("pattern_id"), _Acc()).add(bucket)
    ranked = sorted(found.items(), key=lambda kv: (-kv[1].count, kv[0] or ""))
    total = sum(acc.count for _, acc in ranked)
    top = ranked[:limit]
    since = sq.filters.since_ns
    seen_before: set[str] | None = None
    if since is not None:
        ids = [pid for pid, _ in top if pid is not None]
        seen_before = await _seen_before(reader, sq, ids, max(since - lookback_ns, 0), since)
    await _seen_times(reader, query, top)
    out = [_pattern(pid, acc, total, seen_before) for pid, acc in top]
    rest = ranked[limit:]
    other = (PatternOther(patterns=len(rest), count=sum(acc.count for _, acc in rest))
             if rest else None)
    return Patterns(total=total, patterns_total=len(ranked),
                    lookback=lookback if since is not None else None, patterns=out,
                    other=other)


async def _every_bucket(reader: EsReader, query: dict[str, Any]) -> list[dict[str, Any]]:
    """Every bucket of the composite aggregation. Each page is a pass over the matching
    entries, so pages are large: one pass holds 10,000 (pattern, level, app) buckets."""
    buckets: list[dict[str, Any]] = []
    after: dict[str, Any] | None = None
    while True:
        comp: dict[str, Any] = {"size": COMPOSITE_PAGE, "sources": COMPOSITE_SOURCES}
        if after is not None:
            comp["after"] = after
        resp = await reader.aggregate(query, {"c": {"composite": comp}}, total=False)
        part = resp.get("aggregations", {}).get("c", {})
        page = part.get("buckets", [])
        buckets.extend(page)
        after = part.get("after_key")
        if after is None or len(page) < COMPOSITE_PAGE:
            return buckets


def _duration(text: str) -> int:
    """A duration (``1d``) in nanoseconds, at most MAX_LOOKBACK_S."""
    m = _DURATION.fullmatch(text.strip())
    if m is None or int(m[1]) == 0:
        raise BadRequest(f"lookback={text!r} is not a duration: give 30m, 12h, 1d, 7d ...")
    seconds = int(m[1]) * _UNIT_S[m[2]]
    if seconds > MAX_LOOKBACK_S:
        raise BadRequest(f"lookback={text!r} is longer than {MAX_LOOKBACK_S // 86400} days")
    return seconds * 1_000_000_000


async def _seen_times(reader: EsReader, query: dict[str, Any],
                      top: list[tuple[str | None, _Acc]]) -> None:
    """First and last seen of the listed patterns: for each, its oldest and its newest
    entry (a sorted search of one hit, which Elasticsearch answers from the time index
    without reading every entry's time, unlike a min/max per composite bucket), exact
    to the nanosecond. One multi-search for all of them."""
    searches: list[dict[str, Any]] = []
    for pid, _ in top:
        only = ({"term": {"pattern_id": pid}} if pid is not None
                else {"bool": {"must_not": {"exists": {"field": "pattern_id"}}}})
        for order in ("asc", "desc"):
            searches.append({"index": reader.index, "ignore_unavailable": True,
                             "allow_no_indices": True})
            searches.append({"query": {"bool": {"filter": [query, only]}}, "size": 1,
                             "_source": False, "track_total_hits": False,
                             "sort": [{"ts": {"order": order, "format": NANOS_FORMAT}}]})
    if not searches:
        return
    resp = await guarded(lambda: reader.client.msearch(searches=searches))
    answers = resp["responses"]
    for i, (_, acc) in enumerate(top):
        acc.lo = _first_sort(answers[2 * i])
        acc.hi = _first_sort(answers[2 * i + 1])


def _first_sort(answer: dict[str, Any]) -> str | None:
    if "error" in answer:
        raise BadRequest(f"Elasticsearch refused the query: {answer['error']}")
    hits = answer.get("hits", {}).get("hits", [])
    return str(hits[0]["sort"][0]) if hits else None


async def _seen_before(reader: EsReader, sq: ScopedQuery, ids: list[str], lo: int,
                       hi: int) -> set[str]:
    """Which of ``ids`` have an entry in [lo, hi), under the same scope and filters
    (a pattern is new to what the caller looks at, never to what the token cannot read)."""
    seen: set[str] = set()
    for start in range(0, len(ids), MAX_NEW_IDS):
        chunk = ids[start:start + MAX_NEW_IDS]
        window = {"range": {"ts": {"gte": format_ns(lo), "lt": format_ns(hi),
                                   "format": NANOS_FORMAT}}}
        clauses = [c for c in sq.es_clauses() if "range" not in c or "ts" not in c["range"]]
        query = {"bool": {"filter": [*clauses, window, {"terms": {"pattern_id": chunk}}]}}
        resp = await reader.aggregate(
            query, {"p": {"terms": {"field": "pattern_id", "size": len(chunk)}}}, total=False)
        seen.update(str(b["key"]) for b in resp.get("aggregations", {}).get(
            "p", {}).get("buckets", []))
    return seen


def _canonical(ts: str | None) -> str:
    return format_ns(parse_ns(ts)) if ts else ""


def _pattern(pid: str | None, acc: _Acc, total: int, seen: set[str] | None) -> Pattern:
    level = max(acc.levels.items(), key=lambda kv: (kv[1], -_LEVEL_ORDER.get(kv[0], 99)))[0]
    apps = sorted(acc.apps.items(), key=lambda kv: (-kv[1], kv[0] or ""))[:5]
    return Pattern(
        # Entries indexed before patterns existed have none: listed as one row, "".
        pattern_id=pid or "", pattern=acc.text, count=acc.count, percent=pct(acc.count, total),
        level=level, levels={lv: acc.levels[lv] for lv in LEVELS if lv in acc.levels},
        first_seen=_canonical(acc.lo), last_seen=_canonical(acc.hi),
        new=None if seen is None or pid is None else pid not in seen,
        apps=[PatternApp(app=app, count=n) for app, n in apps])
