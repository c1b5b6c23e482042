"""Search cursors at their documented edges, against the real Elasticsearch: a cursor
whose point-in-time expired in Elasticsearch still pages on, each entry once; a regex
page cut at regex_scan_limit ends early with a cursor that continues the scan."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from elasticsearch import Elasticsearch

from log_api.cursor import SearchCursor
from tests.log_api.helpers import PAY, asgi_client, auth, index_records, record, settings_for

pytestmark = pytest.mark.integration


async def _search(client: httpx.AsyncClient, params: dict[str, Any]) -> dict[str, Any]:
    r = await client.get("/api/v1/search", params=params, headers=auth(PAY))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_a_cursor_whose_point_in_time_expired_pages_on(
        tmp_path: Path, kafka_bootstrap: str, es_url: str, topic: str, index_prefix: str,
        es: Elasticsearch) -> None:
    recs = [record(i) for i in range(6)]  # one second apart: oldest first is 0..5
    index_records(es, index_prefix, recs)
    settings = settings_for(tmp_path, kafka_bootstrap, es_url, topic, index_prefix)
    params: dict[str, Any] = {"size": 2, "order": "oldest"}
    async with asgi_client(settings) as (_, client):
        first = await _search(client, params)
        pit = SearchCursor.decode(first["next_cursor"]).pit
        assert pit is not None
        # What a keep-alive running out does: Elasticsearch forgets the point-in-time.
        assert es.close_point_in_time(id=pit)["succeeded"] is True
        pages = [first]
        while pages[-1]["next_cursor"]:
            pages.append(await _search(client, {**params, "cursor": pages[-1]["next_cursor"]}))
    got = [[e["message"] for e in page["entries"]] for page in pages]
    assert got == [["checkout line 0 level=info", "checkout line 1 level=info"],
                   ["checkout line 2 level=info", "checkout line 3 level=info"],
                   ["checkout line 4 level=info", "checkout line 5 level=info"]]


async def test_a_regex_page_is_cut_at_the_scan_limit_and_the_cursor_goes_on(
        tmp_path: Path, kafka_bootstrap: str, es_url: str, topic: str, index_prefix: str,
        es: Elasticsearch) -> None:
    index_records(es, index_prefix, [record(i) for i in range(10)])
    settings = settings_for(tmp_path, kafka_bootstrap, es_url, topic, index_prefix,
                            regex_scan_limit=3)
    params: dict[str, Any] = {"size": 5, "order": "oldest", "include": "line [89] "}
    async with asgi_client(settings) as (_, client):
        pages = [await _search(client, params)]
        while pages[-1]["next_cursor"]:
            pages.append(await _search(client, {**params, "cursor": pages[-1]["next_cursor"]}))
    # Three entries scanned per page at most; pages end early (even empty) with a cursor.
    assert [(page["scanned"], [e["message"] for e in page["entries"]]) for page in pages] == [
        (3, []), (3, []), (3, ["checkout line 8 level=info"]),
        (1, ["checkout line 9 level=info"])]
    assert [page["next_cursor"] is None for page in pages] == [False, False, False, True]
    assert pages[0]["total"] is None
