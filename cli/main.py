"""The ``logpipe`` command line.

Subcommands live in the packages that own them and are imported only when used,
so ``logpipe logs`` does not pay for importing the forwarder or FastAPI.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any, cast

import click
import typer

# name -> ("module", "attribute"); the attribute is a typer.Typer or a click command.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "stack": ("stack.cli", "app", "Start, stop, inspect the local Kafka + Elasticsearch."),
    "collector": ("collector.cli", "app", "Run the per-node collector (tail logs into Kafka)."),
    "forwarder": ("forwarder.cli", "app", "Run the forwarder (Kafka -> Elasticsearch)."),
    "api": ("log_api.cli", "app", "Run the Log API Engine and web page."),
    "logs": ("client.logs", "app", "Print or follow logs, like kubectl logs / stern."),
    "download": ("client.download", "app", "Download matching logs to a file."),
    "export": ("client.export", "app", "Create, watch and fetch archive exports."),
    "stats": ("client.stats", "app", "Level ratio, app share and volume histogram."),
    "audit": ("client.audit", "app", "Did everything arrive? Completeness per node and file."),
    "events": ("events.cli", "app", "Watch Kubernetes Events into Kafka (one replica)."),
    "journald": ("journald.cli", "app", "Follow the systemd journal into Kafka."),
    "demo": ("demo.cli", "app", "Write realistic demo container logs."),
}

# The long-running services: at start they report LOGPIPE_* variables they do not read.
SERVICES = ("collector", "forwarder", "api", "events", "journald")


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(n for n in COMMANDS if _available(n))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS or not _available(cmd_name):
            return None
        module, attr, _ = COMMANDS[cmd_name]
        obj: Any = getattr(importlib.import_module(module), attr)
        if isinstance(obj, typer.Typer):
            return _delegate(cmd_name, obj)
        cmd = cast(click.Command, obj)
        cmd.help = cmd.help or COMMANDS[cmd_name][2]
        return cmd

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Short help from the table, so `logpipe --help` imports nothing heavy.
        rows = [(n, COMMANDS[n][2]) for n in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _delegate(name: str, app: typer.Typer) -> click.Command:
    """Hand the raw arguments to the typer app's own standalone main.

    typer vendors its own click copy, so its usage errors and ``typer.Exit`` are not
    click's and this group would let them escape as tracebacks; typer's main turns
    them into a message and an exit code (2 for usage errors).
    """

    @click.command(name=name, help=COMMANDS[name][2], add_help_option=False,
                   context_settings={"ignore_unknown_options": True,
                                     "allow_interspersed_args": False})
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def run(args: tuple[str, ...]) -> None:
        if name in SERVICES:
            # So the service can tell another program's LOGPIPE_* variable from a typo.
            from cli.settings_doc import settings_by_program
            from logpipe.settings import register_programs

            register_programs(settings_by_program())
        app(args=list(args), prog_name=f"logpipe {name}")

    return run


def _available(name: str) -> bool:
    return importlib.util.find_spec(COMMANDS[name][0].rsplit(".", 1)[0]) is not None and (
        importlib.util.find_spec(COMMANDS[name][0]) is not None
    )


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="logpipe")
def main() -> None:
    """logpipe: a streaming log pipeline for container platforms.

    Collector (tail container and host logs) -> Kafka -> forwarder ->
    Elasticsearch -> Log API (live tail, search, download, stats) and this CLI.
    """
