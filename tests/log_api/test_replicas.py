"""Two Log API replicas (real ``logpipe api`` processes) behind a round-robin proxy, over
the real Elasticsearch and Kafka: export jobs, their progress and archives are reachable
from either; a job whose replica is killed (SIGKILL) mid-export is taken over and its
archive holds every entry once; jobs, finished and running, survive restarting both;
a per-token cap counts the streams of both replicas."""

from __future__ import annotations

import contextlib
import gzip
import io
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
from confluent_kafka.admin import AdminClient
from elasticsearch import Elasticsearch

from tests.conftest import create_topic, unique
from tests.log_api.helpers import HOTEL, PAY, auth, chunks, index_records, record, write_tokens
from tests.log_api.replicas import ApiProcess, RoundRobinProxy

pytestmark = pytest.mark.integration
APPS = ("checkout", "billing", "search")
N = 12_000  # 120 pages of 100: an export runs long enough to be killed in the middle


@dataclass
class Replicas:
    a: ApiProcess
    b: ApiProcess
    proxy: RoundRobinProxy
    es: Elasticsearch
    prefix: str
    ids: dict[str, set[str]]  # app -> the pay entries' ids

    def all_ids(self) -> set[str]:
        return set().union(*self.ids.values())


@pytest.fixture(scope="module")
def replicas(es_url: str, kafka_bootstrap: str,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    tmp = tmp_path_factory.mktemp("replicas")
    es = Elasticsearch(es_url, request_timeout=60)
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    prefix, topic = unique("rep"), unique("reptopic")
    create_topic(admin, topic)
    recs = [record(i, app=APPS[i % 3], container=f"c{i % 3}") for i in range(N)]
    recs += [record(i, namespace="hotel", app="booking") for i in range(50)]
    index_records(es, prefix, recs)
    ids: dict[str, set[str]] = {}
    for r in recs:
        if r.namespace == "pay":
            ids.setdefault(r.app or "", set()).add(r.id)
    env = {"LOGPIPE_ES_URL": es_url, "LOGPIPE_KAFKA_BOOTSTRAP": kafka_bootstrap,
           "LOGPIPE_INDEX_PREFIX": prefix, "LOGPIPE_KAFKA_TOPIC": topic,
           "LOGPIPE_TOKENS_FILE": str(write_tokens(tmp / "tokens.yaml")),
           "LOGPIPE_LOG_LEVEL": "info", "LOGPIPE_KAFKA_START_TIMEOUT_S": "10",
           # Short leases: a killed replica's work moves within seconds.
           "LOGPIPE_REPLICA_LEASE_S": "2", "LOGPIPE_DOWNLOAD_PAGE_SIZE": "100",
           # Small pieces: a page's archive spans several documents.
           "LOGPIPE_EXPORT_CHUNK_BYTES": "8192", "LOGPIPE_TAIL_MAX_PER_TOKEN": "2",
           "LOGPIPE_TICKET_SECRET": "one secret for every replica"}
    a, b = ApiProcess("a", env, tmp), ApiProcess("b", env, tmp)
    a.start()
    b.start()
    proxy = RoundRobinProxy([a.port, b.port])
    try:
        yield Replicas(a, b, proxy, es, prefix, ids)
    finally:
        proxy.close()
        a.stop()
        b.stop()
        for name in (f"{prefix}-*", f"{prefix}_state"):
            es.options(ignore_status=404).indices.delete(index=name, expand_wildcards="all")
        for name in (prefix, f"{prefix}_state"):
            es.options(ignore_status=404).indices.delete_index_template(name=name)
        es.close()
        for fut in admin.delete_topics([topic]).values():
            with contextlib.suppress(Exception):
                fut.result(timeout=30)


def client(base: str) -> httpx.Client:
    # No keep-alive: every request is a new connection, so the proxy alternates.
    return httpx.Client(base_url=base, timeout=60,
                        limits=httpx.Limits(max_keepalive_connections=0))


def wait_done(http: httpx.Client, job: str, timeout: float = 240) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        resp = http.get(f"/api/v1/exports/{job}", headers=auth(PAY))
        assert resp.status_code == 200, resp.text
        body: dict[str, Any] = resp.json()
        if body["state"] != "running":
            return body
        assert time.monotonic() < deadline, f"export {job} still running: {body}"
        time.sleep(0.2)


def ndjson_ids(data: bytes) -> list[str]:
    return [orjson.loads(line)["id"] for line in gzip.decompress(data).splitlines()]


def tar_ids(data: bytes) -> dict[str, list[str]]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return {m.name: [orjson.loads(line)["id"]
                         for line in tar.extractfile(m).read().splitlines()]  # type: ignore[union-attr]
                for m in tar.getmembers()}


def check_archives(rep: Replicas, fmt: str, data: bytes) -> None:
    if fmt == "ndjson.gz":
        got = ndjson_ids(data)
        assert len(got) == len(set(got)) == N and set(got) == rep.all_ids()
    else:
        members = tar_ids(data)
        assert set(members) == {f"{app}.ndjson" for app in APPS}
        for app in APPS:
            got = members[f"{app}.ndjson"]
            assert len(got) == len(set(got)) and set(got) == rep.ids[app], app


def test_an_export_is_taken_over_when_its_replica_is_killed_mid_export(
        replicas: Replicas) -> None:
    rep = replicas
    with client(rep.a.url) as on_a, client(rep.b.url) as on_b, client(rep.proxy.url) as lb:
        jobs = {fmt: on_a.post("/api/v1/exports", params={"format": fmt}, headers=auth(PAY))
                for fmt in ("ndjson.gz", "tar.gz")}
        assert all(r.status_code == 202 for r in jobs.values()), [r.text for r in jobs.values()]
        ids = {fmt: r.json()["id"] for fmt, r in jobs.items()}
        # Watched through the other replica until both are well under way.
        deadline = time.monotonic() + 120
        while True:
            seen = [on_b.get(f"/api/v1/exports/{i}", headers=auth(PAY)).json()
                    for i in ids.values()]
            if all(j["written"] >= 1000 for j in seen):
                break
            assert all(j["state"] == "running" for j in seen), seen
            assert time.monotonic() < deadline, seen
            time.sleep(0.05)
        rep.a.kill()
        at_kill = [on_b.get(f"/api/v1/exports/{i}", headers=auth(PAY)).json()
                   for i in ids.values()]
        done = {fmt: wait_done(lb, i) for fmt, i in ids.items()}
        files = {fmt: lb.get(f"/api/v1/exports/{i}/file", headers=auth(PAY))
                 for fmt, i in ids.items()}
        listed = lb.get("/api/v1/exports", headers=auth(PAY)).json()["exports"]
        metrics = on_b.get("/metrics").text
    rep.a.start()  # back for the other tests
    for job in at_kill:  # killed in the middle, not after the end
        assert job["state"] == "running" and 0 < job["written"] < N, job
    for fmt, job in done.items():
        assert job["state"] == "done" and job["written"] == N, job
        resp = files[fmt]
        assert resp.status_code == 200
        assert int(resp.headers["content-length"]) == len(resp.content) == job_bytes(rep, ids[fmt])
        check_archives(rep, fmt, resp.content)
    assert {j["id"] for j in listed} >= set(ids.values())
    assert "logpipe_api_export_takeovers_total 2.0" in metrics
    # Only the archive is kept: the pieces the killed replica wrote past its last
    # commit, and the tar's per-app pieces, are gone.
    for fmt, job in ids.items():
        part = "s" if fmt == "ndjson.gz" else "p"
        assert all(f":{part}" in c for c in chunks(rep.es, rep.prefix, job)), fmt


def job_bytes(rep: Replicas, job: str) -> int:
    doc = rep.es.get(index=f"{rep.prefix}_state", id=f"job:{job}")
    return int(doc["_source"]["bytes"])


def test_exports_survive_restarting_both_replicas(replicas: Replicas) -> None:
    rep = replicas
    with client(rep.proxy.url) as lb, client(rep.a.url) as on_a:
        small = lb.post("/api/v1/exports", params={"app": "billing"}, headers=auth(PAY)).json()
        assert wait_done(lb, small["id"])["state"] == "done"
        before = lb.get(f"/api/v1/exports/{small['id']}/file", headers=auth(PAY)).content
        running = on_a.post("/api/v1/exports", params={"format": "tar.gz"},
                            headers=auth(PAY)).json()
        deadline = time.monotonic() + 120
        while on_a.get(f"/api/v1/exports/{running['id']}",
                       headers=auth(PAY)).json()["written"] < 500:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    # A rolling restart of everything: each stop hands its jobs back (SIGTERM).
    rep.a.stop()
    rep.b.stop()
    rep.a.start()
    rep.b.start()
    with client(rep.proxy.url) as lb, client(rep.a.url) as on_a, client(rep.b.url) as on_b:
        listed = {j["id"]: j for j in lb.get("/api/v1/exports", headers=auth(PAY)).json()[
            "exports"]}
        after = [c.get(f"/api/v1/exports/{small['id']}/file", headers=auth(PAY)).content
                 for c in (on_a, on_b)]
        finished = wait_done(lb, running["id"])
        tar = lb.get(f"/api/v1/exports/{running['id']}/file", headers=auth(PAY)).content
        hotel = lb.get(f"/api/v1/exports/{small['id']}", headers=auth(HOTEL))
    assert listed[small["id"]]["state"] == "done"
    assert after == [before, before]
    assert sorted(ndjson_ids(before)) == sorted(rep.ids["billing"])
    assert finished["state"] == "done" and finished["written"] == N
    check_archives(rep, "tar.gz", tar)
    assert hotel.status_code == 404  # another token's job, on every replica


def test_a_per_token_stream_cap_counts_both_replicas(replicas: Replicas) -> None:
    rep = replicas
    with contextlib.ExitStack() as stack:
        http = {name: stack.enter_context(client(url)) for name, url in (
            ("a", rep.a.url), ("b", rep.b.url), ("lb", rep.proxy.url))}

        def tail(where: str, token: str = PAY) -> httpx.Response:
            resp = stack.enter_context(http[where].stream(
                "GET", "/api/v1/tail", params={"backfill": 0}, headers=auth(token)))
            if resp.status_code != 200:
                resp.read()
            return resp

        first, second = tail("a"), tail("b")  # the cap, 2: one on each replica
        third = [tail("lb"), tail("lb")]  # whichever replica the proxy picks
        on_a = tail("a")
        hotel = tail("lb", HOTEL)  # another token's cap is its own
        first.close()  # frees a place, over there
        deadline = time.monotonic() + 30
        while (again := tail("b")).status_code == 429:
            assert time.monotonic() < deadline
            time.sleep(0.2)
    assert (first.status_code, second.status_code) == (200, 200)
    assert [r.status_code for r in third] == [429, 429]
    assert on_a.status_code == 429 and "tail_max_per_token" in on_a.text
    assert int(on_a.headers["retry-after"]) >= 1
    assert hotel.status_code == 200
    assert again.status_code == 200
    assert all(n > 0 for n in rep.proxy.sent.values())  # both replicas answered


def test_a_ticket_works_once_over_both_replicas(replicas: Replicas) -> None:
    rep = replicas
    with client(rep.a.url) as on_a, client(rep.b.url) as on_b:
        made = on_a.post("/api/v1/tickets", json={"path": "/download", "query": "limit=5"},
                         headers=auth(PAY)).json()
        first = on_b.get(made["url"])  # made on one replica, used on the other
        again = [c.get(made["url"]) for c in (on_a, on_b)]
    assert first.status_code == 200 and len(first.content.splitlines()) == 5 + 1  # + notice
    assert [r.status_code for r in again] == [401, 401]
