"""Which files to tail: globs under the configured roots, include/exclude filters,
inotify (watchdog) to notice new files quickly, a periodic scan because inotify
overflows and misses rotations.

A path is never followed out of the roots: a symlink a tenant planted
(``/var/log/x.log -> /proc/self/environ``) is refused and counted. Each file is read
once, by identity (device, inode): on cri-dockerd nodes ``/var/log/pods/.../0.log``
links to Docker's json log, which is read at its Docker path, as Docker, with the
CRI path's pod metadata added (``aliases``)."""

from __future__ import annotations

import glob
import logging
import os
import stat
import threading
from collections.abc import Callable
from fnmatch import fnmatch

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from collector.settings import CollectorSettings

log = logging.getLogger(__name__)


class _Wake(FileSystemEventHandler):
    def __init__(self, discovery: Discovery) -> None:
        self._d = discovery

    def on_any_event(self, event: FileSystemEvent) -> None:
        # Creations, moves and deletions change the set of files (a scan); writes
        # mark the file dirty so the main loop reads it without polling every file.
        kind = event.event_type
        if kind == "modified":
            if not event.is_directory:
                self._d.dirty.add(os.fsdecode(event.src_path))
        elif kind in ("created", "moved", "deleted"):
            self._d.changed.set()


class Discovery:
    def __init__(self, settings: CollectorSettings,
                 on_refused: Callable[[], None] | None = None) -> None:
        self.patterns: list[tuple[str, str, str]] = []  # (kind, root, glob)
        roots = {"docker": (settings.docker_root, settings.docker_globs),
                 "cri": (settings.cri_root, settings.cri_globs),
                 "file": (settings.host_root, settings.host_globs)}
        for kind in settings.sources:
            root, globs = roots[kind]
            self.patterns.extend((kind, root, g) for g in globs)
        # Where a found path may lead: the real folders of the roots read (a CRI log may
        # lead into Docker's, the cri-dockerd layout).
        allowed = {root for _, root, _ in self.patterns}
        if "cri" in settings.sources:
            allowed.add(settings.docker_root)
        self.allowed = tuple(os.path.join(os.path.realpath(r), "") for r in allowed)
        self.docker_real = os.path.join(os.path.realpath(settings.docker_root), "")
        self.on_refused = on_refused or (lambda: None)
        self.refused: set[str] = set()  # paths refused (logged once each)
        # Docker path -> the CRI link to it (cri-dockerd): its pod metadata is added.
        self.aliases: dict[str, str] = {}
        self.include = settings.include
        self.exclude = settings.exclude
        self.changed = threading.Event()
        # Paths written since the main loop last looked (filled by the inotify thread;
        # set.add and attribute swap are atomic under the GIL).
        self.dirty: set[str] = set()
        self.watching = False
        self._observer: Observer | None = None  # type: ignore[valid-type]

    def wanted(self, path: str) -> bool:
        if self.include and not any(fnmatch(path, p) for p in self.include):
            return False
        return not any(fnmatch(path, p) for p in self.exclude)

    def scan(self) -> dict[str, str]:
        """path -> kind of every regular file matching the globs and filters, each
        file once (by device and inode), none outside the roots."""
        found: dict[str, str] = {}
        seen: set[str] = set()
        links: list[tuple[str, str, str, tuple[int, int]]] = []
        by_identity: dict[tuple[int, int], str] = {}
        aliases: dict[str, str] = {}
        for kind, root, pattern in self.patterns:
            for path in glob.glob(os.path.join(glob.escape(root), pattern)):
                if path in seen or not self.wanted(path):
                    continue
                seen.add(path)
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                if not stat.S_ISREG(st.st_mode):
                    continue
                ident = (st.st_dev, st.st_ino)
                real = os.path.realpath(path)
                if real != path:
                    links.append((kind, path, real, ident))  # after the real files
                elif by_identity.setdefault(ident, path) == path:
                    found[path] = kind
        for kind, path, real, ident in links:
            if not real.startswith(self.allowed):
                self._refuse(path, real)
                continue
            if kind == "cri" and real.startswith(self.docker_real):
                # cri-dockerd: the CRI path is a link to a Docker json log, read as
                # Docker at its own path, with the pod named by the link.
                aliases[real] = path
                kind, path = "docker", real
            if by_identity.setdefault(ident, path) == path:
                found[path] = kind
            # else: the same file under another name, read once
        self.aliases = aliases
        return found

    def _refuse(self, path: str, real: str) -> None:
        if path in self.refused:
            return
        if len(self.refused) < 10_000:
            self.refused.add(path)
        self.on_refused()
        log.warning("not reading %s: it leads to %s, outside the log roots", path, real,
                    extra={"event": "symlink_refused", "path": path})

    def watch(self) -> None:
        """Start inotify watches on the roots that exist (the scan covers the rest)."""
        observer = Observer()
        observer.daemon = True
        handler = _Wake(self)
        watched = 0
        for root in sorted({root for _, root, _ in self.patterns}):
            if os.path.isdir(root):
                try:
                    observer.schedule(handler, root, recursive=True)
                    watched += 1
                except OSError as exc:  # e.g. inotify watch limit: the scan still works
                    log.warning("cannot watch %s: %s; relying on the periodic scan", root, exc)
        if watched:
            observer.start()
            self._observer = observer
            self.watching = watched == len({root for _, root, _ in self.patterns})

    def take_dirty(self) -> set[str]:
        dirty, self.dirty = self.dirty, set()
        return dirty

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None
