"""GET /api/v1/audit against the real Elasticsearch, with ledger entries and documents
written out literally: the counts per file and range, in flight vs missing, gaps and
dead letters by cause, and tenancy (a token sees only its namespaces' ledger)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from tests.log_api.helpers import (
    ADMIN,
    HOTEL,
    PAY,
    asgi_client,
    auth,
    index_ledger,
    index_records,
    record,
    settings_for,
)

pytestmark = pytest.mark.integration


def rng(ns: str, fid: str, start: int, end: int, entries: int, **kw: Any) -> dict[str, Any]:
    return {"kind": "range", "namespace": ns, "app": "checkout", "file": fid,
            "path": f"/var/log/pods/{ns}_checkout/c1/0.log", "from": start, "to": end,
            "entries": entries, **kw}


async def test_audit_counts_per_file_and_range(tmp_path: Path, kafka_bootstrap: str,
                                               es_url: str, topic: str, index_prefix: str,
                                               es: Elasticsearch) -> None:
    # pay file A: entries at offsets 0..900 (10 of them), all indexed; ledger 2 ranges.
    # pay file B: ledger says 5 acked in [0, 500), 3 indexed, 1 dead-lettered -> 1 missing.
    # hotel file C: 4 acked and indexed, and a gap of 2048 bytes given up.
    docs = [replace(record(i), file="fileA") for i in range(10)]
    docs += [replace(record(100 + i), file="fileB", offset=i * 100) for i in range(3)]
    docs += [replace(record(200 + i, namespace="hotel"), file="fileC", offset=i * 100)
             for i in range(4)]
    docs.append(replace(record(300), file="fileA", offset=5000))  # beyond the ledger: not counted
    index_records(es, index_prefix, docs)
    index_ledger(es, index_prefix, [
        rng("pay", "fileA", 0, 600, 6), rng("pay", "fileA", 600, 1000, 4),
        rng("pay", "fileB", 0, 500, 5),
        {"kind": "dead", "namespace": "pay", "file": "fileB", "offset": 300,
         "path": "/var/log/pods/pay_checkout/c1/0.log", "cause": "document_parsing_exception",
         "detail": "failed to parse field [ts]"},
        rng("hotel", "fileC", 0, 400, 4),
        {"kind": "gap", "namespace": "hotel", "file": "fileC", "offset": 400, "bytes": 2048,
         "path": "/var/log/pods/hotel_checkout/c1/0.log", "cause": "given_up",
         "detail": "rotate_wait_s deadline"},
    ])
    settings = settings_for(tmp_path, kafka_bootstrap, es_url, topic, index_prefix,
                            forwarder_group="lpt-no-such-group")
    async with asgi_client(settings) as (_app, client):
        body = (await client.get("/api/v1/audit", params={"since": "1h"},
                                 headers=auth(ADMIN))).json()
        pay = (await client.get("/api/v1/audit", params={"since": "1h"},
                                headers=auth(PAY))).json()
        hotel = (await client.get("/api/v1/audit", params={"since": "1h"},
                                  headers=auth(HOTEL))).json()
        refused = await client.get("/api/v1/audit", params={"namespace": "hotel"},
                                   headers=auth(PAY))
        bad = await client.get("/api/v1/audit", params={"q": "x"}, headers=auth(ADMIN))
    assert (body["acked"], body["indexed"], body["dead_lettered"]) == (19, 17, 1)
    assert (body["in_flight"] + body["missing"], body["gap_bytes"]) == (1, 2048)
    assert body["complete"] is False
    files = {f["file"]: f for s in body["streams"] for f in s["files"]}
    assert {k: (f["acked"], f["indexed"], f["dead_lettered"], f["unaccounted"],
                f["from_offset"], f["to_offset"]) for k, f in files.items()} == {
        "fileA": (10, 10, 0, 0, 0, 1000), "fileB": (5, 3, 1, 1, 0, 500),
        "fileC": (4, 4, 0, 0, 0, 400)}
    assert sorted((g["kind"], g["cause"], g["count"], g["bytes"]) for g in body["gaps"]) == [
        ("dead", "document_parsing_exception", 1, 0), ("gap", "given_up", 1, 2048)]
    # tenancy: each token sees its own namespace's ledger only
    assert {s["namespace"] for s in pay["streams"]} == {"pay"}
    assert (pay["acked"], pay["gap_bytes"]) == (15, 0)
    assert {s["namespace"] for s in hotel["streams"]} == {"hotel"}
    assert (hotel["acked"], hotel["indexed"], hotel["gap_bytes"]) == (4, 4, 2048)
    assert refused.status_code == 403
    assert bad.status_code == 400 and "audit" in bad.json()["error"]
