"""Streaming downloads: NDJSON, kubectl-style text or CSV, optionally gzip.

A download that fails after its head was sent cannot change its status code, so it
says so twice: a last notice line in the format's own syntax with a ``resume`` cursor
(the sort position after the last entry sent), and then the connection is aborted
without the final chunk, so every HTTP client (curl, browsers, httpx) reports an
incomplete transfer instead of a finished file. ``resume=`` continues from there.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from log_api.cursor import SearchCursor
from log_api.deps import (
    FilterParamsDep,
    LimiterDep,
    MetricsDep,
    ReaderDep,
    ScopeDep,
    SettingsDep,
    StateDep,
    query_at_cursor,
)
from log_api.errors import ApiError
from log_api.es import Hit
from log_api.formats import EXTENSIONS, MEDIA_TYPES, Format, Gzipper, LineRenderer
from log_api.models import ENTRY_FIELDS
from log_api.query import ScopedQuery
from log_api.routes.common import ERRORS, by_ticket

log = logging.getLogger(__name__)


class DownloadBroken(Exception):
    """Raised out of the body after the failure notice: the server aborts the response."""


router = APIRouter(tags=["download"])
Order = Literal["oldest", "newest"]


@router.get("/download", responses={**ERRORS, 200: {"content": {
                "application/x-ndjson": {}, "text/plain": {}, "text/csv": {},
                "application/gzip": {}}}},
            response_class=StreamingResponse,
            summary="Download every matching entry, streamed in constant memory")
async def download(
    scope: ScopeDep, params: FilterParamsDep, reader: ReaderDep, settings: SettingsDep,
    metrics: MetricsDep, limiter: LimiterDep, state: StateDep, request: Request,
    format: Annotated[Format, Query(description="ndjson, text (kubectl logs style) or csv.")]
    = "ndjson",
    gzip: Annotated[bool, Query(description="Compress with gzip.")] = False,
    timestamps: Annotated[bool, Query(description="text: prefix each line with its time.")]
    = False,
    prefix: Annotated[bool, Query(description="text: prefix [namespace/pod/container].")]
    = False,
    order: Annotated[Order, Query()] = "oldest",
    limit: Annotated[int | None, Query(ge=1, description="Stop after this many entries.")]
    = None,
    resume: Annotated[str | None, Query(
        description="The resume cursor of an incomplete download's last line: continue "
        "after the last entry it holds (same filters and order; no CSV header).")] = None,
    _ticket: Annotated[str | None, Query(
        alias="ticket", description="Instead of the Authorization header: a ticket from "
        "POST /api/v1/tickets for exactly this query (plain browser links).")] = None,
) -> StreamingResponse:
    if by_ticket(request, _ticket):
        await state.tickets_book.spend(_ticket or "")
    cur = SearchCursor.decode(resume) if resume else None
    sq, now = query_at_cursor(scope, params, settings, cur, order, "resume cursor")
    slot = await limiter.acquire("download", scope.token_hash)
    try:
        return await _download(sq, reader, settings, metrics, slot.release, format, gzip,
                               timestamps, prefix, order, limit, cur, now)
    except BaseException:
        slot.release()
        raise


async def _download(sq: ScopedQuery, reader: ReaderDep, settings: SettingsDep,
                    metrics: MetricsDep, release: Callable[[], None], format: Format,
                    gzip: bool, timestamps: bool, prefix: bool, order: Order,
                    limit: int | None, cur: SearchCursor | None,
                    now: int) -> StreamingResponse:
    filters = sq.filters
    after = cur.after if cur else None
    caps = [c for c in (limit, settings.download_max_entries) if c is not None]
    cap = min(caps) if caps else None
    # Only the fields a line shows (plus what the scope check reads): less to parse.
    pages = reader.scan(sq, order, settings.download_page_size, after=after,
                        source=list(ENTRY_FIELDS))
    # The first page before the response head: a refused query is still a proper 4xx.
    first = await anext(pages, None)
    render = LineRenderer(format, timestamps=timestamps, prefix=prefix)

    async def body() -> AsyncIterator[bytes]:
        gz = Gzipper() if gzip else None
        n = 0
        capped = False
        last = after

        def out(data: bytes) -> bytes:
            metrics.download_bytes.inc(len(data))
            return gz.feed(data) if gz is not None else data

        try:
            if cur is None:
                yield out(render.header())
            page: list[Hit] | None = first
            while page is not None:
                if cap is not None and n + len(page) > cap:
                    page, capped = page[: cap - n], True
                n += len(page)
                metrics.download_entries.inc(len(page))
                yield out(b"".join(render.line(h.source) for h in page))
                if page:
                    last = page[-1].sort
                if capped:
                    break
                page = await anext(pages, None)
            if capped:
                yield out(render.notice(
                    f"stopped at the cap of {cap} entries; more match. Narrow the range, "
                    "raise limit, or create an export"))
        except Exception as exc:  # the head is sent: say it in the body, never end silently
            if isinstance(exc, ApiError):
                reason = exc.message
            else:  # a bug, not Elasticsearch: still a notice with a cursor to resume from
                log.exception("download failed after its head")
                reason = f"internal error ({type(exc).__name__})"
            # Counted before the notice is written: a client gone meanwhile cancels here.
            metrics.download_failures.inc()
            token = SearchCursor(None, last, order, filters.fingerprint(), now).encode() \
                if last is not None else ""
            yield out(render.notice(f"incomplete: {reason}", resume=token))
            if gz is not None:
                yield gz.flush()  # a whole gzip member: the notice can be read, and resumed
            # Not a normal end: uvicorn closes the connection without the last chunk.
            raise DownloadBroken(reason) from None
        finally:
            release()
            await pages.aclose()
        if gz is not None:
            yield gz.flush()

    ext = EXTENSIONS[format] + (".gz" if gzip else "")
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    headers = {"Content-Disposition": f'attachment; filename="logs-{stamp}.{ext}"',
               "Cache-Control": "no-store"}
    if cap is not None:
        headers["X-Logpipe-Cap"] = str(cap)
    media = "application/gzip" if gzip else MEDIA_TYPES[format]
    # The body releases the slot when it ends; the task covers a client gone before it began.
    return StreamingResponse(body(), media_type=media, headers=headers,
                             background=BackgroundTask(release))
