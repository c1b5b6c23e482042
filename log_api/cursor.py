"""Opaque cursors: base64url JSON that the client hands back unchanged.

A search cursor holds the point-in-time id, the ``search_after`` values (ts in epoch
ns, record id), the order, the time "now" of the first page (so ``since=15m`` means
the same range on every page) and a fingerprint of the filters. The token's scope is
never in the cursor: it is applied again on every page.

A tail cursor (an SSE event id) holds the record's (ts, id) and, for live events,
the Kafka position vector after it, so a reconnect resumes exactly there.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

import orjson

from log_api.errors import BadRequest


def _encode(obj: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(obj)).decode().rstrip("=")


def _decode(text: str, what: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        obj = orjson.loads(raw)
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        obj = None
    if not isinstance(obj, dict):
        raise BadRequest(f"{what} is not a cursor this API gave out; drop it to start over")
    return obj


@dataclass(frozen=True)
class SearchCursor:
    pit: str | None
    after: tuple[int, str]
    order: str
    fingerprint: str
    now_ns: int

    def encode(self) -> str:
        return _encode({"k": "s", "p": self.pit, "a": list(self.after), "o": self.order,
                        "f": self.fingerprint, "n": self.now_ns})

    @classmethod
    def decode(cls, text: str) -> SearchCursor:
        obj = _decode(text, "cursor")
        try:
            after = obj["a"]
            if obj["k"] != "s" or obj["o"] not in ("newest", "oldest") or not (
                isinstance(after, list) and len(after) == 2 and isinstance(after[0], int)
                and isinstance(after[1], str) and isinstance(obj["n"], int)
                and isinstance(obj["f"], str) and (obj["p"] is None or isinstance(obj["p"], str))
            ):
                raise KeyError
        except KeyError:
            raise BadRequest("cursor is not a search cursor; drop it to start over") from None
        return cls(obj["p"], (after[0], after[1]), obj["o"], obj["f"], obj["n"])


@dataclass(frozen=True)
class TailCursor:
    ts_ns: int
    id: str
    offsets: dict[int, int] | None = field(default=None)  # partition -> last offset seen

    def encode(self) -> str:
        obj: dict[str, Any] = {"k": "t", "t": self.ts_ns, "i": self.id}
        if self.offsets is not None:
            obj["o"] = {str(p): o for p, o in self.offsets.items()}
        return _encode(obj)

    @classmethod
    def decode(cls, text: str) -> TailCursor:
        obj = _decode(text, "Last-Event-ID")
        try:
            if obj["k"] != "t" or not isinstance(obj["t"], int) or not isinstance(obj["i"], str):
                raise KeyError
            raw = obj.get("o")
            offsets = None
            if raw is not None:
                if not isinstance(raw, dict):
                    raise KeyError
                offsets = {int(p): int(o) for p, o in raw.items()}
        except (KeyError, ValueError, TypeError):
            raise BadRequest("Last-Event-ID is not a tail event id; reconnect without it") from None
        return cls(obj["t"], obj["i"], offsets)
