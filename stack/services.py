"""Run logpipe's own services in the background for `make up`: the demo log
generator, collector, forwarder and Log API, each with a pid file and a log file."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

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


class Service(Server):
    """A logpipe service process, managed like the stack's servers."""

    def __init__(self, home: Path, spec: ServiceSpec, start_timeout: float = 60.0) -> None:
        super().__init__(home, start_timeout)
        self.spec = spec
        self.name = spec.name
        self.marker = f"logpipe {spec.args[0]}"
        self.ports = []

    @property
    def available(self) -> bool:
        return importlib.util.find_spec(self.spec.module) is not None

    def start(self) -> None:
        env = {**os.environ, **self.spec.env, "PYTHONUNBUFFERED": "1"}
        logpipe = Path(sys.executable).parent / "logpipe"  # the console script of this venv
        self.spawn([sys.executable, str(logpipe), *self.spec.args], env=env)

    def ready(self) -> bool:
        if self.spec.health_url is None:
            return self.pid is not None
        try:
            return httpx.get(self.spec.health_url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False


def start_all(home: Path, specs: list[ServiceSpec]) -> list[Service]:
    started = []
    for spec in specs:
        svc = Service(home / spec.name, spec)
        if not svc.available:
            continue
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
    return started


def stop_all(home: Path, specs: list[ServiceSpec]) -> list[str]:
    return [spec.name for spec in reversed(specs) if Service(home / spec.name, spec).down()]
