"""``logpipe logs``: print matching entries (oldest first), or follow them live.

History is one NDJSON stream from the download endpoint, so any range prints in
constant memory; ``--tail N`` reads the newest N through the search cursor and prints
them in time order.
``--pod`` is a regular expression the server applies (the API's ``pod_regex``), so
``--tail N`` and the follow back-fill hold N matching entries and newly started pods are
picked up while following. For history it is first resolved to the matching pod names
present in the range when there are few: exact names are an Elasticsearch filter, which
keeps totals known and large ranges fast.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Annotated, Any

import orjson
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
from client.follow import follow
from client.http import Api
from client.render import ColourMode, OutputFormat, Renderer, highlighter, want_colour

app = typer.Typer(add_completion=False, no_args_is_help=False)

PAGE = 1000  # entries per search request for --tail (the API's default maximum)
MAX_RESOLVED_PODS = 100  # the API's limit of values per list filter
DEFAULT_SINCE = "1h"
# --trace without a range: a request is short, but may be days old when someone asks.
DEFAULT_TRACE_SINCE = "7d"
DEFAULT_FOLLOW_BACKFILL = 10


def resolve_pods(api: Api, sel: Selection) -> None:
    """Turn the --pod regex into exact pod names present in the range, when few enough.

    Otherwise (too many names, or a pattern only RE2 reads) the server filters with
    ``pod_regex``.
    """
    if sel.pod_re is None:
        return
    params = [*sel.params(regex=False), ("field", "pod")]
    body = api.get("/fields", params)
    names = [v["value"] for v in body["fields"].get("pod", []) if sel.pod_re.search(v["value"])]
    if body.get("truncated") or len(names) > MAX_RESOLVED_PODS:
        return  # too many to name: the server's pod_regex filters
    # No pod matches: an impossible name keeps the query honest (prints nothing).
    sel.pods = names or ["\x00no-pod-matches"]
    sel.pod_regex = None


def history(api: Api, sel: Selection, tail: int | None) -> Iterator[dict[str, Any]]:
    """Matching entries in time order (oldest first)."""
    params = sel.params()
    if tail is not None:
        newest: list[dict[str, Any]] = []
        cursor: str | None = None
        while len(newest) < tail:
            page = api.get("/search", [*params, ("order", "newest"),
                                       ("size", min(PAGE, tail - len(newest))),
                                       ("cursor", cursor)])
            newest.extend(page["entries"])
            cursor = page.get("next_cursor")
            if not cursor:
                break
        yield from reversed(newest[:tail])
        return
    # The whole range: one NDJSON stream from the download endpoint (the server pages
    # through Elasticsearch in constant memory) instead of a request per page.
    with api.stream("/download", [*params, ("format", "ndjson"), ("order", "oldest")]) as resp:
        for line in resp.iter_lines():
            if not line:
                continue
            entry = orjson.loads(line)
            if "id" not in entry and "notice" in entry:
                # The server stopped early (its download cap): say so, never silently.
                print(f"logpipe: {entry['notice']}", file=sys.stderr, flush=True)
                continue
            yield entry


@app.command(help="Print or follow logs, like kubectl logs / stern.\n\n"
             "Without --since, --until or --tail it prints the last hour (with --trace: "
             "the last 7 days). With -f it prints the last 10 entries (or --tail N), "
             "then follows.")
@handle_errors
def logs(
    namespace: NamespaceOpt = None, app_: AppOpt = None, pod: PodOpt = None,
    container: ContainerOpt = None, node: NodeOpt = None, level: LevelOpt = None,
    query: QueryOpt = None, grep: GrepOpt = None, exclude: ExcludeOpt = None,
    since: SinceOpt = None, until: UntilOpt = None,
    field: FieldOpt = None, has_field: HasFieldOpt = None, trace: TraceOpt = None,
    pattern: PatternOpt = None,
    tail: Annotated[int | None, typer.Option(
        "--tail", "-t", min=0, help="Only the newest N entries (with -f: the back-fill).",
        show_default=False)] = None,
    follow_: Annotated[bool, typer.Option(
        "--follow", "-f", help="Keep printing new entries as they arrive.")] = False,
    timestamps: Annotated[bool, typer.Option(
        "--timestamps", help="Prefix each line with the entry's time (RFC 3339).")] = False,
    output: Annotated[OutputFormat, typer.Option(
        "--output", "-o", help="text (\\[ns/pod/container] LEVEL message; a JSON/logfmt "
        "line as its message and compact key=value fields), raw (the line as written) or "
        "json (one entry per line).")] = "text",
    colour: Annotated[ColourMode, typer.Option(
        "--color", help="Colour by level and pod: auto = only on a terminal.")] = "auto",
    prefix: Annotated[bool, typer.Option(
        "--prefix/--no-prefix", help="text: show \\[namespace/pod/container].")] = True,
    server: ServerOpt = None, token: TokenOpt = None,
) -> None:
    sel = Selection.from_options(namespace=namespace, app=app_, pod=pod, container=container,
                                 node=node, level=level, query=query, grep=grep,
                                 exclude=exclude, since=since, until=until, fields=field,
                                 has_field=has_field, trace=trace, pattern=pattern)
    out = sys.stdout
    renderer = Renderer(output, timestamps=timestamps, colour=want_colour(colour, out),
                        prefix=prefix, highlight=highlighter(sel.grep))
    settings = load_settings(server, token)
    if follow_:
        # Reads block between heartbeats (15 s by default): allow several before giving up.
        with Api(settings, read_timeout=max(settings.timeout_s, 60.0)) as api:

            def emit(entry: dict[str, Any]) -> None:
                out.write(renderer.line(entry) + "\n")
                out.flush()

            def note(text: str) -> None:
                print(renderer.notice(text), file=sys.stderr, flush=True)

            backfill = DEFAULT_FOLLOW_BACKFILL if tail is None else tail
            follow(api, sel.params(), backfill, emit, note)
        return
    if sel.since is None and sel.until is None and tail is None:
        sel.since = DEFAULT_TRACE_SINCE if sel.traces else DEFAULT_SINCE
    with Api(settings) as api:
        resolve_pods(api, sel)
        write = out.write
        for entry in history(api, sel, tail):
            write(renderer.line(entry) + "\n")
        out.flush()
