"""Whatever a JSON or logfmt line holds, Elasticsearch accepts the document the forwarder
builds from it (a refused document would go to the dead-letter topic instead of the
index): arbitrary keys, nesting, values and sizes against the real template."""

from __future__ import annotations

import orjson
import pytest
from elasticsearch import Elasticsearch, helpers
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forwarder.template import install_template
from logpipe.document import es_source, index_name
from logpipe.record import Record

pytestmark = pytest.mark.integration

keys = st.text(st.characters(codec="utf-8"), max_size=12)
values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(st.characters(codec="utf-8")),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=20)
bodies = st.one_of(
    st.dictionaries(keys, values, max_size=30).map(lambda d: orjson.dumps(d).decode()),
    st.lists(st.tuples(st.from_regex(r"[A-Za-z_@][\w.\-/@]{0,10}", fullmatch=True),
                       st.text(st.characters(codec="utf-8", exclude_characters='"\\'))),
             min_size=2, max_size=10).map(
        lambda pairs: " ".join(f'{k}="{v}"' for k, v in pairs)),
)


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(bodies, min_size=1, max_size=40))
def test_every_structured_line_is_accepted(es: Elasticsearch, index_prefix: str,
                                           lines: list[str]) -> None:
    install_template(es, index_prefix, 1, 0, "1s", 500)
    docs = []
    for i, line in enumerate(lines):
        r = Record(id=f"s{i}", ts="2026-11-26T07:00:00Z", ingest_ts="2026-11-26T07:00:00Z",
                   node="n", source="cri", path="/p", offset=i, message=line)
        docs.append({"_index": index_name(index_prefix, r.ts), "_id": r.id,
                     "_source": es_source(r)})
    ok, errors = helpers.bulk(es, docs, raise_on_error=False)
    assert errors == [] and ok == len(docs)
