"""What the stack's servers share: a pid file, a log file, idempotent start with
a readiness wait, a clear error for a port taken by someone else, stop by pid."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path

from logpipe.errors import PortInUseError, StackError
from stack.proc import alive, port_open, read_pid, stop_pid, tail

# Servers outlive the Popen objects that started them; keeping a reference here stops
# Popen.__del__ from warning about a "still running" child, and lets down() reap it.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


class Server(ABC):
    name: str
    marker: str  # a string in our server's command line, to recognise its pid
    ports: list[int]

    def __init__(self, home: Path, start_timeout: float) -> None:
        self.home = home
        self.start_timeout = start_timeout

    @property
    def pidfile(self) -> Path:
        return self.home / f"{self.name}.pid"

    @property
    def logfile(self) -> Path:
        return self.home / f"{self.name}.log"

    @property
    def pid(self) -> int | None:
        pid = read_pid(self.pidfile)
        return pid if alive(pid, self.marker) else None

    @abstractmethod
    def start(self) -> None: ...

    @abstractmethod
    def ready(self) -> bool: ...

    def spawn(
        self,
        argv: list[str],
        env: Mapping[str, str] | None = None,
        user: int | None = None,
        group: int | None = None,
    ) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        with self.logfile.open("ab") as log:
            # A session of its own: stop() signals the whole group, which also ends
            # children such as the ES server process started by its launcher.
            proc = subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=dict(env or os.environ),
                cwd=self.home,
                start_new_session=True,
                user=user,
                group=group,
            )
        self.pidfile.write_text(f"{proc.pid}\n")
        _CHILDREN[proc.pid] = proc

    def up(self) -> bool:
        """Start unless ours is running; wait until ready. True if it was started now."""
        if self.pid is not None:
            self.wait_ready()
            return False
        for port in self.ports:
            if port_open(port):
                raise PortInUseError(port, self.name)
        self.start()
        self.wait_ready()
        return True

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.ready():
                return
            proc = _CHILDREN.get(read_pid(self.pidfile) or -1)
            if proc is not None and proc.poll() is not None:
                raise StackError(
                    f"{self.name} exited with code {proc.returncode} while "
                    f"starting; last lines of {self.logfile}:\n{tail(self.logfile)}"
                )
            time.sleep(1.0)
        raise StackError(
            f"{self.name} was not ready after {self.start_timeout:.0f}s; "
            f"last lines of {self.logfile}:\n{tail(self.logfile)}"
        )

    def kill(self) -> int | None:
        """SIGKILL our server's whole process group, as a crash would; the pid it had.

        For fault tests: no shutdown hook runs, data stays as the crash left it, and
        ``up()`` starts the node again on the same data."""
        pid = self.pid
        if pid is None:
            return None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        child = _CHILDREN.pop(pid, None)
        if child is not None:
            child.wait()
        while alive(pid, self.marker):
            time.sleep(0.1)
        self.pidfile.unlink(missing_ok=True)
        return pid

    def down(self, grace_s: float = 60.0) -> bool:
        """Stop our server by pid (its whole process group): SIGTERM, SIGKILL after
        ``grace_s``. True if one was running."""
        pid = self.pid
        if pid is None:
            self.pidfile.unlink(missing_ok=True)
            return False
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGTERM)
        stop_pid(pid, grace_s)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)  # stragglers of the group, if any
        child = _CHILDREN.pop(pid, None)
        if child is not None:
            child.wait()  # reap our own child so no zombie is left
        self.pidfile.unlink(missing_ok=True)
        return True
