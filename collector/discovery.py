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
    def __init__(self, event: threading.Event) -> None:
        self._event = event

    def on_any_event(self, event: FileSystemEvent) -> None:
        # Creations, moves and deletions change the set of files; plain writes are
        # seen by polling the open files, so they need no scan.
        if event.event_type in ("created", "moved", "deleted"):
            self._event.set()


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
        handler = _Wake(self.changed)
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

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None
