"""``logpipe logs -f``: the live tail over SSE, resumed with Last-Event-ID after any
dropped connection, so no line is lost (within the server's replay window) or repeated.

Each ``entry`` event's id is the server's cursor; the client remembers the last one and
sends it on reconnect, and additionally drops any entry id it has already printed, so a
replay that overlaps never shows a line twice.

A ``gap`` event names a time range the server could not hand over live (the forwarder
lagged more than the server's window); the client fetches it from ``/search`` with the
same filters, oldest first, and prints the entries it has not shown yet between two
marker notes.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from httpx_sse import EventSource, SSEError

from client.errors import ClientError, Unreachable
from client.http import Api, Params
from logpipe.seen import SeenIds

SEEN_IDS = 50_000
MAX_BACKOFF_S = 10.0
GAP_PAGE = 1000  # entries per search request when fetching a gap


@dataclass
class FollowState:
    last_event_id: str | None = None
    connections: int = 0
    printed: int = 0
    missed: int = 0
    gap_fetched: int = 0  # entries printed from gap ranges


Emit = Callable[[dict[str, Any]], None]
Note = Callable[[str], None]


def follow(api: Api, params: Params, backfill: int, emit: Emit, note: Note,
           *, state: FollowState | None = None, max_connections: int | None = None) -> FollowState:
    """Print entries until interrupted (or ``max_connections`` streams ended, for tests).

    Retriable failures (connection refused or dropped, 429, 503) reconnect with capped
    backoff; anything else (bad token, forbidden namespace, bad filter) is raised.
    """
    st = state or FollowState()
    seen = SeenIds(SEEN_IDS)
    delay = 0.5
    connected = False
    lost_since: float | None = None
    while max_connections is None or st.connections < max_connections:
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        # A resume replays from the cursor; the back-fill is for the first connection only.
        query = [*params, ("backfill", backfill if st.last_event_id is None else 0)]
        if st.last_event_id is not None:
            headers["Last-Event-ID"] = st.last_event_id
        st.connections += 1
        try:
            with api.stream("/tail", query, headers) as resp:
                connected = True
                if lost_since is not None:
                    note(f"reconnected after {time.monotonic() - lost_since:.1f}s; resuming")
                    lost_since = None
                delay = 0.5
                _read(resp, st, seen, emit, note,
                      lambda gap: fill_gap(api, params, gap, st, seen, emit, note))
            reason = "the server ended the stream"
        except ClientError as exc:
            # Never reached at all: a wrong URL, not a blip; say so instead of waiting.
            if not exc.retriable or (isinstance(exc, Unreachable) and not connected):
                raise
            reason = str(exc)
        except (httpx.TransportError, SSEError) as exc:
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if max_connections is not None and st.connections >= max_connections:
            break
        if lost_since is None:
            lost_since = time.monotonic()
            note(f"connection lost ({reason}); reconnecting")
        time.sleep(delay)
        delay = min(delay * 2, MAX_BACKOFF_S)
    return st


def fill_gap(api: Api, params: Params, gap: dict[str, Any], st: FollowState,
             seen: SeenIds, emit: Emit, note: Note) -> None:
    """Print the entries of a gap's range not shown yet, oldest first, between markers."""
    start, end = str(gap["from"]), str(gap["to"])
    note(f"entries from {start} to {end} could not be followed live "
         f"({gap.get('reason', 'gap')}); fetching them from history")
    # The gap's range replaces any --since/--until of the follow itself.
    query = [(k, v) for k, v in params if k not in ("since", "until")]
    query += [("since", start), ("until", end), ("order", "oldest"), ("size", GAP_PAGE)]
    cursor: str | None = None
    printed = 0
    while True:
        page = api.get("/search", [*query, ("cursor", cursor)])
        for entry in page["entries"]:
            if seen.add(str(entry.get("id", ""))):
                emit(entry)
                printed += 1
        cursor = page.get("next_cursor")
        if not cursor:
            break
    st.gap_fetched += printed
    note(f"end of the gap: {printed} entries from history; following live again")
    if gap.get("indexed") is False:  # sent at the server's wait deadline
        note(f"the forwarder had not indexed all of it yet: run `logpipe logs --since {start} "
             f"--until {end}` later for the rest")


def _read(resp: httpx.Response, st: FollowState, seen: SeenIds, emit: Emit,
          note: Note, on_gap: Callable[[dict[str, Any]], None]) -> None:
    for sse in EventSource(resp).iter_sse():
        if sse.event == "entry":
            entry = orjson.loads(sse.data)
            if sse.id:
                st.last_event_id = sse.id
            rid = str(entry.get("id", ""))
            if rid and not seen.add(rid):
                continue
            emit(entry)
            st.printed += 1
        elif sse.event == "missed":
            n = int(orjson.loads(sse.data).get("missed", 0))
            st.missed += n
            note(f"{n} entries were missed: this terminal read more slowly than they "
                 "arrived (narrow the filters, or use `logpipe download` for history)")
        elif sse.event == "gap":
            on_gap(orjson.loads(sse.data))
        elif sse.event == "notice":
            note(str(orjson.loads(sse.data).get("notice", sse.data)))


def stderr_note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
