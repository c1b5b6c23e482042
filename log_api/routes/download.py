"""Streaming downloads: NDJSON, kubectl-style text or CSV, optionally gzip."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from log_api.deps import MetricsDep, QueryDep, ReaderDep, SettingsDep
from log_api.errors import ApiError
from log_api.es import Hit
from log_api.formats import EXTENSIONS, MEDIA_TYPES, Format, Gzipper, LineRenderer
from log_api.models import ENTRY_FIELDS
from log_api.routes.common import ERRORS

router = APIRouter(tags=["download"])


@router.get("/download", responses={**ERRORS, 200: {"content": {
                "application/x-ndjson": {}, "text/plain": {}, "text/csv": {},
                "application/gzip": {}}}},
            response_class=StreamingResponse,
            summary="Download every matching entry, streamed in constant memory")
async def download(
    sq: QueryDep, reader: ReaderDep, settings: SettingsDep, metrics: MetricsDep,
    format: Annotated[Format, Query(description="ndjson, text (kubectl logs style) or csv.")]
    = "ndjson",
    gzip: Annotated[bool, Query(description="Compress with gzip.")] = False,
    timestamps: Annotated[bool, Query(description="text: prefix each line with its time.")]
    = False,
    prefix: Annotated[bool, Query(description="text: prefix [namespace/pod/container].")]
    = False,
    order: Annotated[Literal["oldest", "newest"], Query()] = "oldest",
    limit: Annotated[int | None, Query(ge=1, description="Stop after this many entries.")]
    = None,
) -> StreamingResponse:
    caps = [c for c in (limit, settings.download_max_entries) if c is not None]
    cap = min(caps) if caps else None
    # Only the fields a line shows (plus what the scope check reads): less to parse.
    pages = reader.scan(sq, order, settings.download_page_size, source=list(ENTRY_FIELDS))
    # The first page before the response head: a refused query is still a proper 4xx.
    first = await anext(pages, None)
    render = LineRenderer(format, timestamps=timestamps, prefix=prefix)

    async def body() -> AsyncIterator[bytes]:
        gz = Gzipper() if gzip else None
        n = 0
        capped = False

        def out(data: bytes) -> bytes:
            metrics.download_bytes.inc(len(data))
            return gz.feed(data) if gz is not None else data

        try:
            yield out(render.header())
            page: list[Hit] | None = first
            while page is not None:
                if cap is not None and n + len(page) > cap:
                    page, capped = page[: cap - n], True
                n += len(page)
                metrics.download_entries.inc(len(page))
                yield out(b"".join(render.line(h.source) for h in page))
                if capped:
                    break
                page = await anext(pages, None)
            if capped:
                yield out(render.notice(
                    f"stopped at the cap of {cap} entries; more match. Narrow the range, "
                    "raise limit, or create an export"))
        except ApiError as exc:  # the head is sent: say it in the body, never end silently
            yield out(render.notice(f"incomplete: {exc.message}"))
        finally:
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
    return StreamingResponse(body(), media_type=media, headers=headers)
