"""Saving a streamed response to a file: written under ``<file>.part`` and renamed when
complete (a file with the final name is never partial), with a rich progress bar on a
terminal and a one-line summary on stderr."""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import httpx
from rich.console import Console
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

_FILENAME = re.compile(r'filename="?([^";]+)"?')
CHUNK = 64 * 1024


def server_filename(resp: httpx.Response, fallback: str) -> str:
    m = _FILENAME.search(resp.headers.get("content-disposition", ""))
    # Only the last path component: a server never chooses a directory for us.
    return os.path.basename(m.group(1)) if m else fallback


def save(resp: httpx.Response, target: Path | None, fallback: str, label: str) -> Path | None:
    """Write the body to ``target`` (or the server's file name; ``-`` = stdout)."""
    total = int(resp.headers["content-length"]) if "content-length" in resp.headers else None
    console = Console(stderr=True)
    start = time.monotonic()
    if target is not None and str(target) == "-":
        out = sys.stdout.buffer
        for chunk in resp.iter_bytes(CHUNK):
            out.write(chunk)
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
    try:
        with progress, part.open("wb") as fh:
            task = progress.add_task(label, total=total)
            for chunk in resp.iter_bytes(CHUNK):
                fh.write(chunk)
                written += len(chunk)
                progress.update(task, completed=written)
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
