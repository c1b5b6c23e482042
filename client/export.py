"""``logpipe export``: archive jobs for large ranges: create, list, watch, fetch, cancel."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from client.common import (
    AppOpt,
    ContainerOpt,
    ExcludeOpt,
    FieldOpt,
    GrepOpt,
    HasFieldOpt,
    LevelOpt,
    NamespaceOpt,
    NodeOpt,
    PatternOpt,
    PodOpt,
    QueryOpt,
    Selection,
    ServerOpt,
    SinceOpt,
    TokenOpt,
    TraceOpt,
    UntilOpt,
    handle_errors,
)
from client.config import load_settings
from client.errors import ClientError
from client.http import Api
from client.logs import resolve_pods
from client.transfer import save
from logpipe.console import notes

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Create, watch and fetch archive exports (for large ranges).")
ExportFormat = Literal["ndjson.gz", "tar.gz"]
JobArg = Annotated[str, typer.Argument(help="The export's id (printed by create).")]
OutFile = Annotated[Path | None, typer.Option(
    "--output", "-o", help="Where to save the file; default: the server's file name.",
    show_default=False)]
POLL_S = 0.5


def _show(job: dict[str, Any]) -> str:
    done = f"{job['written']:,}" + (f"/{job['total']:,}" if job.get("total") is not None else "")
    text = f"{job['id']}  {job['state']}  {done} entries  {job['format']}"
    if job.get("expires"):
        text += f"  expires {job['expires'][:19]}Z"
    if job.get("error"):
        text += f"  error: {job['error']}"
    return text


def watch_job(api: Api, job_id: str, console: Console) -> dict[str, Any]:
    """Poll until the job leaves ``running``; a progress bar on a terminal."""
    progress = Progress(TextColumn("export {task.fields[job]}"), BarColumn(),
                        MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                        transient=True, disable=not console.is_terminal)
    with progress:
        task = progress.add_task("export", total=None, job=job_id[:8])
        while True:
            job: dict[str, Any] = api.get(f"/exports/{job_id}")
            progress.update(task, completed=job["written"], total=job.get("total"))
            if job["state"] != "running":
                return job
            time.sleep(POLL_S)


def fetch_job(api: Api, job_id: str, output: Path | None) -> None:
    with api.stream(f"/exports/{job_id}/file") as resp:
        save(resp, output, f"logs-{job_id}.ndjson.gz", f"export {job_id[:8]}")


@app.command(help="Start an export of every matching entry; prints its id.")
@handle_errors
def create(
    fmt: Annotated[ExportFormat, typer.Option(
        "--format", "-F", help="ndjson.gz (one file) or tar.gz (one NDJSON file per app).")]
    = "ndjson.gz",
    wait: Annotated[bool, typer.Option(
        "--wait", "-w", help="Watch it, then fetch the file.")] = False,
    output: OutFile = None,
    namespace: NamespaceOpt = None, app_: AppOpt = None, pod: PodOpt = None,
    container: ContainerOpt = None, node: NodeOpt = None, level: LevelOpt = None,
    query: QueryOpt = None, grep: GrepOpt = None, exclude: ExcludeOpt = None,
    since: SinceOpt = None, until: UntilOpt = None, field: FieldOpt = None,
    has_field: HasFieldOpt = None, trace: TraceOpt = None, pattern: PatternOpt = None,
    server: ServerOpt = None, token: TokenOpt = None,
) -> None:
    sel = Selection.from_options(namespace=namespace, app=app_, pod=pod, container=container,
                                 node=node, level=level, query=query, grep=grep,
                                 exclude=exclude, since=since, until=until, fields=field,
                                 has_field=has_field, trace=trace, pattern=pattern)
    console = notes()
    with Api(load_settings(server, token)) as api:
        resolve_pods(api, sel)
        job = api.request("POST", "/exports", [*sel.params(), ("format", fmt)])
        print(job["id"], flush=True)
        if not wait:
            console.print(f"started; follow it with `logpipe export watch {job['id']}`")
            return
        job = watch_job(api, job["id"], console)
        console.print(_show(job))
        if job["state"] != "done":
            raise ClientError(f"export {job['id']} ended {job['state']}"
                              + (f": {job['error']}" if job.get("error") else ""))
        fetch_job(api, job["id"], output)


@app.command(name="list", help="This token's exports, newest first (finished ones until "
             "they expire); one line each: id, state, entries, format, expiry. -o json: "
             "the API's objects, one per line.")
@handle_errors
def list_(
    output: Annotated[Literal["text", "json"], typer.Option(
        "--output", "-o", help="text (one line per job) or json (one object per line).")]
    = "text",
    server: ServerOpt = None, token: TokenOpt = None,
) -> None:
    with Api(load_settings(server, token)) as api:
        jobs: list[dict[str, Any]] = api.get("/exports")["exports"]
    for job in jobs:
        print(orjson.dumps(job).decode() if output == "json" else _show(job))


@app.command(help="Show an export's state once.")
@handle_errors
def status(job_id: JobArg, server: ServerOpt = None, token: TokenOpt = None) -> None:
    with Api(load_settings(server, token)) as api:
        print(_show(api.get(f"/exports/{job_id}")))


@app.command(help="Follow an export's progress until it is done (exit 1 if it failed).")
@handle_errors
def watch(job_id: JobArg, server: ServerOpt = None, token: TokenOpt = None) -> None:
    with Api(load_settings(server, token)) as api:
        job = watch_job(api, job_id, notes())
    print(_show(job))
    if job["state"] != "done":
        raise typer.Exit(1)


@app.command(help="Download a finished export's file.")
@handle_errors
def fetch(job_id: JobArg, output: OutFile = None, server: ServerOpt = None,
          token: TokenOpt = None) -> None:
    with Api(load_settings(server, token)) as api:
        fetch_job(api, job_id, output)


@app.command(help="Cancel a running export, or delete a finished one's file.")
@handle_errors
def cancel(job_id: JobArg, server: ServerOpt = None, token: TokenOpt = None) -> None:
    with Api(load_settings(server, token)) as api:
        job = api.request("DELETE", f"/exports/{job_id}")
    if job["state"] in ("running", "cancelled"):
        print(f"{job['id']} cancelled")
    else:
        print(f"{job['id']} deleted (it was {job['state']})")
