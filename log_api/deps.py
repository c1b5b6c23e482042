"""Request dependencies, declared in route signatures as ``Annotated[..., Depends()]``."""

from __future__ import annotations

import time
from typing import Annotated, Any

import orjson
from fastapi import Depends, Query, Request

from log_api.auth import ANONYMOUS_ADMIN, Scope
from log_api.cursor import SearchCursor
from log_api.errors import BadRequest, Unauthorized
from log_api.es import EsReader
from log_api.exports import ExportManager
from log_api.filters import FIELD_PREFIX, Filters
from log_api.limits import ConcurrencyLimiter, PitTracker, check_range
from log_api.live import LiveHub
from log_api.metrics import ApiMetrics
from log_api.query import ScopedQuery
from log_api.settings import ApiSettings
from log_api.state import AppState
from log_api.tickets import query_digest


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.logpipe
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def get_settings(request: Request) -> ApiSettings:
    return get_state(request).settings


def get_reader(request: Request) -> EsReader:
    return get_state(request).reader


def get_hub(request: Request) -> LiveHub:
    return get_state(request).hub


def get_exports(request: Request) -> ExportManager:
    return get_state(request).exports


def get_metrics(request: Request) -> ApiMetrics:
    return get_state(request).metrics


def get_limiter(request: Request) -> ConcurrencyLimiter:
    return get_state(request).limiter


def get_pits(request: Request) -> PitTracker:
    return get_state(request).pits


SettingsDep = Annotated[ApiSettings, Depends(get_settings)]
LimiterDep = Annotated[ConcurrencyLimiter, Depends(get_limiter)]
PitsDep = Annotated[PitTracker, Depends(get_pits)]
ReaderDep = Annotated[EsReader, Depends(get_reader)]
HubDep = Annotated[LiveHub, Depends(get_hub)]
ExportsDep = Annotated[ExportManager, Depends(get_exports)]
MetricsDep = Annotated[ApiMetrics, Depends(get_metrics)]


def get_scope(request: Request) -> Scope:
    """The caller's scope: ``Authorization: Bearer <token>``, or a download ticket
    (``?ticket=``, for plain links). Tokens in URLs only with ``access_token_query``."""
    state = get_state(request)
    header = request.headers.get("authorization", "")
    token = None
    if header[:7].lower() == "bearer ":
        token = header[7:].strip()
    elif "ticket" in request.query_params:
        return _redeem(state, request)
    elif "access_token" in request.query_params:
        if not state.settings.access_token_query:
            raise Unauthorized("tokens in URLs are refused (they end up in access logs): "
                               "send 'Authorization: Bearer <token>', or get a ticket from "
                               "POST /api/v1/tickets for a plain link")
        token = request.query_params["access_token"]
    if not token:
        if state.settings.anonymous_admin:
            return ANONYMOUS_ADMIN
        raise Unauthorized("send a token: 'Authorization: Bearer <token>'")
    scope = state.tokens.lookup(token) if state.tokens is not None else None
    if scope is None:
        raise Unauthorized("the token is not known; check it or ask for one")
    return scope


def _redeem(state: AppState, request: Request) -> Scope:
    query = query_digest(request.query_params.multi_items())
    digest = state.tickets_book.redeem(request.query_params["ticket"], request.url.path,
                                       query)
    if digest == ANONYMOUS_ADMIN.token_hash and state.settings.anonymous_admin:
        return ANONYMOUS_ADMIN
    scope = state.tokens.by_hash(digest) if state.tokens is not None else None
    if scope is None:  # the token was removed from the file since
        raise Unauthorized("the ticket's token is no longer known")
    return scope


ScopeDep = Annotated[Scope, Depends(get_scope)]


# Never sent by a client: the name under which ``FilterParams(**raw)`` takes the field
# filters back (a query parameter by that name is ignored, see __init__).
_RAW_FIELD_ALIAS = "\x00field"


class FilterParams:
    """The common filters as query parameters (parsed later, see ``parse``)."""

    def __init__(
        self,
        namespace: Annotated[list[str] | None, Query(description="Namespaces (repeatable).",
                                                     examples=["pay"])] = None,
        app: Annotated[list[str] | None, Query(description="Apps (repeatable).")] = None,
        pod: Annotated[list[str] | None, Query(description="Pods (repeatable).")] = None,
        container: Annotated[list[str] | None, Query(
            description="Container names or ids (repeatable).")] = None,
        node: Annotated[list[str] | None, Query(description="Nodes (repeatable).")] = None,
        stream: Annotated[list[str] | None, Query(description="stdout / stderr.")] = None,
        level: Annotated[list[str] | None, Query(
            description="Levels (repeatable): trace debug info warn error fatal unknown.")] = None,
        min_level: Annotated[str | None, Query(
            description="Minimum level: warn = warn, error, fatal.",
            examples=["warn"])] = None,
        q: Annotated[str | None, Query(
            description="Words that must all appear in the message.",
            examples=["connection refused"])] = None,
        include: Annotated[list[str] | None, Query(
            description="RE2 regex the message must match (any of them).")] = None,
        exclude: Annotated[list[str] | None, Query(
            description="RE2 regex the message must not match (none of them).")] = None,
        pod_regex: Annotated[str | None, Query(
            description="RE2 regex the pod name must match (searched, not anchored: use "
            "^...$ for a whole name).", examples=["^api-"])] = None,
        since: Annotated[str | None, Query(
            description="Start (inclusive): RFC 3339 or relative (15m, 2h, 7d).",
            examples=["1h"])] = None,
        until: Annotated[str | None, Query(
            description="End (exclusive): RFC 3339 or relative.")] = None,
        has_field: Annotated[list[str] | None, Query(
            description="Parsed field names the line must have (repeatable). To filter on "
            "a field's value, add field.<name>=<value> (repeatable, exact, nested keys as "
            "a.b: field.user=bo, field.http.status=500): values of one name are "
            "alternatives, different names must all match.")] = None,
        trace: Annotated[list[str] | None, Query(
            description="Trace or request id (repeatable): lines whose trace_id or "
            "request_id is one of them, across every app the token may read.")] = None,
        pattern: Annotated[list[str] | None, Query(
            description="Pattern ids (repeatable), as GET /api/v1/patterns lists them.",
            examples=["p1-2d48f733562a3440"])] = None,
        request: Request = None,  # type: ignore[assignment]  # None: built from ``raw``
        field: Annotated[list[str] | None, Query(alias=_RAW_FIELD_ALIAS,
                                                 include_in_schema=False)] = None,
    ) -> None:
        # field.<name>=<value>: the name is part of the parameter's name, so it cannot be
        # declared; read from the query string as given. ``raw`` (kept by exports to parse
        # the filters again later) holds them as JSON [name, value] pairs in ``field``.
        if request is not None:
            field = [orjson.dumps([key[len(FIELD_PREFIX):], value]).decode()
                     for key, value in request.query_params.multi_items()
                     if key.startswith(FIELD_PREFIX)]
        self.raw = dict(namespace=namespace, app=app, pod=pod, container=container, node=node,
                        stream=stream, level=level, min_level=min_level, q=q, include=include,
                        exclude=exclude, pod_regex=pod_regex, since=since, until=until,
                        field=field, has_field=has_field, trace=trace, pattern=pattern)

    def parse(self, settings: ApiSettings, now_ns: int | None = None) -> Filters:
        raw: dict[str, Any] = dict(self.raw)
        raw["field"] = [tuple(orjson.loads(pair)) for pair in raw.get("field") or ()]
        return Filters.parse(**raw, regex_max_length=settings.regex_max_length,
                             now_ns=now_ns)


FilterParamsDep = Annotated[FilterParams, Depends()]


def get_query(scope: ScopeDep, params: FilterParamsDep, settings: SettingsDep) -> ScopedQuery:
    return ScopedQuery(scope, params.parse(settings))


QueryDep = Annotated[ScopedQuery, Depends(get_query)]


def get_ranged_query(scope: ScopeDep, params: FilterParamsDep,
                     settings: SettingsDep) -> ScopedQuery:
    """The query of a request over history: its range within ``max_range_s``."""
    now = time.time_ns()
    filters = params.parse(settings, now)
    check_range(filters, settings, now)
    return ScopedQuery(scope, filters)


RangedQueryDep = Annotated[ScopedQuery, Depends(get_ranged_query)]


def query_at_cursor(scope: Scope, params: FilterParams, settings: ApiSettings,
                    cur: SearchCursor | None, order: str,
                    what: str) -> tuple[ScopedQuery, int]:
    """The query a cursor continues: its filters read at the cursor's "now" (so
    ``since=15m`` is the same range on every page), and the same filters and order as
    when the cursor was made, else a 400 naming ``what``. Returns it and that "now"."""
    now = cur.now_ns if cur else time.time_ns()
    filters = params.parse(settings, now)
    check_range(filters, settings, now)
    if cur is not None and (cur.fingerprint != filters.fingerprint() or cur.order != order):
        raise BadRequest(f"the {what} was made for other filters or order; send the same "
                         "ones as the first request, or drop it")
    return ScopedQuery(scope, filters), now
