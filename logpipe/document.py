"""The Elasticsearch document of a record: daily index names, the ``_source``, and the
mappings of the index template. The forwarder writes what this module describes and the
Log API reads it; the field lists are derived from ``Record``, so a new record field
reaches the mapping without a second edit.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

import orjson

from logpipe.record import FIELD_TYPES, Record
from logpipe.structured import MAX_VALUE_CHARS, derive
from logpipe.timefmt import format_ns, parse_ns

# The fields the document adds to the record. The message's size in UTF-8 bytes, so
# "bytes per app" is a plain sum (this Elasticsearch runs no scripts); and the structure
# derived from the message by logpipe/structured.py (fields, ids, pattern).
MESSAGE_BYTES = "message_bytes"

# Record fields whose mapping is not the one their Python type implies.
_BY_NAME: dict[str, dict[str, Any]] = {
    "message": {"type": "text"},
    # date_nanos keeps Docker/CRI nanosecond precision (and so their order).
    "ts": {"type": "date_nanos"},
    "ingest_ts": {"type": "date_nanos"},
    "v": {"type": "short"},
}
# A keyword longer than Lucene's 32 KiB term limit would make ES refuse the whole
# document; ignore_above keeps the document and only skips indexing that one value.
_KEYWORD: dict[str, Any] = {"type": "keyword", "ignore_above": 4096}
_BY_TYPE: list[tuple[object, dict[str, Any]]] = [
    # Who/where fields: exact-match filters and aggregations, never analysed.
    (str, _KEYWORD),
    (str | None, _KEYWORD),
    (tuple[str, ...], _KEYWORD),
    (int, {"type": "long"}),
    # flattened: one field per object however many keys exist, so arbitrary
    # Kubernetes labels cannot cause a mapping explosion.
    (Mapping[str, str], {"type": "flattened"}),
]


def _field_mapping(name: str, hint: object) -> dict[str, Any]:
    if name in _BY_NAME:
        return _BY_NAME[name]
    for known, mapping in _BY_TYPE:
        if hint == known:
            return mapping
    # Fails at import, so a record field of a new type cannot be indexed unmapped.
    raise TypeError(f"no Elasticsearch mapping for Record.{name} of type {hint}")


# What logpipe/structured.py derives, in ``Structure.doc`` order. ``fields`` is one
# flattened field however many keys the lines carry: never a mapping explosion.
DERIVED: dict[str, dict[str, Any]] = {
    "msg": {"type": "text"},
    "fields": {"type": "flattened", "ignore_above": MAX_VALUE_CHARS},
    "field_names": _KEYWORD,
    "fields_dropped": {"type": "integer"},
    "trace_id": _KEYWORD,
    "span_id": _KEYWORD,
    "request_id": _KEYWORD,
    "pattern": _KEYWORD,
    "pattern_id": _KEYWORD,
}

_PROPERTIES: dict[str, dict[str, Any]] = {
    name: _field_mapping(name, hint) for name, hint in FIELD_TYPES.items()
} | {MESSAGE_BYTES: {"type": "integer"}} | DERIVED

# Every field of a document, in ``_source`` order: the record's, then the derived ones.
FIELDS: tuple[str, ...] = tuple(_PROPERTIES)
KEYWORD_FIELDS: tuple[str, ...] = tuple(
    name for name, mapping in _PROPERTIES.items() if mapping["type"] == "keyword"
)


def mappings() -> dict[str, Any]:
    """The ``mappings`` of the index template (fresh dicts: callers may change them)."""
    # dynamic=false: a field outside the contract stays in _source but adds no mapping.
    return {"dynamic": False,
            "properties": {name: dict(mapping) for name, mapping in _PROPERTIES.items()}}


# Bump when the mappings change; kept in _meta so an operator can see what is installed.
TEMPLATE_VERSION = 2


def template_body(prefix: str, shards: int, replicas: int, refresh_interval: str,
                  priority: int) -> dict[str, Any]:
    """Keyword arguments for ``indices.put_index_template``: the composable template
    ``<prefix>`` that every daily index gets when the first bulk of a day creates it."""
    return {
        "name": prefix,
        "index_patterns": [index_pattern(prefix)],
        "priority": priority,
        "template": {
            "settings": {
                "index": {
                    "number_of_shards": shards,
                    "number_of_replicas": replicas,
                    "refresh_interval": refresh_interval,
                },
            },
            "mappings": mappings(),
        },
        "_meta": {"managed_by": "logpipe-forwarder", "version": TEMPLATE_VERSION},
    }


def check_fields(what: str, names: Iterable[str],
                 among: Iterable[str] = FIELDS) -> tuple[str, ...]:
    """``names`` as a tuple if each is one of ``among`` (the document's fields by default);
    ValueError naming ``what`` if not.

    For field lists kept elsewhere in an order of their own (an API model, CSV columns):
    called where the list is defined, so a field renamed or removed in ``Record`` stops
    the program at import instead of leaving a column silently empty.
    """
    names = tuple(names)
    allowed = frozenset(among)
    unknown = [name for name in names if name not in allowed]
    if unknown:
        raise ValueError(f"{what} names fields the document does not have: {unknown}")
    return names


# -- index names -------------------------------------------------------------------------


def index_name(prefix: str, ts: str) -> str:
    """``<prefix>-YYYY.MM.DD`` of the record's time, in UTC."""
    if len(ts) >= 11 and ts[-1] == "Z" and ts[4] == "-" and ts[7] == "-":
        day = ts[:10]  # canonical UTC form: the date is already the UTC date
    else:
        day = format_ns(parse_ns(ts))[:10]
    return f"{prefix}-{day[0:4]}.{day[5:7]}.{day[8:10]}"


def index_pattern(prefix: str) -> str:
    """Every daily index of ``prefix`` (and anything else named ``<prefix>-...``)."""
    return f"{prefix}-*"


def index_day(prefix: str, name: str) -> date | None:
    """The day of a daily index name, or None if the name is not ``<prefix>-YYYY.MM.DD``."""
    m = re.fullmatch(re.escape(prefix) + r"-(\d{4})\.(\d{2})\.(\d{2})", name)
    if m is None:
        return None
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


# -- _source -----------------------------------------------------------------------------


def message_bytes(record: Record) -> int:
    return len(record.message.encode("utf-8", "surrogatepass"))


def es_source(record: Record, request_keys: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The Elasticsearch document of a record: the record plus ``message_bytes`` and
    the derived structure (``request_keys``: extra request-id keys, normalised)."""
    doc = record.to_dict()
    doc[MESSAGE_BYTES] = message_bytes(record)
    doc.update(derive(record.message, request_keys).doc())
    return doc


def es_source_bytes(record: Record, value: bytes,
                    request_keys: frozenset[str] = frozenset()) -> bytes:
    """``es_source`` as JSON from the record's own encoded value, without re-encoding it.

    ``value`` is ``encode(record)``: one JSON object, so the extra fields are spliced in
    before its closing brace.
    """
    body = value.rstrip()
    derived = orjson.dumps(derive(record.message, request_keys).doc())
    return (
        body[:-1]
        + b',"'
        + MESSAGE_BYTES.encode()
        + b'":'
        + str(message_bytes(record)).encode()
        + b","
        + derived[1:]
    )


# -- the completeness ledger -------------------------------------------------------------
# Ledger entries (collector/ledger.py, forwarder/ledger.py) live in daily indices of their
# own, ``<prefix>_ledger-YYYY.MM.DD``: ``<prefix>-*`` (every search) does not match them.

LEDGER_KEYWORDS = ("kind", "id", "node", "source", "path", "file", "namespace", "app",
                   "cause", "stage")
LEDGER_LONGS = ("from", "to", "entries", "offset", "bytes")


def ledger_prefix(prefix: str) -> str:
    return f"{prefix}_ledger"


def ledger_index_name(prefix: str, ts: str | None) -> str:
    """The ledger's daily index for an entry sent at ``ts`` (now if it has none)."""
    if not isinstance(ts, str):
        ts = format_ns(time.time_ns())
    try:
        return index_name(ledger_prefix(prefix), ts)
    except ValueError:
        return index_name(ledger_prefix(prefix), format_ns(time.time_ns()))


def ledger_index_pattern(prefix: str) -> str:
    return f"{ledger_prefix(prefix)}-*"


def ledger_template_body(prefix: str) -> dict[str, Any]:
    """``indices.put_index_template`` arguments for the ledger indices."""
    props: dict[str, Any] = {name: dict(_KEYWORD) for name in LEDGER_KEYWORDS}
    props.update({name: {"type": "long"} for name in LEDGER_LONGS})
    props["ts"] = {"type": "date_nanos"}
    props["detail"] = {"type": "keyword", "index": False, "doc_values": False}
    props["v"] = {"type": "short"}
    return {
        "name": ledger_prefix(prefix),
        "index_patterns": [ledger_index_pattern(prefix)],
        "priority": 10,
        # A replica wherever a second data node can hold one (none on a single node):
        # the audit must not lose its ledger with a node.
        "template": {"settings": {"index": {"number_of_shards": 1,
                                            "auto_expand_replicas": "0-1"}},
                     "mappings": {"dynamic": False, "properties": props}},
        "_meta": {"managed_by": "logpipe-forwarder", "version": TEMPLATE_VERSION},
    }
