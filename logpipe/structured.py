"""Structure derived from a log line: its fields (JSON or logfmt body), its human
message, its trace and request ids, and its pattern (the message with the variable
parts masked, hashed).

A pure function of the message (and the configured id keys), so the forwarder (which
writes it into the Elasticsearch document) and the Log API's live tail (which reads
the raw records from Kafka) derive the same thing, on every replica and after every
restart. The Kafka record stays the collector's raw entry; see docs/forwarder.md,
"Structure: fields, ids and patterns".
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

# Bump when the masking changes: the pattern ids of older documents stay what they were,
# and a pattern id names its version so old and new never collide silently.
PATTERN_VERSION = 1
# Caps: a line with thousands of keys or megabyte values is kept whole in ``message``
# but only its first keys, within the byte budget, become fields.
MAX_FIELDS = 64
MAX_FIELDS_CHARS = 8192  # keys + values, in characters, per entry
MAX_KEY_CHARS = 128
MAX_VALUE_CHARS = 1024  # the mapping's ignore_above matches (logpipe/document.py)
MAX_DEPTH = 8  # nested objects deeper than this are kept as JSON text
MAX_PARSE_CHARS = 65536  # bodies longer than this are not parsed at all
MAX_ID_CHARS = 256  # a trace/request id longer than this is not an id
MAX_PATTERN_INPUT = 512  # the pattern reads the first line's first characters
MAX_MSG_CHARS = 8192

# Keys a structured logger puts its human message under, in order of preference.
MESSAGE_KEYS = ("msg", "message", "event", "log", "text", "body", "short_message",
                "@message", "Message", "MESSAGE", "Msg")
# Ids by key, compared after _norm (lower case, no '-', '_', '.'), on the whole key and
# on its last dotted part: trace_id, traceId, trace.id, dd.trace_id, otelTraceID ...
TRACE_KEYS = frozenset({"traceid", "oteltraceid", "ddtraceid", "xtraceid", "xb3traceid"})
SPAN_KEYS = frozenset({"spanid", "otelspanid", "ddspanid", "xb3spanid"})
TRACEPARENT_KEYS = frozenset({"traceparent"})
REQUEST_KEYS = frozenset({"requestid", "reqid", "xrequestid", "correlationid",
                          "xcorrelationid", "xamzntraceid", "httprequestid"})

_TRACEPARENT_RE = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}")
# logfmt pairs: key=value, key="quoted value" (with escapes), key= (empty).
_PAIR = re.compile(r'(?<![^\s])([A-Za-z_@][\w.\-/@]*)=("(?:[^"\\]|\\.)*"|[^\s"]*)')
# The variable parts of a message, masked as <*> in one pass. Order matters: quoted
# strings and paths swallow what they contain; then e-mails, then any token that holds
# a digit (numbers, ids, hex, UUIDs, IPs, durations, versions, timestamps), then
# digit-free hex runs of 8 or more (hashes that happen to have no digit).
_DELIM = r"""\s"',;:()\[\]{}<>=|"""
# Every alternative but the first two starts only at a token's start (look-behind), and
# possessive quantifiers (*+, ++) never backtrack: linear in the line, and cheap.
_VARIABLE = re.compile(
    r'"(?:[^"\\\n]|\\.){0,1024}"'
    r"|(?<![\w])'(?:[^'\\\n]|\\.){0,1024}'(?![\w])"
    r"|(?<![\w/.+-])(?:[A-Za-z][A-Za-z0-9+.-]{0,15}://)?/[^\s\"',;()\[\]{}<>]*+"
    r"|(?<![\w.+-])[\w.+-]++@[\w-]+(?:\.[\w-]+)++"
    rf"|(?<![^{_DELIM}])[^{_DELIM}0-9]*+[0-9][^{_DELIM}]*+"
    r"|\b[0-9a-fA-F]{8,}\b"
)
MASK = "<*>"


def _norm(key: str) -> str:
    return key.lower().replace("_", "").replace("-", "").replace(".", "")


def norm_keys(keys: Iterable[str]) -> frozenset[str]:
    """Configured id keys in the form they are compared in."""
    return frozenset(_norm(k) for k in keys if k.strip())


@dataclass(frozen=True, slots=True)
class Structure:
    """What a line holds besides its raw text. Empty values mean "none"."""

    msg: str | None = None  # the human message, when it differs from the raw line
    fields: dict[str, str] = field(default_factory=dict)
    fields_dropped: int = 0  # keys left out by the caps
    trace_id: str | None = None
    span_id: str | None = None
    request_id: str | None = None
    pattern: str = ""
    pattern_id: str = ""

    def doc(self) -> dict[str, Any]:
        """The document fields (only those with a value), in a fixed order."""
        out: dict[str, Any] = {}
        if self.msg is not None:
            out["msg"] = self.msg
        if self.fields:
            out["fields"] = self.fields
            out["field_names"] = list(self.fields)
        if self.fields_dropped:
            out["fields_dropped"] = self.fields_dropped
        for name in ("trace_id", "span_id", "request_id"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        out["pattern"] = self.pattern
        out["pattern_id"] = self.pattern_id
        return out


def _scalar(value: object) -> str:
    if isinstance(value, str):
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    return orjson.dumps(value).decode()


class _Fields:
    """Collects flattened fields within the caps."""

    __slots__ = ("chars", "dropped", "out")

    def __init__(self) -> None:
        self.out: dict[str, str] = {}
        self.chars = 0
        self.dropped = 0

    def add(self, key: str, value: str) -> None:
        size = len(key) + len(value)
        # Elasticsearch refuses a flattened key holding NUL (its path separator).
        if (not key or "\x00" in key or len(key) > MAX_KEY_CHARS or len(value) > MAX_VALUE_CHARS
                or len(self.out) >= MAX_FIELDS or self.chars + size > MAX_FIELDS_CHARS
                or key in self.out):
            self.dropped += 1
            return
        self.out[key] = value
        self.chars += size

    def walk(self, obj: Mapping[str, Any], prefix: str, depth: int) -> None:
        for key, value in obj.items():
            name = f"{prefix}{key}"
            if isinstance(value, dict) and value and depth < MAX_DEPTH:
                self.walk(value, name + ".", depth + 1)
            elif isinstance(value, dict | list):
                self.add(name, orjson.dumps(value).decode())
            else:
                self.add(name, _scalar(value))


def _parse_json(text: str) -> dict[str, Any] | None:
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return obj if isinstance(obj, dict) else None


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        try:
            out = orjson.loads(value)
        except orjson.JSONDecodeError:
            return value[1:-1]
        return out if isinstance(out, str) else value[1:-1]
    return value


def parse_fields(message: str) -> tuple[dict[str, str], int, str | None] | None:
    """(fields, dropped, the human message or None) of a JSON or logfmt body; None
    when the line is neither (plain text)."""
    if len(message) > MAX_PARSE_CHARS:
        return None
    text = message.strip()
    if not text:
        return None
    acc = _Fields()
    if text[0] == "{" and text[-1] == "}":
        obj = _parse_json(text)
        if obj is None:
            return None
        acc.walk(obj, "", 0)
        human = next((v for k in MESSAGE_KEYS if isinstance(v := obj.get(k), str)), None)
        return acc.out, acc.dropped, human
    if "=" not in text:
        return None
    pairs = _PAIR.findall(text)
    # One pair inside prose ("retry=3 failed") is not a body; two or more, or a line
    # that is nothing but pairs, is.
    if not pairs or (len(pairs) == 1 and _PAIR.sub("", text).strip()):
        return None
    for key, value in pairs:
        acc.add(key, _unquote(value))
    human = next((acc.out[k] for k in MESSAGE_KEYS if k in acc.out), None)
    if human is None:
        rest = " ".join(_PAIR.sub(" ", text).split())
        human = rest or None
    return acc.out, acc.dropped, human


def mask(message: str) -> str:
    """The message's first line with its variable parts replaced by ``<*>``."""
    line = message[:MAX_PATTERN_INPUT]
    cut = line.find("\n")
    if cut >= 0:
        line = line[:cut]
    return _VARIABLE.sub(MASK, line.strip())


def pattern_id(pattern: str) -> str:
    """``p<version>-<16 hex digits>``: stable across processes and restarts."""
    digest = hashlib.blake2b(pattern.encode("utf-8", "surrogatepass"), digest_size=8)
    return f"p{PATTERN_VERSION}-{digest.hexdigest()}"


def _ident(value: str) -> str | None:
    value = value.strip()
    if not value or len(value) > MAX_ID_CHARS or value == "null":
        return None
    return value


_NONE, _TRACE, _SPAN, _TRACEPARENT, _REQUEST = range(5)


@functools.lru_cache(maxsize=8192)
def _kind(key: str, request_keys: frozenset[str]) -> int:
    """What an id key is, by its whole name and its last dotted part. Cached: an app
    logs the same few keys on every line."""
    names = (_norm(key), _norm(key.rsplit(".", 1)[-1]))
    for kind, known in ((_TRACEPARENT, TRACEPARENT_KEYS), (_TRACE, TRACE_KEYS),
                        (_SPAN, SPAN_KEYS), (_REQUEST, REQUEST_KEYS | request_keys)):
        if names[0] in known or names[1] in known:
            return kind
    return _NONE


def _ids(fields: Mapping[str, str],
         request_keys: frozenset[str]) -> tuple[str | None, str | None, str | None]:
    trace = span = request = None
    for key, value in fields.items():
        kind = _kind(key, request_keys)
        if kind == _NONE:
            continue
        if kind == _TRACEPARENT and trace is None:
            m = _TRACEPARENT_RE.match(value.strip().lower())
            if m:
                trace, span = m[1], span or m[2]
        elif kind == _TRACE and trace is None:
            trace = _ident(value)
        elif kind == _SPAN and span is None:
            span = _ident(value)
        elif kind == _REQUEST and request is None:
            request = _ident(value)
    return trace, span, request


def derive(message: str, request_keys: frozenset[str] = frozenset()) -> Structure:
    """Everything derived from a raw line. Never raises on any string."""
    parsed = parse_fields(message)
    if parsed is None:
        pattern = mask(message)
        return Structure(pattern=pattern, pattern_id=pattern_id(pattern))
    fields, dropped, human = parsed
    trace, span, request = _ids(fields, request_keys)
    if human is not None:
        human = human[:MAX_MSG_CHARS]
    # Without a human message, the shape of a structured line is its set of keys.
    pattern = mask(human) if human is not None else "{" + " ".join(sorted(fields)) + "}"
    return Structure(msg=human if human != message else None, fields=fields,
                     fields_dropped=dropped, trace_id=trace, span_id=span,
                     request_id=request, pattern=pattern, pattern_id=pattern_id(pattern))
