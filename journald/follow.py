"""Follow the journal into Kafka.

    journalctl --output=json --follow --after-cursor=<saved>
      -> reader thread -> bounded queue -> to_record -> RecordProducer (acks=all)
                                                         AckTracker -> cursor file

The cursor file moves only past entries Kafka acknowledged, so a restart (of
journalctl, or of the whole role) resumes exactly: nothing lost, and what was in
flight is sent again under the same id (the id is derived from the cursor).
"""

from __future__ import annotations

import io
import logging
import queue
import shutil
import subprocess
import threading
import time
from collections import deque
from pathlib import Path
from typing import cast

import orjson
from tenacity import RetryCallState, Retrying, retry_if_exception_type, wait_exponential

from journald.entry import to_record
from journald.metrics import METRICS
from journald.settings import JournaldSettings
from logpipe.delivery import RecordProducer, StateFile
from logpipe.health import HealthServer

log = logging.getLogger(__name__)

SYSTEM_JOURNALS = ("/var/log/journal", "/run/log/journal")
_EOF: list[bytes] = []  # journalctl exited (identity-compared)


class JournalctlExited(Exception):
    """journalctl ended (journal rotated away, crashed); it is started again."""

    def __init__(self, code: int | None, detail: str) -> None:
        super().__init__(f"journalctl exited with {code} ({detail})")


def journal_available(settings: JournaldSettings) -> tuple[bool, str]:
    """Is there a journal to read here? (False with the reason when not.)"""
    if shutil.which(settings.journalctl) is None:
        return False, f"{settings.journalctl} is not installed"
    if settings.journal_files:
        missing = [f for f in settings.journal_files if not Path(f).exists()]
        return (not missing, f"journal files missing: {missing}" if missing else "files")
    dirs = [settings.journal_directory] if settings.journal_directory else SYSTEM_JOURNALS
    for d in dirs:
        if any(Path(d).rglob("*.journal")):
            return True, d
    return False, f"no journal files under {', '.join(dirs)}"


def journalctl_command(settings: JournaldSettings, cursor: str | None) -> list[str]:
    cmd = [settings.journalctl, "--output=json", "--all", "--follow", "--no-pager",
           "--quiet"]
    cmd += [f"--file={f}" for f in settings.journal_files]
    if settings.journal_directory and not settings.journal_files:
        cmd.append(f"--directory={settings.journal_directory}")
    cmd += [f"--unit={u}" for u in settings.units]
    if cursor:
        cmd += [f"--after-cursor={cursor}", "--lines=all"]
    else:
        cmd.append("--lines=all" if settings.start_at == "head" else "--lines=0")
    return cmd


class JournaldRole:
    def __init__(self, settings: JournaldSettings) -> None:
        self.settings = settings
        self.stop = threading.Event()
        self.state = StateFile(settings.cursor_file)
        self.producer = RecordProducer(settings.kafka_bootstrap, settings.kafka_topic,
                                       "journald", settings.kafka_options)
        self._saved = self.state.load()
        # Where journalctl resumes after it exits: the last entry *read*, since
        # everything before it is already produced (and tracked) in this process.
        self._resume = self._saved
        self._proc: subprocess.Popen[bytes] | None = None
        # Chunks of lines (~64 KiB each); the bound keeps memory flat under load.
        self._lines: queue.Queue[list[bytes]] = queue.Queue(max(1, settings.queue_size // 256))
        self._stderr: deque[str] = deque(maxlen=20)
        self.entries = 0
        self._next_save = 0.0  # monotonic time of the next cursor save

    def ready(self) -> tuple[bool, str]:
        alive = self._proc is not None and self._proc.poll() is None
        return alive, "following the journal" if alive else "journalctl is not running"

    def checkpoint(self) -> None:
        position = self.producer.tracker.committable()
        if position is not None and position != self._saved:
            self.state.save(position)
            self._saved = position

    def _spawn(self) -> None:
        cmd = journalctl_command(self.settings, self._resume)
        log.info("running %s", " ".join(cmd))
        METRICS.restarts.inc()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL)
        self._proc = proc
        threading.Thread(target=self._read, args=(proc,), daemon=True,
                         name="journalctl-out").start()
        threading.Thread(target=self._drain_stderr, args=(proc,), daemon=True,
                         name="journalctl-err").start()

    def _read(self, proc: subprocess.Popen[bytes]) -> None:
        """Hand lines over in chunks: one queue operation per chunk, not per line."""
        # Popen's default buffering gives a BufferedReader, which has read1.
        stdout = cast(io.BufferedReader, proc.stdout)
        carry = b""
        with stdout:
            while chunk := stdout.read1(1 << 16):
                lines = (carry + chunk).split(b"\n")
                carry = lines.pop()
                if lines:
                    # put() blocks when the queue is full: journalctl then blocks on
                    # its pipe (back-pressure, nothing dropped).
                    self._lines.put(lines)
        if carry:
            self._lines.put([carry])
        self._lines.put(_EOF)

    def _drain_stderr(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stderr is not None
        with proc.stderr:
            for line in proc.stderr:
                self._stderr.append(line.decode("utf-8", "replace").rstrip())

    def _handle(self, line: bytes) -> None:
        try:
            entry = orjson.loads(line)
        except orjson.JSONDecodeError:
            METRICS.bad_lines.inc()
            log.warning("journalctl printed a non-JSON line: %r", line[:200])
            return
        if not isinstance(entry, dict):
            METRICS.bad_lines.inc()
            return
        record = to_record(entry, node=self.settings.node_name,
                           namespace=self.settings.namespace)
        cursor = entry.get("__CURSOR")
        self.producer.produce(record, cursor if isinstance(cursor, str) else None)
        if isinstance(cursor, str):
            self._resume = cursor
        self.entries += 1

    def run(self) -> None:
        """Until ``stop``; raises DeliveryFailed when Kafka refuses a record.

        journalctl exits when its journal rotates away or it crashes: it is started
        again from the last entry read after 0.5 s, doubling up to
        ``restart_backoff_max_s`` while it keeps exiting without shipping anything.
        """
        retrying = Retrying(
            retry=retry_if_exception_type(JournalctlExited),
            wait=wait_exponential(multiplier=0.5, max=self.settings.restart_backoff_max_s),
            stop=lambda _state: self.stop.is_set(),
            sleep=self._pause,
            before_sleep=self._log_exit,
            retry_error_callback=lambda _state: None,
        )
        self._next_save = time.monotonic()
        try:
            for attempt in retrying:
                with attempt:
                    if self.stop.is_set():  # stopped during the pause
                        return
                    self._stderr.clear()
                    self._spawn()
                    self._follow(attempt.retry_state)
        finally:
            self.stop.set()
            self._terminate()
            self.producer.flush(10)
            self.checkpoint()

    def _follow(self, state: RetryCallState) -> None:
        """Ship what the running journalctl prints; raise JournalctlExited when it exits."""
        while not self.stop.is_set():
            try:
                lines = self._lines.get(timeout=0.2)
            except queue.Empty:
                lines = None
            if lines is _EOF:
                code = self._proc.wait() if self._proc is not None else None
                raise JournalctlExited(code, " | ".join(self._stderr) or "no message")
            if lines is not None:
                for line in lines:
                    if line.strip():
                        self._handle(line)
                # Entries got through: the next exit backs off from the start again.
                state.attempt_number = 1
            # Delivery callbacks once per chunk: per line would cost more than parsing.
            self.producer.poll(0)
            if time.monotonic() >= self._next_save:
                self.checkpoint()
                self._next_save = time.monotonic() + self.settings.checkpoint_interval_s

    def _pause(self, seconds: float) -> None:
        self.stop.wait(seconds)

    def _log_exit(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning("%s; starting again in %.1fs", exc, state.upcoming_sleep)

    def _terminate(self) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def serve_health(self) -> HealthServer:
        return HealthServer(self.settings.metrics_host, self.settings.metrics_port,
                            ready=self.ready).start()
