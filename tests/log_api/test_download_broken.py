"""A download that Elasticsearch fails mid-stream, for real: the body ends with a notice
carrying a resume cursor, uvicorn aborts the chunked response so httpx reports it
incomplete, the failure is counted, and ``resume=`` completes it byte for byte."""

from __future__ import annotations

import asyncio
import csv
import gzip
import random
import socket
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest
from elasticsearch import Elasticsearch
from fastapi import FastAPI

from tests.log_api.helpers import ADMIN, auth, index_records, record, served, settings_for

pytestmark = pytest.mark.integration

ENTRIES = 8000


def _payload(i: int) -> str:
    # ~1.5 KB that gzip cannot shrink much, ~12 MB in all: more than the socket buffers
    # hold, so a client that stops reading stalls the server long before the last page.
    return random.Random(i).randbytes(750).hex()


def _metric(app: FastAPI, name: str) -> float:
    value = app.state.logpipe.metrics.registry.get_sample_value(name)
    return float(value or 0.0)


async def _stalled(app: FastAPI) -> float:
    """Until the server stops sending (its socket is full); the entries sent by then."""
    last, same = -1.0, 0
    while same < 5:
        await asyncio.sleep(0.2)
        now = _metric(app, "logpipe_api_download_entries_total")
        same = same + 1 if now == last else 0
        last = now
    return last


def _fail_reads(es: Elasticsearch, prefix: str) -> list[str]:
    """Make the next page fail in Elasticsearch itself: a read block, then close and
    open, which drops the download's point-in-time contexts; the API's new PIT is refused.
    (A plain close is not a failure: the reopened PIT skips closed indices.)"""
    names = list(es.indices.get(index=f"{prefix}-*"))
    es.indices.put_settings(index=names, settings={"index.blocks.read": True})
    es.indices.close(index=names)
    es.indices.open(index=names, wait_for_active_shards="all")
    return names


def _restore(es: Elasticsearch, names: list[str]) -> None:
    es.indices.put_settings(index=names, settings={"index.blocks.read": False})
    es.cluster.health(index=names, wait_for_status="green", timeout="30s")


async def _broken(client: httpx.AsyncClient, app: FastAPI, es: Elasticsearch, prefix: str,
                  params: dict[str, Any], fail: Callable[[Elasticsearch, str], list[str]]
                  = _fail_reads) -> tuple[bytes, Exception | None, list[str]]:
    """A download read slowly; Elasticsearch fails while the server waits on the socket."""
    body = bytearray()
    error: Exception | None = None
    before = _metric(app, "logpipe_api_download_entries_total")
    async with client.stream("GET", "/api/v1/download", params=params,
                             headers=auth(ADMIN)) as resp:
        assert resp.status_code == 200
        chunks = resp.aiter_raw()
        body += await anext(chunks)
        sent = await _stalled(app) - before
        assert 0 < sent < ENTRIES - 1000, f"the server did not stall ({sent} entries sent)"
        names = fail(es, prefix)
        try:
            async for chunk in chunks:
                body += chunk
        except httpx.TransportError as exc:
            error = exc
    return bytes(body), error, names


def _split_notice(body: bytes) -> tuple[bytes, bytes]:
    """(everything before the last line, the last line without its newline)."""
    assert body.endswith(b"\n")
    cut = body.rstrip(b"\n").rfind(b"\n") + 1
    return body[:cut], body[cut:-1]


def _cursor(notice: bytes, fmt: str) -> str:
    text = notice.decode()
    if fmt == "ndjson":
        obj = orjson.loads(notice)
        assert obj["complete"] is False and obj["notice"].startswith("incomplete: ")
        assert "403" in obj["notice"]  # Elasticsearch's own refusal, passed on
        return str(obj["resume"])
    if fmt == "csv":
        row = next(csv.reader([text]))
        assert row[7] == "notice"
        text = row[8]
    assert text.startswith(("# logpipe: incomplete: ", "incomplete: "))
    return text.rsplit(" resume=", 1)[1]


@pytest.mark.parametrize(("fmt", "gz"), [("ndjson", False), ("text", False), ("csv", False),
                                         ("ndjson", True)])
async def test_broken_download_says_so_and_resumes_byte_for_byte(
        fmt: str, gz: bool, tmp_path: Any, kafka_bootstrap: str, es_url: str, topic: str,
        index_prefix: str, es: Elasticsearch) -> None:
    index_records(es, index_prefix, (record(i, message=f"{i:05d} {_payload(i)}")
                                     for i in range(ENTRIES)))
    settings = settings_for(tmp_path, kafka_bootstrap, es_url, topic, index_prefix,
                            download_page_size=100)
    params: dict[str, Any] = {"format": fmt, "gzip": gz, "timestamps": fmt == "text"}
    unzip = gzip.decompress if gz else bytes
    # A small receive buffer: less in flight, so the stall comes early in the body.
    transport = httpx.AsyncHTTPTransport(
        socket_options=[(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)])
    async with served(settings) as (app, url), \
            httpx.AsyncClient(base_url=url, timeout=60, transport=transport) as client:
        full = await client.get("/api/v1/download", params=params, headers=auth(ADMIN))
        assert full.status_code == 200
        body, error, names = await _broken(client, app, es, index_prefix, params)

        # Not a finished file for any client: no last chunk, and the last line says why.
        assert isinstance(error, httpx.RemoteProtocolError), error
        assert _metric(app, "logpipe_api_download_failures_total") == 1
        head, notice = _split_notice(unzip(body))  # gzip: a whole member, notice included
        cursor = _cursor(notice, fmt)
        assert unzip(full.content).startswith(head) and len(head) < len(unzip(full.content))

        _restore(es, names)
        other = await client.get("/api/v1/download", params={**params, "order": "newest",
                                                              "resume": cursor},
                                 headers=auth(ADMIN))
        assert other.status_code == 400  # a cursor only continues the same download
        rest = await client.get("/api/v1/download", params={**params, "resume": cursor},
                                headers=auth(ADMIN))
    assert rest.status_code == 200, rest.text
    # No second CSV header, no notice: the two parts are exactly the full download.
    assert head + unzip(rest.content) == unzip(full.content)


def _close(es: Elasticsearch, prefix: str) -> list[str]:
    names = list(es.indices.get(index=f"{prefix}-*"))
    es.indices.close(index=names)
    return names


async def test_an_index_closed_mid_download_is_an_error_not_a_short_file(
        tmp_path: Any, kafka_bootstrap: str, es_url: str, topic: str, index_prefix: str,
        es: Elasticsearch) -> None:
    # The download's PIT is dropped with the closed index; a new PIT over <prefix>-*
    # would cover no shard and end the file early as if it were complete.
    index_records(es, index_prefix, (record(i, message=f"{i:05d} {_payload(i)}")
                                     for i in range(ENTRIES)))
    settings = settings_for(tmp_path, kafka_bootstrap, es_url, topic, index_prefix,
                            download_page_size=100)
    transport = httpx.AsyncHTTPTransport(
        socket_options=[(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)])
    async with served(settings) as (app, url), \
            httpx.AsyncClient(base_url=url, timeout=60, transport=transport) as client:
        body, error, names = await _broken(client, app, es, index_prefix, {"format": "ndjson"},
                                           _close)
    es.indices.open(index=names, wait_for_active_shards="all")
    assert isinstance(error, httpx.RemoteProtocolError), error
    _head, notice = _split_notice(body)
    obj = orjson.loads(notice)
    assert obj["complete"] is False and obj["resume"], obj
    assert "shards" in obj["notice"] or "404" in obj["notice"], obj
