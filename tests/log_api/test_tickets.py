"""No tokens in URLs: downloads and export files by single-use tickets bound to the
path, the query and the token's scope; CSV cells a spreadsheet would run are defused."""

from __future__ import annotations

import asyncio
import csv
import io
import time
from pathlib import Path

import httpx
import pytest
from elasticsearch import Elasticsearch

from log_api.errors import Unauthorized
from log_api.formats import LineRenderer
from log_api.tickets import TicketBook, query_digest
from tests.log_api.helpers import HOTEL, PAY, auth, index_records, record, served, settings_for

pytestmark = pytest.mark.integration

FORMULAS = ["=HYPERLINK(\"http://evil\",\"x\")", "+1+1", "-2+3", "@SUM(A1)", "\tx", "plain"]


async def test_download_and_export_file_by_ticket(
        tmp_path: Path, kafka_bootstrap: str, es_url: str, topic: str, index_prefix: str,
        es: Elasticsearch) -> None:
    index_records(es, index_prefix, [record(i, message=FORMULAS[i % len(FORMULAS)])
                                     for i in range(12)]
                  + [record(i, namespace="hotel", message="secret") for i in range(3)])
    settings = settings_for(tmp_path, kafka_bootstrap, es_url, topic, index_prefix)
    async with served(settings) as (_, base), httpx.AsyncClient(base_url=base,
                                                                timeout=60) as client:
        query = "namespace=pay&format=csv"
        issued = await client.post("/api/v1/tickets", json={"path": "/download",
                                                            "query": query},
                                   headers=auth(PAY))
        url = issued.json()["url"]
        first = await client.get(url)  # no header: the ticket alone
        again = await client.get(url)  # single use
        other = (await client.post("/api/v1/tickets", json={"path": "/download",
                                                            "query": query},
                                   headers=auth(PAY))).json()
        changed = await client.get(f"/api/v1/download?namespace=hotel&format=csv"
                                   f"&ticket={other['ticket']}")
        wrong_path = await client.get(f"/api/v1/search?{query}&ticket={other['ticket']}")
        # A pay ticket made for hotel's entries is refused by the scope at fetch time.
        hotel = (await client.post("/api/v1/tickets", json={
            "path": "/download", "query": "namespace=hotel"}, headers=auth(PAY))).json()
        hotel_fetch = await client.get(hotel["url"])
        anonymous_ticket = await client.post("/api/v1/tickets", json={"path": "/download"})
        bad_path = await client.post("/api/v1/tickets", json={"path": "/search"},
                                     headers=auth(PAY))
        url_token = await client.get("/api/v1/download", params={"access_token": PAY})

        job = (await client.post("/api/v1/exports", headers=auth(HOTEL))).json()
        deadline = time.monotonic() + 60
        while job["state"] == "running" and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            job = (await client.get(f"/api/v1/exports/{job['id']}",
                                    headers=auth(HOTEL))).json()
        file_path = job["file"][len("/api/v1"):]
        stolen = await client.post("/api/v1/tickets", json={"path": file_path},
                                   headers=auth(PAY))
        stolen_fetch = await client.get(stolen.json()["url"])
        mine = (await client.post("/api/v1/tickets", json={"path": file_path},
                                  headers=auth(HOTEL))).json()
        fetched = await client.get(mine["url"])
    assert issued.status_code == 200 and PAY not in url and "ticket=" in url
    assert first.status_code == 200, first.text
    rows = list(csv.reader(io.StringIO(first.text)))
    messages = [r[8] for r in rows[1:]]
    assert len(messages) == 12 and {r[1] for r in rows[1:]} == {"pay"}
    # Formula starts are defused with a quote; the text stays readable.
    assert sorted(set(messages)) == sorted({"'=HYPERLINK(\"http://evil\",\"x\")", "'+1+1",
                                            "'-2+3", "'@SUM(A1)", "'\tx", "plain"})
    for resp in (again, changed, wrong_path, anonymous_ticket, url_token):
        assert resp.status_code == 401, resp.text
    assert hotel_fetch.status_code == 403
    assert stolen_fetch.status_code == 404  # the ticket carries pay's scope: not its job
    assert bad_path.status_code == 422
    assert fetched.status_code == 200 and fetched.content[:2] == b"\x1f\x8b"


def test_tickets_expire_and_bind_their_query() -> None:
    book = TicketBook(None, ttl_s=60)
    q = query_digest([("namespace", "pay"), ("format", "csv")])
    ticket, _ = book.issue("hash", "/api/v1/download", q)
    assert query_digest([("namespace", "pay"), ("format", "csv"), ("ticket", ticket)]) == q
    with pytest.raises(Unauthorized):
        book.redeem(ticket, "/api/v1/download", query_digest([("namespace", "hotel")]))
    with pytest.raises(Unauthorized):  # another process's key
        TicketBook(None, ttl_s=60).redeem(ticket, "/api/v1/download", q)
    assert book.redeem(ticket, "/api/v1/download", q) == "hash"
    expired, _ = TicketBook(b"k", ttl_s=-1).issue("hash", "/api/v1/download", q)
    with pytest.raises(Unauthorized):
        TicketBook(b"k", ttl_s=60).redeem(expired, "/api/v1/download", q)
    for junk in ("", ".", "a.b", "!!!.???", "x" * 500):
        with pytest.raises(Unauthorized):
            book.redeem(junk, "/api/v1/download", q)


def test_csv_notice_and_cells_are_defused() -> None:
    r = LineRenderer("csv")
    line = r.line({"message": "=1+2", "app": "@x", "namespace": "pay"}).decode()
    assert next(csv.reader([line]))[2] == "'@x" and "'=1+2" in line
