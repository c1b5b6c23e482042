"""``GET /api/v1/exports`` against the real Elasticsearch: a token lists only its own
export jobs, newest first, with the single-job model; no token is a 401."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from tests.log_api.helpers import (
    ADMIN,
    HOTEL,
    PAY,
    asgi_client,
    auth,
    index_records,
    record,
    settings_for,
)

pytestmark = pytest.mark.integration


async def test_a_token_lists_only_its_own_exports_newest_first(
        tmp_path: Path, kafka_bootstrap: str, es_url: str, topic: str, index_prefix: str,
        es: Elasticsearch) -> None:
    index_records(es, index_prefix, [record(i) for i in range(30)] +
                  [record(i, namespace="hotel", app="booking") for i in range(10)])
    settings = settings_for(tmp_path, kafka_bootstrap, es_url, topic, index_prefix)
    async with asgi_client(settings) as (_, client):
        empty = await client.get("/api/v1/exports", headers=auth(PAY))
        first = (await client.post("/api/v1/exports", headers=auth(PAY))).json()
        second = (await client.post("/api/v1/exports", params={"format": "tar.gz"},
                                    headers=auth(PAY))).json()
        hotel = (await client.post("/api/v1/exports", headers=auth(HOTEL))).json()
        deadline = time.monotonic() + 60
        while True:
            listed = await client.get("/api/v1/exports", headers=auth(PAY))
            states = [j["state"] for j in listed.json()["exports"]]
            if states == ["done", "done"] or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        single = await client.get(f"/api/v1/exports/{second['id']}", headers=auth(PAY))
        hotel_list = await client.get("/api/v1/exports", headers=auth(HOTEL))
        admin_list = await client.get("/api/v1/exports", headers=auth(ADMIN))
        anonymous = await client.get("/api/v1/exports")
        await client.delete(f"/api/v1/exports/{first['id']}", headers=auth(PAY))
        after_delete = await client.get("/api/v1/exports", headers=auth(PAY))
    assert empty.status_code == 200 and empty.json() == {"exports": []}
    jobs = listed.json()["exports"]
    assert [j["id"] for j in jobs] == [second["id"], first["id"]]
    assert jobs[0] == single.json()  # the same model as the single-job endpoint
    assert jobs[0]["format"] == "tar.gz" and jobs[1]["written"] == 30
    assert [j["id"] for j in hotel_list.json()["exports"]] == [hotel["id"]]
    assert admin_list.json()["exports"] == []  # admin reads every namespace, not every job
    assert anonymous.status_code == 401 and "token" in anonymous.json()["error"]
    assert [j["id"] for j in after_delete.json()["exports"]] == [second["id"]]
