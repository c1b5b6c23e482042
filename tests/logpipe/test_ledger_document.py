"""The completeness ledger's indices: daily names from an entry's time (UTC, with a
fallback for a missing or unreadable time) and the index template, as literal values."""

from __future__ import annotations

import time

import pytest

from logpipe.document import ledger_index_name, ledger_index_pattern, ledger_template_body
from logpipe.timefmt import format_ns


@pytest.mark.parametrize(("ts", "name"), [
    ("2026-11-26T07:00:00.123456789Z", "lp_ledger-2026.11.26"),
    ("2026-11-26T23:59:59.999999999Z", "lp_ledger-2026.11.26"),
    ("2026-11-27T00:00:00Z", "lp_ledger-2026.11.27"),
    # an offset is converted to the UTC day first
    ("2026-11-27T01:30:00+02:00", "lp_ledger-2026.11.26"),
    ("2026-11-26T22:30:00-02:00", "lp_ledger-2026.11.27"),
])
def test_ledger_index_name_is_the_utc_day_of_the_entry(ts: str, name: str) -> None:
    assert ledger_index_name("lp", ts) == name


@pytest.mark.parametrize("ts", [None, "not a time", "", "26/11/2026 07:00"])
def test_ledger_index_name_without_a_readable_time_is_today(ts: str | None) -> None:
    before = format_ns(time.time_ns())[:10].replace("-", ".")
    name = ledger_index_name("lp", ts)
    after = format_ns(time.time_ns())[:10].replace("-", ".")
    assert name in {f"lp_ledger-{before}", f"lp_ledger-{after}"}


def test_ledger_indices_are_not_matched_by_the_logs_pattern() -> None:
    assert ledger_index_pattern("lp") == "lp_ledger-*"
    # "lp-*" (every logs search) cannot match "lp_ledger-...": the separator differs
    assert not ledger_index_name("lp", "2026-11-26T07:00:00Z").startswith("lp-")


def test_ledger_template_body_literal() -> None:
    keyword = {"type": "keyword", "ignore_above": 4096}
    assert ledger_template_body("lp") == {
        "name": "lp_ledger",
        "index_patterns": ["lp_ledger-*"],
        "priority": 10,
        "template": {
            "settings": {"index": {"number_of_shards": 1, "auto_expand_replicas": "0-1"}},
            "mappings": {"dynamic": False, "properties": {
                "kind": keyword, "id": keyword, "node": keyword, "source": keyword,
                "path": keyword, "file": keyword, "namespace": keyword, "app": keyword,
                "cause": keyword, "stage": keyword,
                "from": {"type": "long"}, "to": {"type": "long"},
                "entries": {"type": "long"}, "offset": {"type": "long"},
                "bytes": {"type": "long"},
                "ts": {"type": "date_nanos"},
                "detail": {"type": "keyword", "index": False, "doc_values": False},
                "v": {"type": "short"},
            }},
        },
        "_meta": {"managed_by": "logpipe-forwarder", "version": 2},
    }


def test_ledger_template_keyword_mappings_are_copies() -> None:
    # each keyword field gets its own dict: editing one mapping must not change the others
    props = ledger_template_body("lp")["template"]["mappings"]["properties"]
    assert props["node"] is not props["file"]
    props["node"]["ignore_above"] = 1
    again = ledger_template_body("lp")["template"]["mappings"]["properties"]
    assert again["node"]["ignore_above"] == 4096 and props["file"]["ignore_above"] == 4096
