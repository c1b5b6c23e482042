"""``logpipe journald``: follow the systemd journal into Kafka."""

from __future__ import annotations

from typing import Any

import typer

from journald.settings import JournaldSettings
from logpipe.logs import setup_logging
from logpipe.roles import run_until_signalled
from logpipe.settings import log_environment_report, settings_listing, settings_table

app = typer.Typer(add_completion=False, help="Follow the systemd journal into Kafka.")


def _epilog() -> str:
    return "Settings (environment):\n\n" + "\n\n".join(
        f"{env} (default {default}): {desc}" for env, default, desc in
        settings_table(JournaldSettings))


@app.callback(invoke_without_command=True, epilog=_epilog())
def journald(
    ctx: typer.Context,
    journal_file: list[str] = typer.Option([], "--file", help="Read this journal file "
                                           "(repeatable) instead of the system journal."),
    directory: str | None = typer.Option(None, help="Read this journal directory."),
    unit: list[str] = typer.Option([], help="Only this unit (repeatable)."),
    cursor_file: str | None = typer.Option(None, help="Where the cursor is kept."),
    metrics_port: int | None = typer.Option(None, help="Port of /metrics /healthz /readyz."),
) -> None:
    """Ship journal entries (unit, priority, pid, host) as records; resume by cursor.

    `logpipe journald settings` lists the settings.
    """
    if ctx.invoked_subcommand is not None:
        return
    given: dict[str, Any] = {"journal_files": journal_file or None,
                             "journal_directory": directory, "units": unit or None,
                             "cursor_file": cursor_file, "metrics_port": metrics_port}
    try:
        settings = JournaldSettings(**{k: v for k, v in given.items() if v is not None})
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    setup_logging(settings.log_level, settings.log_format)
    from journald.follow import JournaldRole, journal_available

    log_environment_report("journald", JournaldSettings)

    if settings.journald_enabled == "false":
        typer.echo("logpipe journald: disabled (LOGPIPE_JOURNALD_ENABLED=false)", err=True)
        return
    ok, why = journal_available(settings)
    if not ok:
        typer.echo(f"logpipe journald: no journal here ({why}); the source is off", err=True)
        raise typer.Exit(0 if settings.journald_enabled == "auto" else 2)
    role = JournaldRole(settings)
    run_until_signalled("journald", role)


@app.command()
def settings() -> None:
    """List every setting: environment variable, default, meaning."""
    typer.echo(settings_listing(JournaldSettings))
