"""``logpipe demo``: write realistic demo container logs for the collector to tail."""

from __future__ import annotations

import signal
import threading
from datetime import datetime
from pathlib import Path
from types import FrameType

import typer

from demo.generator import MANIFEST, DemoOptions, Generator
from logpipe.timefmt import parse_ns

app = typer.Typer(add_completion=False, no_args_is_help=True)


@app.command(help="Write realistic demo container logs (Docker json-file, CRI, syslog).")
def demo(
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write the node's logs into: "
                             "DIR/docker/containers, DIR/pods, DIR/log."),
    rate: float = typer.Option(200.0, help="Log statements per second, whole node."),
    duration: float = typer.Option(60.0, help="Seconds of logs to write; 0 = until stopped."),
    rotate_bytes: int = typer.Option(10 * 1024 * 1024, help="Rotate a file once it reaches "
                                     "this size, like Docker's max-size; 0 = never."),
    keep: int = typer.Option(3, help="Files kept per stream incl. the live one (max-file)."),
    seed: int = typer.Option(1, help="Same seed, start and options -> same bytes."),
    start: str = typer.Option("", help="RFC 3339 time of the first entry (default: now)."),
    realtime: bool = typer.Option(True, "--realtime/--fast", help="Pace writes to the wall "
                                  "clock, or write everything at once."),
    long_every: int = typer.Option(500, help="About one >16 KiB line per N entries; 0 = none."),
    node: str = typer.Option("demo-node-1", help="Host name written into syslog lines."),
) -> None:
    try:
        opts = DemoOptions(out=out, rate=rate, duration=duration, rotate_bytes=rotate_bytes,
                           keep=keep, seed=seed, start_ns=parse_ns(start) if start else None,
                           realtime=realtime, long_every=long_every, host_name=node)
    except ValueError as exc:
        typer.echo(f"demo: invalid option: {exc}", err=True)
        raise typer.Exit(2) from exc
    gen = Generator(opts)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()  # finish the current entry and flush: no half-written line on disk

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    began = datetime.now()
    typer.echo(f"demo: writing to {gen.out} (manifest {gen.out / MANIFEST}); "
               f"{'until stopped' if not duration else f'{duration:g} s'} at {rate:g}/s",
               err=True)
    try:
        stats = gen.run(stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    took = (datetime.now() - began).total_seconds()
    typer.echo(f"demo: {stats.entries} entries, {stats.lines} lines, {stats.long_lines} long, "
               f"{stats.bytes} bytes, {stats.rotations} rotations in {took:.1f} s", err=True)
