"""Level ratio, app share, histogram and field values: exact against known data, and
scoped to the token's namespaces."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from logpipe.levels import LEVELS
from logpipe.timefmt import format_ns
from tests.log_api.conftest import History
from tests.log_api.helpers import ADMIN, BASE_NS, HOTEL, PAY, asgi_client, auth, settings_for

pytestmark = pytest.mark.integration


def _settings(tmp_path: Path, kafka: str, es_url: str, history: History, **extra: Any) -> Any:
    return settings_for(tmp_path, kafka, es_url, history.topic, history.prefix, **extra)


async def test_level_ratio_is_exact_and_per_app(
        tmp_path: Path, kafka_bootstrap: str, es_url: str, history: History) -> None:
    async with asgi_client(_settings(tmp_path, kafka_bootstrap, es_url, history)) as (_, client):
        r = await client.get("/api/v1/stats/levels", params={"by_app": "true"},
                             headers=auth(PAY))
    assert r.status_code == 200, r.text
    body = r.json()
    pay = history.where(namespace="pay")
    want = Counter(rec.level for rec in pay)
    assert body["total"] == len(pay) == 10_500
    got = {x["level"]: x["count"] for x in body["levels"]}
    assert got == {lv: want.get(lv, 0) for lv in LEVELS}
    assert got["fatal"] == 0  # the hotel's fatal entries are not this token's
    pct = {x["level"]: x["percent"] for x in body["levels"]}
    assert pct["error"] == pytest.approx(100 * want["error"] / len(pay), abs=1e-3)
    apps = {a["app"]: a for a in body["by_app"]}
    assert set(apps) == {"checkout", "billing"}
    billing = {x["level"]: x["count"] for x in apps["billing"]["levels"]}
    assert billing["error"] == 1500 and billing["info"] == 3000
    assert apps["checkout"]["total"] == 6000


async def test_app_share_top_n_plus_other_with_exact_bytes(
        tmp_path: Path, kafka_bootstrap: str, es_url: str, history: History) -> None:
    async with asgi_client(_settings(tmp_path, kafka_bootstrap, es_url, history)) as (_, client):
        r = await client.get("/api/v1/stats/apps", params={"top": 1}, headers=auth(ADMIN))
    assert r.status_code == 200, r.text
    body = r.json()
    nbytes = Counter[str]()
    for rec in history.records:
        nbytes[rec.app or ""] += len(rec.message.encode())
    assert body["total_entries"] == 10_800
    assert body["total_bytes"] == sum(nbytes.values())
    assert body["apps_total"] == 3
    (top,) = body["top"]
    assert (top["app"], top["entries"], top["bytes"]) == ("checkout", 6000, nbytes["checkout"])
    other = body["other"]
    assert other["entries"] == 4800
    assert other["bytes"] == nbytes["billing"] + nbytes["booking"]
    assert top["entries_percent"] + other["entries_percent"] == pytest.approx(100.0)


async def test_histogram_buckets_by_level_sum_to_the_total(
        tmp_path: Path, kafka_bootstrap: str, es_url: str, history: History) -> None:
    since = format_ns(BASE_NS)
    until = format_ns(BASE_NS + 6000 * 1_000_000_000)
    async with asgi_client(_settings(tmp_path, kafka_bootstrap, es_url, history)) as (_, client):
        auto = await client.get("/api/v1/stats/histogram",
                                params={"since": since, "until": until}, headers=auth(PAY))
        fixed = await client.get("/api/v1/stats/histogram",
                                 params={"since": since, "until": until, "interval": "1h"},
                                 headers=auth(PAY))
        bad = await client.get("/api/v1/stats/histogram",
                               params={"since": since, "interval": "7x"}, headers=auth(PAY))
    assert auto.status_code == fixed.status_code == 200, auto.text
    assert auto.json()["interval"] == "5m"  # 100 minutes / 60 buckets -> 5 minutes
    buckets = fixed.json()["buckets"]
    assert len(buckets) == 2  # 22:00 and 23:00
    assert sum(b["total"] for b in buckets) == 10_500
    assert sum(b["levels"].get("error", 0) for b in buckets) == 600 + 1500
    assert buckets[0]["start"].startswith("2026-11-24T22:00:00")
    assert bad.status_code == 400 and "interval" in bad.json()["error"]


async def test_field_values_only_show_the_tokens_namespaces(
        tmp_path: Path, kafka_bootstrap: str, es_url: str, history: History) -> None:
    async with asgi_client(_settings(tmp_path, kafka_bootstrap, es_url, history)) as (_, client):
        pay = (await client.get("/api/v1/fields", headers=auth(PAY))).json()
        hotel = (await client.get("/api/v1/fields", params={"field": "app"},
                                  headers=auth(HOTEL))).json()
        pref = (await client.get("/api/v1/fields", params={"field": "app", "prefix": "ch"},
                                 headers=auth(ADMIN))).json()
        bad = await client.get("/api/v1/fields", params={"field": "secret"}, headers=auth(PAY))
    values = {k: {v["value"] for v in vs} for k, vs in pay["fields"].items()}
    assert values["namespace"] == {"pay"}
    assert values["app"] == {"checkout", "billing"}
    assert values["container"] == {"c1", "c2", "b1"}
    assert {v["value"]: v["count"] for v in hotel["fields"]["app"]} == {"booking": 300}
    assert [v["value"] for v in pref["fields"]["app"]] == ["checkout"]
    assert bad.status_code == 400


async def test_statistics_refuse_foreign_namespaces_and_regexes(
        tmp_path: Path, kafka_bootstrap: str, es_url: str, history: History) -> None:
    async with asgi_client(_settings(tmp_path, kafka_bootstrap, es_url, history)) as (_, client):
        codes = []
        for path in ("/api/v1/stats/levels", "/api/v1/stats/apps", "/api/v1/stats/histogram",
                     "/api/v1/fields"):
            r = await client.get(path, params={"namespace": "hotel"}, headers=auth(PAY))
            codes.append(r.status_code)
        regex = await client.get("/api/v1/stats/levels", params={"include": "x"},
                                 headers=auth(PAY))
    assert codes == [403, 403, 403, 403]
    assert regex.status_code == 400 and "regex" in regex.json()["error"]
