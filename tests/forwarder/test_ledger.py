"""The forwarder's completeness ledger (forwarder/ledger.py): ``dead_entry`` on fake
dead letters (pure logic), then the real forwarder process indexing the ledger topic
with ``index`` semantics (a range sent again replaces the first) and turning a
dead-lettered record into a ``dead`` ledger entry."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka.admin import AdminClient
from elasticsearch import ApiError, Elasticsearch

from forwarder.ledger import dead_entry
from logpipe.record import encode
from tests.forwarder.util import (
    committed_total,
    count_docs,
    forwarder_env,
    make_record,
    produce,
    produce_records,
    running,
    wait_until,
)


class FakeMessage:
    """What ``dead_entry`` reads of a confluent_kafka Message: value and headers."""

    def __init__(self, value: bytes | None,
                 headers: list[tuple[str, bytes]] | dict[str, bytes] | None) -> None:
        self._value = value
        self._headers = headers

    def value(self) -> bytes | None:
        return self._value

    def headers(self) -> list[tuple[str, bytes]] | dict[str, bytes] | None:
        return self._headers


def dlq_headers(**extra: str) -> list[tuple[str, bytes]]:
    base = {"dlq.stage": "index", "dlq.error_type": "document_parsing_exception",
            "dlq.reason": "failed to parse field [ts] of type [date_nanos]",
            "dlq.topic": "logs", "dlq.partition": "2", "dlq.offset": "41",
            "dlq.ts": "2026-11-20T10:00:05.000000000Z", "dlq.status": "400", **extra}
    return [(k, v.encode()) for k, v in base.items()]


def test_dead_entry_of_a_refused_record_names_the_record_and_the_cause() -> None:
    rec = make_record(7, ts="1969-07-20T20:17:40.000000000Z", node="node-9",
                      namespace="hotel", app="booking", file="dev1-ino2-fp3",
                      path="/var/log/pods/hotel_booking-0/booking/0.log", source="cri")
    entry = dead_entry(FakeMessage(encode(rec), dlq_headers()))  # type: ignore[arg-type]
    assert entry == {
        "v": 1, "kind": "dead", "id": f"dead-{rec.id}", "ts": "2026-11-20T10:00:05.000000000Z",
        "node": "node-9", "source": "cri", "path": "/var/log/pods/hotel_booking-0/booking/0.log",
        "file": "dev1-ino2-fp3", "namespace": "hotel", "app": "booking", "offset": 700,
        "cause": "document_parsing_exception",
        "detail": "failed to parse field [ts] of type [date_nanos]", "stage": "index"}


def test_dead_entry_of_a_value_that_is_not_a_record_is_keyed_by_its_position() -> None:
    headers = dlq_headers(**{"dlq.stage": "decode", "dlq.error_type": "RecordError",
                             "dlq.reason": "not JSON: " + "x" * 2000})
    entry = dead_entry(FakeMessage(b"this is {not json", headers))  # type: ignore[arg-type]
    assert entry["id"] == "dead-dlq-2-41"
    assert (entry["cause"], entry["stage"]) == ("RecordError", "decode")
    assert {k: entry[k] for k in ("node", "source", "path", "file", "namespace", "app",
                                  "offset")} == dict.fromkeys(
        ("node", "source", "path", "file", "namespace", "app", "offset"))
    assert len(entry["detail"]) == 1000 and entry["detail"].startswith("not JSON: xxx")


@pytest.mark.parametrize("value", [b'[1, 2, 3]', b'"just a string"', None, b"\xff\xfe"])
def test_dead_entry_of_json_that_is_not_an_object(value: bytes | None) -> None:
    entry = dead_entry(FakeMessage(value, dlq_headers()))  # type: ignore[arg-type]
    assert entry["id"] == "dead-dlq-2-41" and entry["node"] is None


def test_dead_entry_ignores_fields_of_the_wrong_type() -> None:
    value = orjson.dumps({"id": 5, "node": ["n"], "offset": "12", "file": 3, "namespace": "pay"})
    entry = dead_entry(FakeMessage(value, dlq_headers()))  # type: ignore[arg-type]
    assert (entry["id"], entry["node"], entry["offset"], entry["file"], entry["namespace"]) \
        == ("dead-dlq-2-41", None, None, None, "pay")


def test_dead_entry_with_dict_or_no_headers() -> None:
    rec = make_record(3)
    headers = {"dlq.error_type": b"mapper_parsing_exception", "dlq.ts": b"2026-11-21T00:00:00Z"}
    as_dict = dead_entry(FakeMessage(encode(rec), headers))  # type: ignore[arg-type]
    assert (as_dict["cause"], as_dict["ts"], as_dict["stage"]) == (
        "mapper_parsing_exception", "2026-11-21T00:00:00Z", None)
    bare = dead_entry(FakeMessage(encode(rec), None))  # type: ignore[arg-type]
    assert (bare["id"], bare["cause"], bare["detail"]) == (f"dead-{rec.id}", "unknown", "")
    assert bare["ts"].endswith("Z") and len(bare["ts"]) == 30  # now, canonical UTC


# -- the real forwarder ----------------------------------------------------------------

LEDGER_DAY = "2026-11-20"


def range_entry(to: int, entries: int, **kw: Any) -> dict[str, Any]:
    return {"v": 1, "kind": "range", "id": "range-node1-fileA-0",
            "ts": f"{LEDGER_DAY}T10:00:00.000000000Z", "node": "node-1", "source": "cri",
            "path": "/var/log/pods/pay_web-1/web/0.log", "file": "fileA", "namespace": "pay",
            "app": "web", "from": 0, "to": to, "entries": entries, **kw}


def ledger_docs(es: Elasticsearch, prefix: str) -> dict[str, dict[str, Any]]:
    """_id -> {_index, _version, _source} of every ledger document, after a refresh."""
    try:
        es.options(ignore_status=404).indices.refresh(index=f"{prefix}_ledger-*")
        resp = es.options(ignore_status=404).search(
            index=f"{prefix}_ledger-*", size=100, version=True)
    except ApiError:
        return {}
    return {h["_id"]: {"_index": h["_index"], "_version": h["_version"], **h["_source"]}
            for h in resp.body.get("hits", {}).get("hits", [])}


@pytest.mark.integration
def test_ledger_entries_are_indexed_and_a_range_sent_again_replaces_the_first(
    kafka_bootstrap: str, es_url: str, es: Elasticsearch, topic: str, ledger_topic: str,
    index_prefix: str, group: str, dlq_topic: str, tmp_path: Path,
) -> None:
    key = b"node-1/fileA"
    env = forwarder_env(kafka_bootstrap, es_url, topic, index_prefix, group,
                        LOGPIPE_LEDGER_TOPIC=ledger_topic)
    with running(env, tmp_path / "fwd.log"):
        produce(kafka_bootstrap, ledger_topic, [(key, orjson.dumps(range_entry(600, 6)))])
        wait_until(lambda: ledger_docs(es, index_prefix).get("range-node1-fileA-0", {})
                   .get("to") == 600, 60, "the first range indexed")
        gap = {"v": 1, "kind": "gap", "id": "gap-node1-fileA-given_up-1000",
               "ts": f"{LEDGER_DAY}T10:00:01.000000000Z", "node": "node-1", "source": "cri",
               "path": "/var/log/pods/pay_web-1/web/0.log", "file": "fileA",
               "namespace": "pay", "app": "web", "offset": 1000, "bytes": 2048,
               "cause": "given_up", "detail": "rotate_wait_s deadline"}
        # the collector re-sent the range after a crash: same id (same from), later to
        produce(kafka_bootstrap, ledger_topic, [(key, orjson.dumps(range_entry(1000, 10))),
                                                (key, orjson.dumps(gap))])
        # two in one batch as well: the later one wins
        other = [range_entry(300, 3, id="range-node1-fileB-0", file="fileB"),
                 range_entry(800, 8, id="range-node1-fileB-0", file="fileB")]
        produce(kafka_bootstrap, ledger_topic,
                [(b"node-1/fileB", orjson.dumps(doc)) for doc in other])
        wait_until(lambda: len(ledger_docs(es, index_prefix)) == 3
                   and ledger_docs(es, index_prefix)["range-node1-fileA-0"]["to"] == 1000
                   and ledger_docs(es, index_prefix)["range-node1-fileB-0"]["to"] == 800,
                   60, "the replacing range, the gap and the second file's range")
        wait_until(lambda: committed_total(kafka_bootstrap, f"{group}-ledger",
                                           ledger_topic) == 5, 30,
                   "the ledger consumer's offsets committed")
    docs = ledger_docs(es, index_prefix)
    first = docs["range-node1-fileA-0"]
    assert first["_index"] == f"{index_prefix}_ledger-2026.11.20"
    assert (first["from"], first["to"], first["entries"], first["_version"]) == (0, 1000, 10, 2)
    assert (docs["range-node1-fileB-0"]["to"], docs["range-node1-fileB-0"]["entries"]) == (800, 8)
    assert {k: docs["gap-node1-fileA-given_up-1000"][k]
            for k in ("kind", "cause", "offset", "bytes")} == {
        "kind": "gap", "cause": "given_up", "offset": 1000, "bytes": 2048}
    # the logs pattern never sees the ledger
    assert count_docs(es, index_prefix) in (0, -1)


@pytest.fixture(params=[True, False], ids=["ledger-topic", "no-ledger-topic"])
def ledger_or_absent(request: pytest.FixtureRequest, ledger_topic: str,
                     kafka_admin: AdminClient) -> Iterator[str]:
    """The ledger topic, or the name of one that does not exist (no collector sends a
    ledger yet; the broker does not create a topic for a consumer)."""
    if request.param:
        yield ledger_topic
        return
    name = f"{ledger_topic}-absent"
    yield name
    for fut in kafka_admin.delete_topics([name]).values():  # in case it ever was created
        with contextlib.suppress(Exception):
            fut.result(timeout=30)


@pytest.mark.integration
def test_a_dead_lettered_record_becomes_a_dead_ledger_entry(
    kafka_bootstrap: str, es_url: str, es: Elasticsearch, topic: str, ledger_or_absent: str,
    index_prefix: str, group: str, dlq_topic: str, tmp_path: Path,
) -> None:
    """Also without a ledger topic: the consumer's "unknown topic" event must not stop
    the dead letters' way into the ledger."""
    good = [make_record(i, run="ledger", namespace="hotel", node="node-7", file="fileH")
            for i in range(5)]
    # A valid record ES refuses: date_nanos cannot hold a time before 1970.
    poison = make_record(99, run="ledger", ts="1969-07-20T20:17:40.000000000Z",
                         namespace="hotel", app="booking", node="node-7", file="fileH",
                         path="/var/log/pods/hotel_booking-0/booking/0.log")
    produce_records(kafka_bootstrap, topic, [*good[:2], poison, *good[2:]])
    env = forwarder_env(kafka_bootstrap, es_url, topic, index_prefix, group,
                        LOGPIPE_LEDGER_TOPIC=ledger_or_absent)
    with running(env, tmp_path / "fwd.log"):
        wait_until(lambda: count_docs(es, index_prefix) == len(good), 60, "the good records")
        wait_until(lambda: f"dead-{poison.id}" in ledger_docs(es, index_prefix), 60,
                   "the dead ledger entry")
    docs = ledger_docs(es, index_prefix)
    assert list(docs) == [f"dead-{poison.id}"]
    dead = docs[f"dead-{poison.id}"]
    assert {k: dead[k] for k in ("kind", "node", "file", "namespace", "app", "path", "offset",
                                 "cause", "stage")} == {
        "kind": "dead", "node": "node-7", "file": "fileH", "namespace": "hotel",
        "app": "booking", "path": "/var/log/pods/hotel_booking-0/booking/0.log",
        "offset": 9900, "cause": "document_parsing_exception", "stage": "index"}
    assert "failed to parse field [ts] of type [date_nanos]" in dead["detail"]
    # indexed under the day it was dead-lettered (dlq.ts), not the record's 1969
    assert dead["_index"] == f"{index_prefix}_ledger-{dead['ts'][:10].replace('-', '.')}"
