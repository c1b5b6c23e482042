"""Run a long-lived role (events watcher, journald follower) until SIGTERM/SIGINT."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Protocol

import typer

from logpipe.health import HealthServer


class Role(Protocol):
    stop: threading.Event

    def serve_health(self) -> HealthServer: ...

    def run(self) -> None: ...


def run_until_signalled(name: str, role: Role) -> None:
    """Serve health, run the role, and turn SIGTERM/SIGINT into a clean stop.

    An unexpected error ends the role with one line for the operator and exit code 1,
    so the orchestrator restarts it instead of a traceback filling the log.
    """
    health = role.serve_health()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        role.stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        role.run()
    except Exception as exc:
        typer.echo(f"logpipe {name}: stopped: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        health.stop()
