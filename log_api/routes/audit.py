"""``GET /audit``: the completeness audit (log_api.audit) of a time range, per node,
per stream and per file, within the token's namespaces."""

from __future__ import annotations

import time

from fastapi import APIRouter

from log_api.audit import AuditReport, audit
from log_api.deps import QueryDep, ReaderDep, StateDep
from log_api.errors import BadRequest
from log_api.routes.common import ERRORS
from logpipe.document import ledger_index_pattern

router = APIRouter(tags=["audit"])

DEFAULT_WINDOW_NS = 3600 * 10**9


@router.get("/audit", response_model=AuditReport, responses=ERRORS,
            summary="Did everything arrive? Entries read and acknowledged per file, documents "
                    "indexed, dead letters, and every gap with its cause")
async def get_audit(sq: QueryDep, reader: ReaderDep, state: StateDep) -> AuditReport:
    f = sq.filters
    if f.has_regex or f.q or f.levels or f.streams or f.pods or f.containers:
        raise BadRequest("the audit is per node, namespace, app and time range only: "
                         "drop q, level, stream, pod, container and regex filters")
    until = f.until_ns if f.until_ns is not None else time.time_ns()
    since = f.since_ns if f.since_ns is not None else until - DEFAULT_WINDOW_NS
    lag = await state.lag.get()
    return await audit(reader.client, reader.index,
                       ledger_index_pattern(state.settings.index_prefix), sq, since, until, lag)
