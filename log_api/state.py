"""What one API process holds: settings, tokens, the ES client, the live hub, jobs (the
jobs and the per-token places are shared with the other replicas, log_api/shared.py)."""

from __future__ import annotations

from dataclasses import dataclass

from elasticsearch import AsyncElasticsearch

from log_api.auth import TokenStore
from log_api.es import EsReader
from log_api.exports import ExportManager
from log_api.lag import ForwarderLag
from log_api.limits import ConcurrencyLimiter, PitTracker
from log_api.live import LiveHub
from log_api.metrics import ApiMetrics
from log_api.settings import ApiSettings
from log_api.tickets import TicketBook


@dataclass
class AppState:
    settings: ApiSettings
    tokens: TokenStore | None
    es: AsyncElasticsearch
    reader: EsReader
    hub: LiveHub
    exports: ExportManager
    metrics: ApiMetrics
    lag: ForwarderLag
    limiter: ConcurrencyLimiter
    pits: PitTracker
    tickets_book: TicketBook
