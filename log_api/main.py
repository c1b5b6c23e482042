"""The FastAPI application: ``create_app(settings)``.

Routes are under ``/api/v1``; ``/healthz``, ``/readyz`` and ``/metrics`` at the root;
the web page (``log_api/static/index.html``, when present) at ``/``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from log_api.auth import ANONYMOUS_ADMIN, TokenStore
from log_api.auth import Scope as TokenScope
from log_api.deps import FilterParams
from log_api.errors import ApiError, TooManyRequests
from log_api.es import EsReader, make_client
from log_api.exports import ExportManager
from log_api.filters import Filters
from log_api.lag import ForwarderLag
from log_api.limits import ConcurrencyLimiter, PitTracker, es_duration_s
from log_api.live import LiveHub
from log_api.metrics import ApiMetrics
from log_api.models import Pointer
from log_api.routes import (
    audit,
    download,
    exports,
    health,
    patterns,
    search,
    stats,
    tail,
    tickets,
)
from log_api.settings import ApiSettings
from log_api.shared import Slots, StateIndex
from log_api.state import AppState
from log_api.tickets import TicketBook
from logpipe.errors import ConfigError

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"


class MetricsMiddleware:
    """Requests by route template and status (pure ASGI: leaves streaming untouched)."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [500]

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                self.metrics.latency.labels(_route(scope)).observe(time.perf_counter() - start)
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.metrics.requests.labels(_route(scope), str(status[0])).inc()


def _route(scope: Scope) -> str:
    """The path template (``/api/v1/entries/{entry_id}/context``): bounded label values."""
    if "route" not in scope:
        return "unmatched"
    path: str = scope["path"]
    for name, value in scope.get("path_params", {}).items():
        path = path.replace(f"/{value}", f"/{{{name}}}", 1)
    return path


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(x) for x in err.get("loc", ()) if x not in ("query", "path", "body"))
        parts.append(f"{where or 'request'}: {err.get('msg', 'invalid')}")
    return "; ".join(parts)


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    settings = settings or ApiSettings()
    tokens = TokenStore.load(settings.tokens_file) if settings.tokens_file else None
    if tokens is None and not settings.anonymous_admin:
        log.warning("no tokens_file: every request will get 401 (set tokens_file, or "
                    "anonymous_admin for development)")
    if tokens is not None and settings.anonymous_admin:
        log.warning("SECURITY: anonymous_admin is on next to a tokens_file (%s): a request "
                    "WITHOUT a token reads EVERY namespace, so the tokens protect nothing. "
                    "anonymous_admin is for development only; turn it off",
                    settings.tokens_file)
    metrics = ApiMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        es = make_client(settings)
        reader = EsReader(es, settings)
        hub = LiveHub(settings, metrics)
        shared = StateIndex(es, settings.index_prefix)

        def scope_of(token_hash: str) -> TokenScope | None:
            if token_hash == ANONYMOUS_ADMIN.token_hash and settings.anonymous_admin:
                return ANONYMOUS_ADMIN
            return tokens.by_hash(token_hash) if tokens is not None else None

        def parse_filters(raw: dict[str, Any], now_ns: int) -> Filters:
            return FilterParams(**raw).parse(settings, now_ns)

        jobs = ExportManager(settings, reader, metrics, shared, scope_of, parse_filters)
        limiter = ConcurrencyLimiter(settings, Slots(shared))
        lag = ForwarderLag(settings.kafka_bootstrap, settings.kafka_topic,
                           settings.forwarder_group, settings.kafka_options)
        secret = settings.ticket_secret.get_secret_value().encode() \
            if settings.ticket_secret else None
        app.state.logpipe = AppState(
            settings, tokens, es, reader, hub, jobs, metrics, lag,
            limiter,
            PitTracker(settings, es_duration_s(settings.pit_keep_alive)),
            TicketBook(secret, settings.ticket_ttl_s, shared))
        hub.start()
        jobs.start()
        limiter.start()
        if not await hub.wait_connected(settings.kafka_start_timeout_s):
            log.warning("live hub not connected to Kafka yet (%s); tails wait for it",
                        hub.error)
        try:
            yield
        finally:
            await jobs.close()
            await limiter.close()
            await hub.stop()
            await es.close()

    app = FastAPI(
        title="logpipe Log API",
        version="1",
        summary="Live tail, history search and download, level ratio and app share of "
        "container logs, scoped per token to namespaces.",
        lifespan=lifespan,
    )

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        headers = None
        if isinstance(exc, TooManyRequests):
            headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after)))}
            metrics.limited.inc()
        return JSONResponse({"error": exc.message, "status": exc.status}, status_code=exc.status,
                            headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": _validation_message(exc), "status": 422},
                            status_code=422)

    for module in (search, stats, patterns, tail, download, exports, audit, tickets):
        app.include_router(module.router, prefix="/api/v1")
    app.include_router(stats.fields_router, prefix="/api/v1")
    app.include_router(health.router)
    app.add_middleware(MetricsMiddleware, metrics=metrics)

    if (STATIC / "index.html").is_file():
        app.mount("/", StaticFiles(directory=STATIC, html=True), name="web")
    else:
        @app.get("/", response_model=Pointer, tags=["health"], summary="Where to start")
        async def root() -> dict[str, Any]:
            return {"service": "logpipe Log API", "docs": "/docs", "openapi": "/openapi.json"}

    return app


def load_settings(**overrides: Any) -> ApiSettings:
    try:
        return ApiSettings(**overrides)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
