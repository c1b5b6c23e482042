"""A real Log API for client and browser tests: ``create_app`` under uvicorn in a
thread on a free port, reading the test's fresh topic and index prefix, with tokens
for an admin, namespace ``pay`` and namespace ``hotel``. Records are indexed into
Elasticsearch and produced to Kafka by the tests themselves."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
import yaml
from confluent_kafka import Producer
from elasticsearch import Elasticsearch

from forwarder.template import install_template
from log_api.main import create_app
from log_api.settings import ApiSettings
from logpipe.document import es_source, index_name
from logpipe.record import Record, encode, stable_id
from logpipe.timefmt import format_ns

TOKENS = {"admin": "tok-admin-0123456789", "pay": "tok-pay-0123456789",
          "hotel": "tok-hotel-0123456789"}


def write_tokens(path: Path) -> Path:
    def digest(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    doc = {"tokens": [
        {"name": "admin", "sha256": digest(TOKENS["admin"]), "admin": True},
        {"name": "pay", "sha256": digest(TOKENS["pay"]), "namespaces": ["pay"]},
        {"name": "hotel", "sha256": digest(TOKENS["hotel"]), "namespaces": ["hotel"]},
    ]}
    path.write_text(yaml.safe_dump(doc))
    return path


def wait_for(check: Any, what: str, timeout: float = 30.0, every: float = 0.05) -> Any:
    """Poll ``check()`` until it returns something truthy; fail with ``what`` after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


_counter = iter(range(10**9))


def record(namespace: str, app: str, level: str, message: str, *, pod: str | None = None,
           ts_ns: int | None = None, container: str | None = None) -> Record:
    n = next(_counter)
    ts = format_ns(ts_ns if ts_ns is not None else time.time_ns())
    pod = pod or f"{app}-7d9f8-abcde"
    cid = stable_id("container", namespace, pod)[:12]
    return Record(
        id=stable_id("client-test", str(n), str(time.time_ns())), ts=ts, ingest_ts=ts,
        node="node-1", source="cri", path=f"/var/log/pods/{namespace}_{pod}/{app}/0.log",
        offset=n * 100, message=message, level=level, stream="stdout", container_id=cid,
        container_name=container or app, namespace=namespace, pod=pod, app=app,
        labels={"app": app},
    )


@dataclass
class LiveApi:
    url: str
    settings: ApiSettings
    es: Elasticsearch
    topic: str
    prefix: str
    indexed: list[Record] = field(default_factory=list)

    def index(self, records: Iterable[Record]) -> list[Record]:
        """Index as the forwarder would (same id and index), refreshed for search."""
        recs = list(records)
        ops: list[dict[str, Any]] = []
        for r in recs:
            ops.append({"index": {"_index": index_name(self.prefix, r.ts), "_id": r.id}})
            ops.append(es_source(r))  # with the derived fields, as the forwarder writes
        resp = self.es.bulk(operations=ops, refresh=True)
        assert not resp["errors"], resp["items"][:2]
        self.indexed.extend(recs)
        return recs

    def produce(self, records: Iterable[Record]) -> list[Record]:
        recs = list(records)
        producer = Producer({"bootstrap.servers": self.settings.kafka_bootstrap, "acks": "all"})
        for r in recs:
            producer.produce(self.topic, encode(r), r.key)
        assert producer.flush(30) == 0, "Kafka did not acknowledge every record"
        return recs

    def wait_live(self) -> None:
        """Until the API's live hub reads the topic (its /readyz says so)."""
        wait_for(lambda: httpx.get(self.url + "/readyz", timeout=5).status_code == 200,
                 "the Log API's live hub to read Kafka", timeout=60, every=0.2)

    def client(self, who: str = "admin") -> httpx.Client:
        return httpx.Client(base_url=self.url + "/api/v1", timeout=30,
                            headers={"Authorization": f"Bearer {TOKENS[who]}"})


@contextmanager
def serve(settings: ApiSettings, port: int) -> Iterator[str]:
    """Run the real app under uvicorn in a thread until the block ends."""
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on",
                                           timeout_graceful_shutdown=5))
    thread = threading.Thread(target=server.run, name="log-api", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        def ready() -> bool:
            if not thread.is_alive():
                raise AssertionError("the Log API thread died at start-up")
            try:
                return httpx.get(url + "/healthz", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(ready, "the Log API to answer", timeout=60, every=0.1)
        yield url
    finally:
        server.should_exit = True
        thread.join(30)


@contextmanager
def live_api(es: Elasticsearch, es_url: str, kafka_bootstrap: str, topic: str, prefix: str,
             tmp: Path, port: int, **overrides: Any) -> Iterator[LiveApi]:
    install_template(es, prefix, 1, 0, "1s", 200)
    settings = ApiSettings(
        kafka_bootstrap=kafka_bootstrap, kafka_topic=topic, es_url=es_url, index_prefix=prefix,
        tokens_file=write_tokens(tmp / "tokens.yaml"), port=port,
        **{"kafka_start_timeout_s": 10.0, **overrides},
    )
    with serve(settings, port) as url:
        yield LiveApi(url, settings, es, topic, prefix)
