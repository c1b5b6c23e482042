"""The completeness audit: did everything the collectors read arrive?

For each file with ledger ranges acknowledged in the window (``collector.ledger``),
the entries Kafka acknowledged (the ranges' sum) are compared with the documents in
Elasticsearch of that file whose offsets lie in those ranges, and with the records
dead-lettered from them; the difference is in flight while the forwarder has a lag,
otherwise missing. Bytes no one could read (``gap`` entries) are listed with their
cause. Every count is exact: ledger ranges replace each other by id, documents are
counted, not sampled.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import AsyncElasticsearch
from pydantic import BaseModel, Field

from log_api.es import guarded
from log_api.query import NANOS_FORMAT, ScopedQuery
from logpipe.timefmt import format_ns

_CHUNK = 200  # files per filters aggregation


class Gap(BaseModel):
    cause: str = Field(description="given_up, truncated, deleted (bytes never read), or the "
                       "dead-letter error type (records Elasticsearch or the forwarder refused)")
    kind: str = Field(description="gap (bytes) or dead (records)")
    count: int = Field(description="gap entries, or dead-lettered records")
    bytes: int = Field(description="bytes never read (0 for dead letters)")
    detail: str = Field("", description="one example of the reason")


class FileAudit(BaseModel):
    file: str = Field(description="the file's identity (the record field `file`)")
    acked: int = Field(description="entries Kafka acknowledged (collector ledger)")
    indexed: int = Field(description="of those, documents in Elasticsearch")
    dead_lettered: int
    unaccounted: int = Field(description="acked - indexed - dead_lettered")
    from_offset: int
    to_offset: int


class StreamAudit(BaseModel):
    node: str
    path: str
    namespace: str | None
    app: str | None
    source: str | None
    acked: int
    indexed: int
    dead_lettered: int
    unaccounted: int
    gaps: list[Gap]
    files: list[FileAudit]


class NodeAudit(BaseModel):
    node: str
    acked: int
    indexed: int
    dead_lettered: int
    unaccounted: int
    gap_bytes: int
    streams: int


class AuditReport(BaseModel):
    since: str
    until: str
    complete: bool = Field(description="nothing unaccounted, no gap, nothing dead-lettered")
    forwarder_lag: int | None = Field(
        description="records in Kafka not yet committed by the forwarder (None: unknown)")
    acked: int
    indexed: int
    dead_lettered: int
    in_flight: int = Field(description="unaccounted entries explained by the forwarder's lag")
    missing: int = Field(description="unaccounted entries the lag does not explain")
    gap_bytes: int
    gaps: list[Gap]
    nodes: list[NodeAudit]
    streams: list[StreamAudit]


@dataclass
class _File:
    node: str
    path: str
    file: str
    namespace: str | None = None
    app: str | None = None
    source: str | None = None
    acked: int = 0
    start: int = 0
    end: int = 0
    indexed: int = 0
    dead: int = 0
    gaps: list[Gap] = field(default_factory=list)


def _ledger_clauses(sq: ScopedQuery, since_ns: int, until_ns: int) -> list[dict[str, Any]]:
    f = sq.filters
    out: list[dict[str, Any]] = [{"range": {"ts": {"format": NANOS_FORMAT,
                                                   "gte": format_ns(since_ns),
                                                   "lt": format_ns(until_ns)}}}]
    if sq.namespaces is not None:
        out.append({"terms": {"namespace": sorted(sq.namespaces)}})
    for name, values in (("node", f.nodes), ("app", f.apps)):
        if values:
            out.append({"terms": {name: list(values)}})
    return out


async def _composite(es: AsyncElasticsearch, index: str, query: dict[str, Any],
                     sources: list[dict[str, Any]], aggs: dict[str, Any]
                     ) -> list[dict[str, Any]]:
    buckets: list[dict[str, Any]] = []
    after: dict[str, Any] | None = None
    while True:
        comp: dict[str, Any] = {"size": 1000, "sources": sources}
        if after is not None:
            comp["after"] = after
        body = {"query": query, "size": 0, "aggs": {"c": {"composite": comp, "aggs": aggs}}}
        resp = await guarded(lambda body=body: es.search(  # type: ignore[misc]
            index=index, body=body, ignore_unavailable=True, allow_no_indices=True))
        part = resp.get("aggregations", {}).get("c", {})
        buckets.extend(part.get("buckets", []))
        after = part.get("after_key")
        if after is None or len(part.get("buckets", [])) < 1000:
            return buckets


def _src(name: str, missing: bool = True) -> dict[str, Any]:
    return {name: {"terms": {"field": name, "missing_bucket": missing}}}


async def _count_by_file(es: AsyncElasticsearch, index: str, scope: list[dict[str, Any]],
                         files: Iterable[_File], extra: dict[str, Any] | None = None
                         ) -> dict[tuple[str, str], int]:
    """Documents per file whose offset is inside the file's audited ranges."""
    out: dict[tuple[str, str], int] = {}
    todo = list(files)
    for i in range(0, len(todo), _CHUNK):
        chunk = todo[i:i + _CHUNK]
        filters = {str(k): {"bool": {"filter": [
            {"term": {"node": f.node}}, {"term": {"file": f.file}},
            {"range": {"offset": {"gte": f.start, "lt": f.end}}}]}}
            for k, f in enumerate(chunk)}
        query: dict[str, Any] = {"bool": {"filter": scope + ([extra] if extra else [])}}
        body = {"query": query, "size": 0, "aggs": {"f": {"filters": {"filters": filters}}}}
        resp = await guarded(lambda body=body: es.search(  # type: ignore[misc]
            index=index, body=body, ignore_unavailable=True, allow_no_indices=True))
        buckets = resp.get("aggregations", {}).get("f", {}).get("buckets", {})
        for k, f in enumerate(chunk):
            out[(f.node, f.file)] = int(buckets.get(str(k), {}).get("doc_count", 0))
    return out


async def audit(es: AsyncElasticsearch, logs_index: str, ledger_index: str, sq: ScopedQuery,
                since_ns: int, until_ns: int, lag: int | None) -> AuditReport:
    query = {"bool": {"filter": _ledger_clauses(sq, since_ns, until_ns)}}
    files: dict[tuple[str, str], _File] = {}

    def entry(b: dict[str, Any]) -> _File:
        k = b["key"]
        node, fid = str(k.get("node") or ""), str(k.get("file") or "")
        f = files.get((node, fid))
        if f is None:
            f = files[(node, fid)] = _File(node, str(k.get("path") or ""), fid)
        for name in ("namespace", "app", "source"):
            if k.get(name) is not None:
                setattr(f, name, k[name])
        return f

    ranges = await _composite(
        es, ledger_index, {"bool": {"filter": [*query["bool"]["filter"],
                                                {"term": {"kind": "range"}}]}},
        [_src("node"), _src("file"), _src("path"), _src("namespace"), _src("app"),
         _src("source")],
        {"entries": {"sum": {"field": "entries"}}, "lo": {"min": {"field": "from"}},
         "hi": {"max": {"field": "to"}}})
    for b in ranges:
        f = entry(b)
        f.acked += int(b["entries"]["value"] or 0)
        f.start = int(b["lo"]["value"] or 0)
        f.end = int(b["hi"]["value"] or 0)
    gaps = await _composite(
        es, ledger_index, {"bool": {"filter": [*query["bool"]["filter"],
                                                {"terms": {"kind": ["gap", "dead"]}}]}},
        [_src("node"), _src("file"), _src("path"), _src("namespace"), _src("app"),
         _src("source"), _src("kind"), _src("cause")],
        {"bytes": {"sum": {"field": "bytes"}},
         "detail": {"top_hits": {"size": 1, "_source": ["detail"]}}})
    for b in gaps:
        f = entry(b)
        hits = b["detail"]["hits"]["hits"]
        detail = str(hits[0]["_source"].get("detail") or "") if hits else ""
        f.gaps.append(Gap(cause=str(b["key"].get("cause") or "unknown"),
                          kind=str(b["key"]["kind"]), count=int(b["doc_count"]),
                          bytes=int(b["bytes"]["value"] or 0) if b["key"]["kind"] == "gap" else 0,
                          detail=detail))
    scope: list[dict[str, Any]] = []
    if sq.namespaces is not None:
        scope.append({"terms": {"namespace": sorted(sq.namespaces)}})
    with_ranges = [f for f in files.values() if f.end > f.start]
    indexed = await _count_by_file(es, logs_index, scope, with_ranges)
    dead = await _count_by_file(es, ledger_index, scope, with_ranges, {"term": {"kind": "dead"}})
    for f in with_ranges:
        f.indexed = indexed.get((f.node, f.file), 0)
        f.dead = dead.get((f.node, f.file), 0)
    return _report(files.values(), since_ns, until_ns, lag)


def _report(files: Iterable[_File], since_ns: int, until_ns: int, lag: int | None) -> AuditReport:
    streams: dict[tuple[str, str], StreamAudit] = {}
    for f in sorted(files, key=lambda f: (f.node, f.path, f.start)):
        s = streams.get((f.node, f.path))
        if s is None:
            s = streams[(f.node, f.path)] = StreamAudit(
                node=f.node, path=f.path, namespace=f.namespace, app=f.app, source=f.source,
                acked=0, indexed=0, dead_lettered=0, unaccounted=0, gaps=[], files=[])
        unaccounted = max(0, f.acked - f.indexed - f.dead)
        if f.end > f.start:
            s.files.append(FileAudit(file=f.file, acked=f.acked, indexed=f.indexed,
                                     dead_lettered=f.dead, unaccounted=unaccounted,
                                     from_offset=f.start, to_offset=f.end))
        s.acked += f.acked
        s.indexed += f.indexed
        s.dead_lettered += f.dead
        s.unaccounted += unaccounted
        s.gaps.extend(f.gaps)
    nodes: dict[str, NodeAudit] = {}
    all_gaps: dict[tuple[str, str], Gap] = {}
    for s in streams.values():
        n = nodes.get(s.node)
        if n is None:
            n = nodes[s.node] = NodeAudit(node=s.node, acked=0, indexed=0, dead_lettered=0,
                                          unaccounted=0, gap_bytes=0, streams=0)
        n.acked += s.acked
        n.indexed += s.indexed
        n.dead_lettered += s.dead_lettered
        n.unaccounted += s.unaccounted
        n.streams += 1
        for g in s.gaps:
            n.gap_bytes += g.bytes
            total = all_gaps.get((g.kind, g.cause))
            if total is None:
                all_gaps[(g.kind, g.cause)] = g.model_copy()
            else:
                total.count += g.count
                total.bytes += g.bytes
    unaccounted = sum(s.unaccounted for s in streams.values())
    in_flight = min(unaccounted, lag) if lag else 0
    gap_list = sorted(all_gaps.values(), key=lambda g: (g.kind, g.cause))
    dead = sum(s.dead_lettered for s in streams.values())
    return AuditReport(
        since=format_ns(since_ns), until=format_ns(until_ns),
        complete=unaccounted == 0 and not gap_list and dead == 0,
        forwarder_lag=lag, acked=sum(s.acked for s in streams.values()),
        indexed=sum(s.indexed for s in streams.values()), dead_lettered=dead,
        in_flight=in_flight, missing=unaccounted - in_flight,
        gap_bytes=sum(g.bytes for g in gap_list), gaps=gap_list,
        nodes=sorted(nodes.values(), key=lambda n: n.node),
        streams=sorted(streams.values(), key=lambda s: (s.node, s.path)))
