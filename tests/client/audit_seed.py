"""Ledger entries and records for the audit's client and browser tests, indexed
directly into the real Elasticsearch as tests/log_api/test_audit.py does: a complete
window, and the same with 2 entries missing and a gap."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from tests.client.harness import LiveApi, record
from tests.log_api.helpers import index_ledger as ledger


def path_of(ns: str, app: str) -> str:
    return f"/var/log/pods/{ns}_{app}-7d9f8-abcde/{app}/0.log"


def rng(ns: str, app: str, fid: str, start: int, end: int, entries: int) -> dict[str, Any]:
    return {"kind": "range", "namespace": ns, "app": app, "file": fid,
            "path": path_of(ns, app), "from": start, "to": end, "entries": entries}


def seed_complete(api: LiveApi) -> None:
    """pay/checkout fileA: 10 entries in two ranges; hotel/booking fileC: 4; all indexed."""
    recs = [replace(record("pay", "checkout", "info", f"a{i}"), file="fileA", offset=i * 100)
            for i in range(10)]
    recs += [replace(record("hotel", "booking", "info", f"c{i}"), file="fileC", offset=i * 100)
             for i in range(4)]
    api.index(recs)
    ledger(api.es, api.prefix, [
        rng("pay", "checkout", "fileA", 0, 600, 6), rng("pay", "checkout", "fileA", 600, 1000, 4),
        rng("hotel", "booking", "fileC", 0, 400, 4)])


def seed_incomplete(api: LiveApi) -> None:
    """As complete, plus pay/ledger fileB: 5 acknowledged, 3 indexed (2 missing), and
    2048 bytes of hotel/booking fileC given up."""
    seed_complete(api)
    api.index(replace(record("pay", "ledger", "info", f"b{i}"), file="fileB", offset=i * 100)
              for i in range(3))
    ledger(api.es, api.prefix, [
        {**rng("pay", "ledger", "fileB", 0, 500, 5), "id": "lb"},
        {"kind": "gap", "id": "gap-c", "namespace": "hotel", "app": "booking", "file": "fileC",
         "path": path_of("hotel", "booking"), "offset": 400, "bytes": 2048,
         "cause": "given_up", "detail": "rotate_wait_s deadline"}])
