"""`logpipe forwarder` (run) and `logpipe forwarder janitor` (retention)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from pydantic import ValidationError

from forwarder.settings import ForwarderSettings
from logpipe.settings import settings_listing, settings_table


def _epilog() -> str:
    rows = settings_table(ForwarderSettings)
    return "Settings (environment, default):\n\n" + "\n\n".join(
        f"{env} = {default}: {desc}" for env, default, desc in rows)


app = typer.Typer(
    help="Run the forwarder: Kafka logs topic -> daily Elasticsearch indices, idempotent, "
    "with a dead-letter topic. Any number of forwarders share the work as one consumer group.",
    epilog=_epilog(),
    invoke_without_command=True,
)

Bootstrap = Annotated[str | None, typer.Option(help="Kafka bootstrap servers.")]
Topic = Annotated[str | None, typer.Option(help="Logs topic.")]
EsUrl = Annotated[str | None, typer.Option(help="Elasticsearch URL(s), comma separated.")]
Prefix = Annotated[str | None, typer.Option(help="Index prefix (<prefix>-YYYY.MM.DD).")]


def load_settings(**overrides: Any) -> ForwarderSettings:
    """Environment and config file, with command-line options (when given) on top."""
    try:
        return ForwarderSettings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        typer.echo(f"error: invalid settings:\n{exc}", err=True)
        raise typer.Exit(2) from None


@app.callback()
def run(
    ctx: typer.Context,
    kafka_bootstrap: Bootstrap = None,
    topic: Topic = None,
    es_url: EsUrl = None,
    index_prefix: Prefix = None,
    group: Annotated[str | None, typer.Option(help="Consumer group.")] = None,
    metrics_port: Annotated[int | None, typer.Option(help="Port of /metrics.")] = None,
) -> None:
    """Consume the logs topic and index into Elasticsearch until SIGTERM/SIGINT."""
    if ctx.invoked_subcommand is not None:
        ctx.obj = dict(kafka_bootstrap=kafka_bootstrap, kafka_topic=topic, es_url=es_url,
                       index_prefix=index_prefix, consumer_group=group,
                       metrics_port=metrics_port)
        return
    from forwarder.app import main

    raise typer.Exit(main(load_settings(
        kafka_bootstrap=kafka_bootstrap, kafka_topic=topic, es_url=es_url,
        index_prefix=index_prefix, consumer_group=group, metrics_port=metrics_port)))


@app.command()
def janitor(
    ctx: typer.Context,
    days: Annotated[int | None, typer.Option(
        help="Delete daily indices older than this many days (default LOGPIPE_RETENTION_DAYS).",
    )] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Only list what would be deleted.")] = False,
) -> None:
    """One retention pass now: list the daily indices and delete the expired ones."""
    from forwarder.app import make_es
    from forwarder.janitor import Janitor
    from logpipe.logs import setup_logging

    s = load_settings(**(ctx.obj or {}))
    setup_logging(s.log_level, s.log_format)
    keep = days if days is not None else s.retention_days
    if keep < 1:
        typer.echo("error: retention is off (LOGPIPE_RETENTION_DAYS=0); pass --days N",
                   err=True)
        raise typer.Exit(2)
    es = make_es(s)
    try:
        verdicts = Janitor(es, s.index_prefix, keep, dry_run or s.janitor_dry_run).run_once()
    finally:
        es.close()
    verb = "would delete" if dry_run or s.janitor_dry_run else "deleted"
    for v in verdicts:
        typer.echo(f"{v.index}\t{verb if v.delete else 'kept'}")


@app.command()
def settings() -> None:
    """List every setting: environment variable, default, meaning."""
    typer.echo(settings_listing(ForwarderSettings))
