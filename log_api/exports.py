"""Archive export jobs: a background scan of the matching entries into a file.

A job belongs to the token that created it (others get 404 and do not see it listed).
Formats: ``ndjson.gz`` (one file) or ``tar.gz`` (one NDJSON file per app). The file is
written under a temporary name and renamed when complete, so a fetched file is never partial.
Finished files are deleted ``export_ttl_s`` after they were finished.

Disk: each process writes into its own ``export_dir/proc-<id>/`` and holds an flock on
its ``.lock`` while it runs; at start, every sibling whose lock is free belonged to a
process that is gone (its jobs died with it) and is deleted. Bytes on disk count
against ``export_quota_bytes_per_token`` and ``export_quota_bytes_total``: a job that
would pass either fails with the reason, and a token already at its quota gets 429.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import gzip
import logging
import os
import re
import shutil
import tarfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

from log_api.errors import Conflict, NotFound, TooManyRequests
from log_api.es import EsReader
from log_api.formats import LineRenderer
from log_api.metrics import ApiMetrics
from log_api.models import ENTRY_FIELDS
from log_api.query import ScopedQuery
from log_api.settings import ApiSettings

log = logging.getLogger(__name__)
ExportFormat = Literal["ndjson.gz", "tar.gz"]
State = Literal["running", "done", "failed", "cancelled"]


@dataclass
class Job:
    id: str
    token: str
    fmt: ExportFormat
    total: int
    created: float = field(default_factory=time.time)
    state: State = "running"
    written: int = 0
    finished: float | None = None
    error: str | None = None
    path: Path | None = None
    bytes: int = 0  # on disk now (running: written so far)
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def filename(self) -> str:
        return f"logs-{self.id}.{self.fmt}"


class QuotaExceeded(Exception):
    """An export's files would pass a disk quota: the job fails with this message."""


# Files of the layout before per-process folders (all of them orphans at start).
_LEGACY = re.compile(r"^[0-9a-f]{32}\.(ndjson\.gz|tar\.gz|d)(\.part)?$")


def _safe_name(app: str | None) -> str:
    text = app or "_no_app"
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)[:100] or "_"


class ExportManager:
    def __init__(self, settings: ApiSettings, reader: EsReader, metrics: ApiMetrics) -> None:
        self.settings = settings
        self.reader = reader
        self.metrics = metrics
        self.jobs: dict[str, Job] = {}
        self.root = settings.export_dir
        self.dir = self.root / f"proc-{uuid.uuid4().hex[:16]}"
        self._lock: int | None = None
        self._sweeper: asyncio.Task[None] | None = None

    def _claim_dir(self) -> int:
        """Make this process's folder, lock it, and delete the folders of dead processes."""
        self.dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.dir / ".lock", os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        swept = 0
        for entry in self.root.iterdir():
            if entry == self.dir:
                continue
            if entry.is_dir() and entry.name.startswith("proc-"):
                try:
                    other = os.open(entry / ".lock", os.O_RDWR)
                except OSError:
                    other = None  # no lock file: a process that died while making it
                try:
                    if other is not None:
                        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # a live process owns it
                finally:
                    if other is not None:
                        os.close(other)
                shutil.rmtree(entry, ignore_errors=True)
                swept += 1
            elif _LEGACY.match(entry.name):
                if entry.is_dir():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
                swept += 1
        if swept:
            log.warning("deleted %d orphaned export folder(s)/file(s) of earlier processes "
                        "under %s", swept, self.root)
            self.metrics.export_orphans.inc(swept)
        return fd

    def start(self) -> None:
        """Claim this process's folder; delete expired files even when nobody asks."""
        self._lock = self._claim_dir()

        async def loop() -> None:
            while True:
                await asyncio.sleep(min(60.0, self.settings.export_ttl_s))
                self.sweep()

        self._sweeper = asyncio.create_task(loop(), name="export-sweeper")

    async def create(self, sq: ScopedQuery, fmt: ExportFormat) -> Job:
        self.sweep()
        token = sq.scope.token_hash
        running = sum(1 for j in self.jobs.values() if j.token == token and j.state == "running")
        if running >= self.settings.export_max_jobs_per_token:
            raise TooManyRequests(
                f"this token already runs {running} exports (export_max_jobs_per_token); "
                "wait for one or cancel it", self.settings.retry_after_s)
        quota = self.settings.export_quota_bytes_per_token
        if quota is not None and self.bytes_of(token) >= quota:
            raise TooManyRequests(
                f"this token's export files take {self.bytes_of(token):,} bytes, its quota "
                f"(export_quota_bytes_per_token) is {quota:,}: delete finished ones "
                "(DELETE /api/v1/exports/{id}) or wait until they expire",
                self._retry_after(token))
        total_quota = self.settings.export_quota_bytes_total
        if total_quota is not None and self.bytes_total() >= total_quota:
            raise TooManyRequests(
                f"export files take {self.bytes_total():,} bytes, the quota of this API "
                f"(export_quota_bytes_total) is {total_quota:,}; try again later",
                self._retry_after(None))
        total = await self.reader.count(sq.es_query()) if not sq.filters.has_regex else -1
        job = Job(uuid.uuid4().hex, token, fmt, total)
        self.jobs[job.id] = job
        job.task = asyncio.create_task(self._run(job, sq), name=f"export-{job.id}")
        return job

    def bytes_of(self, token: str) -> int:
        return sum(j.bytes for j in self.jobs.values() if j.token == token)

    def bytes_total(self) -> int:
        return sum(j.bytes for j in self.jobs.values())

    def _retry_after(self, token: str | None) -> float:
        """Until the first finished file (of this token) expires and frees its bytes."""
        ends = [j.finished + self.settings.export_ttl_s for j in self.jobs.values()
                if j.finished is not None and j.bytes and (token is None or j.token == token)]
        return max(1.0, min(ends) - time.time()) if ends else 60.0

    def _account(self, job: Job, size: int) -> None:
        """Note ``size`` bytes on disk for ``job``; QuotaExceeded past a quota."""
        job.bytes = size
        self.metrics.export_bytes.set(self.bytes_total())
        quota = self.settings.export_quota_bytes_per_token
        if quota is not None and self.bytes_of(job.token) > quota:
            raise QuotaExceeded(f"stopped: this token's export files passed its quota of "
                                f"{quota:,} bytes (export_quota_bytes_per_token); delete "
                                "finished exports or narrow the range")
        total = self.settings.export_quota_bytes_total
        if total is not None and self.bytes_total() > total:
            raise QuotaExceeded(f"stopped: export files passed this API's quota of {total:,} "
                                "bytes (export_quota_bytes_total); try again later")

    def get(self, job_id: str, token: str) -> Job:
        self.sweep()
        job = self.jobs.get(job_id)
        if job is None or job.token != token:
            raise NotFound(f"no export {job_id!r} for this token (finished ones expire after "
                           f"{self.settings.export_ttl_s:.0f}s)")
        return job

    def of_token(self, token: str) -> list[Job]:
        """This token's jobs (finished ones until they expire), newest first."""
        self.sweep()
        # The dict keeps creation order; two jobs created in the same clock tick stay ordered.
        return [j for j in reversed(self.jobs.values()) if j.token == token]

    def file(self, job_id: str, token: str) -> Job:
        job = self.get(job_id, token)
        if job.state != "done" or job.path is None:
            raise Conflict(f"export {job_id} is {job.state}, not done; poll it until it is")
        return job

    async def cancel(self, job_id: str, token: str) -> Job:
        job = self.get(job_id, token)
        if job.task is not None and not job.task.done():
            job.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await job.task
        self._delete(job)
        del self.jobs[job.id]
        return job

    def sweep(self) -> None:
        """Forget and delete finished exports past their time to live."""
        now = time.time()
        for job in list(self.jobs.values()):
            if job.finished is not None and now - job.finished > self.settings.export_ttl_s:
                self._delete(job)
                del self.jobs[job.id]

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        for job in list(self.jobs.values()):
            if job.task is not None and not job.task.done():
                job.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await job.task
        # The jobs are gone with this process: so are their files.
        shutil.rmtree(self.dir, ignore_errors=True)
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def _delete(self, job: Job) -> None:
        job.bytes = 0
        self.metrics.export_bytes.set(self.bytes_total())
        for p in self.dir.glob(f"{job.id}*"):
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)

    async def _run(self, job: Job, sq: ScopedQuery) -> None:
        try:
            await asyncio.to_thread(self.dir.mkdir, parents=True, exist_ok=True)
            final = self.dir / f"{job.id}.{job.fmt}"
            if job.fmt == "ndjson.gz":
                await self._write_ndjson(job, sq, final)
            else:
                await self._write_tar(job, sq, final)
            job.path = final
            job.bytes = final.stat().st_size
            self.metrics.export_bytes.set(self.bytes_total())
            job.state = "done"
        except asyncio.CancelledError:
            job.state = "cancelled"
            self._delete(job)
            raise
        except QuotaExceeded as exc:
            log.warning("export %s stopped by a quota: %s", job.id, exc)
            job.state = "failed"
            job.error = str(exc)
            self._delete(job)
        except Exception as exc:
            log.exception("export %s failed", job.id)
            job.state = "failed"
            job.error = str(exc)
            self._delete(job)
        finally:
            job.finished = time.time()
            self.metrics.exports.labels(job.state).inc()

    async def _write_ndjson(self, job: Job, sq: ScopedQuery, final: Path) -> None:
        tmp = final.with_name(final.name + ".part")
        out = await asyncio.to_thread(gzip.open, tmp, "wb")
        render = LineRenderer("ndjson")
        try:
            async for hits in self.reader.scan(sq, "oldest", self.settings.download_page_size,
                                              source=list(ENTRY_FIELDS)):
                data = b"".join(render.line(h.source) for h in hits)
                await asyncio.to_thread(out.write, data)
                job.written += len(hits)
                self._account(job, tmp.stat().st_size)
        finally:
            await asyncio.to_thread(out.close)
        await asyncio.to_thread(tmp.rename, final)

    async def _write_tar(self, job: Job, sq: ScopedQuery, final: Path) -> None:
        work = self.dir / f"{job.id}.d"
        await asyncio.to_thread(work.mkdir)
        files: dict[str, IO[bytes]] = {}
        raw = 0
        render = LineRenderer("ndjson")
        try:
            async for hits in self.reader.scan(sq, "oldest", self.settings.download_page_size,
                                              source=list(ENTRY_FIELDS)):
                per_app: dict[str, list[bytes]] = {}
                for h in hits:
                    per_app.setdefault(_safe_name(h.source.get("app")), []).append(
                        render.line(h.source))
                for name, lines in per_app.items():
                    if name not in files:
                        files[name] = open(work / f"{name}.ndjson", "wb")  # noqa: SIM115
                    data = b"".join(lines)
                    await asyncio.to_thread(files[name].write, data)
                    raw += len(data)
                job.written += len(hits)
                self._account(job, raw)
        finally:
            for f in files.values():
                f.close()
        tmp = final.with_name(final.name + ".part")

        def pack() -> None:
            with tarfile.open(tmp, "w:gz") as tar:
                for name in sorted(files):
                    tar.add(work / f"{name}.ndjson", arcname=f"{name}.ndjson")
            tmp.rename(final)
            shutil.rmtree(work, ignore_errors=True)

        await asyncio.to_thread(pack)
