"""Response models: the API's public shape, kept apart from the Record contract."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from logpipe.document import check_fields

_ENTRY_EXAMPLE: dict[str, Any] = {
    "id": "5d41402abc4b2a76b9719d911017c592",
    "ts": "2026-11-26T07:00:00.123456789Z",
    "level": "error",
    "message": '{"msg": "payment declined", "reason": "card expired", "user": "bo", '
               '"request_id": "f64e4cbc89ffb287"}',
    "namespace": "pay",
    "app": "checkout",
    "pod": "checkout-7d9f8-abcde",
    "container_name": "checkout",
    "container_id": "3f4e2c1b9a",
    "node": "node-1",
    "stream": "stderr",
    "source": "cri",
    "msg": "payment declined",
    "fields": {"msg": "payment declined", "reason": "card expired", "user": "bo",
               "request_id": "f64e4cbc89ffb287"},
    "request_id": "f64e4cbc89ffb287",
    "pattern_id": "p1-2d48f733562a3440",
}


class Entry(BaseModel):
    """One log entry as the API shows it."""

    model_config = ConfigDict(json_schema_extra={"examples": [_ENTRY_EXAMPLE]})

    id: str
    ts: str = Field(description="The entry's own time, RFC 3339 UTC, nanoseconds.")
    ingest_ts: str | None = None
    level: str
    message: str
    namespace: str | None = None
    app: str | None = None
    pod: str | None = None
    container_name: str | None = None
    container_id: str | None = None
    node: str | None = None
    stream: str | None = None
    source: str | None = None
    path: str | None = None
    image: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)
    msg: str | None = Field(None, description="The human message of a JSON/logfmt line "
                            "(its msg, message, event ... key); absent when it is the line "
                            "itself. `message` stays the raw line.")
    fields: dict[str, str] = Field(default_factory=dict, description="The line's parsed "
                                   "JSON/logfmt fields, nested keys as a.b, values as text "
                                   "(capped: see docs/forwarder.md).")
    trace_id: str | None = None
    span_id: str | None = None
    request_id: str | None = None
    pattern_id: str | None = Field(None, description="The line's pattern (GET /patterns).")

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Entry:
        return cls.model_validate({k: doc.get(k) for k in ENTRY_FIELDS if doc.get(k) is not None})


# The API's own choice and order of fields, checked against the document it is read from.
ENTRY_FIELDS = check_fields("log_api.models.Entry", Entry.model_fields)


class SearchPage(BaseModel):
    entries: list[Entry]
    next_cursor: str | None = Field(
        description="Pass as `cursor` (with the same filters) for the next page; null at the end."
    )
    total: int | None = Field(
        None, description="Exact number of matches (first page only, without regex filters)."
    )
    scanned: int = Field(description="Entries read to fill this page (more with regex filters).")


class ContextOut(BaseModel):
    entry: Entry
    before: list[Entry] = Field(description="Older entries of the same container, oldest first.")
    after: list[Entry] = Field(description="Newer entries of the same container, oldest first.")


class LevelCount(BaseModel):
    level: str
    count: int
    percent: float


class AppLevels(BaseModel):
    app: str | None
    total: int
    levels: list[LevelCount]


class LevelRatio(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "total": 1000, "levels": [{"level": "info", "count": 900, "percent": 90.0},
                                  {"level": "error", "count": 100, "percent": 10.0}],
        "by_app": None}]})

    total: int
    levels: list[LevelCount]
    by_app: list[AppLevels] | None = None


class AppShareItem(BaseModel):
    app: str | None = Field(description="null for entries without an app.")
    entries: int
    entries_percent: float
    bytes: int
    bytes_percent: float


class AppShare(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "total_entries": 1000, "total_bytes": 64000, "apps_total": 3,
        "top": [{"app": "checkout", "entries": 600, "entries_percent": 60.0, "bytes": 40000,
                 "bytes_percent": 62.5}],
        "other": {"app": None, "entries": 400, "entries_percent": 40.0, "bytes": 24000,
                  "bytes_percent": 37.5}}]})

    total_entries: int
    total_bytes: int
    apps_total: int = Field(description="Distinct apps in the range.")
    top: list[AppShareItem]
    other: AppShareItem | None = Field(description="Everything outside the top N, or null.")


class Bucket(BaseModel):
    start: str
    total: int
    levels: dict[str, int]


class Histogram(BaseModel):
    interval: str = Field(description="Bucket width, e.g. 1m, 5m, 1h.")
    buckets: list[Bucket]


class FieldValue(BaseModel):
    value: str
    count: int


class FieldValues(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "fields": {"namespace": [{"value": "pay", "count": 120}],
                   "app": [{"value": "checkout", "count": 100}]}, "truncated": False}]})

    fields: dict[str, list[FieldValue]]
    truncated: bool = Field(description="True when a field had more values than returned.")


class ErrorOut(BaseModel):
    error: str
    status: int


class Pointer(BaseModel):
    service: str
    docs: str
    openapi: str


class PatternApp(BaseModel):
    app: str | None
    count: int


class Pattern(BaseModel):
    pattern_id: str = Field(description="Pass as pattern=<id> to any filtered endpoint.")
    pattern: str | None = Field(description="The message with its variable parts as <*>.")
    count: int = Field(description="Entries of the range with this pattern (exact).")
    percent: float
    level: str = Field(description="The level most of its entries have.")
    levels: dict[str, int] = Field(description="Entries per level (exact).")
    first_seen: str = Field(description="Its oldest entry's time inside the range.")
    last_seen: str = Field(description="Its newest entry's time inside the range.")
    new: bool | None = Field(description="Not seen in the lookback before `since`; null "
                             "without since (the range then has no before).")
    apps: list[PatternApp] = Field(description="Its apps, most entries first (top 5).")


class PatternOther(BaseModel):
    patterns: int
    count: int


class Patterns(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "total": 1000, "patterns_total": 2, "lookback": "1d", "patterns": [
            {"pattern_id": "p1-2d48f733562a3440", "pattern": "coupon rejected", "count": 600,
             "percent": 60.0, "level": "info", "levels": {"info": 600},
             "first_seen": "2026-11-26T07:00:00.000000000Z",
             "last_seen": "2026-11-26T07:59:00.000000000Z", "new": False,
             "apps": [{"app": "cart", "count": 600}]}],
        "other": {"patterns": 1, "count": 400}}]})

    total: int = Field(description="Entries in the range (every pattern's count adds to it).")
    patterns_total: int = Field(description="Distinct patterns in the range.")
    lookback: str | None = Field(description="How far before `since` `new` looked.")
    patterns: list[Pattern] = Field(description="The most frequent first, `limit` of them.")
    other: PatternOther | None = Field(description="The patterns past `limit`, together.")
