"""Saving a streamed response to a file: written under ``<file>.part`` and renamed when
complete (a file with the final name is never partial), with a rich progress bar on a
terminal and a one-line summary on stderr.

A download the server broke off (it aborts one that failed after its head; see
log_api/routes/download.py) leaves the ``.part`` in place, ending with the server's
notice line and its resume cursor, and exits with INCOMPLETE: ``--resume`` continues.
"""

from __future__ import annotations

import csv
import gzip
import os
import re
import sys
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

from client.charts import human_bytes
from client.errors import ClientError
from logpipe.console import notes

_FILENAME = re.compile(r'filename="?([^";]+)"?')
CHUNK = 64 * 1024
INCOMPLETE = 4  # exit code: the file is not complete (the .part is kept)
# The server's notice in text and CSV ends with " resume=<cursor>" (base64url).
_RESUME = re.compile(r" resume=([A-Za-z0-9_-]+)$")


class Incomplete(ClientError):
    exit_code = INCOMPLETE


@dataclass(frozen=True)
class ResumePoint:
    """Where an incomplete ``.part`` stops: the server's cursor, and how many bytes of
    its body (decompressed, for gzip) come before the notice line."""

    part: Path
    cursor: str
    keep: int
    gz: bool

    def cut(self) -> None:
        """Drop the notice line. Only once the resumed response was accepted: a resume
        refused at once (server down, 4xx) must leave the ``.part`` resumable again."""
        if not self.gz:
            with self.part.open("r+b") as fh:
                fh.truncate(self.keep)
            return
        # A gzip member cannot be cut in the middle: copy the kept bytes into a new one
        # (streamed, constant memory); the resumed body then appends a second member.
        tmp = self.part.with_name(self.part.name + ".tmp")
        left = self.keep
        with gzip.open(tmp, "wb") as dst:
            for chunk in _gunzip(self.part):
                dst.write(chunk[:left])
                left -= min(left, len(chunk))
                if not left:
                    break
        tmp.replace(self.part)


def resume_point(part: Path, fmt: str, gz: bool) -> ResumePoint:
    """The resume point of an incomplete ``part`` from the server's notice, its last
    line; ClientError when it has none (the connection broke before the server said so)."""
    if gz:
        size, tail = 0, b""
        for chunk in _gunzip(part):
            size += len(chunk)
            tail = (tail + chunk)[-CHUNK:]
    else:
        size = part.stat().st_size
        with part.open("rb") as fh:
            fh.seek(max(0, size - CHUNK))
            tail = fh.read()
    body = tail[:-1] if tail.endswith(b"\n") else tail
    start = body.rfind(b"\n") + 1  # the notice is one line: the server keeps it so
    cursor = _notice_cursor(body[start:].decode("utf-8", "replace"), fmt)
    if cursor is None:
        raise ClientError(f"{part} does not end with the server's resume notice (the "
                          "connection broke before it was sent, or the download failed before "
                          "its first entry); download it again without --resume")
    return ResumePoint(part, cursor, size - len(tail) + start, gz)


def _notice_cursor(line: str, fmt: str) -> str | None:
    """The cursor of the server's notice line in ``fmt``; None for any other line (an
    entry that merely contains "resume=" is not a notice)."""
    if fmt == "ndjson":
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            return None
        ok = isinstance(obj, dict) and obj.get("complete") is False \
            and isinstance(obj.get("notice"), str) and isinstance(obj.get("resume"), str)
        return str(obj["resume"]) if ok else None
    if fmt == "csv":
        row = next(csv.reader([line]), [])
        if "notice" not in row:  # the level column of the server's notice row
            return None
        text = next((cell for cell in row if _RESUME.search(cell)), "")
    elif line.startswith("# logpipe: "):
        text = line
    else:
        return None
    m = _RESUME.search(text)
    return m.group(1) if m else None


def _gunzip(path: Path) -> Iterator[bytes]:
    """The decompressed bytes of every gzip member of ``path``, a chunk at a time."""
    try:
        with gzip.open(path, "rb") as src:
            while chunk := src.read(CHUNK):
                yield chunk
    except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
        raise ClientError(f"{path} is a cut gzip stream ({exc}): the connection broke "
                          "before the server's notice; download it again without --resume") \
            from None


def server_filename(resp: httpx.Response, fallback: str) -> str:
    m = _FILENAME.search(resp.headers.get("content-disposition", ""))
    # Only the last path component: a server never chooses a directory for us.
    return os.path.basename(m.group(1)) if m else fallback


def save(resp: httpx.Response, target: Path | None, fallback: str, label: str, *,
         resumable: bool = False, resume: ResumePoint | None = None) -> Path | None:
    """Write the body to ``target`` (or the server's file name; ``-`` = stdout).

    ``resumable``: a body broken off keeps its ``.part`` (Incomplete) instead of being
    deleted; ``resume``: the body continues that ``.part`` after its notice is cut.
    """
    total = int(resp.headers["content-length"]) if "content-length" in resp.headers else None
    console = notes()
    start = time.monotonic()
    if target is not None and str(target) == "-":
        out = sys.stdout.buffer
        try:
            # As received, never re-chunked: httpx drops a re-chunking buffer when the
            # stream breaks, and its tail is the server's notice with the resume cursor.
            for chunk in resp.iter_bytes():
                out.write(chunk)
        except httpx.TransportError as exc:
            out.flush()
            raise Incomplete(f"the download broke off ({exc}): the output is incomplete; "
                             "its last line says why") from None
        out.flush()
        return None
    path = target or Path(server_filename(resp, fallback))
    if path.is_dir():
        path = path / server_filename(resp, fallback)
    part = path.with_name(path.name + ".part")
    progress = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                        TransferSpeedColumn(), TimeElapsedColumn(), console=console,
                        transient=True, disable=not console.is_terminal)
    written = 0
    if resume is not None:
        resume.cut()
    try:
        with progress, part.open("ab" if resume is not None else "wb") as fh:
            task = progress.add_task(label, total=total)
            for chunk in resp.iter_bytes():  # as received (see above)
                fh.write(chunk)
                written += len(chunk)
                progress.update(task, completed=written)
    except httpx.TransportError as exc:
        if not resumable:
            part.unlink(missing_ok=True)
            raise
        # Broken off: keep what arrived, say how to go on (the last line says why).
        raise Incomplete(f"the download broke off ({exc}); {human_bytes(written)} kept in "
                         f"{part}; run the same command with -o {path} --resume to continue "
                         "after its last entry") from None
    except OSError as exc:
        part.unlink(missing_ok=True)
        raise ClientError(f"cannot write {part}: {exc}") from None
    except BaseException:
        part.unlink(missing_ok=True)  # never leave a partial file behind on Ctrl-C
        raise
    part.replace(path)
    took = max(time.monotonic() - start, 1e-6)
    console.print(f"wrote {human_bytes(written)} to {path} in {took:.1f}s "
                  f"({human_bytes(written / took)}/s)", highlight=False)
    return path
