"""``logpipe audit``: did everything arrive? The API's completeness audit as tables
(per node, per stream with its gaps) or JSON; exits 3 when it is not complete, so a
script or a cron job can alert on it."""

from __future__ import annotations

import sys
from typing import Annotated, Any, Literal

import orjson
import typer
from rich.console import Console
from rich.table import Table

from client.common import AppOpt, NamespaceOpt, NodeOpt, ServerOpt, TokenOpt, handle_errors
from client.config import load_settings
from client.http import Api

app = typer.Typer(add_completion=False, help=__doc__)
NOT_COMPLETE = 3


def _n(value: int) -> str:
    return f"{value:,}"


def render(body: dict[str, Any], console: Console, all_streams: bool) -> None:
    verdict = "[green]complete[/]" if body["complete"] else "[red]NOT complete[/]"
    lag = body["forwarder_lag"]
    console.print(f"{body['since']} .. {body['until']}: {verdict} - "
                  f"{_n(body['acked'])} acknowledged by Kafka, {_n(body['indexed'])} in "
                  f"Elasticsearch, {_n(body['dead_lettered'])} dead-lettered, "
                  f"{_n(body['in_flight'])} in flight (forwarder lag "
                  f"{'unknown' if lag is None else _n(lag)}), {_n(body['missing'])} missing, "
                  f"{_n(body['gap_bytes'])} bytes never read")
    nodes = Table(title="Per node", title_justify="left")
    for col in ("node", "streams", "acked", "indexed", "dead-lettered", "unaccounted",
                "bytes never read"):
        nodes.add_column(col, justify="left" if col == "node" else "right")
    for n in body["nodes"]:
        nodes.add_row(n["node"], _n(n["streams"]), _n(n["acked"]), _n(n["indexed"]),
                      _n(n["dead_lettered"]), _n(n["unaccounted"]), _n(n["gap_bytes"]))
    console.print(nodes)
    if body["gaps"]:
        gaps = Table(title="Gaps by cause", title_justify="left")
        for col in ("kind", "cause", "count", "bytes", "example"):
            gaps.add_column(col)
        for g in body["gaps"]:
            gaps.add_row(g["kind"], g["cause"], _n(g["count"]), _n(g["bytes"]), g["detail"])
        console.print(gaps)
    rows = [s for s in body["streams"]
            if all_streams or s["unaccounted"] or s["gaps"] or s["dead_lettered"]]
    if rows:
        streams = Table(title="Streams" if all_streams else "Streams with a difference",
                        title_justify="left")
        for col in ("node", "namespace", "app", "path", "acked", "indexed", "dead",
                    "unaccounted", "gaps"):
            streams.add_column(col)
        for s in rows:
            gap_text = ", ".join(f"{g['cause']} {_n(g['bytes']) + ' B ' if g['bytes'] else ''}"
                                 f"x{g['count']}" for g in s["gaps"])
            streams.add_row(s["node"], s["namespace"] or "", s["app"] or "", s["path"],
                            _n(s["acked"]), _n(s["indexed"]), _n(s["dead_lettered"]),
                            _n(s["unaccounted"]), gap_text)
        console.print(streams)


@app.command(help="Compare what the collectors read with what Elasticsearch holds, per node "
                  "and per file, over a time range; list every gap with its cause. Exit code "
                  "3 when not complete.")
@handle_errors
def audit(
    since: Annotated[str, typer.Option("--since", help="Start: 1h, 30m, RFC 3339.")] = "1h",
    until: Annotated[str | None, typer.Option("--until", help="End (default now).")] = None,
    namespace: NamespaceOpt = None, node: NodeOpt = None, app_: AppOpt = None,
    all_streams: Annotated[bool, typer.Option(
        "--all", help="List every stream, not only those with a difference.")] = False,
    output: Annotated[Literal["table", "json"], typer.Option(
        "--output", "-o", help="table or json (the API's answer).")] = "table",
    server: ServerOpt = None, token: TokenOpt = None,
) -> None:
    params: list[tuple[str, Any]] = [("since", since), ("until", until)]
    params += [("namespace", n) for n in namespace or []]
    params += [("node", n) for n in node or []]
    params += [("app", a) for a in app_ or []]
    with Api(load_settings(server, token)) as api:
        body = api.get("/audit", params)
    if output == "json":
        sys.stdout.write(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        # Piped (a script, a cron mail): no terminal width to fit, so nothing is cut.
        render(body, Console(highlight=False, soft_wrap=False,
                             width=None if sys.stdout.isatty() else 1000), all_streams)
    if not body["complete"]:
        raise typer.Exit(NOT_COMPLETE)
