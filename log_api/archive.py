"""Where an export's archive lives in ``<prefix>_state`` (log_api/exports.py): the ids
of its pieces, queries for them, and the bits of a tar stream.

A scan piece is ``chunk:<job>:s<epoch>:<n>``; epoch e wrote the numbers from its first
(``epochs``: [[epoch, first], ...] of the job) to the next epoch's first, the last epoch
up to the committed count ``seq``. A packed tar.gz piece is ``chunk:<job>:p<epoch>:<n>``
for n below the committed ``packed`` count.
"""

from __future__ import annotations

import tarfile
from typing import Any

TAR_RECORD = 10240  # tar pads its end to a whole record, as tarfile does


def safe_name(app: str | None) -> str:
    text = app or "_no_app"
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)[:100] or "_"


def job_key(job: str) -> str:
    return f"job:{job}"


def scan_ids(job: str, src: dict[str, Any]) -> list[str]:
    """The ids of the committed scan chunks, in order: epoch e wrote from its first
    number to the next epoch's first (the last one to the committed count)."""
    epochs = src["epochs"]
    ids = []
    for i, (epoch, first) in enumerate(epochs):
        end = epochs[i + 1][1] if i + 1 < len(epochs) else src["seq"]
        ids += [f"chunk:{job}:s{epoch}:{n}" for n in range(first, end)]
    return ids


def scan_query(src: dict[str, Any]) -> dict[str, Any]:
    """The committed scan chunks (as ``scan_ids``), as a query."""
    epochs = src["epochs"]
    ranges = []
    for i, (epoch, first) in enumerate(epochs):
        end = epochs[i + 1][1] if i + 1 < len(epochs) else src["seq"]
        if end > first:
            ranges.append({"bool": {"filter": [
                {"term": {"epoch": epoch}}, {"range": {"seq": {"gte": first, "lt": end}}}]}})
    return {"bool": {"filter": [{"term": {"job": src["job"]}}, {"term": {"part": "s"}}],
                     "should": ranges, "minimum_should_match": 1}}


def archive_query(src: dict[str, Any]) -> dict[str, Any]:
    """The chunks of a finished archive, as a query."""
    if src["fmt"] == "tar.gz":
        epoch, parts = src["packed"]
        return {"bool": {"filter": [{"term": {"job": src["job"]}}, {"term": {"part": "p"}},
                                    {"term": {"epoch": epoch}},
                                    {"range": {"seq": {"lt": parts}}}]}}
    return scan_query(src)


def archive_ids(src: dict[str, Any]) -> list[str]:
    if src["fmt"] == "tar.gz":
        epoch, parts = src["packed"]
        return [f"chunk:{src['job']}:p{epoch}:{n}" for n in range(parts)]
    return scan_ids(src["job"], src)


def split(data: bytes, size: int) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)] or [b""]


def tar_header(name: str, size: int, mtime: int) -> bytes:
    """The header block(s) of one member (PAX, as tarfile writes by default)."""
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = mtime
    info.mode = 0o644
    return info.tobuf(format=tarfile.PAX_FORMAT)


def tar_padding(size: int) -> bytes:
    """Zeros that end a member of ``size`` bytes on a block boundary."""
    return b"\0" * (-size % 512)


def tar_end(length: int) -> bytes:
    """The end of an archive of ``length`` bytes so far: two zero blocks, then zeros to
    a whole record."""
    return b"\0" * (1024 + (-(length + 1024) % TAR_RECORD))
