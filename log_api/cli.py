"""``logpipe api``: run the Log API Engine (and web page) under uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import ValidationError

from logpipe.errors import ConfigError
from logpipe.logs import setup_logging
from logpipe.settings import log_environment_report, settings_table

app = typer.Typer(help="Run the Log API Engine and web page.", add_completion=False)


@app.callback(invoke_without_command=True)
def main(ctx: typer.Context) -> None:
    """Serve the Log API (run with no subcommand).

    Settings come from LOGPIPE_* environment variables or the YAML file named by
    LOGPIPE_CONFIG; `logpipe api settings` lists them.
    """
    if ctx.invoked_subcommand is None:
        run(host=None, port=None)


@app.command()
def run(
    host: Annotated[str | None, typer.Option(help="Bind address (LOGPIPE_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (LOGPIPE_PORT).")] = None,
) -> None:
    """Serve until SIGTERM/SIGINT."""
    import uvicorn

    from log_api.main import create_app
    from log_api.settings import ApiSettings

    overrides: dict[str, object] = {}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    try:
        settings = ApiSettings(**overrides)  # type: ignore[arg-type]
        setup_logging(settings.log_level, settings.log_format)
        log_environment_report("api", ApiSettings)
        application = create_app(settings)
    except (ValidationError, ConfigError) as exc:
        typer.echo(f"invalid api settings:\n{exc}", err=True)
        raise typer.Exit(2) from None
    uvicorn.run(application, host=settings.host, port=settings.port,
                log_level=settings.log_level.lower(), access_log=False,
                timeout_graceful_shutdown=5)


@app.command()
def settings() -> None:
    """List every setting with its environment variable and default."""
    from log_api.settings import ApiSettings

    for env, default, desc in settings_table(ApiSettings):
        typer.echo(f"{env:34} {default:24} {desc}")


@app.command("hash-token")
def hash_token(token: str) -> None:
    """Print the sha256 of a token, for the tokens file."""
    from logpipe.tokens import hash_token as digest

    typer.echo(digest(token))
