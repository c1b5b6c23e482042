"""Retention, as Curator did it: delete daily indices ``<prefix>-YYYY.MM.DD`` whose day
is more than N days before today (UTC). Only names of exactly that shape are touched,
so ``<prefix>-archive`` or another prefix that starts the same way is never deleted.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from elasticsearch import ApiError, Elasticsearch, TransportError

from logpipe.document import index_day, index_pattern

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Verdict:
    index: str
    day: date
    delete: bool


def judge(prefix: str, names: list[str], days: int, today: date) -> list[Verdict]:
    """Keep today and the ``days`` days before it; older daily indices are deleted."""
    oldest_kept = today - timedelta(days=days)
    out = []
    for name in sorted(names):
        day = index_day(prefix, name)
        if day is not None:
            out.append(Verdict(name, day, day < oldest_kept))
    return out


class Janitor:
    def __init__(self, es: Elasticsearch, prefix: str, days: int, dry_run: bool) -> None:
        if days < 1:
            raise ValueError("retention must keep at least 1 day")
        self.es = es
        self.prefix = prefix
        self.days = days
        self.dry_run = dry_run

    def run_once(self, today: date | None = None) -> list[Verdict]:
        today = today or datetime.now(UTC).date()
        found = self.es.indices.get(index=index_pattern(self.prefix),
                                    expand_wildcards="open,closed", allow_no_indices=True,
                                    filter_path="*.settings.index.uuid")
        verdicts = judge(self.prefix, list(found.body), self.days, today)
        doomed = [v.index for v in verdicts if v.delete]
        for name in doomed:
            if self.dry_run:
                log.info("janitor (dry run): would delete %s", name)
            else:
                # One at a time and by exact name: a wildcard could match an index
                # created between listing and deleting.
                self.es.options(ignore_status=404).indices.delete(index=name)
                log.info("janitor: deleted %s (older than %d days)", name, self.days)
        return verdicts

    def start_thread(self, interval: float, stop: threading.Event) -> threading.Thread:
        def loop() -> None:
            while not stop.is_set():
                try:
                    self.run_once()
                except (ApiError, TransportError) as exc:
                    log.warning("janitor pass failed, next in %.0fs: %s", interval, exc)
                stop.wait(interval)

        thread = threading.Thread(target=loop, name="janitor", daemon=True)
        thread.start()
        return thread
