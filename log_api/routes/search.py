"""History search with opaque cursors (PIT + search_after), and context lines."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from log_api.cursor import SearchCursor
from log_api.deps import (
    FilterParamsDep,
    LimiterDep,
    MetricsDep,
    PitsDep,
    ReaderDep,
    ScopeDep,
    SettingsDep,
    query_at_cursor,
)
from log_api.errors import BadRequest, NotFound
from log_api.es import Hit
from log_api.filters import Filters
from log_api.models import ContextOut, Entry, SearchPage
from log_api.query import ScopedQuery
from log_api.routes.common import ERRORS

router = APIRouter(tags=["search"])
Order = Literal["newest", "oldest"]


@router.get("/search", response_model=SearchPage, responses=ERRORS,
            summary="Search history, newest or oldest first, page by page")
async def search(
    scope: ScopeDep,
    params: FilterParamsDep,
    settings: SettingsDep,
    reader: ReaderDep,
    limiter: LimiterDep,
    pits: PitsDep,
    metrics: MetricsDep,
    order: Annotated[Order, Query(description="newest or oldest first.")] = "newest",
    size: Annotated[int | None, Query(ge=1, description="Entries per page.")] = None,
    cursor: Annotated[str | None, Query(
        description="next_cursor of the previous page; send the same filters with it.")] = None,
) -> SearchPage:
    size = size or settings.default_page_size
    if size > settings.max_page_size:
        raise BadRequest(f"size={size} is above the limit of {settings.max_page_size}; "
                         "page with the cursor instead")
    cur = SearchCursor.decode(cursor) if cursor else None
    sq, now = query_at_cursor(scope, params, settings, cur, order, "cursor")
    slot = await limiter.acquire("search", scope.token_hash)
    try:
        page, pit = await _page(sq, reader, settings, order, size, cur, now)
    finally:
        slot.release()
    if cur is not None and cur.pit is not None and cur.pit != pit:
        pits.forget(cur.pit, scope.token_hash)
    if page.next_cursor is None:
        if pit is not None:  # closed on the last page
            pits.forget(pit, scope.token_hash)
    elif pit is not None:
        for old in pits.keep(scope.token_hash, pit):
            metrics.pits_closed.inc()
            await reader.close_pit(old)
    return page


async def _page(sq: ScopedQuery, reader: ReaderDep, settings: SettingsDep, order: Order,
                size: int, cur: SearchCursor | None,
                now: int) -> tuple[SearchPage, str | None]:
    filters = sq.filters
    pit = cur.pit if cur else None
    after = cur.after if cur else None
    query = sq.es_query()
    entries: list[Entry] = []
    scanned = 0
    last: tuple[int, str] | None = None
    more = False
    # Without a regex every hit matches: one extra hit tells whether a next page exists.
    chunk = size + 1 if not filters.has_regex else min(max(size * 4, 500), 10_000)
    while True:
        hits, pit = await reader.page(query, order, chunk, after, pit)
        for hit in hits:
            if len(entries) == size:
                more = True
                break
            scanned += 1
            last = hit.sort
            if sq.post_filter(hit.source):
                entries.append(Entry.from_doc(hit.source))
            if scanned >= settings.regex_scan_limit and len(entries) < size:
                more = True  # the page ends early; the cursor continues the scan
                break
        if more or len(hits) < chunk:
            break
        after = hits[-1].sort
    if not more and pit is not None:
        await reader.close_pit(pit)
    total = None
    if cur is None and not filters.has_regex:
        total = await reader.count(query)
    next_cursor = None
    if more and last is not None:
        next_cursor = SearchCursor(pit, last, order, filters.fingerprint(), now).encode()
    page = SearchPage(entries=entries, next_cursor=next_cursor, total=total, scanned=scanned)
    return page, pit


@router.get("/entries/{entry_id}/context", response_model=ContextOut, responses=ERRORS,
            summary="The entries before and after one entry, from the same container")
async def context(
    scope: ScopeDep,
    settings: SettingsDep,
    reader: ReaderDep,
    limiter: LimiterDep,
    entry_id: Annotated[str, Path(max_length=128, description="The entry's id.")],
    before: Annotated[int, Query(ge=0, description="Older entries to include.")] = 10,
    after: Annotated[int, Query(ge=0, description="Newer entries to include.")] = 10,
) -> ContextOut:
    if max(before, after) > settings.max_context:
        raise BadRequest(f"before/after are limited to {settings.max_context}")
    slot = await limiter.acquire("search", scope.token_hash)
    try:
        return await _context(scope, reader, entry_id, before, after)
    finally:
        slot.release()


async def _context(scope: ScopeDep, reader: ReaderDep, entry_id: str, before: int,
                   after: int) -> ContextOut:
    sq = ScopedQuery(scope, Filters())
    found = await reader.search(sq.es_query({"ids": {"values": [entry_id]}}), "newest", 1)
    if not found or not sq.post_filter(found[0].source):
        raise NotFound(f"no entry {entry_id!r} in the namespaces this token may read")
    hit = found[0]
    doc = hit.source
    # "Same container": its id; host files and containerless sources: same node and path.
    if doc.get("container_id"):
        same = [{"term": {"container_id": doc["container_id"]}}]
    else:
        same = [{"term": {"node": doc.get("node")}}, {"term": {"path": doc.get("path")}}]
    query = sq.es_query(*same)

    async def side(order: Order, n: int) -> list[Hit]:
        if n == 0:
            return []
        return [h for h in await reader.search(query, order, n, hit.sort)
                if sq.post_filter(h.source)]

    older = await side("newest", before)
    newer = await side("oldest", after)
    return ContextOut(entry=Entry.from_doc(doc),
                      before=[Entry.from_doc(h.source) for h in reversed(older)],
                      after=[Entry.from_doc(h.source) for h in newer])
