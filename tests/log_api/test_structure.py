"""Fields, trace/request ids and patterns end to end: records produced to the real Kafka,
indexed by the real forwarder (a process), read through the Log API (issue 14).

A JSON line's field filter finds it and only it, everywhere the common filters apply;
one request id links three apps' lines in time order; a tenant never sees another
namespace's field values, patterns or trace lines; pattern counts are exact; a live
tail carries the fields and filters on them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from confluent_kafka.admin import AdminClient
from elasticsearch import Elasticsearch
from httpx_sse import aconnect_sse

from log_api.routes import patterns as patterns_route
from logpipe.record import Record
from logpipe.structured import derive, norm_keys
from logpipe.timefmt import format_ns, parse_ns
from tests.conftest import create_topic, unique
from tests.forwarder.util import (
    count_docs,
    forwarder_env,
    produce_records,
    running,
    wait_until,
)
from tests.log_api.helpers import (
    ADMIN,
    BASE_NS,
    HOTEL,
    PAY,
    asgi_client,
    auth,
    copy_record,
    produce,
    record,
    served,
    settings_for,
)

pytestmark = pytest.mark.integration

S = 1_000_000_000
T0 = BASE_NS + 3600 * S  # the range the tests ask about starts here
RID = "f64e4cbc89ffb287"


def _line(i: int, message: str, *, app: str, namespace: str = "pay", at: int) -> Record:
    return copy_record(record(i, app=app, namespace=namespace, message=message,
                              container=f"{namespace}-{app}"), ts=format_ns(at))


def _data() -> list[Record]:
    out = [
        # One request through three apps (and a fourth in another tenant with the same
        # id), produced out of time order: the trace answer is sorted by time.
        _line(1, f"time=2026-11-24T23:00:03Z level=info msg=\"receipt sent\" txn={RID}",
              app="mail", at=T0 + 30 * S),
        _line(2, orjson.dumps({"event": "coupon rejected", "level": "info", "user": "bo",
                               "sku": "SKU-7788", "request_id": RID}).decode(),
              app="cart", at=T0 + 10 * S),
        _line(3, orjson.dumps({"msg": "charge ok", "x-request-id": RID,
                               "amount": {"cents": 1299}}).decode(),
              app="payments", at=T0 + 20 * S),
        _line(4, orjson.dumps({"msg": "guest checked in", "user": "secret-guest",
                               "room": "101", "request_id": RID}).decode(),
              app="booking", namespace="hotel", at=T0 + 15 * S),
        # Other users, so "user=bo" has to pick one line out of several.
        _line(5, orjson.dumps({"event": "coupon rejected", "user": "al",
                               "request_id": "aaaa"}).decode(), app="cart", at=T0 + 40 * S),
        _line(6, orjson.dumps({"event": "item added", "user": "cy"}).decode(), app="cart",
              at=T0 + 41 * S),
    ]
    # Plain text lines: one pattern, numbers masked; three of them before the range.
    for i in range(20):
        out.append(_line(100 + i, f"GET /api/orders/{i} 200 {i * 7}ms", app="cart",
                         at=T0 + (50 + i) * S))
    for i in range(3):
        out.append(_line(200 + i, f"GET /api/orders/{i} 500 {i}ms", app="cart",
                         at=T0 - (600 + i) * S))
    return out


@pytest.fixture(scope="module")
def indexed(kafka_bootstrap: str, es_url: str, tmp_path_factory: pytest.TempPathFactory,
            ) -> Iterator[tuple[str, list[Record], str]]:
    """The data set produced to Kafka and indexed by a real forwarder process."""
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    topic, prefix, group = unique("structtopic"), unique("struct"), unique("structgroup")
    create_topic(admin, topic)
    es = Elasticsearch(es_url, request_timeout=60)
    records = _data()
    produce_records(kafka_bootstrap, topic, records)
    env = forwarder_env(kafka_bootstrap, es_url, topic, prefix, group,
                        LOGPIPE_REQUEST_ID_KEYS="txn, order_ref")
    with running(env, tmp_path_factory.mktemp("fwd") / "fwd.log"):
        wait_until(lambda: count_docs(es, prefix) == len(records), 90, "all records indexed")
    es.indices.refresh(index=f"{prefix}-*")
    yield prefix, records, topic
    es.options(ignore_status=404).indices.delete(index=f"{prefix}-*")
    es.options(ignore_status=404).indices.delete_index_template(name=prefix)
    es.close()
    for name in (topic, f"{topic}.dlq"):
        for fut in admin.delete_topics([name]).values():
            with contextlib.suppress(Exception):
                fut.result(timeout=30)


RANGE = {"since": format_ns(T0), "until": format_ns(T0 + 3600 * S)}


async def _get(client: httpx.AsyncClient, token: str, path: str,
               params: Any = None) -> dict[str, Any]:
    resp = await client.get(path, params=params, headers=auth(token))
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def _settings(tmp_path: Path, kafka: str, es_url: str, prefix: str, topic: str) -> Any:
    return settings_for(tmp_path, kafka, es_url, topic, prefix, kafka_start_timeout_s=5.0)


async def test_a_field_filter_finds_the_line_and_only_it_everywhere(
        indexed: tuple[str, list[Record], str], tmp_path: Path, kafka_bootstrap: str,
        es_url: str, es: Elasticsearch) -> None:
    prefix, records, topic = indexed
    bo = records[1]
    by = [("field.user", "bo"), *RANGE.items()]
    async with asgi_client(_settings(tmp_path, kafka_bootstrap, es_url, prefix, topic)) as (_, c):
        page = await _get(c, PAY, "/api/v1/search", by)
        levels = await _get(c, PAY, "/api/v1/stats/levels", by)
        apps = await _get(c, PAY, "/api/v1/stats/apps", by)
        hist = await _get(c, PAY, "/api/v1/stats/histogram", [*by, ("interval", "1m")])
        has = await _get(c, PAY, "/api/v1/search", [("has_field", "sku"), *RANGE.items()])
        nested = await _get(c, PAY, "/api/v1/search",
                            [("field.amount.cents", "1299"), *RANGE.items()])
        both = await _get(c, PAY, "/api/v1/search",
                          [("field.user", "bo"), ("field.user", "al"), *RANGE.items()])
        none = await _get(c, PAY, "/api/v1/search",
                          [("field.user", "bo"), ("field.sku", "other"), *RANGE.items()])
        download = await c.get("/api/v1/download", params=[*by, ("format", "ndjson")],
                               headers=auth(PAY))
        bad = await c.get("/api/v1/search", params={"field.": "x"}, headers=auth(PAY))
    assert [e["id"] for e in page["entries"]] == [bo.id] and page["total"] == 1
    entry = page["entries"][0]
    assert entry["message"] == bo.message  # the raw line, unchanged
    assert entry["msg"] == "coupon rejected"
    assert entry["fields"]["user"] == "bo" and entry["fields"]["sku"] == "SKU-7788"
    assert entry["request_id"] == RID and entry["pattern_id"].startswith("p1-")
    assert levels["total"] == 1 and apps["total_entries"] == 1
    assert sum(b["total"] for b in hist["buckets"]) == 1
    assert [e["id"] for e in has["entries"]] == [bo.id]
    assert [e["id"] for e in nested["entries"]] == [records[2].id]
    assert {e["id"] for e in both["entries"]} == {bo.id, records[4].id}
    assert none["entries"] == []
    lines = [orjson.loads(x) for x in download.content.splitlines() if x]
    assert [x["message"] for x in lines if "message" in x] == [bo.message]
    assert bad.status_code == 400 and "field.<name>" in bad.json()["error"]
    # The document holds the derived fields as the forwarder wrote them.
    doc = es.search(index=f"{prefix}-*", query={"ids": {"values": [bo.id]}})["hits"]["hits"][0]
    assert doc["_source"]["message"] == bo.message
    assert doc["_source"]["fields"]["user"] == "bo"


async def test_a_request_id_links_three_apps_in_time_order_within_the_tenant(
        indexed: tuple[str, list[Record], str], tmp_path: Path, kafka_bootstrap: str,
        es_url: str) -> None:
    prefix, _, topic = indexed
    async with asgi_client(_settings(tmp_path, kafka_bootstrap, es_url, prefix, topic)) as (_, c):
        pay = await _get(c, PAY, "/api/v1/search", {"trace": RID, "order": "oldest"})
        admin = await _get(c, ADMIN, "/api/v1/search", {"trace": RID, "order": "oldest"})
        hotel = await _get(c, HOTEL, "/api/v1/search", {"trace": RID})
        ids = await _get(c, PAY, "/api/v1/fields", {"field": ["request_id"], **RANGE})
    assert [e["app"] for e in pay["entries"]] == ["cart", "payments", "mail"]
    # The mail line's id came from the configured key (LOGPIPE_REQUEST_ID_KEYS=txn).
    assert pay["entries"][2]["request_id"] == RID and pay["entries"][2]["fields"]["txn"] == RID
    assert [e["app"] for e in admin["entries"]] == ["cart", "booking", "payments", "mail"]
    assert [e["app"] for e in hotel["entries"]] == ["booking"]
    assert {v["value"]: v["count"] for v in ids["fields"]["request_id"]} == {RID: 3, "aaaa": 1}


async def test_a_tenant_never_sees_another_namespaces_fields_patterns_or_lines(
        indexed: tuple[str, list[Record], str], tmp_path: Path, kafka_bootstrap: str,
        es_url: str) -> None:
    prefix, _, topic = indexed
    async with asgi_client(_settings(tmp_path, kafka_bootstrap, es_url, prefix, topic)) as (_, c):
        fields = await _get(c, PAY, "/api/v1/fields", {"field": "field.*", **RANGE})
        users = await _get(c, PAY, "/api/v1/fields", {"field": "field.user", **RANGE})
        patterns = await _get(c, PAY, "/api/v1/patterns", RANGE)
        secret = await _get(c, PAY, "/api/v1/search", {"field.user": "secret-guest"})
        levels = await _get(c, PAY, "/api/v1/stats/levels", {"field.room": "101", **RANGE})
        forbidden = await c.get("/api/v1/patterns", params={"namespace": "hotel"},
                                headers=auth(PAY))
        hotel_fields = await _get(c, HOTEL, "/api/v1/fields", {"field": "field.*", **RANGE})
    text = orjson.dumps([fields, users, patterns]).decode()
    assert "secret-guest" not in text and "guest checked in" not in text
    assert "room" not in {v["value"] for v in fields["fields"]["field_names"]}
    assert {v["value"] for v in users["fields"]["field.user"]} == {"bo", "al", "cy"}
    assert fields["fields"]["field.user"] == users["fields"]["field.user"]
    assert secret["entries"] == [] and levels["total"] == 0
    assert forbidden.status_code == 403
    assert [v["value"] for v in hotel_fields["fields"]["field.user"]] == ["secret-guest"]


async def test_pattern_counts_are_exact_and_new_means_unseen_before_the_range(
        indexed: tuple[str, list[Record], str], tmp_path: Path, kafka_bootstrap: str,
        es_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    prefix, records, topic = indexed
    keys = norm_keys(["txn", "order_ref"])
    in_range = [r for r in records if r.namespace == "pay" and T0 <= _ns(r) < T0 + 3600 * S]
    want = Counter(derive(r.message, keys).pattern_id for r in in_range)
    async with asgi_client(_settings(tmp_path, kafka_bootstrap, es_url, prefix, topic)) as (_, c):
        body = await _get(c, PAY, "/api/v1/patterns", {**RANGE, "lookback": "1d"})
        top1 = await _get(c, PAY, "/api/v1/patterns", {**RANGE, "limit": 1})
        whole = await _get(c, PAY, "/api/v1/patterns", {})
        one = await _get(c, PAY, "/api/v1/search",
                         {"pattern": body["patterns"][0]["pattern_id"], **RANGE, "size": 100})
        bad = await c.get("/api/v1/patterns", params={"lookback": "soon"}, headers=auth(PAY))
        # Two buckets a page: the same answer from many composite pages.
        monkeypatch.setattr(patterns_route, "COMPOSITE_PAGE", 2)
        paged = await _get(c, PAY, "/api/v1/patterns", {**RANGE, "lookback": "1d"})
    got = {p["pattern_id"]: p["count"] for p in body["patterns"]}
    assert got == dict(want)
    assert body["total"] == len(in_range) == sum(got.values())
    assert body["patterns_total"] == len(want) and body["other"] is None
    get = next(p for p in body["patterns"] if p["pattern"] == "GET <*> <*> <*>")
    assert get["count"] == 20 and get["new"] is False  # seen 10 minutes before the range
    assert get["levels"] == {"info": 20} and get["level"] == "info"
    assert get["first_seen"] == format_ns(T0 + 50 * S)
    assert get["last_seen"] == format_ns(T0 + 69 * S)
    assert coupon_first(body) == T0 + 10 * S
    assert get["apps"] == [{"app": "cart", "count": 20}]
    coupon = next(p for p in body["patterns"] if p["pattern"] == "coupon rejected")
    assert coupon["count"] == 2 and coupon["new"] is True
    assert body["patterns"][0] == get  # most entries first
    assert top1["other"] == {"patterns": len(want) - 1, "count": len(in_range) - 20}
    assert all(p["new"] is None for p in whole["patterns"])  # no since: no "before"
    assert whole["total"] == sum(1 for r in records if r.namespace == "pay")
    assert len(one["entries"]) == 20
    assert bad.status_code == 400
    assert paged == body


def coupon_first(body: dict[str, Any]) -> int:
    return parse_ns(next(p for p in body["patterns"]
                         if p["pattern"] == "coupon rejected")["first_seen"])


def _ns(r: Record) -> int:
    return parse_ns(r.ts)


async def test_a_live_tail_carries_fields_and_filters_on_them(
        tmp_path: Path, kafka_bootstrap: str, es_url: str, topic: str,
        index_prefix: str) -> None:
    settings = settings_for(tmp_path, kafka_bootstrap, es_url, topic, index_prefix,
                            request_id_keys="txn")
    # One Kafka key: read in this order, so a filter that let either of the first two
    # through would show it first.
    other = copy_record(record(2, message='{"msg": "paid", "user": "al"}'), container_id="k")
    hidden = copy_record(record(3, namespace="hotel", app="booking",
                                message='{"msg": "paid", "user": "bo"}'), container_id="k")
    mine = copy_record(record(1, message='{"msg": "paid", "user": "bo", "txn": "T-1"}'),
                       container_id="k")
    async with served(settings) as (_, base), httpx.AsyncClient(
            base_url=base, timeout=60) as client, aconnect_sse(
            client, "GET", "/api/v1/tail", headers=auth(PAY),
            params={"backfill": 0, "field.user": "bo"}) as source:
        assert source.response.status_code == 200
        events = source.aiter_sse()
        async with asyncio.timeout(30):
            while (await anext(events)).event != "live":
                pass
            produce(kafka_bootstrap, topic, [other, hidden, mine])
            while (event := await anext(events)).event != "entry":
                pass
    entry = event.json()
    assert entry["id"] == mine.id and entry["message"] == mine.message
    assert entry["fields"] == {"msg": "paid", "user": "bo", "txn": "T-1"}
    assert entry["msg"] == "paid" and entry["request_id"] == "T-1"
