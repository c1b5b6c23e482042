"""Archive export jobs: a background scan of the matching entries into a file.

A job belongs to the token that created it (others get 404 and do not see it listed).
Formats: ``ndjson.gz`` (one file) or ``tar.gz`` (one NDJSON file per app). The file is
written under a temporary name and renamed when complete, so a fetched file is never partial.
Finished files are deleted ``export_ttl_s`` after they were finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import logging
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
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def filename(self) -> str:
        return f"logs-{self.id}.{self.fmt}"


def _safe_name(app: str | None) -> str:
    text = app or "_no_app"
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)[:100] or "_"


class ExportManager:
    def __init__(self, settings: ApiSettings, reader: EsReader, metrics: ApiMetrics) -> None:
        self.settings = settings
        self.reader = reader
        self.metrics = metrics
        self.jobs: dict[str, Job] = {}
        self.dir = settings.export_dir
        self._sweeper: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Delete expired files even when nobody asks for them."""
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
                f"this token already runs {running} exports; wait for one or cancel it")
        total = await self.reader.count(sq.es_query()) if not sq.filters.has_regex else -1
        job = Job(uuid.uuid4().hex, token, fmt, total)
        self.jobs[job.id] = job
        job.task = asyncio.create_task(self._run(job, sq), name=f"export-{job.id}")
        return job

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

    def _delete(self, job: Job) -> None:
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
            job.state = "done"
        except asyncio.CancelledError:
            job.state = "cancelled"
            self._delete(job)
            raise
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
        finally:
            await asyncio.to_thread(out.close)
        await asyncio.to_thread(tmp.rename, final)

    async def _write_tar(self, job: Job, sq: ScopedQuery, final: Path) -> None:
        work = self.dir / f"{job.id}.d"
        await asyncio.to_thread(work.mkdir)
        files: dict[str, IO[bytes]] = {}
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
                    await asyncio.to_thread(files[name].write, b"".join(lines))
                job.written += len(hits)
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
