"""A stream's rotated siblings: the files its runtime or logrotate renamed (and maybe
gzip'd) away from the live path, found by name and told apart by content.

The names the runtimes and tools write, next to the live file ``B``:

- Docker json-file: ``B.1`` ... ``B.N``, ``B.N.gz`` with ``compress=true``;
- kubelet (CRI): ``B.<YYYYMMDD-HHMMSS>``, older ones ``B.<ts>.gz``;
- logrotate: ``B.1``, ``B.2.gz``, dateext ``B-20261201`` (``.gz``).

A file's identity for "was it read?" is its fingerprint (the hash of its first
line, of the decompressed bytes for ``.gz``): a rename keeps it, gzip and the copy
logrotate's copytruncate makes keep it too, while the inode changes. So a sibling
whose fingerprint the stream already knows (tracked, checkpointed or read to its
end) is never read twice; one it does not know and that was written after the
stream's floor time was renamed away before the collector saw it: read it.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import stat
import tempfile
import zlib
from dataclasses import dataclass

from collector.checkpoint import FINGERPRINT_BYTES, fingerprint, fingerprint_bytes

# Reading a sibling can fail for reasons of its own (gone, a .gz still being written).
ROTATED_ERRORS = (OSError, EOFError, zlib.error, gzip.BadGzipFile)
# What follows the live name: a counter, a kubelet stamp or a dateext date, maybe .gz.
_SUFFIX = re.compile(r"[.-][0-9][0-9-]*(\.gz)?")


@dataclass
class Sibling:
    path: str
    gz: bool
    dev: int
    inode: int
    size: int  # on disk (compressed for .gz)
    mtime_ns: int


def list_siblings(stream_path: str) -> list[Sibling]:
    """Regular files next to ``stream_path`` named like its rotated copies, oldest
    first. Symlinks are not followed: a rotated name is never a link."""
    folder, base = os.path.split(stream_path)
    found: list[Sibling] = []
    try:
        entries = list(os.scandir(folder or "."))
    except OSError:
        return found
    for entry in entries:
        name = entry.name
        if len(name) <= len(base) or not name.startswith(base):
            continue
        m = _SUFFIX.fullmatch(name, len(base))
        if m is None:
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode):
            continue
        found.append(Sibling(entry.path, m.group(1) is not None, st.st_dev, st.st_ino,
                             st.st_size, st.st_mtime_ns))
    found.sort(key=lambda s: (s.mtime_ns, s.path))
    return found


class HeadCache:
    """Fingerprints of siblings by (dev, inode, size, mtime): a scan does not reopen
    (or decompress the head of) a file it has already looked at unchanged."""

    def __init__(self) -> None:
        self._fps: dict[tuple[int, int, int, int], str | None] = {}

    def fingerprint(self, sib: Sibling) -> str | None:
        key = (sib.dev, sib.inode, sib.size, sib.mtime_ns)
        if key not in self._fps:
            if len(self._fps) > 65536:  # bounded: a fresh look costs one small read
                self._fps.clear()
            self._fps[key] = head_fingerprint(sib)
        return self._fps[key]

    def forget(self, sib: Sibling) -> None:
        self._fps.pop((sib.dev, sib.inode, sib.size, sib.mtime_ns), None)


def head_fingerprint(sib: Sibling) -> str | None:
    """The fingerprint of the sibling's (decompressed) first line; None if unreadable."""
    try:
        if sib.gz:
            with gzip.open(sib.path, "rb") as fh:
                return fingerprint_bytes(fh.read(FINGERPRINT_BYTES), force=True)
        fd = os.open(sib.path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        try:
            return fingerprint(fd, force=True)
        finally:
            os.close(fd)
    except ROTATED_ERRORS:
        return None


def open_sibling(sib: Sibling, scratch_dir: str) -> int:
    """A descriptor to read the sibling's bytes from offset 0: the file itself, or for
    ``.gz`` an unlinked temporary file in ``scratch_dir`` holding the decompressed
    bytes (the collector reads by ``pread`` at offsets, which gzip cannot do)."""
    if not sib.gz:
        return os.open(sib.path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    os.makedirs(scratch_dir, exist_ok=True)
    with tempfile.TemporaryFile(dir=scratch_dir) as out, gzip.open(sib.path, "rb") as src:
        shutil.copyfileobj(src, out, 1 << 20)
        out.flush()
        # the dup keeps the unlinked file alive until the reader closes it
        return os.dup(out.fileno())
