"""No poison record stalls a partition (the forwarder as a real process, real Kafka and
Elasticsearch): each goes to the dead-letter topic with its reason, the good records
around it are indexed and every offset is committed; far-off times are clamped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from elasticsearch import Elasticsearch

from forwarder.batch import TsBounds
from forwarder.bulk import BulkSender, _Doc
from forwarder.dlq import DeadLetter
from logpipe.record import encode
from logpipe.timefmt import now_ts
from tests.forwarder.util import (
    committed_total,
    count_docs,
    forwarder_env,
    make_record,
    produce,
    read_topic,
    running,
    wait_until,
)

pytestmark = pytest.mark.integration


def _poison(base: dict[str, Any], **change: Any) -> bytes:
    return orjson.dumps({**base, **change})


def test_each_poison_record_is_dead_lettered_between_good_ones(
    kafka_bootstrap: str, es_url: str, es: Elasticsearch, topic: str, index_prefix: str,
    group: str, dlq_topic: str, tmp_path: Path,
) -> None:
    today = now_ts()[:10]
    good = [make_record(i, day=today, run="poison") for i in range(30)]
    base = orjson.loads(encode(make_record(900, day=today, run="poison")))
    poison = {
        # parse_ns raised OverflowError here, which killed the consumer loop.
        "year_1_offset": _poison(base, ts="0001-01-01T00:30:00+01:00"),
        "year_9999_offset": _poison(base, ts="9999-12-31T23:30:00-01:00"),
        "empty_id": _poison(base, id=""),
        "long_id": _poison(base, id="x" * 600),
        "wrong_type": _poison(base, offset="12"),
        "wrong_map": _poison(base, labels={"a": 1}),
        # Valid records Elasticsearch refuses: date_nanos holds no time before 1970.
        "before_1970": encode(make_record(901, run="poison", ts="1969-07-20T20:17:40.000000000Z")),
        "year_1": encode(make_record(902, run="poison", ts="0001-01-01T00:00:00.000000000Z")),
    }
    key = good[0].key
    values: list[tuple[bytes | None, bytes]] = []
    for i, value in enumerate(poison.values()):
        values += [(key, encode(r)) for r in good[i * 3:i * 3 + 3]]
        values.append((key, value))
    values += [(key, encode(r)) for r in good[len(poison) * 3:]]
    produce(kafka_bootstrap, topic, values)

    env = forwarder_env(kafka_bootstrap, es_url, topic, index_prefix, group)
    with running(env, tmp_path / "fwd.log") as fwd:
        wait_until(lambda: committed_total(kafka_bootstrap, group, topic) == len(values), 90,
                   "every offset, the poison ones included, committed")
        wait_until(lambda: count_docs(es, index_prefix) == len(good), 60, "the good records")
        assert fwd.proc.poll() is None, "the forwarder died"
        decode_dead = fwd.metric("logpipe_forwarder_dead_lettered_total", stage="decode",
                                 error_type="RecordError")
        assert decode_dead == 6

    letters = read_topic(kafka_bootstrap, dlq_topic, len(poison))
    by_value = {m.value(): {k: v.decode() for k, v in m.headers()} for m in letters}
    assert set(by_value) == set(poison.values())
    reasons = {name: by_value[value]["dlq.reason"] for name, value in poison.items()}
    assert "'ts'" in reasons["year_1_offset"]
    assert "'ts'" in reasons["year_9999_offset"]
    assert "'id'" in reasons["empty_id"] and "'id'" in reasons["long_id"]
    assert "'offset'" in reasons["wrong_type"] and "'labels'" in reasons["wrong_map"]
    for name in ("before_1970", "year_1"):
        h = by_value[poison[name]]
        assert h["dlq.stage"] == "index" and h["dlq.status"] == "400", h


def test_far_future_and_old_times_are_clamped_to_the_ingest_time(
    kafka_bootstrap: str, es_url: str, es: Elasticsearch, topic: str, index_prefix: str,
    group: str, dlq_topic: str, tmp_path: Path,
) -> None:
    ingest = now_ts()
    future = make_record(1, run="clamp", ts="2200-01-01T00:00:00.000000000Z", ingest_ts=ingest)
    old = make_record(2, run="clamp", ts="2026-01-01T00:00:00.000000000Z", ingest_ts=ingest)
    fine = make_record(3, run="clamp", ts=ingest, ingest_ts=ingest)
    produce(kafka_bootstrap, topic, [(r.key, encode(r)) for r in (future, old, fine)])
    env = forwarder_env(kafka_bootstrap, es_url, topic, index_prefix, group,
                        LOGPIPE_TS_MAX_PAST_DAYS="30", LOGPIPE_TS_MAX_FUTURE_S="3600")
    with running(env, tmp_path / "fwd.log") as fwd:
        wait_until(lambda: count_docs(es, index_prefix) == 3, 60, "three records")
        assert fwd.metric("logpipe_forwarder_ts_clamped_total", why="future") == 1
        assert fwd.metric("logpipe_forwarder_ts_clamped_total", why="past") == 1
    indices = set(es.indices.get(index=f"{index_prefix}-*").body)
    day = ingest[:10].replace("-", ".")
    assert indices == {f"{index_prefix}-{day}"}, indices  # no 2200, no January
    hits = es.search(index=f"{index_prefix}-*", size=10)["hits"]["hits"]
    docs = {h["_id"]: h["_source"] for h in hits}
    for record in (future, old):
        doc = docs[record.id]
        assert doc["ts"] == ingest and "ts_clamped" in doc["tags"]
        assert doc["attrs"]["original_ts"] == record.ts
    assert "ts_clamped" not in docs[fine.id]["tags"]


class _Letters:
    """A dead-letter writer that only keeps what it is given."""

    def __init__(self) -> None:
        self.letters: list[DeadLetter] = []

    def write(self, letters: list[DeadLetter], retrying: object) -> None:
        self.letters.extend(letters)


def test_whole_request_400_is_split_to_the_offending_document(
    es: Elasticsearch, index_prefix: str,
) -> None:
    """Elasticsearch refuses a whole _bulk for one action it cannot accept (an _id over
    512 bytes, which decode keeps out; here written straight into the request)."""
    sender = BulkSender(es, index_prefix, _Letters(), 0.05, 0.2)  # type: ignore[arg-type]
    records = [make_record(i, day=now_ts()[:10], run="split") for i in range(9)]
    docs = []
    for i, r in enumerate(records):
        rid = "y" * 600 if i == 4 else r.id
        index = f"{index_prefix}-{r.ts[:10].replace('-', '.')}"
        lines = orjson.dumps({"create": {"_index": index, "_id": rid}}) + b"\n" + encode(r) + b"\n"
        docs.append(_Doc(lines, index, r.key, encode(r), 0, i))
    counts = {"ok": 0, "duplicate": 0}
    letters: list[DeadLetter] = []
    again = sender._send(docs, counts, letters)
    assert again == [] and counts["ok"] == 8
    assert [(d.offset, d.status) for d in letters] == [(4, 400)]
    assert "too long" in letters[0].reason or "id" in letters[0].reason, letters[0]
    assert sender.failing_since is None
    assert TsBounds.at(0, 1.0, 0).why("2200-01-01T00:00:00.000000000Z") == "future"
