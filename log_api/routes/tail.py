"""Live tail over Server-Sent Events."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query
from sse_starlette import EventSourceResponse
from starlette.background import BackgroundTask

from log_api.cursor import TailCursor
from log_api.deps import HubDep, LimiterDep, MetricsDep, QueryDep, ReaderDep, SettingsDep
from log_api.errors import BadRequest
from log_api.routes.common import ERRORS
from log_api.tail import tail_events

router = APIRouter(tags=["tail"])

_DESCRIPTION = """\
A `text/event-stream`. Events:

* `entry`: `data` is one entry (JSON); `id` is a cursor. Reconnect with
  `Last-Event-ID: <id>` (browsers do it by themselves) to resume right after it.
* `live`: the back-fill is over; everything after is live.
* `missed`: `{"missed": N}`: this client read too slowly and lost N entries.
* `notice`: a resume reached further back than the back-fill limit, or a gap (below)
  waits for the forwarder to index it.
* `gap`: `{"from": ts, "to": ts, "reason": ..., "entries": N}`: entries of this range
  (`to` exclusive) were neither in Elasticsearch nor still held live when the tail
  began; they are indexed now: fetch the range from `/api/v1/search` with the same
  filters and drop ids already shown. `reason` is `lag_exceeds_ring` (sent once the
  forwarder has indexed them) or `lag_unknown` (the lag could not be measured; sent at
  once).

Comment lines (`: ping`) are heartbeats.
"""


@router.get("/tail", responses={**ERRORS, 429: {"description": "Too many tails for the token."},
                                200: {"content": {"text/event-stream": {}}}},
            response_class=EventSourceResponse,
            summary="Follow matching entries live (SSE), after a back-fill of the last N",
            description=_DESCRIPTION)
async def tail(
    sq: QueryDep, hub: HubDep, reader: ReaderDep, settings: SettingsDep, metrics: MetricsDep,
    limiter: LimiterDep,
    backfill: Annotated[int, Query(ge=0, description="Entries of history first.")] = 100,
    last_event_id: Annotated[str | None, Header(
        alias="Last-Event-ID", description="Resume after this event id.")] = None,
    resume: Annotated[str | None, Query(
        description="Same as the Last-Event-ID header, for clients that cannot set it.")] = None,
) -> EventSourceResponse:
    if backfill > settings.tail_backfill_max:
        raise BadRequest(f"backfill={backfill} is above the limit of {settings.tail_backfill_max}")
    token = last_event_id or resume
    cursor = TailCursor.decode(token) if token else None
    # The cap counts every replica's tails; refused with 429 before any byte is sent.
    slot = await limiter.acquire("tail", sq.scope.token_hash)
    try:
        sub, snap = hub.subscribe(sq)
    except BaseException:
        slot.release()
        raise
    events = tail_events(hub, reader, metrics, sub, snap, backfill, cursor,
                         settings.tail_backfill_max)

    def end() -> None:
        hub.unsubscribe(sub)
        slot.release()

    # The generator unsubscribes when it ends; the background task covers a client that
    # left before the generator ever started (both are idempotent) and frees the place.
    return EventSourceResponse(
        events, ping=settings.tail_heartbeat_s, send_timeout=60.0,
        background=BackgroundTask(end),
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
