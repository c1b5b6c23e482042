"""The one place where a token's scope meets the filters.

Every Elasticsearch query (search, context, download, export, statistics, field
values) and every live-tail filter is built by ``ScopedQuery``; nothing else builds
a query body, so a namespace outside the token's scope cannot slip through one
endpoint. A namespace asked for but not allowed is a 403, never an empty answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from log_api.auth import Scope
from log_api.errors import Forbidden
from log_api.filters import Filters, tokens
from logpipe.timefmt import format_ns, parse_ns

NANOS_FORMAT = "strict_date_optional_time_nanos"


class ScopedQuery:
    def __init__(self, scope: Scope, filters: Filters) -> None:
        if scope.namespaces is not None:
            outside = [n for n in filters.namespaces if n not in scope.namespaces]
            if outside:
                raise Forbidden(
                    f"this token may not read namespace {outside[0]!r}; it may read "
                    f"{', '.join(sorted(scope.namespaces))}"
                )
        self.scope = scope
        self.filters = filters
        # The effective namespace set: what was asked, else everything the token may read.
        if filters.namespaces:
            self.namespaces: frozenset[str] | None = frozenset(filters.namespaces)
        else:
            self.namespaces = scope.namespaces

    # -- Elasticsearch -------------------------------------------------------------

    def es_clauses(self) -> list[dict[str, Any]]:
        f = self.filters
        out: list[dict[str, Any]] = []
        if self.namespaces is not None:
            out.append({"terms": {"namespace": sorted(self.namespaces)}})
        for fieldname, values in (("app", f.apps), ("pod", f.pods), ("node", f.nodes),
                                  ("stream", f.streams), ("level", f.levels)):
            if values:
                out.append({"terms": {fieldname: list(values)}})
        if f.containers:
            out.append({"bool": {"should": [
                {"terms": {"container_name": list(f.containers)}},
                {"terms": {"container_id": list(f.containers)}},
            ], "minimum_should_match": 1}})
        if f.since_ns is not None or f.until_ns is not None:
            rng: dict[str, Any] = {"format": NANOS_FORMAT}
            if f.since_ns is not None:
                rng["gte"] = format_ns(f.since_ns)
            if f.until_ns is not None:
                rng["lt"] = format_ns(f.until_ns)  # half-open, so adjacent ranges tile
            out.append({"range": {"ts": rng}})
        if f.q:
            out.append({"match": {"message": {"query": f.q, "operator": "and"}}})
        if f.has_structure:
            out.extend(self._structure_clauses())
        return out

    def _structure_clauses(self) -> list[dict[str, Any]]:
        """Fields, ids and patterns (logpipe/structured.py). ``fields`` is flattened:
        ``fields.<name>`` is its keyed sub-field, matched exactly."""
        f = self.filters
        out: list[dict[str, Any]] = [{"terms": {f"fields.{name}": list(values)}}
                                     for name, values in f.fields]
        out.extend({"term": {"field_names": name}} for name in f.has_fields)
        if f.traces:
            out.append({"bool": {"should": [{"terms": {"trace_id": list(f.traces)}},
                                            {"terms": {"request_id": list(f.traces)}}],
                                 "minimum_should_match": 1}})
        if f.patterns:
            out.append({"terms": {"pattern_id": list(f.patterns)}})
        return out

    def es_query(self, *extra: Mapping[str, Any]) -> dict[str, Any]:
        clauses = self.es_clauses() + [dict(e) for e in extra]
        if not clauses:
            return {"match_all": {}}
        return {"bool": {"filter": clauses}}

    # -- documents: live records, and the regex step of Elasticsearch results -------

    def post_filter(self, doc: Mapping[str, Any]) -> bool:
        """What Elasticsearch cannot check (RE2 include/exclude/pod_regex), plus the scope."""
        if self.namespaces is not None and doc.get("namespace") not in self.namespaces:
            return False
        return self._regex_ok(doc)

    def matches(self, doc: Mapping[str, Any]) -> bool:
        """Every filter on a live record (a decoded Kafka value)."""
        f = self.filters
        if self.namespaces is not None and doc.get("namespace") not in self.namespaces:
            return False
        for fieldname, values in (("app", f.apps), ("pod", f.pods), ("node", f.nodes),
                                  ("stream", f.streams), ("level", f.levels)):
            if values and doc.get(fieldname) not in values:
                return False
        if f.containers and doc.get("container_name") not in f.containers and (
            doc.get("container_id") not in f.containers
        ):
            return False
        if f.since_ns is not None or f.until_ns is not None:
            ts = parse_ns(str(doc.get("ts")))
            if (f.since_ns is not None and ts < f.since_ns) or (
                f.until_ns is not None and ts >= f.until_ns
            ):
                return False
        if f.q_tokens:
            words = set(tokens(str(doc.get("message", ""))))
            if not all(t in words for t in f.q_tokens):
                return False
        if f.has_structure and not self._structure_ok(doc):
            return False
        return self._regex_ok(doc)

    def _structure_ok(self, doc: Mapping[str, Any]) -> bool:
        """The structure filters on a live record (derived by log_api.live)."""
        f = self.filters
        fields = doc.get("fields") or {}
        if any(fields.get(name) not in values for name, values in f.fields):
            return False
        if any(name not in fields for name in f.has_fields):
            return False
        if f.traces and doc.get("trace_id") not in f.traces and (
            doc.get("request_id") not in f.traces
        ):
            return False
        return not f.patterns or doc.get("pattern_id") in f.patterns

    def _regex_ok(self, doc: Mapping[str, Any]) -> bool:
        f = self.filters
        if f.pod_re is not None and not f.pod_re.search(str(doc.get("pod") or "")):
            return False
        if not (f.include_re or f.exclude_re):
            return True
        message = str(doc.get("message", ""))
        if f.include_re and not any(r.search(message) for r in f.include_re):
            return False
        return not any(r.search(message) for r in f.exclude_re)


def sort_spec(order: str) -> list[dict[str, Any]]:
    """(ts, id): a total order, so search_after continues even on a fresh PIT."""
    direction = "desc" if order == "newest" else "asc"
    return [{"ts": {"order": direction}}, {"id": {"order": direction}}]

