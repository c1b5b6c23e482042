"""``logpipe download``: every matching entry into a file, streamed by the API in
constant memory (NDJSON, kubectl-style text or CSV, optionally gzip)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

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
from client.transfer import resume_point, save
from logpipe.console import notes

app = typer.Typer(add_completion=False)
DownloadFormat = Literal["ndjson", "text", "csv"]


@app.command(help="Download every matching entry to a file, with a progress bar.\n\n"
             "--pod is resolved to the matching pod names present in the range.")
@handle_errors
def download(
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="File to write ('-' = stdout); default: the server's file "
        "name in the current folder.", show_default=False)] = None,
    fmt: Annotated[DownloadFormat, typer.Option(
        "--format", "-F", help="ndjson, text (kubectl logs style) or csv.")] = "ndjson",
    gzip: Annotated[bool, typer.Option("--gzip", "-z", help="Compressed by the server.")]
    = False,
    timestamps: Annotated[bool, typer.Option(
        "--timestamps", help="text: prefix each line with its time.")] = False,
    prefix: Annotated[bool, typer.Option(
        "--prefix", help="text: prefix each line with \\[namespace/pod/container].")] = False,
    limit: Annotated[int | None, typer.Option(
        "--limit", min=1, help="Stop after this many entries.", show_default=False)] = None,
    newest_first: Annotated[bool, typer.Option(
        "--newest-first", help="Newest entries first (default oldest first).")] = False,
    namespace: NamespaceOpt = None, app_: AppOpt = None, pod: PodOpt = None,
    container: ContainerOpt = None, node: NodeOpt = None, level: LevelOpt = None,
    query: QueryOpt = None, grep: GrepOpt = None, exclude: ExcludeOpt = None,
    since: SinceOpt = None, until: UntilOpt = None, field: FieldOpt = None,
    has_field: HasFieldOpt = None, trace: TraceOpt = None, pattern: PatternOpt = None,
    resume: Annotated[bool, typer.Option(
        "--resume", help="Continue an incomplete download: -o names the file whose .part the "
        "broken one left; the same filters and format as the first run.")] = False,
    server: ServerOpt = None, token: TokenOpt = None,
) -> None:
    sel = Selection.from_options(namespace=namespace, app=app_, pod=pod, container=container,
                                 node=node, level=level, query=query, grep=grep,
                                 exclude=exclude, since=since, until=until, fields=field,
                                 has_field=has_field, trace=trace, pattern=pattern)
    settings = load_settings(server, token)
    point = None
    if resume:
        if output is None or str(output) == "-" or output.is_dir():
            raise ClientError("--resume needs -o FILE: the file whose FILE.part was left")
        part = output.with_name(output.name + ".part")
        if not part.exists():
            raise ClientError(f"--resume: {part} does not exist")
        point = resume_point(part, fmt, gzip)
    ext = {"ndjson": "ndjson", "text": "log", "csv": "csv"}[fmt] + (".gz" if gzip else "")
    with Api(settings) as api:
        resolve_pods(api, sel)
        label = "downloading"
        if not sel.grep and not sel.exclude and point is None:
            total = api.get("/search", [*sel.params(), ("size", 1)]).get("total")
            if total is not None:
                shown = min(total, limit) if limit else total
                label = f"{shown:,} entries"
        params = [*sel.params(), ("format", fmt), ("gzip", gzip), ("timestamps", timestamps),
                  ("prefix", prefix), ("limit", limit),
                  ("order", "newest" if newest_first else "oldest"),
                  ("resume", point.cursor if point else None)]
        with api.stream("/download", params) as resp:
            cap = resp.headers.get("x-logpipe-cap")
            if cap and (limit is None or int(cap) < limit):
                notes().print(
                    f"note: the server stops downloads at {int(cap):,} entries; when more "
                    "match, the file ends with a notice line (use `logpipe export` for "
                    "everything)")
            save(resp, output, f"logs.{ext}", label, resumable=True, resume=point)
