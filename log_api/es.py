"""Reading the daily indices: point-in-time paging with ``search_after``.

Pages are sorted by (ts, id), a total order, so a cursor keeps working when its PIT
expired: a fresh PIT continues after the same sort values. Elasticsearch failures
become ApiErrors (400 for a refused query, 503 when it does not answer).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import elasticsearch
from elasticsearch import AsyncElasticsearch
from elasticsearch.serializer import OrjsonSerializer

from log_api.errors import BadRequest, Unavailable
from log_api.query import ScopedQuery, sort_spec
from log_api.settings import ApiSettings
from logpipe.document import index_pattern

log = logging.getLogger(__name__)
T = TypeVar("T")


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off for a synchronous stretch of allocations.

    A download page is ~25,000 new dicts, lists, tuples and Hits. With the collector
    running, the generation-0/1 passes and the full ones they trigger cost more than the
    parsing itself (measured: 3.2 s against 1.4 s for 200,000 entries). JSON trees and
    Hits hold no reference cycles, so nothing the collector could free is skipped; used
    only around code without ``await``, so no other task runs while it is off.
    """
    if not gc.isenabled():  # nested, or switched off by the embedding process
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class _Serializer(OrjsonSerializer):
    """orjson (parses large pages several times faster), with the collector paused."""

    def json_loads(self, data: bytes) -> Any:
        with gc_paused():
            return super().json_loads(data)


def make_client(settings: ApiSettings) -> AsyncElasticsearch:
    return AsyncElasticsearch(settings.es_hosts(), request_timeout=settings.es_request_timeout,
                              serializer=_Serializer())


def _reason(exc: elasticsearch.ApiError) -> str:
    info: Any = exc.info
    try:
        cause = info["error"]["root_cause"][0]
        return f"{cause['type']}: {cause['reason']}"
    except (KeyError, IndexError, TypeError):
        return str(exc.message)


def translate(exc: Exception) -> Exception:
    """An ES client exception -> the API's: a refused query is a 400, the rest 503."""
    if isinstance(exc, elasticsearch.BadRequestError):
        return BadRequest(f"Elasticsearch refused the query: {_reason(exc)}")
    if isinstance(exc, elasticsearch.ApiError):
        log.warning("elasticsearch error: %s", exc)
        return Unavailable(f"Elasticsearch answered {exc.meta.status}: {_reason(exc)}")
    if isinstance(exc, elasticsearch.ConnectionError | elasticsearch.ConnectionTimeout):
        return Unavailable(f"Elasticsearch is not answering: {exc}")
    return exc


async def guarded(call: Callable[[], Awaitable[T]]) -> T:
    try:
        return await call()
    except (elasticsearch.ApiError, elasticsearch.TransportError) as exc:
        raise translate(exc) from None


@dataclass(frozen=True, slots=True)
class Hit:
    source: dict[str, Any]
    sort: tuple[int, str]


class EsReader:
    def __init__(self, client: AsyncElasticsearch, settings: ApiSettings) -> None:
        self.client = client
        self.index = index_pattern(settings.index_prefix)
        self.keep_alive = settings.pit_keep_alive
        self.tail_scan_limit = settings.tail_scan_limit
        # Shards each scan's first PIT covered: a PIT reopened later over fewer (an
        # index closed or deleted mid-scan) would skip entries without a word.
        self._pit_shards: dict[str, int] = {}

    async def open_pit(self) -> str:
        resp = await guarded(lambda: self.client.open_point_in_time(
            index=self.index, keep_alive=self.keep_alive, ignore_unavailable=True,
            allow_partial_search_results=False,
        ))
        return str(resp["id"])

    async def close_pit(self, pit: str) -> None:
        self._pit_shards.pop(pit, None)
        with contextlib.suppress(elasticsearch.ApiError):  # expired: nothing left to free
            await self.client.close_point_in_time(id=pit)

    async def page(
        self,
        query: dict[str, Any],
        order: str,
        size: int,
        after: tuple[int, str] | None,
        pit: str | None,
        source: list[str] | bool = True,
    ) -> tuple[list[Hit], str]:
        """One page; reopens the PIT when it expired. Returns the (possibly new) PIT id."""
        if pit is None:
            pit = await self.open_pit()
        shards = self._pit_shards.pop(pit, None)
        for attempt in range(2):
            body: dict[str, Any] = {
                "query": query, "sort": sort_spec(order), "size": size,
                "pit": {"id": pit, "keep_alive": self.keep_alive},
                "track_total_hits": False, "_source": source,
            }
            if after is not None:
                body["search_after"] = list(after)
            try:
                # filter_path: only what is read, so less JSON to parse per page.
                # No partial results: a failed shard is an error, never missing entries.
                resp = await self.client.search(
                    body=body, allow_partial_search_results=False,
                    filter_path="pit_id,_shards.total,hits.hits._source,hits.hits.sort")
            except elasticsearch.NotFoundError as exc:
                if attempt:
                    raise translate(exc) from None
                pit = await self.open_pit()  # expired between pages: (ts, id) still orders
                continue
            except (elasticsearch.ApiError, elasticsearch.TransportError) as exc:
                raise translate(exc) from None
            total = int(resp.get("_shards", {}).get("total", 0))
            if shards is not None and total < shards:
                raise Unavailable(f"{shards - total} of the {shards} shards this scan started "
                                  "on are gone (an index closed or deleted mid-scan)")
            pit = str(resp.get("pit_id", pit))
            if len(self._pit_shards) > 10_000:  # cursors abandoned by their clients
                self._pit_shards.clear()
            self._pit_shards[pit] = max(total, shards or 0)
            raw = resp.get("hits", {}).get("hits", [])  # absent when filter_path matched none
            with gc_paused():
                hits = [Hit(h.get("_source", {}), (int(h["sort"][0]), str(h["sort"][1])))
                        for h in raw]
            return hits, pit
        raise AssertionError("unreachable")

    async def scan(
        self,
        sq: ScopedQuery,
        order: str,
        page_size: int,
        after: tuple[int, str] | None = None,
        source: list[str] | bool = True,
        max_scanned: int | None = None,
        cut: list[bool] | None = None,
    ) -> AsyncGenerator[list[Hit], None]:
        """Every matching hit (regex and scope applied), page by page, in constant memory.

        The next page is requested while the caller consumes this one, so Elasticsearch
        and the rendering overlap; at most two pages are held. ``max_scanned`` ends the
        scan after that many hits were read (kept or not): a regex that matches nothing
        otherwise reads every index; ``cut`` (if given) gets ``True`` appended when the
        scan stopped there with more left to read.
        """
        query = sq.es_query()
        scanned = 0
        pit: str | None = await self.open_pit()
        ahead: asyncio.Task[tuple[list[Hit], str]] | None = None
        try:
            hits, pit = await self.page(query, order, page_size, after, pit, source)
            while hits:
                scanned += len(hits)
                limited = max_scanned is not None and scanned >= max_scanned
                if limited and len(hits) == page_size and cut is not None:
                    cut.append(True)
                if len(hits) == page_size and not limited:
                    ahead = asyncio.create_task(
                        self.page(query, order, page_size, hits[-1].sort, pit, source))
                kept = [h for h in hits if sq.post_filter(h.source)]
                if kept:
                    yield kept
                if ahead is None:
                    return
                hits, pit = await ahead
                ahead = None
        finally:
            if ahead is not None:
                ahead.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await ahead
            if pit is not None:
                await self.close_pit(pit)

    def tail_scan_cap(self, sq: ScopedQuery) -> int | None:
        """How far a tail's back-fill or resume may scan: bounded when a regex filters."""
        return self.tail_scan_limit if sq.filters.has_regex else None

    async def search(self, query: dict[str, Any], order: str, size: int,
                     after: tuple[int, str] | None = None) -> list[Hit]:
        """One page without a PIT: for small look-ups (an entry and its context)."""
        body: dict[str, Any] = {"query": query, "sort": sort_spec(order), "size": size,
                                "track_total_hits": False}
        if after is not None:
            body["search_after"] = list(after)
        resp = await guarded(lambda: self.client.search(
            index=self.index, body=body, ignore_unavailable=True, allow_no_indices=True))
        return [Hit(h.get("_source", {}), (int(h["sort"][0]), str(h["sort"][1])))
                for h in resp["hits"]["hits"]]

    async def count(self, query: dict[str, Any]) -> int:
        resp = await guarded(lambda: self.client.count(
            index=self.index, query=query, ignore_unavailable=True, allow_no_indices=True))
        return int(resp["count"])

    async def composite(self, query: dict[str, Any], sources: list[dict[str, Any]],
                        aggs: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Every bucket of a composite aggregation, paged: exact, whatever the cardinality."""
        buckets: list[dict[str, Any]] = []
        after: dict[str, Any] | None = None
        while True:
            comp: dict[str, Any] = {"size": 1000, "sources": sources}
            if after is not None:
                comp["after"] = after
            agg: dict[str, Any] = {"composite": comp}
            if aggs:
                agg["aggs"] = aggs
            resp = await self.aggregate(query, {"c": agg}, total=False)
            part = resp.get("aggregations", {}).get("c", {})
            buckets.extend(part.get("buckets", []))
            after = part.get("after_key")
            if after is None or len(part.get("buckets", [])) < 1000:
                return buckets

    async def aggregate(self, query: dict[str, Any], aggs: dict[str, Any],
                        total: bool = True) -> dict[str, Any]:
        body: dict[str, Any] = {"query": query, "aggs": aggs, "size": 0,
                                "track_total_hits": total}
        resp = await guarded(lambda: self.client.search(
            index=self.index, body=body, ignore_unavailable=True, allow_no_indices=True,
            request_cache=True))
        return dict(resp)
