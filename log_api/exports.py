"""Archive export jobs, shared by every API replica through Elasticsearch.

A job belongs to the token that created it (others get 404 and do not see it listed).
Formats: ``ndjson.gz`` (one file) or ``tar.gz`` (one NDJSON file per app). Finished
archives are deleted ``export_ttl_s`` after they were finished. The design (why
Elasticsearch and not a shared volume) is in docs/log-api.md, "Replicas".

Everything lives in ``<prefix>_state`` (log_api/shared.py):

* ``job:<id>``: the job's filters, progress, the cursor after the last entry written
  (its (ts, id) sort position), the owner replica and the time its lease ends. The
  owner renews the lease every ``replica_lease_s / 3``; every replica looks for running
  jobs whose lease ended (a replica killed, a node lost) and takes them over, which
  bumps the job's ``epoch``; every write of the job document names the version it read
  (``if_seq_no``), so a replica that lost its job (taken over, or cancelled) finds out at
  its next write and stops.
* ``chunk:<id>:s<epoch>:<seq>``: the archive as it is written, at most
  ``export_chunk_bytes`` each: for ``ndjson.gz``, gzip members (their concatenation is
  the file); for ``tar.gz``, the raw NDJSON of one app. A page of entries is written as
  chunks first and then committed by the job document (chunk count and cursor). A new
  owner goes on from the committed cursor under its own epoch, so the chunks a stopped
  owner wrote past its last commit are never part of the archive: the job lists which
  epoch wrote which chunk numbers. No entry is written twice or skipped.
* ``chunk:<id>:p<epoch>:<n>``: a ``tar.gz`` job's archive, packed when the scan is done
  (the tar header of each app needs its size first).

Bytes held count against ``export_quota_bytes_per_token`` and ``export_quota_bytes_total``
(over every replica): a job that passes either fails with the reason, and a token already
at its quota gets 429. Running jobs per token (``export_max_jobs_per_token``) are places
of log_api/shared.py's ``Slots``, held as long as the job runs, whoever runs it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gzip
import logging
import time
import uuid
import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import elasticsearch

from log_api.archive import (
    archive_ids,
    archive_query,
    job_key,
    safe_name,
    scan_query,
    split,
    tar_end,
    tar_header,
    tar_padding,
)
from log_api.auth import Scope
from log_api.errors import Conflict, NotFound, TooManyRequests, Unavailable
from log_api.es import EsReader
from log_api.export_quotas import ExportQuotas, QuotaExceeded
from log_api.filters import Filters
from log_api.formats import LineRenderer
from log_api.metrics import ApiMetrics
from log_api.models import ENTRY_FIELDS
from log_api.query import ScopedQuery
from log_api.settings import ApiSettings
from log_api.shared import Doc, Slots, StateIndex

log = logging.getLogger(__name__)
ExportFormat = Literal["ndjson.gz", "tar.gz"]
State = Literal["running", "done", "failed", "cancelled"]
ParseFilters = Callable[[dict[str, Any], int], Filters]
ScopeOf = Callable[[str], Scope | None]


@dataclass
class Job:
    """What the routes show of a job."""

    id: str
    token: str
    fmt: ExportFormat
    total: int
    created: float
    state: State = "running"
    written: int = 0
    finished: float | None = None
    error: str | None = None
    bytes: int = 0

    @property
    def filename(self) -> str:
        return f"logs-{self.id}.{self.fmt}"


def job_view(src: dict[str, Any]) -> Job:
    return Job(id=src["job"], token=src["token"], fmt=src["fmt"], total=int(src["total"]),
               created=int(src["created_ns"]) / 1e9, state=src["state"],
               written=int(src["written"]), finished=src.get("finished"),
               error=src.get("error"), bytes=int(src.get("bytes", 0)))


class Lost(Exception):
    """This replica no longer runs the job: taken over by another, or cancelled."""


@dataclass(eq=False)
class Runner:
    """A job this replica runs: its document as last written (the fence of the next
    write), serialized by ``lock`` (progress and lease renewals share the version)."""

    doc: Doc
    task: asyncio.Task[None] | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def src(self) -> dict[str, Any]:
        return self.doc.source

    @property
    def job(self) -> str:
        return str(self.doc.source["job"])


class ExportManager:
    def __init__(self, settings: ApiSettings, reader: EsReader, metrics: ApiMetrics,
                 index: StateIndex, scope_of: ScopeOf, parse_filters: ParseFilters) -> None:
        self.settings = settings
        self.reader = reader
        self.metrics = metrics
        self.index = index
        self.slots = Slots(index)
        self.quotas = ExportQuotas(settings, index)
        self.scope_of = scope_of
        self.parse_filters = parse_filters
        self.replica = f"replica-{uuid.uuid4().hex[:12]}"
        self.runners: dict[str, Runner] = {}
        self._ticker: asyncio.Task[None] | None = None
        self._last_sweep = 0.0

    # -- the API ---------------------------------------------------------------------

    async def create(self, sq: ScopedQuery, params: dict[str, Any], now_ns: int,
                     fmt: ExportFormat) -> Job:
        token = sq.scope.token_hash
        job = uuid.uuid4().hex
        cap = self.settings.export_max_jobs_per_token
        # The place is held by the job: free again once it no longer runs (on any
        # replica); the lease only covers the moment before the job document exists.
        place = await self.slots.take("export", token, cap, job,
                                      self.settings.es_request_timeout_s + 30,
                                      alive=self._running)
        if place is None:
            raise TooManyRequests(
                f"this token already runs {cap} exports (export_max_jobs_per_token); "
                "wait for one or cancel it", self.settings.retry_after_s)
        try:
            await self.quotas.check_new(token)
            total = await self.reader.count(sq.es_query()) if not sq.filters.has_regex \
                else -1
            now = time.time()
            src: dict[str, Any] = {
                "kind": "job", "job": job, "token": token, "fmt": fmt, "total": total,
                "created_ns": time.time_ns(), "state": "running", "written": 0,
                "finished": None, "expires": None, "error": None, "bytes": 0,
                "params": params, "now_ns": now_ns, "slot": place.doc.id,
                "owner": self.replica, "lease_until": now + self.settings.replica_lease_s,
                "epoch": 1, "epochs": [[1, 0]], "seq": 0, "cursor": None,
                "phase": "scan", "apps": {}, "packed": None,
            }
            doc = await self.index.create(job_key(job), src, refresh=True)
        except BaseException:
            await self.slots.release(place)
            raise
        self._start(Runner(doc))
        return job_view(src)

    async def get(self, job_id: str, token: str) -> Job:
        return job_view((await self._doc(job_id, token)).source)

    async def of_token(self, token: str) -> list[Job]:
        """This token's jobs (finished ones until they expire), newest first."""
        resp = await self.index.search(
            {"bool": {"filter": [{"term": {"kind": "job"}}, {"term": {"token": token}}]}},
            sort=[{"created_ns": "desc"}], size=1000, source=False)
        ids = [h["_id"] for h in resp["hits"]["hits"]]
        docs = await self.index.mget(ids)  # real-time: the search may lag a second
        now = time.time()
        return [job_view(docs[i].source) for i in ids
                if i in docs and not self._expired(docs[i].source, now)]

    async def file(self, job_id: str, token: str) -> tuple[Job, AsyncIterator[bytes]]:
        doc = await self._doc(job_id, token)
        job = job_view(doc.source)
        if job.state != "done":
            raise Conflict(f"export {job_id} is {job.state}, not done; poll it until it is")
        ids = archive_ids(doc.source)

        async def body() -> AsyncIterator[bytes]:
            for i in range(0, len(ids), 4):  # 4 chunks a request: bounded memory
                for d in await self._fetch(ids[i:i + 4]):
                    if not d.get("found"):
                        # Never a silently short file: the connection is cut instead.
                        raise Unavailable(f"export {job_id}: archive piece {d['_id']} is "
                                          "missing")
                    yield base64.b64decode(d.get("fields", {}).get("data", [""])[0])

        return job, body()

    async def _fetch(self, ids: list[str]) -> list[dict[str, Any]]:
        resp = await self.index.call(lambda: self.index.es.mget(
            index=self.index.name, ids=ids, stored_fields=["data"], source=False))
        return list(resp["docs"])

    async def cancel(self, job_id: str, token: str) -> Job:
        doc = await self._doc(job_id, token)
        await self.index.delete(doc.id, refresh=True)
        runner = self.runners.pop(job_id, None)
        if runner is not None and runner.task is not None:
            runner.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner.task
        # Another replica running it finds the job gone at its next write and stops;
        # a chunk it writes meanwhile is swept as an orphan.
        await self._drop_chunks(job_id)
        await self._free_slot(doc.source)
        job = job_view(doc.source)
        if job.state == "running":
            job.state = "cancelled"
            self.metrics.exports.labels("cancelled").inc()
        return job

    async def bytes_of(self, token: str) -> int:
        """Bytes this token's archives hold (running and finished), over every replica."""
        return (await self.quotas.usage(token))[0]

    # -- life cycle ------------------------------------------------------------------

    def start(self) -> None:
        """Renew this replica's leases, take over jobs whose owner stopped, and delete
        expired archives, every ``replica_lease_s / 3``."""

        async def loop() -> None:
            while True:
                await asyncio.sleep(self.settings.replica_lease_s / 3)
                try:
                    await self.tick()
                except Exception as exc:  # Elasticsearch away: try again next time
                    log.warning("export upkeep failed: %s", exc)

        self._ticker = asyncio.create_task(loop(), name="export-upkeep")

    async def tick(self) -> None:
        for runner in list(self.runners.values()):
            await self._renew(runner)
        await self._adopt()
        now = time.time()
        if now - self._last_sweep >= min(60.0, self.settings.export_ttl_s):
            self._last_sweep = now
            await self.sweep()

    async def close(self) -> None:
        """Stop this replica's jobs and hand them over: their leases end now, so another
        replica goes on with them at its next look (or this one after a restart)."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        for runner in list(self.runners.values()):
            if runner.task is not None:
                runner.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await runner.task
            with contextlib.suppress(Exception):
                await self._write(runner, {**runner.src, "owner": None, "lease_until": 0})
        self.runners.clear()

    async def sweep(self) -> None:
        """Delete expired jobs with their archives, chunks of jobs that are gone, and
        expired tickets."""
        now = time.time()
        resp = await self.index.search(
            {"bool": {"filter": [{"term": {"kind": "job"}}, {"range": {"expires": {"lt": now}}}]}},
            size=100, source=False)
        for hit in resp["hits"]["hits"]:
            job = hit["_id"].removeprefix("job:")
            await self._drop_chunks(job)
            await self.index.delete(hit["_id"])
        # Orphans: chunks written by a replica that had not yet seen its job cancelled.
        agg = await self.index.search(
            {"term": {"kind": "chunk"}}, size=0,
            aggs={"jobs": {"terms": {"field": "job", "size": 10_000}}})
        jobs = [b["key"] for b in agg["aggregations"]["jobs"]["buckets"]]
        known = await self.index.mget([job_key(j) for j in jobs])
        for job in jobs:
            if job_key(job) not in known:
                self.metrics.export_orphans.inc(await self._drop_chunks(job))
        self.metrics.export_bytes.set((await self.quotas.usage(None))[1])
        # Spent download tickets (log_api/tickets.py) past their life.
        await self.index.delete_matching({"bool": {"filter": [
            {"term": {"kind": "ticket"}}, {"range": {"expires": {"lt": now}}}]}})

    # -- running a job ---------------------------------------------------------------

    def _start(self, runner: Runner) -> None:
        self.runners[runner.job] = runner
        runner.task = asyncio.create_task(self._run(runner), name=f"export-{runner.job}")

    async def _run(self, r: Runner) -> None:
        try:
            if r.src["phase"] == "scan":
                await self._scan(r, self._query(r.src))
            if r.src["fmt"] == "tar.gz" and not r.src["packed"]:
                await self._pack(r)
            await self._finish(r, "done", None)
        except asyncio.CancelledError:
            raise  # cancelled by its token (the job is deleted) or this replica stops
        except Lost:
            log.info("export %s: no longer run by this replica (taken over or cancelled)",
                     r.job)
            self.metrics.export_leases_lost.inc()
        except QuotaExceeded as exc:
            log.warning("export %s stopped by a quota: %s", r.job, exc)
            await self._fail(r, str(exc))
        except Exception as exc:
            log.exception("export %s failed", r.job)
            await self._fail(r, f"{exc}" or type(exc).__name__)
        finally:
            if self.runners.get(r.job) is r:
                del self.runners[r.job]

    async def _fail(self, r: Runner, reason: str) -> None:
        # When even this cannot be written, the lease runs out and another replica (or
        # this one) runs the job again from its last cursor.
        try:
            await self._finish(r, "failed", reason)
        except Lost:
            pass
        except Exception as exc:
            log.warning("export %s: could not record its failure (%s); it runs again once "
                        "its lease ends", r.job, exc)

    def _query(self, src: dict[str, Any]) -> ScopedQuery:
        """The job's query, as when it was created (relative times at its "now"), with
        the token's scope of today: a token removed since cannot export any more."""
        scope = self.scope_of(src["token"])
        if scope is None:
            raise PermissionError("the token that created this export is no longer known")
        return ScopedQuery(scope, self.parse_filters(src["params"], int(src["now_ns"])))

    async def _scan(self, r: Runner, sq: ScopedQuery) -> None:
        render = LineRenderer("ndjson")
        cursor = r.src["cursor"]
        after = (int(cursor[0]), str(cursor[1])) if cursor else None
        size = self.settings.export_chunk_bytes
        async for hits in self.reader.scan(sq, "oldest", self.settings.download_page_size,
                                          after=after, source=list(ENTRY_FIELDS)):
            src = dict(r.src)
            pieces: list[tuple[str | None, bytes]] = []
            if src["fmt"] == "ndjson.gz":
                data = b"".join(render.line(h.source) for h in hits)
                packed = await asyncio.to_thread(gzip.compress, data, 6, mtime=0)
                pieces = [(None, p) for p in split(packed, size)]
            else:
                per_app: dict[str, list[bytes]] = {}
                for h in hits:
                    per_app.setdefault(safe_name(h.source.get("app")), []).append(
                        render.line(h.source))
                apps = dict(src["apps"])
                for name, lines in sorted(per_app.items()):
                    data = b"".join(lines)
                    apps[name] = apps.get(name, 0) + len(data)
                    pieces += [(name, p) for p in split(data, size)]
                src["apps"] = apps
            await self._put_chunks(r, "s", src["seq"], pieces)
            src["seq"] += len(pieces)
            src["bytes"] += sum(len(p) for _, p in pieces)
            src["written"] += len(hits)
            src["cursor"] = list(hits[-1].sort)
            await self.quotas.check_running(src)
            await self._write(r, src)

    async def _put_chunks(self, r: Runner, part: str, first: int,
                          pieces: list[tuple[str | None, bytes]]) -> None:
        ops: list[dict[str, Any]] = []
        epoch = r.src["epoch"]
        for n, (app, data) in enumerate(pieces, start=first):
            ops.append({"index": {"_index": self.index.name,
                                  "_id": f"chunk:{r.job}:{part}{epoch}:{n}"}})
            ops.append({"kind": "chunk", "job": r.job, "part": part, "epoch": epoch,
                        "seq": n, "app": app, "bytes": len(data),
                        "data": base64.b64encode(data).decode()})
        resp = await self.index.bulk(ops)
        if resp.get("errors"):
            first_error = next(i for i in resp["items"] if "error" in i["index"])
            raise Unavailable(f"Elasticsearch refused an archive piece: "
                              f"{first_error['index']['error']}")

    async def _pack(self, r: Runner) -> None:
        """The tar.gz from the committed per-app chunks, written as this epoch's
        ``p`` chunks; committed at the end (a new owner packs again)."""
        src = r.src
        epoch = src["epoch"]
        apps: dict[str, int] = src["apps"]
        size = self.settings.export_chunk_bytes
        scanned = scan_query(src)
        await self.index.call(lambda: self.index.es.indices.refresh(index=self.index.name))
        zc = zlib.compressobj(6, zlib.DEFLATED, 31)
        out = bytearray()
        parts = 0
        packed = 0
        tar_len = 0

        async def emit(data: bytes, final: bool = False) -> None:
            nonlocal parts, packed, tar_len
            tar_len += len(data)
            out.extend(await asyncio.to_thread(zc.compress, data) if data else b"")
            if final:
                out.extend(zc.flush())
            while len(out) >= size or (final and out):
                piece = bytes(out[:size])
                del out[:size]
                await self._put_chunks(r, "p", parts, [(None, piece)])
                parts += 1
                packed += len(piece)

        for name in sorted(apps):
            app_size = int(apps[name])
            await emit(tar_header(f"{name}.ndjson", app_size,
                                  int(src["created_ns"]) // 1_000_000_000))
            got = 0
            async for data in self._app_chunks(name, scanned):
                got += len(data)
                await emit(data)
            if got != app_size:  # never a tar whose header lies
                raise RuntimeError(f"the archive pieces of app {name} hold {got} bytes, "
                                   f"the job counted {app_size}")
            await emit(tar_padding(app_size))
        await emit(tar_end(tar_len), final=True)
        await self._write(r, {**src, "phase": "packed", "packed": [epoch, parts],
                              "bytes": packed})

    async def _app_chunks(self, app: str, scanned: dict[str, Any]) -> AsyncIterator[bytes]:
        """One app's committed scan chunks in order (its data, decoded)."""
        after: list[Any] | None = None
        while True:
            kwargs: dict[str, Any] = {"search_after": after} if after else {}
            resp = await self.index.search(
                {"bool": {"filter": [scanned, {"term": {"app": app}}]}},
                sort=[{"seq": "asc"}], size=8, stored_fields=["data"], source=False,
                **kwargs)
            hits = resp["hits"]["hits"]
            for h in hits:
                yield base64.b64decode(h.get("fields", {}).get("data", [""])[0])
            if len(hits) < 8:
                return
            after = hits[-1]["sort"]

    async def _finish(self, r: Runner, state: State, error: str | None) -> None:
        now = time.time()
        src = {**r.src, "state": state, "error": error, "finished": now,
               "expires": now + self.settings.export_ttl_s, "owner": None,
               "lease_until": 0}
        if state != "done":
            src["bytes"] = 0
        await self._write(r, src, refresh=True)
        self.metrics.exports.labels(state).inc()
        # What is not part of the archive: pieces of epochs that lost, a tar's scan.
        keep = [archive_query(src)] if state == "done" else []
        await self.index.delete_matching({"bool": {
            "filter": [{"term": {"kind": "chunk"}}, {"term": {"job": r.job}}],
            "must_not": keep}})
        await self._free_slot(src)

    # -- leases ----------------------------------------------------------------------

    async def _write(self, r: Runner, src: dict[str, Any], refresh: bool = False) -> None:
        """Write the job document as this owner; Lost when anyone else wrote it since."""
        async with r.lock:
            try:
                r.doc = await self.index.replace(r.doc, src, refresh=refresh)
            except (elasticsearch.ConflictError, elasticsearch.NotFoundError):
                raise Lost(r.job) from None

    async def _renew(self, r: Runner) -> None:
        lease = time.time() + self.settings.replica_lease_s
        try:
            async with r.lock:
                src = {**r.src, "lease_until": lease}
                r.doc = await self.index.replace(r.doc, src)
        except (elasticsearch.ConflictError, elasticsearch.NotFoundError):
            if self.runners.get(r.job) is r and r.task is not None:
                r.task.cancel()  # lost: the job is someone else's now, or gone
                del self.runners[r.job]
                self.metrics.export_leases_lost.inc()

    async def _adopt(self) -> None:
        """Take over running jobs whose owner stopped renewing its lease."""
        now = time.time()
        resp = await self.index.search(
            {"bool": {"filter": [{"term": {"kind": "job"}}, {"term": {"state": "running"}},
                                 {"range": {"lease_until": {"lt": now}}}]}},
            size=20, source=False)
        for hit in resp["hits"]["hits"]:
            job = hit["_id"].removeprefix("job:")
            if job in self.runners:
                continue
            doc = await self.index.get(hit["_id"])  # real-time: the search may lag
            if doc is None or doc.source["state"] != "running" or \
                    float(doc.source["lease_until"]) >= time.time():
                continue
            epoch = int(doc.source["epoch"]) + 1
            src = {**doc.source, "owner": self.replica, "epoch": epoch,
                   "epochs": [*doc.source["epochs"], [epoch, doc.source["seq"]]],
                   "lease_until": time.time() + self.settings.replica_lease_s}
            try:
                new = await self.index.replace(doc, src)
            except (elasticsearch.ConflictError, elasticsearch.NotFoundError):
                continue  # another replica was quicker
            log.warning("export %s: taken over from %s at %d entries (epoch %d)", job,
                        doc.source.get("owner") or "a stopped replica",
                        int(doc.source["written"]), epoch)
            self.metrics.export_takeovers.inc()
            self._start(Runner(new))

    # -- helpers -----------------------------------------------------------------------

    def _expired(self, src: dict[str, Any], now: float) -> bool:
        expires = src.get("expires")
        return expires is not None and float(expires) < now

    async def _doc(self, job_id: str, token: str) -> Doc:
        doc = await self.index.get(job_key(job_id))
        if doc is None or doc.source.get("token") != token or \
                self._expired(doc.source, time.time()):
            raise NotFound(f"no export {job_id!r} for this token (finished ones expire after "
                           f"{self.settings.export_ttl_s:.0f}s)")
        return doc

    async def _running(self, jobs: list[str]) -> set[str]:
        docs = await self.index.mget([job_key(j) for j in jobs])
        return {d.source["job"] for d in docs.values() if d.source.get("state") == "running"}

    async def _free_slot(self, src: dict[str, Any]) -> None:
        slot = await self.index.get(str(src.get("slot")))
        if slot is not None and slot.source.get("holder") == src["job"]:
            await self.index.delete(slot)

    async def _drop_chunks(self, job: str) -> int:
        return await self.index.delete_matching(
            {"bool": {"filter": [{"term": {"kind": "chunk"}}, {"term": {"job": job}}]}})
