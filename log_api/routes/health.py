"""Probes and metrics: /healthz (alive), /readyz (Elasticsearch answers, Kafka read; the
forwarders' measured lag as details)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from log_api.deps import StateDep, get_scope
from log_api.errors import ApiError, Forbidden

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Elasticsearch answers and the live hub reads Kafka",
            responses={503: {"description": "Not ready; the body says which part."}})
async def readyz(state: StateDep, request: Request) -> JSONResponse:
    checks: dict[str, str] = {}
    cluster: dict[str, object] | None = None
    try:
        health = await state.es.cluster.health(timeout="2s")
        checks["elasticsearch"] = "ok"
        # A node away leaves the cluster yellow (replicas missing: every search still
        # answers whole) or red (a shard missing: searches answer without it). Still
        # ready either way; the status says how degraded.
        cluster = {"status": health["status"], "nodes": health["number_of_nodes"],
                   "unassigned_shards": health["unassigned_shards"]}
    except Exception as exc:  # any failure means not ready; the text says which
        checks["elasticsearch"] = f"down: {exc}"
    checks["kafka"] = "ok" if state.hub.connected.is_set() else f"down: {state.hub.error}"
    ok = all(v == "ok" for v in checks.values())
    # Details only: a lagging forwarder does not make this API unready, it makes new
    # tails receive gap events instead.
    lag = state.hub.lag
    details = {"forwarder_lag": {
        "group": state.settings.forwarder_group,
        "records": state.hub.lag_records,
        "seconds": None if lag is None else round(lag.seconds, 3),
        "beyond_ring": None if lag is None else lag.beyond_ring,
    }, "elasticsearch": cluster}
    status = 200 if ok else 503
    if state.settings.probes_require_token and not _admin(request):
        # A kubelet probe still reads ready / not ready; what failed and why is for admins.
        return JSONResponse({"ready": ok}, status_code=status)
    return JSONResponse({"ready": ok, "checks": checks, "details": details},
                        status_code=status)


def _admin(request: Request) -> bool:
    """An admin token in the Authorization header (never a ticket or a URL token)."""
    if not request.headers.get("authorization"):
        return request.app.state.logpipe.settings.anonymous_admin is True
    try:
        return get_scope(request).admin
    except ApiError:
        return False


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(state: StateDep, request: Request) -> Response:
    if state.settings.probes_require_token and not _admin(request):
        get_scope(request)  # 401 without a known token
        raise Forbidden("/metrics is for admin tokens (probes_require_token)")
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
