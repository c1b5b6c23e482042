"""Running the ``logpipe`` client commands in tests: in-process (CliRunner) for finite
commands, a real subprocess for ``--follow``."""

from __future__ import annotations

import contextlib
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

from typer.testing import CliRunner, Result

from tests.client.harness import TOKENS, LiveApi

ROOT = Path(__file__).resolve().parents[2]
LOGPIPE = str(Path(sys.executable).parent / "logpipe")


def env(api: LiveApi, who: str = "admin", tmp: Path | None = None) -> dict[str, str]:
    return {"LOGPIPE_URL": api.url, "LOGPIPE_TOKEN": TOKENS[who],
            # never read the developer's own ~/.config/logpipe/config.yaml in a test
            "LOGPIPE_CLIENT_CONFIG": str((tmp or Path("/nonexistent")) / "none.yaml"),
            "NO_COLOR": ""}


def run(command: str, args: list[str], environ: dict[str, str]) -> Result:
    """``logpipe <command> <args>`` in this process; stdout and stderr kept apart."""
    import importlib

    module = importlib.import_module(f"client.{command}")
    return CliRunner().invoke(module.app, args, env=environ, catch_exceptions=False)


class Proc:
    """A ``logpipe`` subprocess whose stdout lines are read by a thread."""

    def __init__(self, args: list[str], environ: dict[str, str]) -> None:
        full_env = {**os.environ, **environ}
        self.p = subprocess.Popen([LOGPIPE, *args], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env=full_env, cwd=ROOT)
        self.lines: queue.Queue[str] = queue.Queue()
        self.out: list[str] = []
        self.err: list[str] = []
        self._errq: queue.Queue[str] = queue.Queue()
        self._pumps = [
            threading.Thread(target=self._pump, args=(self.p.stdout, self.lines), daemon=True),
            threading.Thread(target=self._pump, args=(self.p.stderr, self._errq), daemon=True)]
        for t in self._pumps:
            t.start()

    @staticmethod
    def _pump(stream: object, into: queue.Queue[str]) -> None:
        for line in stream:  # type: ignore[attr-defined]
            into.put(line.rstrip("\n"))

    def wait_exit(self, timeout: float = 30.0) -> int:
        code = self.p.wait(timeout)
        for t in self._pumps:
            t.join(10)
        return code

    def stderr(self) -> list[str]:
        while not self._errq.empty():
            self.err.append(self._errq.get())
        return self.err

    def read_until(self, predicate: object, what: str, timeout: float = 30.0) -> list[str]:
        """Collect stdout lines until one satisfies ``predicate``; all lines so far."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {what}; stdout={self.out[-20:]} "
                                     f"stderr={self.stderr()[-20:]}")
            try:
                line = self.lines.get(timeout=min(left, 0.5))
            except queue.Empty:
                if self.p.poll() is not None and self.lines.empty():
                    raise AssertionError(f"logpipe exited {self.p.returncode} before {what}; "
                                         f"stderr={self.stderr()[-20:]}") from None
                continue
            self.out.append(line)
            if predicate(line):  # type: ignore[operator]
                return self.out

    def wait_stderr(self, needle: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not any(needle in e for e in self.stderr()):
            if time.monotonic() > deadline:
                raise AssertionError(f"no {needle!r} on stderr: {self.err[-20:]}")
            with contextlib.suppress(queue.Empty):
                self.err.append(self._errq.get(timeout=0.2))

    def stop(self) -> None:
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(10)
        for t in self._pumps:  # the pipes reach EOF once the process is gone
            t.join(10)
        for stream in (self.p.stdout, self.p.stderr):
            if stream is not None:
                stream.close()
