"""The record: the one contract between collector, Kafka, forwarder, Elasticsearch
and the Log API (see DESIGN.md, "The record"). Its Elasticsearch document (index
names, ``_source``, mappings) is logpipe/document.py."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, get_type_hints

import orjson

from logpipe.errors import RecordError
from logpipe.levels import LEVELS
from logpipe.timefmt import is_rfc3339

SCHEMA_VERSION = 1

SOURCES = ("docker", "cri", "file", "k8s-event", "journald")

# Tags are flags, never a silent change: each says what was done to the entry.
TAG_TRUNCATED = "truncated"
TAG_MULTILINE = "multiline"
TAG_PARTIAL = "partial"
TAG_PARSE_ERROR = "parse_error"
TAG_INVALID_UTF8 = "invalid_utf8"
TAG_NUL_BYTES = "nul_bytes"
TAG_NO_TIMESTAMP = "no_timestamp"
# ``ts`` was too far from the time it was indexed and was replaced by the ingest time;
# the entry's own time stays in ``attrs["original_ts"]`` (forwarder/batch.py).
TAG_TS_CLAMPED = "ts_clamped"
# Elasticsearch refuses an ``_id`` longer than this many bytes (and an empty one).
MAX_ID_BYTES = 512


@dataclass(frozen=True, slots=True)
class Record:
    """One log entry. Field order is the wire order."""

    id: str
    ts: str
    ingest_ts: str
    node: str
    source: str
    path: str
    offset: int
    message: str
    level: str = "unknown"
    stream: str | None = None
    # The identity of the file the entry was read from (16 hex digits of a hash of node,
    # device, inode and fingerprint): what the completeness audit counts by.
    file: str | None = None
    container_id: str | None = None
    container_name: str | None = None
    image: str | None = None
    namespace: str | None = None
    pod: str | None = None
    pod_uid: str | None = None
    app: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    attrs: Mapping[str, str] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    v: int = SCHEMA_VERSION

    @property
    def key(self) -> bytes:
        """Kafka key: the stream's identity, stable across rotation, so order holds."""
        return (self.container_id or self.path).encode()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# Name -> type, in wire order: what the document's mappings, the validation below and
# every other field list are derived from.
FIELD_TYPES: dict[str, object] = get_type_hints(Record)
FIELDS: tuple[str, ...] = tuple(FIELD_TYPES)
_REQUIRED_STR = tuple(name for name, hint in FIELD_TYPES.items() if hint is str)
_OPTIONAL_STR = tuple(name for name, hint in FIELD_TYPES.items() if hint == str | None)
_KNOWN = frozenset(FIELDS)
_LEVEL_SET = frozenset(LEVELS)


def encode(record: Record) -> bytes:
    """The Kafka message value (orjson serialises slotted dataclasses natively)."""
    return orjson.dumps(record)


def _str_map(name: str, value: object) -> dict[str, str]:
    if type(value) is not dict or not all(
        type(k) is str and type(v) is str for k, v in value.items()
    ):
        raise RecordError(f"field {name!r} must be an object of string to string")
    return value


def from_dict(obj: object) -> Record:
    """Validate a decoded JSON value against the contract; RecordError says what is wrong.

    Exact type checks (``type(x) is str``) suffice because the input comes from a JSON
    decoder, and they keep this on the forwarder's hot path cheap.
    """
    if type(obj) is not dict:
        raise RecordError(f"a record is a JSON object, got {type(obj).__name__}")
    if not obj.keys() <= _KNOWN:
        raise RecordError(f"unknown fields {sorted(obj.keys() - _KNOWN)}")
    get = obj.get
    if get("v") != SCHEMA_VERSION:
        raise RecordError(f"schema version {get('v')!r} is not {SCHEMA_VERSION}")
    for name in _REQUIRED_STR:
        if type(get(name)) is not str:
            raise RecordError(f"field {name!r} is missing or not a string")
    for name in _OPTIONAL_STR:
        value = get(name)
        if value is not None and type(value) is not str:
            raise RecordError(f"field {name!r} must be a string or null")
    rid = obj["id"]
    if not rid or len(rid.encode("utf-8", "surrogatepass")) > MAX_ID_BYTES:
        # Elasticsearch would refuse it (an empty _id fails the whole bulk request).
        raise RecordError(f"field 'id' must be 1 to {MAX_ID_BYTES} bytes, got {len(rid)} "
                          "characters")
    offset = get("offset")
    if type(offset) is not int or offset < 0:
        raise RecordError("field 'offset' must be a non-negative integer")
    if obj["level"] not in _LEVEL_SET:
        raise RecordError(f"field 'level' is {obj['level']!r}, not one of {list(LEVELS)}")
    for name in ("ts", "ingest_ts"):
        if not is_rfc3339(obj[name]):
            raise RecordError(f"field {name!r} is not an RFC 3339 timestamp: {obj[name]!r}")
    tags = get("tags", [])
    if type(tags) is not list or not all(type(t) is str for t in tags):
        raise RecordError("field 'tags' must be a list of strings")
    obj["labels"] = _str_map("labels", get("labels", {}))
    obj["attrs"] = _str_map("attrs", get("attrs", {}))
    obj["tags"] = tuple(tags)
    return Record(**obj)


def decode(data: bytes | str) -> Record:
    """Kafka message value -> Record; RecordError (not retriable) for anything else."""
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise RecordError(f"not JSON: {exc}") from None
    return from_dict(obj)


def make_id(node: str, device: int, inode: int, fingerprint: str, offset: int) -> str:
    """Deterministic id of the entry at ``offset`` of a file.

    The file identity is (device, inode, fingerprint of its first bytes): it survives
    a rename, and changes on copytruncate or inode reuse because the first bytes
    differ. Reading the same bytes again yields the same id, so replays overwrite.
    """
    return stable_id(node, str(device), str(inode), fingerprint, str(offset))


def stable_id(*parts: str) -> str:
    """A 128-bit hex id of the parts (NUL-separated so ("ab","c") != ("a","bc"))."""
    return hashlib.blake2b(
        "\0".join(parts).encode("utf-8", "surrogatepass"), digest_size=16
    ).hexdigest()
