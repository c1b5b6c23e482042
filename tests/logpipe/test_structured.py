"""Fields, ids and patterns derived from a line (logpipe/structured.py)."""

from __future__ import annotations

import json

import orjson
from hypothesis import given
from hypothesis import strategies as st

from logpipe.structured import (
    MASK,
    MAX_FIELDS,
    MAX_FIELDS_CHARS,
    MAX_VALUE_CHARS,
    derive,
    mask,
    norm_keys,
    parse_fields,
    pattern_id,
)

STRUCTLOG = ('{"event": "coupon rejected", "level": "info", "user": "bo", "sku": "SKU-7788", '
             '"request_id": "f64e4cbc89ffb287", "duration_ms": 12.5, "ok": false, '
             '"http": {"status": 409, "path": "/cart"}, "tags": ["a", "b"], "x": null}')


def test_a_json_body_becomes_fields_with_its_human_message() -> None:
    s = derive(STRUCTLOG)
    assert s.msg == "coupon rejected"
    assert s.fields == {"event": "coupon rejected", "level": "info", "user": "bo",
                        "sku": "SKU-7788", "request_id": "f64e4cbc89ffb287",
                        "duration_ms": "12.5", "ok": "false", "http.status": "409",
                        "http.path": "/cart", "tags": '["a","b"]', "x": "null"}
    assert s.request_id == "f64e4cbc89ffb287" and s.trace_id is None
    assert s.pattern == "coupon rejected"
    doc = s.doc()
    assert doc["field_names"] == list(s.fields) and "fields_dropped" not in doc


def test_a_logfmt_body_becomes_fields() -> None:
    line = ('time=2026-11-26T07:00:00Z level=info msg="query \\"red shoes\\" returned 0 hits" '
            'component=indexer docs=12 took=31ms empty=')
    s = derive(line)
    assert s.msg == 'query "red shoes" returned 0 hits'
    assert s.fields["component"] == "indexer" and s.fields["empty"] == ""
    assert s.fields["time"] == "2026-11-26T07:00:00Z"
    assert s.pattern == f"query {MASK} returned {MASK} hits"


def test_logfmt_without_msg_takes_the_text_around_the_pairs() -> None:
    s = derive("GET /api/v1/orders/12 200 31ms user=12 trace=abc")
    assert s.fields == {"user": "12", "trace": "abc"}
    assert s.msg == "GET /api/v1/orders/12 200 31ms"


def test_plain_text_has_no_fields() -> None:
    for line in ("connection refused", "retry=3 failed after a while", "a = b", "{not json}",
                 "[1, 2]", "", "   "):
        s = derive(line)
        assert s.fields == {} and s.msg is None, line
        assert s.doc().keys() == {"pattern", "pattern_id"}


def test_trace_ids_from_otel_keys_and_w3c_traceparent() -> None:
    s = derive('{"msg": "hi", "traceId": "4bf92f3577b34da6a3ce929d0e0e4736", '
               '"span.id": "00f067aa0ba902b7", "x-request-id": "r-1"}')
    assert (s.trace_id, s.span_id, s.request_id) == (
        "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "r-1")
    s = derive("msg=hi traceparent=00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01")
    assert (s.trace_id, s.span_id) == ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")
    s = derive('{"msg": "x", "dd": {"trace_id": "123"}, "correlation_id": "c-9"}')
    assert (s.trace_id, s.request_id) == ("123", "c-9")


def test_configured_request_id_keys() -> None:
    line = '{"msg": "paid", "txn": "T-77"}'
    assert derive(line).request_id is None
    assert derive(line, norm_keys(["Txn", " "])).request_id == "T-77"


def test_the_caps_hold() -> None:
    many = orjson.dumps({f"k{i}": i for i in range(500)}).decode()
    s = derive(many)
    assert len(s.fields) == MAX_FIELDS and s.fields_dropped == 500 - MAX_FIELDS
    big = orjson.dumps({"msg": "x", "blob": "y" * (MAX_VALUE_CHARS + 1), "a": "1"}).decode()
    s = derive(big)
    assert "blob" not in s.fields and s.fields["a"] == "1" and s.fields_dropped == 1
    assert s.doc()["fields_dropped"] == 1
    wide = orjson.dumps({f"k{i}": "v" * 900 for i in range(40)}).decode()
    s = derive(wide)
    assert sum(len(k) + len(v) for k, v in s.fields.items()) <= MAX_FIELDS_CHARS
    assert s.fields_dropped > 0


def test_keys_elasticsearch_refuses_are_left_out() -> None:
    # A NUL in a flattened key makes Elasticsearch refuse the whole document.
    s = derive('{"\\u0000k": "v", "a": "1", "": "empty"}')
    assert s.fields == {"a": "1"} and s.fields_dropped == 2


def test_masking_variable_parts() -> None:
    cases = {
        "booking 1234 confirmed for alice@example.com from 10.0.0.12":
            f"booking {MASK} confirmed for {MASK} from {MASK}",
        "id 550e8400-e29b-41d4-a716-446655440000 took 12.5ms":
            f"id {MASK} took {MASK}",
        "open '/var/run/db.sock' failed: \"no such file\"": f"open {MASK} failed: {MASK}",
        "GET /api/v1/orders/12 200": f"GET {MASK} {MASK}",
        "hash deadbeefcafe at 0x7f00": f"hash {MASK} at {MASK}",
        "cache refreshed": "cache refreshed",
        "first line 1\n  at frame 2": f"first line {MASK}",
    }
    for line, want in cases.items():
        assert mask(line) == want, line


def test_pattern_ids_are_stable_and_versioned() -> None:
    a = derive("booking 1 confirmed")
    b = derive("booking 99 confirmed")
    assert a.pattern_id == b.pattern_id == pattern_id(f"booking {MASK} confirmed")
    # A pure function of the text: pinned, so a change of masking shows up as a new version.
    assert a.pattern_id == "p1-" + a.pattern_id[3:] and len(a.pattern_id) == 19
    assert pattern_id("x") == "p1-4adf4367f96e584f"
    assert derive("booking 1 cancelled").pattern_id != a.pattern_id


def test_a_structured_line_without_a_message_has_its_keys_as_pattern() -> None:
    s = derive('{"user": "bo", "amount": 3}')
    assert s.msg is None and s.pattern == "{amount user}"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                               max_size=6),
    max_leaves=30)


@given(st.text())
def test_any_text_derives_without_crashing(text: str) -> None:
    s = derive(text)
    assert s.pattern_id.startswith("p1-")
    assert len(s.fields) <= MAX_FIELDS
    orjson.dumps(s.doc())


@given(st.dictionaries(st.text(max_size=20), json_values, max_size=80))
def test_any_json_object_derives_within_the_caps(obj: dict[str, object]) -> None:
    line = json.dumps(obj)  # big integers and lone surrogates too: the parser refuses them
    s = derive(line)
    assert len(s.fields) <= MAX_FIELDS
    assert sum(len(k) + len(v) for k, v in s.fields.items()) <= MAX_FIELDS_CHARS
    assert all(len(v) <= MAX_VALUE_CHARS and k for k, v in s.fields.items())
    assert all(isinstance(v, str) for v in s.fields.values())
    if obj and parse_fields(line) is not None:
        assert s.fields or s.fields_dropped


@given(st.text(max_size=200), st.integers(0, 10**12), st.integers(0, 10**12))
def test_numbers_never_change_the_pattern(text: str, a: int, b: int) -> None:
    # The raw line is never altered; only the pattern abstracts the numbers away.
    one, two = f"{text} took {a}ms", f"{text} took {b}ms"
    assert derive(one).pattern_id == derive(two).pattern_id or "=" in text or "{" in text
