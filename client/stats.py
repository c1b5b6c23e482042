"""``logpipe stats levels|apps|histogram``: the API's exact statistics as tables with
bars in the terminal, or as JSON (``-o json``) for scripts."""

from __future__ import annotations

import sys
from typing import Annotated, Any, Literal

import orjson
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from client.charts import LEVEL_STYLE, bar, human_bytes, legend, level_bar
from client.common import (
    AppOpt,
    ContainerOpt,
    FieldOpt,
    HasFieldOpt,
    LevelOpt,
    NamespaceOpt,
    NodeOpt,
    PatternOpt,
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
from client.http import Api

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Level ratio, app share, volume histogram and log patterns (exact counts).")
StatsOutput = Literal["table", "json"]
OutputOpt = Annotated[StatsOutput, typer.Option(
    "--output", "-o", help="table (with bars) or json (the API's answer).")]
BAR_WIDTH = 40


def _fetch(path: str, sel: Selection, extra: list[tuple[str, Any]], server: str | None,
           token: str | None) -> Any:
    with Api(load_settings(server, token)) as api:
        return api.get(path, [*sel.params(regex=False), *extra])


def _console() -> Console:
    return Console(highlight=False, soft_wrap=False)


def _dump(body: Any) -> None:
    sys.stdout.write(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode() + "\n")


def _title(sel: Selection, what: str) -> str:
    scope = []
    if sel.namespaces:
        scope.append("namespace " + ",".join(sel.namespaces))
    if sel.apps:
        scope.append("app " + ",".join(sel.apps))
    span = f"since {sel.since}" if sel.since else "all time"
    if sel.until:
        span += f" until {sel.until}"
    return f"{what} ({'; '.join([*scope, span])})"


@app.command(help="Count and share of each level, optionally per app.")
@handle_errors
def levels(
    namespace: NamespaceOpt = None, app_: AppOpt = None, container: ContainerOpt = None,
    node: NodeOpt = None, level: LevelOpt = None, query: QueryOpt = None,
    since: SinceOpt = None, until: UntilOpt = None, field: FieldOpt = None,
    has_field: HasFieldOpt = None, trace: TraceOpt = None, pattern: PatternOpt = None,
    by_app: Annotated[bool, typer.Option("--by-app", help="One row per app too.")] = False,
    output: OutputOpt = "table", server: ServerOpt = None, token: TokenOpt = None,
) -> None:
    sel = Selection.from_options(namespace=namespace, app=app_, container=container, node=node,
                                 level=level, query=query, since=since, until=until,
                                 fields=field, has_field=has_field, trace=trace,
                                 pattern=pattern)
    body = _fetch("/stats/levels", sel, [("by_app", by_app)], server, token)
    if output == "json":
        _dump(body)
        return
    top = max((lv["count"] for lv in body["levels"]), default=0)
    table = Table(title=_title(sel, "Levels"), title_justify="left")
    table.add_column("level")
    table.add_column("entries", justify="right")
    table.add_column("%", justify="right")
    table.add_column("", min_width=BAR_WIDTH)
    for lv in body["levels"]:
        style = LEVEL_STYLE.get(lv["level"], "")
        table.add_row(Text(lv["level"], style=style), f"{lv['count']:,}",
                      f"{lv['percent']:.1f}", Text(bar(lv["count"], top, BAR_WIDTH), style=style))
    table.add_section()
    table.add_row("total", f"{body['total']:,}", "100.0" if body["total"] else "0.0", "")
    console = _console()
    console.print(table)
    if by_app and body.get("by_app"):
        per = Table(title="Levels per app", title_justify="left")
        per.add_column("app")
        per.add_column("entries", justify="right")
        # How much of each app no level was found for: where a level rule would help.
        per.add_column("unknown %", justify="right")
        for lv in body["levels"]:
            per.add_column(lv["level"], justify="right", style=LEVEL_STYLE.get(lv["level"], ""))
        per.add_column("", min_width=BAR_WIDTH // 2)
        most = max(a["total"] for a in body["by_app"])
        for row in body["by_app"]:
            counts = {x["level"]: x["count"] for x in row["levels"]}
            unknown = 100 * counts.get("unknown", 0) / row["total"] if row["total"] else 0.0
            per.add_row(row["app"] or "(none)", f"{row['total']:,}", f"{unknown:.1f}",
                        *(f"{counts.get(lv['level'], 0):,}" for lv in body["levels"]),
                        level_bar(counts, most, BAR_WIDTH // 2))
        console.print(per)


@app.command(help="Share of log volume per app (entries and bytes), top N plus other.")
@handle_errors
def apps(
    namespace: NamespaceOpt = None, app_: AppOpt = None, container: ContainerOpt = None,
    node: NodeOpt = None, level: LevelOpt = None, query: QueryOpt = None,
    since: SinceOpt = None, until: UntilOpt = None, field: FieldOpt = None,
    has_field: HasFieldOpt = None, trace: TraceOpt = None, pattern: PatternOpt = None,
    top: Annotated[int | None, typer.Option("--top", min=1, max=1000,
                                            help="How many apps to name.")] = None,
    output: OutputOpt = "table", server: ServerOpt = None, token: TokenOpt = None,
) -> None:
    sel = Selection.from_options(namespace=namespace, app=app_, container=container, node=node,
                                 level=level, query=query, since=since, until=until,
                                 fields=field, has_field=has_field, trace=trace,
                                 pattern=pattern)
    body = _fetch("/stats/apps", sel, [("top", top)], server, token)
    if output == "json":
        _dump(body)
        return
    rows = list(body["top"]) + ([body["other"]] if body.get("other") else [])
    most = max((r["entries"] for r in rows), default=0)
    table = Table(title=_title(sel, f"App share, {body['apps_total']} apps"),
                  title_justify="left")
    for column, justify in (("app", "left"), ("entries", "right"), ("%", "right"),
                            ("bytes", "right"), ("bytes %", "right")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    table.add_column("", min_width=BAR_WIDTH)
    for i, r in enumerate(rows):
        other = body.get("other") is not None and i == len(rows) - 1
        name = Text("(other apps)", style="italic") if other else Text(r["app"] or "(none)")
        table.add_row(name, f"{r['entries']:,}", f"{r['entries_percent']:.1f}",
                      human_bytes(r["bytes"]), f"{r['bytes_percent']:.1f}",
                      Text(bar(r["entries"], most, BAR_WIDTH), style="cyan"))
    table.add_section()
    table.add_row("total", f"{body['total_entries']:,}", "100.0" if body["total_entries"] else
                  "0.0", human_bytes(body["total_bytes"]), "", "")
    _console().print(table)


@app.command(help="Entries per time bucket, stacked by level.")
@handle_errors
def histogram(
    namespace: NamespaceOpt = None, app_: AppOpt = None, container: ContainerOpt = None,
    node: NodeOpt = None, level: LevelOpt = None, query: QueryOpt = None,
    since: SinceOpt = None, until: UntilOpt = None, field: FieldOpt = None,
    has_field: HasFieldOpt = None, trace: TraceOpt = None, pattern: PatternOpt = None,
    interval: Annotated[str | None, typer.Option(
        "--interval", "-i", help="Bucket width (1m, 5m, 1h, ...); chosen from the range "
        "when absent.", show_default=False)] = None,
    output: OutputOpt = "table", server: ServerOpt = None, token: TokenOpt = None,
) -> None:
    sel = Selection.from_options(namespace=namespace, app=app_, container=container, node=node,
                                 level=level, query=query, since=since, until=until,
                                 fields=field, has_field=has_field, trace=trace,
                                 pattern=pattern)
    body = _fetch("/stats/histogram", sel, [("interval", interval)], server, token)
    if output == "json":
        _dump(body)
        return
    buckets = body["buckets"]
    console = _console()
    if not buckets:
        console.print("no entries in this range")
        return
    most = max(b["total"] for b in buckets)
    table = Table(title=_title(sel, f"Volume per {body['interval']}"), title_justify="left",
                  caption=legend(), caption_justify="left")
    table.add_column("bucket start (UTC)")
    table.add_column("entries", justify="right")
    table.add_column("", min_width=BAR_WIDTH)
    for b in buckets:
        table.add_row(b["start"][:19].replace("T", " "), f"{b['total']:,}",
                      level_bar(b["levels"], most, BAR_WIDTH))
    console.print(table)


@app.command(help="Log patterns: each message with its variable parts masked as <*>, "
             "counted exactly, most frequent first; NEW = not seen in the lookback before "
             "--since.")
@handle_errors
def patterns(
    namespace: NamespaceOpt = None, app_: AppOpt = None, container: ContainerOpt = None,
    node: NodeOpt = None, level: LevelOpt = None, query: QueryOpt = None,
    since: SinceOpt = None, until: UntilOpt = None, field: FieldOpt = None,
    has_field: HasFieldOpt = None, trace: TraceOpt = None, pattern: PatternOpt = None,
    top: Annotated[int, typer.Option("--top", min=1, max=1000,
                                     help="How many patterns to list.")] = 20,
    lookback: Annotated[str, typer.Option(
        "--lookback", help="How far before --since a pattern must be absent to be new.")
    ] = "1d",
    output: OutputOpt = "table", server: ServerOpt = None, token: TokenOpt = None,
) -> None:
    sel = Selection.from_options(namespace=namespace, app=app_, container=container, node=node,
                                 level=level, query=query, since=since, until=until,
                                 fields=field, has_field=has_field, trace=trace,
                                 pattern=pattern)
    body = _fetch("/patterns", sel, [("limit", top), ("lookback", lookback)], server, token)
    if output == "json":
        _dump(body)
        return
    rows = body["patterns"]
    console = _console()
    if not rows:
        console.print("no entries in this range")
        return
    most = max(r["count"] for r in rows)
    title = _title(sel, f"Patterns, {body['patterns_total']:,} in {body['total']:,} entries")
    table = Table(title=title, title_justify="left",
                  caption="filter to one: logpipe logs --pattern <id>", caption_justify="left")
    for column, justify in (("pattern id", "left"), ("entries", "right"), ("%", "right"),
                            ("level", "left"), ("last seen (UTC)", "left"),
                            ("pattern", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    table.add_column("", min_width=BAR_WIDTH // 2)
    for r in rows:
        text = Text(r["pattern"] or "(none)")
        if r.get("new"):
            text = Text.assemble(Text("NEW ", style="bold magenta"), text)
        apps = ", ".join(a["app"] or "(none)" for a in r["apps"][:3])
        table.add_row(r["pattern_id"], f"{r['count']:,}", f"{r['percent']:.1f}",
                      Text(r["level"], style=LEVEL_STYLE.get(r["level"], "")),
                      r["last_seen"][:19].replace("T", " "),
                      Text.assemble(text, Text(f"  [{apps}]", style="dim")),
                      Text(bar(r["count"], most, BAR_WIDTH // 2), style="cyan"))
    if body.get("other"):
        other = body["other"]
        table.add_section()
        table.add_row(Text(f"({other['patterns']:,} more)", style="italic"),
                      f"{other['count']:,}", "", "", "", "", "")
    console.print(table)
