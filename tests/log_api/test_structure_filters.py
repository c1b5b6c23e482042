"""The structure filters (field.<name>, has_field, trace, pattern) without a server: parsing,
cursor fingerprints, the Elasticsearch clauses and the live-record check agree."""

from __future__ import annotations

import pytest

from log_api.auth import Scope
from log_api.errors import BadRequest
from log_api.filters import Filters
from log_api.query import ScopedQuery
from logpipe.structured import derive

PAY = Scope(token_hash="h", name="pay", namespaces=frozenset({"pay"}))


def _query(**kw: object) -> ScopedQuery:
    return ScopedQuery(PAY, Filters.parse(**kw))  # type: ignore[arg-type]


def test_field_pairs_group_by_name() -> None:
    f = Filters.parse(field=[("user", "bo"), ("sku", "A"), ("user", "al"), ("user", "bo")],
                      has_field=["sku"], trace=["t1"], pattern=["p1-x"])
    assert f.fields == (("user", ("bo", "al")), ("sku", ("A",)))
    assert (f.has_fields, f.traces, f.patterns) == (("sku",), ("t1",), ("p1-x",))
    assert f.has_structure


def test_bad_structure_filters_are_400() -> None:
    with pytest.raises(BadRequest, match=r"field\.<name>"):
        Filters.parse(field=[("", "x")])
    with pytest.raises(BadRequest, match="longer than"):
        Filters.parse(has_field=["x" * 200])
    with pytest.raises(BadRequest, match="at most"):
        Filters.parse(field=[("k", str(i)) for i in range(101)])


def test_fingerprint_unchanged_without_structure_and_changed_with_it() -> None:
    plain = Filters.parse(app=["a"])
    assert plain.fingerprint() == Filters.parse(app=["a"]).fingerprint()
    assert plain.fingerprint() != Filters.parse(app=["a"], field=[("u", "b")]).fingerprint()
    assert (Filters.parse(field=[("u", "b")]).fingerprint()
            != Filters.parse(field=[("u", "c")]).fingerprint())


def test_clauses() -> None:
    sq = _query(field=[("user", "bo"), ("user", "al")], has_field=["sku"], trace=["t"],
                pattern=["p1-a"])
    clauses = sq.es_clauses()
    assert {"terms": {"namespace": ["pay"]}} in clauses
    assert {"terms": {"fields.user": ["bo", "al"]}} in clauses
    assert {"term": {"field_names": "sku"}} in clauses
    assert {"bool": {"should": [{"terms": {"trace_id": ["t"]}},
                                {"terms": {"request_id": ["t"]}}],
                     "minimum_should_match": 1}} in clauses
    assert {"terms": {"pattern_id": ["p1-a"]}} in clauses


def _doc(message: str, namespace: str = "pay") -> dict[str, object]:
    return {"namespace": namespace, "ts": "2026-11-26T07:00:00Z", "message": message,
            **derive(message).doc()}


def test_live_check_matches_what_elasticsearch_would() -> None:
    bo = _doc('{"msg": "paid", "user": "bo", "sku": "A", "request_id": "r1"}')
    al = _doc('{"msg": "paid", "user": "al"}')
    plain = _doc("paid 12 coupons")
    assert _query(field=[("user", "bo")]).matches(bo)
    assert not _query(field=[("user", "bo")]).matches(al)
    assert _query(field=[("user", "bo"), ("user", "al")]).matches(al)
    assert not _query(field=[("user", "bo"), ("sku", "B")]).matches(bo)
    assert _query(has_field=["sku"]).matches(bo) and not _query(has_field=["sku"]).matches(al)
    assert _query(trace=["r1"]).matches(bo) and not _query(trace=["r1"]).matches(plain)
    pid = str(plain["pattern_id"])
    assert _query(pattern=[pid]).matches(_doc("paid 99 coupons"))
    assert not _query(pattern=[pid]).matches(bo)
    # Scope first: another namespace never matches, whatever the structure.
    assert not _query(field=[("user", "bo")]).matches(
        _doc('{"msg": "paid", "user": "bo"}', namespace="hotel"))
