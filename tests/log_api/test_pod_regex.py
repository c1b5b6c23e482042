"""``pod_regex`` against the real Elasticsearch and Kafka: search, download and the live
tail's back-fill hold only matching pods (inside the token's scope), statistics refuse
it like the other regexes, and a bad pattern is a 400 that says why."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from elasticsearch import Elasticsearch

from logpipe.record import Record
from logpipe.timefmt import parse_ns
from tests.log_api.helpers import (
    ADMIN,
    PAY,
    asgi_client,
    auth,
    copy_record,
    index_records,
    produce,
    record,
    served,
    settings_for,
)
from tests.log_api.test_tail import _count, _live, tail

pytestmark = pytest.mark.integration

PODS = ["api-7f9c-a", "api-7f9c-b", "worker-1", "xapi-2"]


def _pods(n: int, start: int = 0) -> list[Record]:
    """n records cycling through PODS, plus a hotel pod that also matches ``^api-``."""
    out = [record(start + i, pod=PODS[i % len(PODS)]) for i in range(n)]
    out += [record(start + i, namespace="hotel", app="booking", pod="api-hotel")
            for i in range(n // 4)]
    return out


def _api(r: Record) -> bool:
    return (r.pod or "").startswith("api-")


async def test_search_and_download_filter_pods_on_the_server(
        tmp_path: Path, kafka_bootstrap: str, es_url: str, topic: str, index_prefix: str,
        es: Elasticsearch) -> None:
    recs = _pods(200)
    index_records(es, index_prefix, recs)
    settings = settings_for(tmp_path, kafka_bootstrap, es_url, topic, index_prefix)
    async with asgi_client(settings) as (_, client):
        page = await client.get("/api/v1/search", params={"pod_regex": "^api-", "size": 1000},
                                headers=auth(PAY))
        exact = await client.get("/api/v1/search", params={
            "pod_regex": "^api-", "pod": ["api-7f9c-b", "worker-1"], "size": 1000},
            headers=auth(PAY))
        admin = await client.get("/api/v1/search", params={"pod_regex": "hotel$", "size": 10},
                                 headers=auth(ADMIN))
        download = await client.get("/api/v1/download", params={
            "pod_regex": "^api-7f9c-a$", "format": "ndjson", "order": "oldest"},
            headers=auth(PAY))
    assert page.status_code == 200, page.text
    want = [r for r in recs if r.namespace == "pay" and _api(r)]
    assert len(want) == 100
    entries = page.json()["entries"]
    assert sorted(e["id"] for e in entries) == sorted(r.id for r in want)
    assert page.json()["total"] is None  # a regex: applied while reading, like include
    assert {e["pod"] for e in exact.json()["entries"]} == {"api-7f9c-b"}
    assert len(exact.json()["entries"]) == 50
    assert {e["pod"] for e in admin.json()["entries"]} == {"api-hotel"}
    lines = [orjson.loads(x) for x in download.content.splitlines()]
    assert [x["id"] for x in lines] == [r.id for r in sorted(
        (r for r in want if r.pod == "api-7f9c-a"), key=lambda r: (parse_ns(r.ts), r.id))]


@pytest.mark.parametrize(("params", "status", "needle"), [
    ({"pod_regex": "(?<=a)b"}, 400, "RE2"),
    ({"pod_regex": "a" * 600}, 400, "limit"),
    ({"pod_regex": "(a"}, 400, "pod_regex"),
])
async def test_bad_pod_regex_is_a_400_that_says_why(
        tmp_path: Path, kafka_bootstrap: str, es_url: str, topic: str, index_prefix: str,
        params: dict[str, str], status: int, needle: str) -> None:
    settings = settings_for(tmp_path, kafka_bootstrap, es_url, topic, index_prefix)
    async with asgi_client(settings) as (_, client):
        r = await client.get("/api/v1/search", params=params, headers=auth(PAY))
    assert r.status_code == status
    assert needle in r.json()["error"]


async def test_statistics_refuse_pod_regex_but_take_exact_pods(
        tmp_path: Path, kafka_bootstrap: str, es_url: str, topic: str, index_prefix: str,
        es: Elasticsearch) -> None:
    index_records(es, index_prefix, _pods(40))
    settings = settings_for(tmp_path, kafka_bootstrap, es_url, topic, index_prefix)
    async with asgi_client(settings) as (_, client):
        refused = await client.get("/api/v1/stats/levels", params={"pod_regex": "^api-"},
                                   headers=auth(PAY))
        fields = await client.get("/api/v1/fields", params={"pod_regex": "^api-",
                                                            "field": "pod"}, headers=auth(PAY))
        exact = await client.get("/api/v1/stats/levels", params={"pod": "worker-1"},
                                 headers=auth(PAY))
    assert refused.status_code == fields.status_code == 400
    assert "pod_regex" in refused.json()["error"]
    assert exact.status_code == 200, exact.text
    # _pods(40): every fourth record is worker-1's, all at level info.
    assert exact.json()["total"] == 10
    assert {lv["level"]: lv["count"] for lv in exact.json()["levels"] if lv["count"]} == {
        "info": 10}


async def test_tail_backfill_holds_n_matching_pods_then_only_matching_live(
        tmp_path: Path, kafka_bootstrap: str, es_url: str, topic: str, index_prefix: str,
        es: Elasticsearch) -> None:
    indexed = _pods(40)
    # The newest indexed entries are of other pods: a client-side filter would get few.
    indexed += [record(100 + i, pod="worker-1") for i in range(20)]
    index_records(es, index_prefix, indexed)
    live = [copy_record(r, container_id="k") for r in _pods(8, 200)]
    settings = settings_for(tmp_path, kafka_bootstrap, es_url, topic, index_prefix)
    async with served(settings) as (_, base), tail(base, PAY, backfill=6,
                                                   pod_regex="^api-") as stream:
        await stream.until(_live)
        backfill = stream.entries()
        produce(kafka_bootstrap, topic, live)
        await stream.until(_count(6 + 4))
    matching = sorted((r for r in indexed if r.namespace == "pay" and _api(r)),
                      key=lambda r: (parse_ns(r.ts), r.id))
    assert [e["id"] for e in backfill] == [r.id for r in matching[-6:]]
    got_live = stream.entries()[6:]
    assert sorted(e["id"] for e in got_live) == sorted(
        r.id for r in live if r.namespace == "pay" and _api(r))
