"""The common filters of every endpoint, parsed and validated once.

Times are RFC 3339 or relative to now (``30s``, ``15m``, ``2h``, ``7d``, ``1w``, ``now``).
Regular expressions run on RE2 (linear time, no backtracking) and are length-bounded,
so a pattern such as ``(a+)+b`` cannot stall the process. ``pod_regex`` is checked the
same way (on each document, not by Elasticsearch): Lucene's ``regexp`` is always anchored,
has no ``^``/``$`` and gives ``&``, ``@``, ``~``, ``#`` and ``<>`` other meanings, so a
translated pattern could silently match other pods.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
import re2  # type: ignore[import-untyped]

from log_api.errors import BadRequest
from logpipe.levels import LEVELS, Level, levels_at_least
from logpipe.timefmt import parse_ns

_RELATIVE = re.compile(r"^(\d{1,9})(s|m|h|d|w)$")
_UNIT_NS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_WORD = re.compile(r"\w+")
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a user's bad pattern is a 400, not a line on stderr
_RE2_OPTIONS.max_mem = 8 << 20  # bounds the compiled automaton of a huge pattern
MAX_VALUES = 100  # values per list filter
FIELD_PREFIX = "field."  # field.<name>=<value> in a query string
MAX_FIELD_NAME = 128  # logpipe.structured.MAX_KEY_CHARS: no longer name is ever stored


def parse_time(value: str, name: str, now_ns: int | None = None) -> int:
    """RFC 3339 or relative (``15m`` = 15 minutes ago) -> epoch ns; BadRequest otherwise."""
    text = value.strip()
    now = time.time_ns() if now_ns is None else now_ns
    if text == "now":
        return now
    m = _RELATIVE.match(text)
    if m:
        return now - int(m.group(1)) * _UNIT_NS[m.group(2)] * 1_000_000_000
    try:
        return parse_ns(text)
    except ValueError:
        raise BadRequest(
            f"{name}={value!r} is not a time: give RFC 3339 (2026-11-26T07:00:00Z) or a "
            "relative duration such as 30s, 15m, 2h, 7d, 1w"
        ) from None


def tokens(text: str) -> list[str]:
    """Lower-case word tokens: close to Elasticsearch's standard analyzer, for live filters."""
    return _WORD.findall(text.lower())


def compile_regex(pattern: str, name: str, max_length: int) -> Any:
    if len(pattern) > max_length:
        raise BadRequest(f"{name} is {len(pattern)} characters long; the limit is {max_length}")
    try:
        return re2.compile(pattern, _RE2_OPTIONS)
    except re2.error as exc:
        detail = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        raise BadRequest(
            f"{name}={pattern!r} is not a valid RE2 regular expression ({detail}); "
            "back-references and look-arounds are not supported"
        ) from None


@dataclass(frozen=True)
class Filters:
    """Validated filters; empty tuples mean "no constraint"."""

    namespaces: tuple[str, ...] = ()
    apps: tuple[str, ...] = ()
    pods: tuple[str, ...] = ()
    containers: tuple[str, ...] = ()
    nodes: tuple[str, ...] = ()
    streams: tuple[str, ...] = ()
    levels: tuple[str, ...] = ()
    q: str | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    pod_regex: str | None = None
    since_ns: int | None = None
    until_ns: int | None = None
    since: str | None = None  # as given, so a relative time pages consistently
    until: str | None = None
    # Structure (logpipe/structured.py): field name -> accepted values (any of them;
    # every name must match), names that must be present, trace or request ids, and
    # pattern ids.
    fields: tuple[tuple[str, tuple[str, ...]], ...] = ()
    has_fields: tuple[str, ...] = ()
    traces: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    include_re: tuple[Any, ...] = field(default=(), compare=False, repr=False)
    exclude_re: tuple[Any, ...] = field(default=(), compare=False, repr=False)
    pod_re: Any = field(default=None, compare=False, repr=False)
    q_tokens: tuple[str, ...] = field(default=(), compare=False, repr=False)

    @classmethod
    def parse(
        cls,
        *,
        namespace: list[str] | None = None,
        app: list[str] | None = None,
        pod: list[str] | None = None,
        container: list[str] | None = None,
        node: list[str] | None = None,
        stream: list[str] | None = None,
        level: list[str] | None = None,
        min_level: str | None = None,
        q: str | None = None,
        include: list[str] | None = None,
        exclude: list[str] | None = None,
        pod_regex: str | None = None,
        since: str | None = None,
        until: str | None = None,
        field: list[tuple[str, str]] | None = None,
        has_field: list[str] | None = None,
        trace: list[str] | None = None,
        pattern: list[str] | None = None,
        regex_max_length: int = 512,
        now_ns: int | None = None,
    ) -> Filters:
        lists = {"namespace": namespace, "app": app, "pod": pod, "container": container,
                 "node": node, "stream": stream, "level": level, "has_field": has_field,
                 "trace": trace, "pattern": pattern}
        clean: dict[str, tuple[str, ...]] = {}
        for name, values in lists.items():
            vals = tuple(dict.fromkeys(v for v in (values or []) if v != ""))
            if len(vals) > MAX_VALUES:
                raise BadRequest(f"{name} has {len(vals)} values; give at most {MAX_VALUES}")
            clean[name] = vals
        bad = [lv for lv in clean["level"] if lv not in LEVELS]
        if bad:
            raise BadRequest(f"level {bad[0]!r} is not one of {', '.join(LEVELS)}")
        levels = clean["level"]
        if min_level is not None:
            if min_level not in LEVELS or min_level == Level.UNKNOWN:
                raise BadRequest(
                    f"min_level={min_level!r} is not one of {', '.join(LEVELS[:-1])}"
                )
            if levels:
                raise BadRequest("give either level (a set) or min_level, not both")
            levels = tuple(levels_at_least(min_level))
        now = time.time_ns() if now_ns is None else now_ns
        since_ns = parse_time(since, "since", now) if since else None
        until_ns = parse_time(until, "until", now) if until else None
        if since_ns is not None and until_ns is not None and since_ns > until_ns:
            raise BadRequest(f"since={since!r} is after until={until!r}; swap them")
        query = q.strip() if q else None
        if query is not None and len(query) > 1000:
            raise BadRequest("q is longer than 1000 characters")
        inc = tuple(include or ())
        exc = tuple(exclude or ())
        if len(inc) + len(exc) > 10:
            raise BadRequest("give at most 10 include/exclude patterns together")
        pod_pattern = pod_regex or None
        return cls(
            fields=_field_filters(field or []), has_fields=_names(clean["has_field"]),
            traces=clean["trace"], patterns=clean["pattern"],
            namespaces=clean["namespace"], apps=clean["app"], pods=clean["pod"],
            containers=clean["container"], nodes=clean["node"], streams=clean["stream"],
            levels=levels, q=query or None, include=inc, exclude=exc, pod_regex=pod_pattern,
            since_ns=since_ns, until_ns=until_ns, since=since or None, until=until or None,
            include_re=tuple(compile_regex(p, "include", regex_max_length) for p in inc),
            exclude_re=tuple(compile_regex(p, "exclude", regex_max_length) for p in exc),
            q_tokens=tuple(tokens(query)) if query else (),
            pod_re=(compile_regex(pod_pattern, "pod_regex", regex_max_length)
                    if pod_pattern is not None else None),
        )

    @property
    def has_structure(self) -> bool:
        return bool(self.fields or self.has_fields or self.traces or self.patterns)

    @property
    def has_regex(self) -> bool:
        """A filter Elasticsearch cannot apply: checked on each document instead."""
        return bool(self.include or self.exclude or self.pod_regex)

    def fingerprint(self) -> str:
        """Stable digest of the filters, so a cursor refuses to continue other filters."""
        body = orjson.dumps([self.namespaces, self.apps, self.pods, self.containers,
                             self.nodes, self.streams, self.levels, self.q, self.include,
                             self.exclude, self.since, self.until, self.pod_regex]
                            + ([self.fields, self.has_fields, self.traces, self.patterns]
                               if self.has_structure else []))
        return hashlib.blake2b(body, digest_size=8).hexdigest()


def _names(names: tuple[str, ...]) -> tuple[str, ...]:
    for name in names:
        if len(name) > MAX_FIELD_NAME:
            raise BadRequest(f"field name {name[:40]!r}... is longer than {MAX_FIELD_NAME} "
                             "characters; no such field is stored")
    return names


def _field_filters(given: list[tuple[str, str]]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(name, value) pairs -> ((name, (values...)), ...), names in first-seen order."""
    if len(given) > MAX_VALUES:
        raise BadRequest(f"{len(given)} field.<name> values; give at most {MAX_VALUES}")
    by_name: dict[str, dict[str, None]] = {}
    for name, value in given:
        if not name:
            raise BadRequest("field.=... names no field: write field.<name>=<value>, e.g. "
                             "field.user=bo")
        by_name.setdefault(name, {})[value] = None
    _names(tuple(by_name))
    return tuple((name, tuple(values)) for name, values in by_name.items())
