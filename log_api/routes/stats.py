"""Statistics from exact aggregations: level ratio, app share, volume histogram, and
the field values present in a range (for pickers and completion)."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Query

from log_api.deps import RangedQueryDep, ReaderDep, SettingsDep
from log_api.errors import BadRequest
from log_api.es import EsReader
from log_api.filters import FIELD_PREFIX
from log_api.models import (
    AppLevels,
    AppShare,
    AppShareItem,
    Bucket,
    FieldValue,
    FieldValues,
    Histogram,
    LevelCount,
    LevelRatio,
)
from log_api.query import NANOS_FORMAT, ScopedQuery
from log_api.routes.common import ERRORS
from logpipe.document import KEYWORD_FIELDS, check_fields
from logpipe.levels import LEVELS
from logpipe.timefmt import format_ns, parse_ns

router = APIRouter(prefix="/stats", tags=["statistics"])
fields_router = APIRouter(tags=["statistics"])

PICKER_FIELDS = {"namespace": "namespace", "app": "app", "pod": "pod",
                 "container": "container_name", "node": "node"}
# Terms aggregations need keyword fields.
check_fields("log_api.routes.stats.PICKER_FIELDS", PICKER_FIELDS.values(), among=KEYWORD_FIELDS)
# Nice bucket widths, smallest first: (label, seconds).
INTERVALS = [("1s", 1), ("5s", 5), ("10s", 10), ("30s", 30), ("1m", 60), ("5m", 300),
             ("10m", 600), ("30m", 1800), ("1h", 3600), ("3h", 10800), ("6h", 21600),
             ("12h", 43200), ("1d", 86400), ("7d", 604800)]
_INTERVAL_S = dict(INTERVALS)


def no_regex(sq: ScopedQuery) -> None:
    # Elasticsearch here runs no scripts, so a regex cannot be counted server-side, and a
    # scan would not be exact over millions of entries in time; say so instead.
    if sq.filters.has_regex:
        raise BadRequest("include/exclude/pod_regex regexes are not available for statistics; "
                         "use q (words) and the field filters (pod takes exact names, see "
                         "/fields?field=pod), or search/download with the regex")


def pct(part: int, total: int) -> float:
    return round(100.0 * part / total, 4) if total else 0.0


def _levels(counts: dict[str, int], total: int) -> list[LevelCount]:
    return [LevelCount(level=lv, count=counts.get(lv, 0), percent=pct(counts.get(lv, 0), total))
            for lv in LEVELS]


@router.get("/levels", response_model=LevelRatio, responses=ERRORS,
            summary="Counts and percentages per level (exact), optionally per app")
async def level_ratio(
    sq: RangedQueryDep, reader: ReaderDep,
    by_app: Annotated[bool, Query(description="Break the counts down by app too.")] = False,
) -> LevelRatio:
    no_regex(sq)
    query = sq.es_query()
    # 7 levels < terms size: every shard returns every level, so the counts are exact.
    resp = await reader.aggregate(query, {"lv": {"terms": {"field": "level", "size": 50}}})
    total = int(resp["hits"]["total"]["value"])
    counts = {b["key"]: int(b["doc_count"]) for b in resp["aggregations"]["lv"]["buckets"]}
    per_app: list[AppLevels] | None = None
    if by_app:
        rows = await reader.composite(query, [
            {"app": {"terms": {"field": "app", "missing_bucket": True}}},
            {"level": {"terms": {"field": "level"}}}])
        apps: dict[str | None, dict[str, int]] = {}
        for b in rows:
            apps.setdefault(b["key"]["app"], {})[b["key"]["level"]] = int(b["doc_count"])
        per_app = []
        for app, lv in sorted(apps.items(), key=lambda kv: (-sum(kv[1].values()), kv[0] or "")):
            n = sum(lv.values())
            per_app.append(AppLevels(app=app, total=n, levels=_levels(lv, n)))
    return LevelRatio(total=total, levels=_levels(counts, total), by_app=per_app)


@router.get("/apps", response_model=AppShare, responses=ERRORS,
            summary="Share of log volume per app (entries and bytes), top N plus other")
async def app_share(
    sq: RangedQueryDep, reader: ReaderDep, settings: SettingsDep,
    top: Annotated[int | None, Query(ge=1, le=1000, description="How many apps to name.")] = None,
) -> AppShare:
    no_regex(sq)
    query = sq.es_query()
    sub: dict[str, Any] | None = None
    if settings.bytes_field:
        sub = {"bytes": {"sum": {"field": settings.bytes_field}}}
    # Composite paging visits every app: exact entries per app, however many apps.
    rows = await reader.composite(
        query, [{"app": {"terms": {"field": "app", "missing_bucket": True}}}], sub)
    apps = [(b["key"]["app"], int(b["doc_count"]),
             int(b.get("bytes", {}).get("value") or 0)) for b in rows]
    if not settings.bytes_field:
        apps = await _bytes_by_scan(reader, sq, apps)
    apps.sort(key=lambda a: (-a[1], a[0] or ""))
    total_n = sum(a[1] for a in apps)
    total_b = sum(a[2] for a in apps)
    n = top or settings.stats_top_apps

    def item(app: str | None, entries: int, nbytes: int) -> AppShareItem:
        return AppShareItem(app=app, entries=entries, entries_percent=pct(entries, total_n),
                            bytes=nbytes, bytes_percent=pct(nbytes, total_b))

    rest = apps[n:]
    other = item(None, sum(a[1] for a in rest), sum(a[2] for a in rest)) if rest else None
    return AppShare(total_entries=total_n, total_bytes=total_b, apps_total=len(apps),
                    top=[item(*a) for a in apps[:n]], other=other)


AppRow = tuple[str | None, int, int]  # app, entries, bytes


async def _bytes_by_scan(reader: EsReader, sq: ScopedQuery, apps: list[AppRow]) -> list[AppRow]:
    """Message bytes per app when the index stores no size field: read the messages."""
    sizes: dict[str | None, int] = {}
    async for hits in reader.scan(sq, "oldest", 10_000, source=["app", "message"]):
        for h in hits:
            app = h.source.get("app")
            sizes[app] = sizes.get(app, 0) + len(str(h.source.get("message", "")).encode())
    return [(a, n, sizes.get(a, 0)) for a, n, _ in apps]


def _pick_interval(span_ns: int, target: int) -> str:
    want = span_ns / 1e9 / target
    for label, secs in INTERVALS:
        if secs >= want:
            return label
    return INTERVALS[-1][0]


@router.get("/histogram", response_model=Histogram, responses=ERRORS,
            summary="Entries per time bucket, split by level")
async def histogram(
    sq: RangedQueryDep, reader: ReaderDep, settings: SettingsDep,
    interval: Annotated[str | None, Query(
        description=f"Bucket width, one of {', '.join(_INTERVAL_S)}; chosen from the range "
        "when absent.")] = None,
) -> Histogram:
    no_regex(sq)
    query = sq.es_query()
    f = sq.filters
    lo, hi = f.since_ns, f.until_ns
    if lo is None:
        resp = await reader.aggregate(query, {"lo": {"min": {"field": "ts"}},
                                              "hi": {"max": {"field": "ts"}}}, total=False)
        aggs = resp["aggregations"]
        if aggs["lo"].get("value") is None:
            return Histogram(interval=interval or "1m", buckets=[])
        lo = parse_ns(aggs["lo"]["value_as_string"])
        hi = hi if hi is not None else parse_ns(aggs["hi"]["value_as_string"]) + 1
    hi = hi if hi is not None else time.time_ns()
    if interval is None:
        interval = _pick_interval(hi - lo, settings.histogram_buckets)
    elif interval not in _INTERVAL_S:
        raise BadRequest(f"interval={interval!r} is not one of {', '.join(_INTERVAL_S)}")
    if (hi - lo) / 1e9 / _INTERVAL_S[interval] > 10_000:
        raise BadRequest(f"interval={interval} gives more than 10000 buckets; pick a wider one")
    agg = {"h": {"date_histogram": {
        "field": "ts", "fixed_interval": interval, "min_doc_count": 0,
        "format": NANOS_FORMAT,
        "extended_bounds": {"min": format_ns(lo), "max": format_ns(max(lo, hi - 1))},
    }, "aggs": {"lv": {"terms": {"field": "level", "size": 50}}}}}
    resp = await reader.aggregate(query, agg, total=False)
    buckets = []
    for b in resp["aggregations"]["h"]["buckets"]:
        levels = {x["key"]: int(x["doc_count"]) for x in b["lv"]["buckets"]}
        buckets.append(Bucket(start=b["key_as_string"], total=int(b["doc_count"]), levels=levels))
    return Histogram(interval=interval, buckets=buckets)


@fields_router.get("/fields", response_model=FieldValues, responses=ERRORS,
                   summary="Namespaces, apps, pods, containers, nodes, ids and the parsed "
                   "fields' names and values present in a range")
async def field_values(
    sq: RangedQueryDep, reader: ReaderDep, settings: SettingsDep,
    field: Annotated[list[str] | None, Query(
        description=f"Which ({', '.join(PICKER_FIELDS)}; {FIELD_NAMES}: the names of the "
        "parsed JSON/logfmt fields; field.<name>: one parsed field's values; field.*: "
        f"the top names and each one's top values); {', '.join(PICKER_FIELDS)} when "
        "absent.")] = None,
    prefix: Annotated[str | None, Query(max_length=200,
                                        description="Only values starting with this.")] = None,
    top: Annotated[int | None, Query(ge=1, le=10_000, description="Values per field "
                                     "(field_values_max when absent).")] = None,
) -> FieldValues:
    no_regex(sq)
    names = field or list(PICKER_FIELDS)
    size = min(top or settings.field_values_max, settings.field_values_max)
    query = sq.es_query()
    out: dict[str, list[FieldValue]] = {}
    truncated = False
    if STRUCTURED_ALL in names:
        # Two steps: the top names, then each name's top values (one request each).
        names = [n for n in names if n != STRUCTURED_ALL]
        found, cut = await _terms(reader, query, {FIELD_NAMES: FIELD_NAMES}, size, prefix=None)
        out.update(found)
        truncated = cut
        names += [FIELD_PREFIX + v.value for v in found[FIELD_NAMES][:STRUCTURED_ALL_NAMES]
                  if FIELD_PREFIX + v.value not in names]
    wanted: dict[str, str] = {}
    for n in dict.fromkeys(names):
        if n in PICKER_FIELDS or n in ID_FIELDS:
            wanted[n] = PICKER_FIELDS.get(n, n)
        elif n.startswith(FIELD_PREFIX) and len(n) > len(FIELD_PREFIX):
            wanted[n] = "fields." + n[len(FIELD_PREFIX):]  # the flattened keyed sub-field
        elif n != FIELD_NAMES or FIELD_NAMES not in out:
            raise BadRequest(f"field={n!r} is not one of {', '.join(PICKER_FIELDS)}, "
                             f"{', '.join(ID_FIELDS)}, {FIELD_NAMES}, field.<name> or "
                             f"{STRUCTURED_ALL}")
    if wanted:
        found, cut = await _terms(reader, query, wanted, size, prefix)
        out.update(found)
        truncated = truncated or cut
    return FieldValues(fields=out, truncated=truncated)


# Besides the pickers: the ids and the parsed fields (logpipe/structured.py).
FIELD_NAMES = "field_names"
STRUCTURED_ALL = "field.*"
STRUCTURED_ALL_NAMES = 50  # names whose values field.* lists
ID_FIELDS = ("trace_id", "request_id", "pattern_id", FIELD_NAMES)
check_fields("log_api.routes.stats.ID_FIELDS", ID_FIELDS, among=KEYWORD_FIELDS)


async def _terms(reader: EsReader, query: dict[str, Any], wanted: dict[str, str], size: int,
                 prefix: str | None) -> tuple[dict[str, list[FieldValue]], bool]:
    """Top values of each field in one request (agg names are indices: a field's name
    may hold characters an aggregation name may not)."""
    aggs: dict[str, Any] = {}
    for i, es_field in enumerate(wanted.values()):
        terms: dict[str, Any] = {"field": es_field, "size": size}
        if prefix:
            terms["include"] = _prefix_regexp(prefix)
        aggs[f"a{i}"] = {"terms": terms}
    resp = await reader.aggregate(query, aggs, total=False)
    out: dict[str, list[FieldValue]] = {}
    truncated = False
    for i, name in enumerate(wanted):
        agg = resp.get("aggregations", {}).get(f"a{i}", {"buckets": []})
        out[name] = [FieldValue(value=str(b["key"]), count=int(b["doc_count"]))
                     for b in agg["buckets"]]
        truncated = truncated or bool(agg.get("sum_other_doc_count"))
    return out, truncated


def _prefix_regexp(prefix: str) -> str:
    """A Lucene regexp matching values that start with ``prefix`` literally."""
    special = set('.?+*|{}[]()"\\#@&<>~')
    return "".join("\\" + c if c in special else c for c in prefix) + ".*"
