"""`logpipe stack up|down|status|logs`: the local Kafka + Elasticsearch."""

from __future__ import annotations

import sys
import time
from typing import Annotated

import orjson
import typer

from logpipe.errors import StackError
from logpipe.stack.manager import Stack
from logpipe.stack.proc import tail

app = typer.Typer(
    help="Start, stop and inspect the local Kafka (KRaft) and Elasticsearch on 127.0.0.1. "
    "Downloads come from Maven Central through mvn and are cached; settings come from "
    "LOGPIPE_STACK_* environment variables (see the README).",
    no_args_is_help=True,
)

KafkaPort = Annotated[int | None, typer.Option(help="Kafka port (default 9092).")]
EsPort = Annotated[int | None, typer.Option(help="Elasticsearch port (default 9200).")]


def _stack(kafka_port: int | None = None, es_port: int | None = None) -> Stack:
    overrides = {k: v for k, v in {"kafka_port": kafka_port, "es_port": es_port}.items() if v}
    return Stack.from_env(**overrides)


@app.command()
def up(kafka_port: KafkaPort = None, es_port: EsPort = None) -> None:
    """Fetch (first time), start and wait for Kafka and Elasticsearch; reuse running ones."""
    try:
        _stack(kafka_port, es_port).up()
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
    st = _stack().status()
    if json:
        typer.echo(orjson.dumps(st).decode())
    else:
        for name, s in st.items():
            state = "ready" if s["ready"] else ("starting" if s["pid"] else "stopped")
            typer.echo(f"{name:14} {state:9} pid={s['pid']} ports={s['ports']} log={s['log']}")
    if not all(s["ready"] for s in st.values()):
        raise typer.Exit(1)


@app.command()
def logs(
    server: Annotated[
        str | None, typer.Argument(help="kafka or elasticsearch (default both).")
    ] = None,
    lines: Annotated[int, typer.Option("-n", "--lines", help="Lines to show.")] = 40,
    follow: Annotated[
        bool, typer.Option("-f", "--follow", help="Keep printing new lines.")
    ] = False,
) -> None:
    """Print the tail of the servers' log files."""
    stack = _stack()
    chosen = [s for s in stack.servers if server in (None, s.name)]
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
