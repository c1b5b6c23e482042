"""Download tickets: a browser fetches a file by a plain link without a token in its URL.

A ticket is ``<payload>.<signature>`` (base64url; HMAC-SHA256 over the payload), good
for ``ticket_ttl_s`` seconds, once, for one path and one query string, with the scope of
the token that asked for it. It is useless for anything else: another path, another
filter, a second fetch, after a minute. The token itself never appears in a URL (URLs
end up in access logs, proxies and browser history).

With several API replicas set ``ticket_secret`` to the same value on each (otherwise a
replica refuses the others' tickets). Single use holds over every replica: this process
remembers the tickets it took, and ``spend`` writes each ticket's nonce once in
``<prefix>_state`` (log_api/shared.py), so the same ticket on another replica is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass

import elasticsearch
import orjson

from log_api.errors import Unauthorized
from log_api.shared import StateIndex


def query_digest(pairs: Iterable[tuple[str, str]]) -> str:
    """The query a ticket is bound to: its parameters in order, without ``ticket``."""
    kept = [[k, v] for k, v in pairs if k != "ticket"]
    return hashlib.sha256(orjson.dumps(kept)).hexdigest()[:32]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class Ticket:
    nonce: str
    token_hash: str
    path: str
    query: str
    expires: float


class TicketBook:
    def __init__(self, secret: bytes | None, ttl_s: float,
                 shared: StateIndex | None = None) -> None:
        self.secret = secret or secrets.token_bytes(32)
        self.ttl_s = ttl_s
        self.shared = shared
        self.used: dict[str, float] = {}  # nonce -> expiry

    def issue(self, token_hash: str, path: str, query: str) -> tuple[str, float]:
        expires = time.time() + self.ttl_s
        payload = orjson.dumps({"n": secrets.token_hex(12), "t": token_hash, "p": path,
                                "q": query, "e": round(expires, 3)})
        sig = hmac.new(self.secret, payload, hashlib.sha256).digest()
        return f"{_b64(payload)}.{_b64(sig)}", expires

    def redeem(self, ticket: str, path: str, query: str) -> str:
        """The token hash the ticket stands for; raises Unauthorized otherwise."""
        bad = self._bad()
        try:
            raw, _, sig = ticket.partition(".")
            payload = _unb64(raw)
            if not hmac.compare_digest(hmac.new(self.secret, payload, hashlib.sha256).digest(),
                                       _unb64(sig)):
                raise bad
            body = orjson.loads(payload)
            parsed = Ticket(str(body["n"]), str(body["t"]), str(body["p"]), str(body["q"]),
                            float(body["e"]))
        except (ValueError, KeyError, TypeError, binascii.Error, orjson.JSONDecodeError):
            raise bad from None
        now = time.time()
        if parsed.expires < now or parsed.path != path or parsed.query != query:
            raise bad
        self._forget_expired(now)
        if parsed.nonce in self.used:
            raise bad
        self.used[parsed.nonce] = parsed.expires
        return parsed.token_hash

    def _bad(self) -> Unauthorized:
        return Unauthorized("the ticket is not valid here (tickets last "
                            f"{self.ttl_s:g} s, work once, for the path and query they were "
                            "made for); ask for a new one with POST /api/v1/tickets")

    async def spend(self, ticket: str) -> None:
        """Mark a ticket ``redeem`` accepted as used on every replica: Unauthorized when
        another replica took it first."""
        if self.shared is None:
            return
        try:
            body = orjson.loads(_unb64(ticket.partition(".")[0]))
            nonce, expires = str(body["n"]), float(body["e"])
        except (ValueError, KeyError, TypeError, binascii.Error, orjson.JSONDecodeError):
            raise self._bad() from None
        try:
            await self.shared.create(f"ticket:{nonce}", {"kind": "ticket", "expires": expires})
        except elasticsearch.ConflictError:
            raise self._bad() from None

    def _forget_expired(self, now: float) -> None:
        if len(self.used) > 1000:
            for nonce in [n for n, e in self.used.items() if e < now]:
                del self.used[nonce]
