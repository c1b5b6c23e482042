"""Test helpers for the Log API: records, indexing through the forwarder's template,
tokens, and an app served in-process (ASGI) or by a real uvicorn on a free port."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from confluent_kafka import Producer
from elasticsearch import Elasticsearch, helpers
from fastapi import FastAPI

from forwarder.template import install_template
from log_api.main import create_app
from log_api.settings import ApiSettings
from logpipe.document import es_source, index_name, ledger_index_name, ledger_template_body
from logpipe.record import Record, encode, stable_id
from logpipe.timefmt import format_ns, parse_ns
from logpipe.tokens import hash_token

ADMIN = "admin-token"
PAY = "pay-token"
HOTEL = "hotel-token"
BASE_NS = parse_ns("2026-11-24T22:00:00Z")


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def write_tokens(path: Path) -> Path:
    path.write_text(
        "tokens:\n"
        f"  - {{name: admin, sha256: {hash_token(ADMIN)}, admin: true}}\n"
        f"  - {{name: pay, sha256: {hash_token(PAY)}, namespaces: [pay]}}\n"
        f"  - {{name: hotel, sha256: {hash_token(HOTEL)}, namespaces: [hotel]}}\n"
    )
    return path


def record(i: int, *, namespace: str = "pay", app: str = "checkout", level: str = "info",
           ts_ns: int | None = None, message: str | None = None, container: str = "c1",
           node: str = "node-1", pod: str | None = None) -> Record:
    ts = format_ns(BASE_NS + i * 1_000_000_000 if ts_ns is None else ts_ns)
    return Record(
        id=stable_id(namespace, app, container, str(i), ts), ts=ts, ingest_ts=ts, node=node,
        source="cri", path=f"/var/log/pods/{namespace}_{app}/{container}/0.log", offset=i * 100,
        message=message if message is not None else f"{app} line {i} level={level}",
        level=level, stream="stdout", container_id=f"cid-{namespace}-{container}",
        container_name=container, namespace=namespace, pod=pod or f"{app}-pod", app=app,
    )


def index_records(es: Elasticsearch, prefix: str, records: Iterable[Record]) -> int:
    """Index as the forwarder does: its template, daily index from ts, _id = record id."""
    install_template(es, prefix, shards=1, replicas=0, refresh_interval="1s", priority=500)
    actions = ({"_index": index_name(prefix, r.ts), "_id": r.id, "_source": es_source(r)}
               for r in records)
    ok, _errors = helpers.bulk(es, actions, chunk_size=5000, raise_on_error=True)
    es.indices.refresh(index=f"{prefix}-*")
    return ok


def produce(bootstrap: str, topic: str, records: Iterable[Record],
            compression: str = "none") -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5,
                         "compression.type": compression})
    for r in records:
        producer.produce(topic, key=r.key, value=encode(r))
    assert producer.flush(30) == 0


def settings_for(tmp_path: Path, kafka: str, es_url: str, topic: str, prefix: str,
                 **extra: Any) -> ApiSettings:
    fields: dict[str, Any] = {"kafka_start_timeout_s": 30.0, **extra}
    return ApiSettings(
        kafka_bootstrap=kafka, es_url=es_url, kafka_topic=topic, index_prefix=prefix,
        tokens_file=write_tokens(tmp_path / "tokens.yaml"), **fields,
    )


@asynccontextmanager
async def asgi_client(settings: ApiSettings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api",
                                     timeout=60) as client:
            yield app, client


@asynccontextmanager
async def served(settings: ApiSettings) -> AsyncIterator[tuple[FastAPI, str]]:
    """A real uvicorn serving the app on a free port of 127.0.0.1 (streaming needs it)."""
    app = create_app(replace_port(settings))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                           lifespan="on"))
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 60
    while not server.started:
        if task.done() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield app, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)


def replace_port(settings: ApiSettings) -> ApiSettings:
    return settings.model_copy(update={"port": 0})


def chunks(es: Elasticsearch, prefix: str, job: str) -> list[str]:
    """The ids of an export's archive pieces in ``<prefix>_state`` (log_api/shared.py)."""
    index = f"{prefix}_state"
    es.options(ignore_status=404).indices.refresh(index=index)
    resp = es.options(ignore_status=404).search(
        index=index, size=10_000, source=False,
        query={"bool": {"filter": [{"term": {"kind": "chunk"}}, {"term": {"job": job}}]}})
    return sorted(h["_id"] for h in resp.get("hits", {}).get("hits", []))


def copy_record(r: Record, **changes: Any) -> Record:
    return replace(r, **changes)


def index_ledger(es: Elasticsearch, prefix: str, docs: list[dict[str, Any]]) -> None:
    """Completeness-ledger entries indexed as the forwarder does (its template, the
    daily ledger index of now, ``index`` by id), with node-1/cri unless given."""
    es.indices.put_index_template(**ledger_template_body(prefix))
    now = format_ns(time.time_ns())
    actions = []
    for i, doc in enumerate(docs):
        doc = {"v": 1, "ts": now, "node": "node-1", "source": "cri", "id": f"l{i}", **doc}
        actions.append({"_op_type": "index", "_index": ledger_index_name(prefix, now),
                        "_id": doc["id"], "_source": doc})
    helpers.bulk(es, actions, refresh="wait_for")
