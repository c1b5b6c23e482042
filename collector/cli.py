"""``logpipe collector``: run the per-node agent, or print its settings."""

from __future__ import annotations

import logging
import signal
from types import FrameType

import typer
from pydantic import ValidationError

from logpipe.logs import setup_logging
from logpipe.settings import log_environment_report, settings_table

app = typer.Typer(help="Tail container and host logs into Kafka, losing nothing.",
                  no_args_is_help=False, add_completion=False)
log = logging.getLogger("collector")


@app.callback(invoke_without_command=True)
def main(ctx: typer.Context) -> None:
    """Tail Docker json-file, CRI and host logs into Kafka (run with no subcommand).

    Settings come from LOGPIPE_* environment variables or the YAML file named by
    LOGPIPE_CONFIG; `logpipe collector settings` lists them.
    """
    if ctx.invoked_subcommand is None:
        run()


@app.command()
def run() -> None:
    """Run the collector until SIGTERM/SIGINT."""
    from collector.agent import Agent
    from collector.settings import CollectorSettings
    from logpipe.errors import ConfigError
    from logpipe.health import HealthServer

    try:
        settings = CollectorSettings()
    except ValidationError as exc:
        typer.echo(f"invalid collector settings:\n{exc}", err=True)
        raise typer.Exit(2) from None
    setup_logging(settings.log_level, settings.log_format)
    log_environment_report("collector", CollectorSettings)
    try:
        agent = Agent(settings)
    except ConfigError as exc:  # LOGPIPE_POD_METADATA=true without usable credentials
        typer.echo(f"invalid collector settings: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        health = HealthServer(settings.metrics_host, settings.metrics_port, live=agent.live,
                              ready=agent.ready, registry=agent.metrics.registry).start()
    except OSError as exc:
        typer.echo(f"cannot serve metrics on {settings.metrics_host}:{settings.metrics_port}: "
                   f"{exc}; set LOGPIPE_METRICS_PORT", err=True)
        raise typer.Exit(2) from None

    def _stop(signum: int, frame: FrameType | None) -> None:
        log.info("signal %d: stopping", signum)
        agent.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    log.info("collector started: node=%s topic=%s state=%s metrics=:%d",
             settings.node_name, settings.kafka_topic, settings.state_dir, health.port)
    try:
        agent.run()
    finally:
        health.stop()
        log.info("collector stopped")


@app.command()
def settings() -> None:
    """List every setting: environment variable, default, meaning."""
    from collector.settings import CollectorSettings

    for env, default, desc in settings_table(CollectorSettings):
        typer.echo(f"{env}\n    default: {default}\n    {desc}")
