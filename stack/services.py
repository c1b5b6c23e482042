"""Run logpipe's own services in the background for `make up`: the demo log
generator, collector, forwarder and Log API, each with a pid file, a log file and the
spec (command and environment) it was started with."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson

from logpipe.errors import StackError
from stack.proc import tail
from stack.server import Server


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    module: str  # the package that implements it; the service is skipped without it
    args: list[str] = field(default_factory=list)  # `logpipe <args...>`
    env: Mapping[str, str] = field(default_factory=dict)
    health_url: str | None = None  # ready when this answers 200

    def saved_form(self) -> dict[str, object]:
        """What decides whether a running copy is this service: its command and env."""
        return {"args": list(self.args), "env": dict(sorted(self.env.items()))}


def needs_restart(running: bool, saved: object, spec: ServiceSpec) -> bool:
    """A running service is restarted when it was started with another spec.

    A copy with no saved spec (started before specs were kept) is restarted too: what
    it reads and where it sends is unknown, e.g. the demo folder after `--real-logs`.
    """
    return running and saved != spec.saved_form()


class Service(Server):
    """A logpipe service process, managed like the stack's servers."""

    def __init__(self, home: Path, spec: ServiceSpec, start_timeout: float = 60.0) -> None:
        super().__init__(home, start_timeout)
        self.spec = spec
        self.name = spec.name
        self.marker = f"logpipe {spec.args[0]}"
        self.ports = []

    @property
    def specfile(self) -> Path:
        return self.home / f"{self.name}.spec.json"

    def saved_spec(self) -> object:
        """The spec the running copy was started with, or None if none was kept."""
        try:
            return orjson.loads(self.specfile.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return None

    @property
    def available(self) -> bool:
        return importlib.util.find_spec(self.spec.module) is not None

    def start(self) -> None:
        env = {**os.environ, **self.spec.env, "PYTHONUNBUFFERED": "1"}
        logpipe = Path(sys.executable).parent / "logpipe"  # the console script of this venv
        self.spawn([sys.executable, str(logpipe), *self.spec.args], env=env)
        self.specfile.write_bytes(orjson.dumps(self.spec.saved_form()))

    def ready(self) -> bool:
        if self.spec.health_url is None:
            return self.pid is not None
        try:
            return httpx.get(self.spec.health_url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False


def start_all(home: Path, specs: list[ServiceSpec]) -> tuple[list[Service], list[str]]:
    """Start each service, reuse a running one with the same spec, restart one whose
    spec changed. Returns the services and the names of those restarted."""
    started, restarted = [], []
    for spec in specs:
        svc = Service(home / spec.name, spec)
        if not svc.available:
            continue
        if needs_restart(svc.pid is not None, svc.saved_spec(), spec):
            svc.down()
            restarted.append(spec.name)
        if svc.pid is None:
            svc.start()
        started.append(svc)
    for svc in started:
        try:
            svc.wait_ready()
        except StackError as exc:
            raise StackError(
                f"{svc.name} did not become ready: {exc}\n{tail(svc.logfile)}"
            ) from None
    return started, restarted


def stop_all(home: Path, specs: list[ServiceSpec]) -> list[str]:
    stopped = []
    for spec in reversed(specs):
        svc = Service(home / spec.name, spec)
        if svc.down():
            stopped.append(spec.name)
        svc.specfile.unlink(missing_ok=True)
    return stopped
