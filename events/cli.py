"""``logpipe events``: watch Kubernetes Events into Kafka."""

from __future__ import annotations

from typing import Any

import typer

from events.settings import EventsSettings
from logpipe.errors import LogpipeError
from logpipe.logs import setup_logging
from logpipe.roles import run_until_signalled
from logpipe.settings import log_environment_report, settings_listing, settings_table

app = typer.Typer(add_completion=False, help="Watch Kubernetes Events into Kafka (one "
                  "replica, or several with --leader-election).")


def _epilog() -> str:
    return "Settings (environment):\n\n" + "\n\n".join(
        f"{env} (default {default}): {desc}" for env, default, desc in
        settings_table(EventsSettings))


@app.callback(invoke_without_command=True, epilog=_epilog())
def events(
    ctx: typer.Context,
    kubeconfig: str | None = typer.Option(None, help="kubeconfig file (else in-cluster)."),
    state_file: str | None = typer.Option(None, help="Where the resourceVersion is kept."),
    leader_election: bool | None = typer.Option(None, help="Campaign for the Lease first."),
    metrics_port: int | None = typer.Option(None, help="Port of /metrics /healthz /readyz."),
) -> None:
    """Watch Events (all namespaces) and produce one record per event to Kafka.

    `logpipe events settings` lists the settings.
    """
    if ctx.invoked_subcommand is not None:
        return
    given: dict[str, Any] = {"kubeconfig": kubeconfig, "state_file": state_file,
                             "leader_election": leader_election, "metrics_port": metrics_port}
    overrides = {k: v for k, v in given.items() if v is not None}
    try:
        settings = EventsSettings(**overrides)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    setup_logging(settings.log_level, settings.log_format)
    from events.shipper import EventsRole

    log_environment_report("events", EventsSettings)

    try:
        role = EventsRole(settings)
    except LogpipeError as exc:
        typer.echo(f"logpipe events: {exc}", err=True)
        raise typer.Exit(2) from None
    run_until_signalled("events", role)


@app.command()
def settings() -> None:
    """List every setting: environment variable, default, meaning."""
    typer.echo(settings_listing(EventsSettings))
