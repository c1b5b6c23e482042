"""Pure logic of the Log API, no servers: times, filters, the scoped query, cursors,
tokens and line formats."""

from __future__ import annotations

import csv
import gzip
import io
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from log_api.auth import Scope, TokenStore
from log_api.cursor import SearchCursor, TailCursor
from log_api.errors import BadRequest, Forbidden
from log_api.filters import Filters, parse_time
from log_api.formats import Gzipper, LineRenderer
from log_api.query import ScopedQuery
from logpipe.errors import ConfigError
from logpipe.timefmt import parse_ns
from logpipe.tokens import hash_token

NOW = 1_800_000_000 * 10**9
PAY = Scope("pay", "h1", frozenset({"pay", "pay-jobs"}))
ADMIN = Scope("admin", "h2", None)


def doc(**kw: Any) -> dict[str, Any]:
    base = {"id": "x", "ts": "2027-01-15T08:00:00.000000001Z", "namespace": "pay",
            "app": "checkout", "pod": "p", "container_name": "c", "container_id": "cid",
            "node": "n", "stream": "stdout", "level": "info", "message": "hello world"}
    base.update(kw)
    return base


@pytest.mark.parametrize(("text", "want"), [
    ("15m", NOW - 15 * 60 * 10**9), ("2h", NOW - 2 * 3600 * 10**9),
    ("7d", NOW - 7 * 86400 * 10**9), ("1w", NOW - 7 * 86400 * 10**9), ("now", NOW),
    ("2027-01-15T08:00:00.5+01:00", parse_ns("2027-01-15T07:00:00.5Z")),
])
def test_parse_time(text: str, want: int) -> None:
    assert parse_time(text, "since", NOW) == want


@pytest.mark.parametrize("text", ["yesterday", "15", "m15", "2026-13-01T00:00:00Z", "-5m"])
def test_bad_times_say_what_to_give(text: str) -> None:
    with pytest.raises(BadRequest, match="RFC 3339"):
        parse_time(text, "since", NOW)


def test_filters_validate_and_normalise() -> None:
    f = Filters.parse(namespace=["pay", "pay", ""], min_level="warn", q=" Timeout  ",
                      since="1h", until="now", now_ns=NOW)
    assert f.namespaces == ("pay",)
    assert f.levels == ("warn", "error", "fatal")
    assert f.q == "Timeout" and f.q_tokens == ("timeout",)
    assert f.until_ns == NOW and f.since_ns == NOW - 3600 * 10**9
    # The fingerprint uses the text as given, so a relative range pages consistently.
    later = Filters.parse(namespace=["pay"], min_level="warn", q="Timeout", since="1h",
                          until="now", now_ns=NOW + 10**9)
    assert later.fingerprint() == f.fingerprint()
    assert Filters.parse(app=["x"]).fingerprint() != Filters.parse(app=["y"]).fingerprint()


@pytest.mark.parametrize(("kw", "needle"), [
    ({"since": "1h", "until": "2h"}, "swap"),
    ({"level": ["loud"]}, "not one of"),
    ({"min_level": "unknown"}, "not one of"),
    ({"include": ["(x"]}, "RE2"),
    ({"exclude": ["(?=x)"]}, "RE2"),
    ({"include": ["x" * 600]}, "limit"),
    ({"include": ["a"] * 11}, "at most 10"),
    ({"app": [str(i) for i in range(101)]}, "at most"),
    ({"q": "x" * 1001}, "longer"),
])
def test_filter_errors(kw: dict[str, Any], needle: str) -> None:
    with pytest.raises(BadRequest, match=needle):
        Filters.parse(**kw, now_ns=NOW)


def test_scope_is_enforced_in_the_query_and_the_live_filter() -> None:
    with pytest.raises(Forbidden, match="hotel"):
        ScopedQuery(PAY, Filters.parse(namespace=["pay", "hotel"]))
    sq = ScopedQuery(PAY, Filters())
    assert {"terms": {"namespace": ["pay", "pay-jobs"]}} in sq.es_clauses()
    assert sq.matches(doc()) and not sq.matches(doc(namespace="hotel"))
    assert not sq.matches(doc(namespace=None))
    assert not sq.post_filter(doc(namespace="hotel"))
    narrowed = ScopedQuery(PAY, Filters.parse(namespace=["pay-jobs"]))
    assert narrowed.namespaces == frozenset({"pay-jobs"})
    assert ScopedQuery(ADMIN, Filters()).es_query() == {"match_all": {}}


def test_live_filter_agrees_with_the_query_fields() -> None:
    f = Filters.parse(app=["checkout"], container=["cid"], level=["info", "warn"],
                      q="WORLD hello", include=[r"hel+o"], exclude=["secret"],
                      since="2027-01-15T08:00:00Z", until="2027-01-15T09:00:00Z")
    sq = ScopedQuery(ADMIN, f)
    assert sq.matches(doc())
    assert not sq.matches(doc(app="billing"))
    assert not sq.matches(doc(container_id="other", container_name="other"))
    assert sq.matches(doc(container_id="other", container_name="cid"))
    assert not sq.matches(doc(level="error"))
    assert not sq.matches(doc(message="hello there"))  # "world" missing
    assert not sq.matches(doc(message="hello world secret"))
    assert not sq.matches(doc(ts="2027-01-15T09:00:00Z"))  # until is exclusive
    assert sq.matches(doc(ts="2027-01-15T08:00:00Z"))  # since is inclusive
    clauses = sq.es_clauses()
    assert {"match": {"message": {"query": "WORLD hello", "operator": "and"}}} in clauses


def test_catastrophic_pattern_runs_in_linear_time() -> None:
    f = Filters.parse(include=["(a+)+$"])
    sq = ScopedQuery(ADMIN, f)
    assert not sq.matches(doc(message="a" * 50_000 + "!"))


@given(st.integers(min_value=0, max_value=2**62), st.text(min_size=1, max_size=40),
       st.sampled_from(["newest", "oldest"]), st.none() | st.text(max_size=50))
def test_search_cursor_round_trip(ts: int, rid: str, order: str, pit: str | None) -> None:
    cur = SearchCursor(pit, (ts, rid), order, "f" * 16, NOW)
    assert SearchCursor.decode(cur.encode()) == cur


@given(st.integers(min_value=0, max_value=2**62), st.text(min_size=1, max_size=40),
       st.none() | st.dictionaries(st.integers(0, 500), st.integers(-1, 2**40), max_size=5))
def test_tail_cursor_round_trip(ts: int, rid: str, offsets: dict[int, int] | None) -> None:
    cur = TailCursor(ts, rid, offsets)
    assert TailCursor.decode(cur.encode()) == cur


@pytest.mark.parametrize("text", ["", "!!!", "eyJrIjoidCJ9", "WzFd"])
def test_bad_cursors_are_400(text: str) -> None:
    with pytest.raises(BadRequest):
        SearchCursor.decode(text)
    with pytest.raises(BadRequest):
        TailCursor.decode(text)


def test_tokens_file_validation() -> None:
    store = TokenStore.from_obj({"tokens": [
        {"name": "a", "sha256": hash_token("s1"), "namespaces": ["pay"]},
        {"name": "b", "sha256": hash_token("s2").upper(), "admin": True},
    ]})
    a, b = store.lookup("s1"), store.lookup("s2")
    assert a is not None and a.namespaces == frozenset({"pay"}) and not a.admin
    assert b is not None and b.admin
    assert store.lookup("s3") is None
    bad: object
    for bad in ({"tokens": [{"sha256": "zz", "admin": True}]},
                {"tokens": [{"sha256": hash_token("x")}]},
                {"tokens": [{"sha256": hash_token("x"), "admin": True, "namespaces": ["a"]}]},
                {"tokens": [{"sha256": hash_token("x"), "admin": True, "extra": 1}]},
                {"tokens": [{"sha256": hash_token("x"), "admin": True}] * 2},
                {"nope": []}):
        with pytest.raises(ConfigError):
            TokenStore.from_obj(bad)


def test_line_formats() -> None:
    d = doc(message='a, "b"\nc')
    assert LineRenderer("text", timestamps=True).line(d) == (
        b'2027-01-15T08:00:00.000000001Z a, "b"\nc\n')
    assert LineRenderer("text", prefix=True).line(d).startswith(b"[pay/p/c] ")
    r = LineRenderer("csv")
    parsed = list(csv.reader(io.StringIO((r.header() + r.line(d) + r.notice("cut")).decode())))
    assert parsed[1][8] == 'a, "b"\nc' and parsed[2][8] == "cut"
    gz = Gzipper()
    data = gz.feed(b"x" * 1000) + gz.feed(b"y") + gz.flush()
    assert gzip.decompress(data) == b"x" * 1000 + b"y"
