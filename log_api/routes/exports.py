"""Archive export jobs: create, list, watch, fetch, cancel (on any replica)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from log_api.deps import (
    ExportsDep,
    FilterParamsDep,
    ScopeDep,
    SettingsDep,
    StateDep,
    query_at_cursor,
)
from log_api.exports import Job
from log_api.routes.common import ERRORS, by_ticket
from logpipe.timefmt import format_ns

router = APIRouter(prefix="/exports", tags=["exports"])
JobId = Annotated[str, Path(max_length=64, pattern="^[0-9a-f]+$")]


class ExportOut(BaseModel):
    id: str
    state: Literal["running", "done", "failed", "cancelled"]
    format: str
    written: int = Field(description="Entries written so far.")
    total: int | None = Field(description="Entries matching when the job started (null with "
                                          "regex filters, which are applied while writing).")
    progress: float | None = Field(description="written / total, 0..1.")
    created: str
    finished: str | None
    expires: str | None = Field(description="When the finished file is deleted.")
    error: str | None
    file: str | None = Field(description="Path of the file to GET when done.")


def _out(job: Job, ttl: float) -> ExportOut:
    total = job.total if job.total >= 0 else None
    progress = None
    if total is not None:
        progress = 1.0 if job.state == "done" or total == 0 else min(job.written / total, 1.0)
    return ExportOut(
        id=job.id, state=job.state, format=job.fmt, written=job.written, total=total,
        progress=progress, created=format_ns(int(job.created * 1e9)),
        finished=format_ns(int(job.finished * 1e9)) if job.finished else None,
        expires=format_ns(int((job.finished + ttl) * 1e9)) if job.finished else None,
        error=job.error,
        file=f"/api/v1/exports/{job.id}/file" if job.state == "done" else None,
    )


@router.post("", response_model=ExportOut, status_code=202, responses=ERRORS,
             summary="Start an export of every matching entry (filters as query parameters)")
async def create_export(
    scope: ScopeDep, params: FilterParamsDep, settings: SettingsDep, exports: ExportsDep,
    format: Annotated[Literal["ndjson.gz", "tar.gz"], Query(
        description="ndjson.gz: one file; tar.gz: one NDJSON file per app.")] = "ndjson.gz",
) -> ExportOut:
    # The filters as given and the "now" they are read at: a replica that takes the
    # job over reads them again the same way (relative times included).
    sq, now = query_at_cursor(scope, params, settings, None, "oldest", "export")
    job = await exports.create(sq, params.raw, now, format)
    return _out(job, exports.settings.export_ttl_s)


class ExportList(BaseModel):
    exports: list[ExportOut] = Field(description="This token's export jobs, newest first "
                                                 "(finished ones until they expire).")


@router.get("", response_model=ExportList, responses=ERRORS,
            summary="The calling token's export jobs, newest first")
async def list_exports(scope: ScopeDep, exports: ExportsDep) -> ExportList:
    ttl = exports.settings.export_ttl_s
    return ExportList(exports=[_out(j, ttl) for j in await exports.of_token(scope.token_hash)])


@router.get("/{job_id}", response_model=ExportOut, responses=ERRORS, summary="Export progress")
async def get_export(job_id: JobId, scope: ScopeDep, exports: ExportsDep) -> ExportOut:
    return _out(await exports.get(job_id, scope.token_hash), exports.settings.export_ttl_s)


@router.get("/{job_id}/file", response_class=StreamingResponse,
            responses={**ERRORS, 200: {"content": {"application/gzip": {}}}},
            summary="The finished export file")
async def export_file(
    job_id: JobId, scope: ScopeDep, exports: ExportsDep, state: StateDep, request: Request,
    _ticket: Annotated[str | None, Query(
        alias="ticket", description="Instead of the Authorization header: a ticket from "
        "POST /api/v1/tickets for this file (plain browser links).")] = None,
) -> StreamingResponse:
    if by_ticket(request, _ticket):
        await state.tickets_book.spend(_ticket or "")
    job, body = await exports.file(job_id, scope.token_hash)
    # The length is known: a client sees a cut transfer as incomplete.
    return StreamingResponse(body, media_type="application/gzip", headers={
        "Content-Length": str(job.bytes),
        "Content-Disposition": f'attachment; filename="{job.filename}"'})


@router.delete("/{job_id}", response_model=ExportOut, responses=ERRORS,
               summary="Cancel a running export, or delete a finished one")
async def cancel_export(job_id: JobId, scope: ScopeDep, exports: ExportsDep) -> ExportOut:
    job = await exports.cancel(job_id, scope.token_hash)
    return _out(job, exports.settings.export_ttl_s)
