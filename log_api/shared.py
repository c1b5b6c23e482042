"""What the API replicas share, kept in Elasticsearch: one small index ``<prefix>_state``.

It holds four kinds of documents (field ``kind``):

* ``slot``: one place of a per-token cap (``slot:<what>:<token>:<n>``, n < cap). A
  request takes a free one with a create (or an overwrite of an expired one, fenced by
  ``if_seq_no``/``if_primary_term``), so two replicas never hold the same place; it is
  deleted when the request ends and renewed while it runs (a replica killed mid-stream
  frees its places when their lease runs out).
* ``job``: an export job, its progress, its owner and the owner's lease (log_api/exports.py).
* ``chunk``: a piece of an export's archive (log_api/exports.py).
* ``ticket``: a download ticket already used (log_api/tickets.py).

Reads and writes by id are real-time in Elasticsearch, so no refresh is needed for
slots, leases or progress; only listing jobs searches, and the writes that change the
list refresh. ``<prefix>_state`` is not matched by ``<prefix>-*`` (no search sees it) nor
by the janitor's daily names.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import elasticsearch
from elasticsearch import AsyncElasticsearch

from log_api.es import translate

log = logging.getLogger(__name__)

MAPPINGS: dict[str, Any] = {
    # Other fields (a job's filters, per-app sizes) are kept in _source, not indexed.
    "dynamic": False,
    "_source": {"excludes": ["data"]},  # archive bytes only as a stored field: no base64
    "properties": {
        "kind": {"type": "keyword"},
        "token": {"type": "keyword"},
        "job": {"type": "keyword"},
        "part": {"type": "keyword"},
        "app": {"type": "keyword"},
        "state": {"type": "keyword"},
        "holder": {"type": "keyword"},
        "created_ns": {"type": "long"},
        "lease_until": {"type": "double"},
        "expires": {"type": "double"},
        "epoch": {"type": "long"},
        "seq": {"type": "long"},
        "bytes": {"type": "long"},
        "data": {"type": "binary", "store": True},
    },
}


def state_index(prefix: str) -> str:
    return f"{prefix}_state"


@dataclass(frozen=True, slots=True)
class Doc:
    """A document as read, with the version a fenced write must name."""

    id: str
    source: dict[str, Any]
    seq_no: int
    primary_term: int


class StateIndex:
    """The ``<prefix>_state`` index: made on first use (template first, so a document
    written after someone deleted the index still gets these mappings)."""

    def __init__(self, es: AsyncElasticsearch, prefix: str) -> None:
        self.es = es
        self.name = state_index(prefix)
        self._ready = False
        self._lock = asyncio.Lock()

    async def ensure(self) -> None:
        if self._ready:
            return
        async with self._lock:
            if self._ready:
                return
            try:
                await self.es.indices.put_index_template(
                    name=self.name, index_patterns=[self.name], priority=1000,
                    template={"settings": {"index": {
                        "number_of_shards": 1,
                        # Leases and places are rewritten all the time; an fsync per
                        # write would cost every search one. At worst a crash of
                        # Elasticsearch forgets the last second: places free early, a
                        # job goes on from an earlier commit (its chunks and commits
                        # share this shard's translog, so none outlives its chunks).
                        "translog": {"durability": "async", "sync_interval": "1s"},
                        # A replica on any cluster of two nodes or more, none on one node.
                        "auto_expand_replicas": "0-1",
                        "codec": "best_compression"}},
                        "mappings": MAPPINGS})
                await self.es.options(ignore_status=400).indices.create(index=self.name)
            except (elasticsearch.ApiError, elasticsearch.TransportError) as exc:
                raise translate(exc) from None
            self._ready = True

    async def call(self, fn: Callable[[], Awaitable[Any]]) -> Any:
        """An Elasticsearch call on the index, made sure to exist (again, when it was
        deleted under a running process); errors as ApiErrors, but for a missing
        document (NotFoundError) and a fenced write that lost (ConflictError)."""
        for attempt in range(2):
            await self.ensure()
            try:
                return await fn()
            except elasticsearch.NotFoundError as exc:
                if attempt or not _index_missing(exc):
                    raise
                self._ready = False
            except elasticsearch.ConflictError:
                raise
            except (elasticsearch.ApiError, elasticsearch.TransportError) as exc:
                raise translate(exc) from None
        raise AssertionError("unreachable")

    async def get(self, doc_id: str) -> Doc | None:
        try:
            resp = await self.call(lambda: self.es.get(index=self.name, id=doc_id))
        except elasticsearch.NotFoundError:
            return None
        return Doc(doc_id, dict(resp["_source"]), int(resp["_seq_no"]),
                   int(resp["_primary_term"]))

    async def mget(self, ids: list[str]) -> dict[str, Doc]:
        if not ids:
            return {}
        resp = await self.call(lambda: self.es.mget(index=self.name, ids=ids))
        return {d["_id"]: Doc(d["_id"], dict(d["_source"]), int(d["_seq_no"]),
                              int(d["_primary_term"]))
                for d in resp["docs"] if d.get("found")}

    async def create(self, doc_id: str, body: dict[str, Any], refresh: bool = False) -> Doc:
        """Write a new document; ConflictError when the id exists."""
        resp = await self.call(lambda: self.es.create(
            index=self.name, id=doc_id, document=body, refresh=refresh))
        return Doc(doc_id, body, int(resp["_seq_no"]), int(resp["_primary_term"]))

    async def replace(self, doc: Doc, body: dict[str, Any], refresh: bool = False) -> Doc:
        """Overwrite ``doc`` only if nobody wrote or deleted it since it was read (else
        ConflictError)."""
        resp = await self.call(lambda: self.es.index(
            index=self.name, id=doc.id, document=body, if_seq_no=doc.seq_no,
            if_primary_term=doc.primary_term, refresh=refresh))
        return Doc(doc.id, body, int(resp["_seq_no"]), int(resp["_primary_term"]))

    async def delete(self, doc: Doc | str, refresh: bool = False) -> bool:
        """Delete (fenced when given a Doc); False when it was gone or written since."""
        fence: dict[str, Any] = {}
        doc_id = doc
        if isinstance(doc, Doc):
            fence = {"if_seq_no": doc.seq_no, "if_primary_term": doc.primary_term}
            doc_id = doc.id
        try:
            await self.call(lambda: self.es.delete(index=self.name, id=str(doc_id),
                                                   refresh=refresh, **fence))
        except (elasticsearch.ConflictError, elasticsearch.NotFoundError):
            return False
        return True

    async def search(self, query: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        resp = await self.call(lambda: self.es.search(index=self.name, query=query, **kwargs))
        return dict(resp)

    async def bulk(self, ops: list[dict[str, Any]], refresh: bool = False) -> dict[str, Any]:
        resp = await self.call(lambda: self.es.bulk(operations=ops, refresh=refresh))
        return dict(resp)

    async def delete_matching(self, query: dict[str, Any]) -> int:
        """Delete every document the query matches (searched after a refresh, deleted by
        id: ``_delete_by_query`` is a module some distributions leave out)."""
        deleted = 0
        while True:
            await self.call(lambda: self.es.indices.refresh(index=self.name))
            resp = await self.search(query, size=1000, source=False)
            ids = [h["_id"] for h in resp["hits"]["hits"]]
            if not ids:
                return deleted
            result = await self.bulk([{"delete": {"_index": self.name, "_id": i}}
                                      for i in ids], refresh=True)
            deleted += sum(1 for item in result["items"]
                           if item["delete"].get("result") == "deleted")
            if len(ids) < 1000:
                return deleted


def _index_missing(exc: elasticsearch.NotFoundError) -> bool:
    body: Any = exc.body
    return isinstance(body, dict) and isinstance(body.get("error"), dict) and \
        body["error"].get("type") == "index_not_found_exception"


# -- per-token caps ----------------------------------------------------------------------


@dataclass
class Place:
    """One held place of a cap, as last written (the fence of its renewal and release,
    which ``lock`` keeps apart: a release must name the version the renewal wrote)."""

    doc: Doc
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class Slots:
    """Places of per-token caps, shared by every replica.

    ``take`` returns a place or None (the cap is reached). A place is free when it was
    never taken, was released, or its ``lease_until`` passed; ``alive`` (optional)
    keeps an expired place taken, for holders whose life is known elsewhere (an
    export holds its place while its job runs, whoever runs it).
    """

    def __init__(self, index: StateIndex) -> None:
        self.index = index

    @staticmethod
    def ids(what: str, token: str, cap: int) -> list[str]:
        return [f"slot:{what}:{token}:{n}" for n in range(cap)]

    async def take(self, what: str, token: str, cap: int, holder: str, lease_s: float,
                   alive: Callable[[list[str]], Awaitable[set[str]]] | None = None,
                   ) -> Place | None:
        ids = self.ids(what, token, cap)
        body = {"kind": "slot", "token": token, "what": what, "holder": holder,
                "lease_until": time.time() + lease_s}
        # A create per place (a taken place answers a conflict), from a random one on:
        # in order, the k-th stream of a token would try k places (a token opening
        # 1,000 tails made half a million requests); from a random start a place is
        # found after cap / free tries on average.
        start = random.randrange(cap) if cap else 0
        for doc_id in ids[start:] + ids[:start]:
            try:
                return Place(await self.index.create(doc_id, body))
            except elasticsearch.ConflictError:
                continue
        # All taken: some may have expired (their replica died) or, with ``alive``,
        # belong to holders that ended.
        held = await self.index.mget(ids)
        now = time.time()
        expired = [d for d in held.values() if float(d.source.get("lease_until", 0)) < now]
        if alive is not None and expired:
            living = await alive([str(d.source.get("holder")) for d in expired])
            expired = [d for d in expired if d.source.get("holder") not in living]
        for doc in expired:
            try:
                return Place(await self.index.replace(doc, body))
            except (elasticsearch.ConflictError, elasticsearch.NotFoundError):
                continue
        return None

    async def renew(self, place: Place, lease_s: float) -> bool:
        """Push the lease on; False when the place was lost (expired and taken over)."""
        async with place.lock:
            body = {**place.doc.source, "lease_until": time.time() + lease_s}
            try:
                place.doc = await self.index.replace(place.doc, body)
            except (elasticsearch.ConflictError, elasticsearch.NotFoundError):
                return False
            return True

    async def release(self, place: Place) -> None:
        async with place.lock:
            await self.index.delete(place.doc)

    async def count(self, what: str, token: str, cap: int) -> int:
        """Places held now (leases not expired), over every replica."""
        now = time.time()
        held = await self.index.mget(self.ids(what, token, cap))
        return sum(1 for d in held.values() if float(d.source.get("lease_until", 0)) >= now)
