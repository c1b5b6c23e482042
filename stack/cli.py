"""`logpipe stack up|down|status|logs`: the local Kafka + Elasticsearch."""

from __future__ import annotations

import sys
import time
from typing import Annotated

import orjson
import typer

from logpipe.errors import StackError
from stack.manager import Stack
from stack.proc import tail

app = typer.Typer(
    help="Start, stop and inspect the local Kafka (KRaft) and Elasticsearch on 127.0.0.1. "
    "Downloads come from Maven Central through mvn and are cached; settings come from "
    "LOGPIPE_STACK_* environment variables (see the README).",
    no_args_is_help=True,
)

KafkaPort = Annotated[int | None, typer.Option(help="Kafka port (default 9092).")]
EsPort = Annotated[int | None, typer.Option(help="Elasticsearch port (default 9200).")]
Brokers = Annotated[int | None, typer.Option(
    help="Kafka nodes (default 1); 3 gives a KRaft quorum with replicated topics.")]
EsNodes = Annotated[int | None, typer.Option(
    help="Elasticsearch nodes (default 1); 3 gives a cluster with one replica per index.")]


def _stack(kafka_port: int | None = None, es_port: int | None = None,
           kafka_brokers: int | None = None, es_nodes: int | None = None) -> Stack:
    given = {"kafka_port": kafka_port, "es_port": es_port,
             "kafka_brokers": kafka_brokers, "es_nodes": es_nodes}
    return Stack.from_env(**{k: v for k, v in given.items() if v})


@app.command()
def up(kafka_port: KafkaPort = None, es_port: EsPort = None,
       kafka_brokers: Brokers = None, es_nodes: EsNodes = None) -> None:
    """Fetch (first time), start and wait for Kafka and Elasticsearch; reuse running ones.
    Node i of a cluster listens on each base port + i * LOGPIPE_STACK_NODE_PORT_STEP (10)."""
    try:
        _stack(kafka_port, es_port, kafka_brokers, es_nodes).up()
    except StackError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


@app.command()
def down() -> None:
    """Stop the servers this stack started (by pid); leaves no process behind."""
    stopped = _stack().down()
    typer.echo(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


@app.command()
def status(json: Annotated[bool, typer.Option("--json", help="Machine-readable.")] = False) -> None:
    """Show pid, readiness, ports and log file of each server; exit 1 if not all ready."""
    stack = _stack()
    st = stack.status()
    if json:
        typer.echo(orjson.dumps(st).decode())
    else:
        for name, s in st.items():
            state = "ready" if s["ready"] else ("starting" if s["pid"] else "stopped")
            typer.echo(f"{name:16} {state:9} pid={s['pid']} ports={s['ports']} log={s['log']}")
        for line in stack.cluster_summary():
            typer.echo(line)
    if not all(s["ready"] for s in st.values()):
        raise typer.Exit(1)


@app.command()
def logs(
    server: Annotated[
        str | None, typer.Argument(help="kafka or elasticsearch (default both), or one "
                                   "node of a cluster: kafka-2, elasticsearch-3.")
    ] = None,
    lines: Annotated[int, typer.Option("-n", "--lines", help="Lines to show.")] = 40,
    follow: Annotated[
        bool, typer.Option("-f", "--follow", help="Keep printing new lines.")
    ] = False,
) -> None:
    """Print the tail of the servers' log files."""
    stack = _stack()
    chosen = [s for s in stack.servers
              if server in (None, s.name) or s.name.startswith(f"{server}-")]
    if not chosen:
        typer.echo(f"error: unknown server {server!r}; choose kafka or elasticsearch", err=True)
        raise typer.Exit(2)
    for s in chosen:
        typer.echo(f"==> {s.logfile} <==")
        typer.echo(tail(s.logfile, lines))
    if follow:
        handles = [(s.name, s.logfile.open("rb")) for s in chosen if s.logfile.exists()]
        for _, fh in handles:
            fh.seek(0, 2)
        while True:
            for name, fh in handles:
                for line in fh:
                    sys.stdout.write(f"{name}: {line.decode('utf-8', 'replace')}")
            sys.stdout.flush()
            time.sleep(0.5)


services = typer.Typer(
    help="Run logpipe's own services in the background beside the stack (for `make up`): "
    "demo logs, collector, forwarder and Log API, with pid and log files under the stack home.",
    no_args_is_help=True,
)
app.add_typer(services, name="services")


@services.command("up")
def services_up(
    real_logs: Annotated[bool, typer.Option(
        "--real-logs", help="Tail this machine's /var/lib/docker/containers, /var/log/pods "
        "and /var/log instead of writing demo logs.")] = False,
    demo_rate: Annotated[float, typer.Option(help="Demo log statements per second.")] = 50.0,
) -> None:
    """Start the services and print where to look. A running service is reused, or
    restarted when it was started with other settings (e.g. before --real-logs)."""
    from stack import local
    from stack.services import start_all, stop_all

    stack = _stack()
    if real_logs and not local.real_roots_readable():
        typer.echo("error: --real-logs: neither /var/lib/docker/containers nor /var/log/pods "
                   "is a readable folder here", err=True)
        raise typer.Exit(2)
    home = local.services_home(stack.settings)
    tokens = local.ensure_tokens(home)
    # A demo generator left from an earlier `services up` would keep filling a folder
    # nobody reads; the collector is restarted below because its spec changed.
    stopped = stop_all(home, [local.demo_spec(stack.settings)]) if real_logs else []
    try:
        started, restarted = start_all(home, local.specs(stack.settings, real_logs, demo_rate))
    except StackError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    for name in restarted:
        typer.echo(f"restarted {name}: started earlier with other settings")
    for name in stopped:
        typer.echo(f"stopped {name}: not needed with --real-logs")
    names = ", ".join(s.name for s in started)
    url = f"http://127.0.0.1:{local.API_PORT}/"
    typer.echo(f"""
running: kafka, elasticsearch, {names}
logs of each service: {home}/<service>/<service>.log

  web page        {url}?follow   (sign in with the admin token; live tail starts)
  admin token     {tokens['admin']}
  'pay' token     {tokens['pay']}   (sees namespace pay only)
  API docs        {url}docs
  metrics         :{local.COLLECTOR_METRICS}/metrics (collector)  \
:{local.FORWARDER_METRICS}/metrics (forwarder)  :{local.API_PORT}/metrics (api)

try:
  export LOGPIPE_URL={url.rstrip('/')} LOGPIPE_TOKEN={tokens['admin']}
  .venv/bin/logpipe logs -n pay --since 15m
  .venv/bin/logpipe logs -n shop --level warn -f
  .venv/bin/logpipe stats levels --since 1h
  .venv/bin/logpipe stats apps --since 1h
  make down
""")


@services.command("down")
def services_down() -> None:
    """Stop the services started by `services up`."""
    from stack import local
    from stack.services import stop_all

    stack = _stack()
    stopped = stop_all(local.services_home(stack.settings), local.specs(stack.settings))
    typer.echo(f"stopped: {', '.join(stopped)}" if stopped else "no service was running")
