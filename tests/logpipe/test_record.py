"""The record contract: encoding, validation, ids (its document: test_document.py)."""

from __future__ import annotations

import dataclasses
import re
from typing import Any, cast

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from logpipe.errors import RecordError
from logpipe.levels import LEVELS
from logpipe.record import (
    FIELDS,
    Record,
    decode,
    encode,
    make_id,
    stable_id,
)
from logpipe.timefmt import format_ns

text = st.text(max_size=200)
opt_text = st.none() | text
ts = st.integers(min_value=0, max_value=4_102_444_800 * 10**9).map(format_ns)

records = st.builds(
    Record,
    id=st.text(alphabet="0123456789abcdef", min_size=32, max_size=32),
    ts=ts,
    ingest_ts=ts,
    node=text,
    source=st.sampled_from(["docker", "cri", "file", "k8s-event"]),
    path=text,
    offset=st.integers(min_value=0, max_value=2**62),
    message=text,
    level=st.sampled_from(LEVELS),
    stream=opt_text,
    container_id=opt_text,
    container_name=opt_text,
    image=opt_text,
    namespace=opt_text,
    pod=opt_text,
    pod_uid=opt_text,
    app=opt_text,
    labels=st.dictionaries(text, text, max_size=5),
    attrs=st.dictionaries(text, text, max_size=5),
    tags=st.lists(st.sampled_from(["truncated", "multiline", "parse_error"]), max_size=3).map(
        tuple
    ),
)


@given(records)
def test_encode_decode_round_trip(rec: Record) -> None:
    assert decode(encode(rec)) == rec


@given(records)
def test_encoding_is_plain_json_with_every_field(rec: Record) -> None:
    obj = orjson.loads(encode(rec))
    assert set(obj) == {f.name for f in dataclasses.fields(Record)}
    assert obj["v"] == 1


def _minimal(**fields: object) -> Record:
    base: dict[str, Any] = {"id": "a", "ts": format_ns(0), "ingest_ts": format_ns(0),
                            "node": "n", "source": "file", "path": "/p", "offset": 0,
                            "message": "m"}
    return Record(**(base | fields))


def test_record_is_frozen() -> None:
    rec = _minimal()
    with pytest.raises(dataclasses.FrozenInstanceError):
        rec.message = "changed"  # type: ignore[misc]


def _valid() -> dict[str, object]:
    return cast(dict[str, object], orjson.loads(encode(_minimal())))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"level": "loud"}, "level"),
        ({"offset": -1}, "offset"),
        ({"offset": True}, "offset"),
        ({"ts": "yesterday"}, "RFC 3339"),
        ({"v": 2}, "schema version"),
        ({"surprise": 1}, "unknown fields"),
        ({"labels": {"a": 1}}, "labels"),
        ({"tags": "truncated"}, "tags"),
        ({"pod": 5}, "pod"),
        ({"message": None}, "message"),
    ],
)
def test_decode_refuses_wrong_shapes_with_a_reason(change: dict[str, object], reason: str) -> None:
    obj = _valid() | change
    with pytest.raises(RecordError, match=reason):
        decode(orjson.dumps(obj))


@pytest.mark.parametrize("data", [b"not json", b"[1,2]", b"\xff\xfe", b""])
def test_decode_refuses_non_records(data: bytes) -> None:
    with pytest.raises(RecordError):
        decode(data)


@given(st.text(), st.integers(0, 2**64), st.integers(0, 2**64), st.text(), st.integers(0, 2**63))
def test_id_is_hex(node: str, dev: int, ino: int, fp: str, off: int) -> None:
    first = make_id(node, dev, ino, fp, off)
    assert re.fullmatch("[0-9a-f]{32}", first)


def test_id_is_the_same_in_every_process_and_release() -> None:
    # A literal: a change of the hash would make every replay a duplicate.
    assert make_id("node-1", 64769, 1234, "fp", 100) == "e68e700933e8990ce3f8cc052cdc7d1e"


def test_id_changes_with_each_part_of_the_identity() -> None:
    base = make_id("node-1", 64769, 1234, "fp", 100)
    assert make_id("node-2", 64769, 1234, "fp", 100) != base
    assert make_id("node-1", 64770, 1234, "fp", 100) != base
    assert make_id("node-1", 64769, 1235, "fp", 100) != base
    assert make_id("node-1", 64769, 1234, "fq", 100) != base  # copytruncate / inode reuse
    assert make_id("node-1", 64769, 1234, "fp", 101) != base


def test_stable_id_separates_parts() -> None:
    assert stable_id("ab", "c") != stable_id("a", "bc")


def test_key_is_container_then_path() -> None:
    rec = _minimal(source="docker", path="/c/abc/abc-json.log", container_id="abc")
    assert rec.key == b"abc"
    assert dataclasses.replace(rec, container_id=None).key == b"/c/abc/abc-json.log"


def test_fields_are_the_wire_order() -> None:
    assert FIELDS == (
        "id", "ts", "ingest_ts", "node", "source", "path", "offset", "message", "level",
        "stream", "file", "container_id", "container_name", "image", "namespace", "pod", "pod_uid",
        "app", "labels", "attrs", "tags", "v",
    )
    assert tuple(orjson.loads(encode(_minimal()))) == FIELDS
