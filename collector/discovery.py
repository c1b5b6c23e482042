"""Which files to tail: globs under the configured roots, include/exclude filters,
inotify (watchdog) to notice new files quickly, a periodic scan because inotify
overflows and misses rotations."""

from __future__ import annotations

import glob
import logging
import os
import stat
import threading
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
    def __init__(self, settings: CollectorSettings) -> None:
        self.patterns: list[tuple[str, str, str]] = []  # (kind, root, glob)
        roots = {"docker": (settings.docker_root, settings.docker_globs),
                 "cri": (settings.cri_root, settings.cri_globs),
                 "file": (settings.host_root, settings.host_globs)}
        for kind in settings.sources:
            root, globs = roots[kind]
            self.patterns.extend((kind, root, g) for g in globs)
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
        """path -> kind of every regular file matching the globs and filters."""
        found: dict[str, str] = {}
        for kind, root, pattern in self.patterns:
            for path in glob.glob(os.path.join(glob.escape(root), pattern)):
                if path in found or not self.wanted(path):
                    continue
                try:
                    if not stat.S_ISREG(os.stat(path).st_mode):
                        continue
                except OSError:
                    continue
                found[path] = kind
        return found

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
