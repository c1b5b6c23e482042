"""Options shared by the client commands (server, token, the common filters) and the
way a command runs: a ClientError becomes one "error: ..." line and exit code 1."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, ParamSpec, TypeVar

import re2  # type: ignore[import-untyped]
import typer

from client.errors import ClientError
from logpipe.levels import LEVELS, Level

P = ParamSpec("P")
T = TypeVar("T")

ServerOpt = Annotated[str | None, typer.Option(
    "--server", "-s", help="Log API URL \\[env LOGPIPE_URL; default http://127.0.0.1:8080].",
    show_default=False)]
TokenOpt = Annotated[str | None, typer.Option(
    "--token", help="Bearer token \\[env LOGPIPE_TOKEN, or token: in the config file].",
    show_default=False)]
NamespaceOpt = Annotated[list[str] | None, typer.Option(
    "--namespace", "-n", help="Namespace (repeatable).", show_default=False)]
AppOpt = Annotated[list[str] | None, typer.Option(
    "--app", "-a", help="App (repeatable).", show_default=False)]
PodOpt = Annotated[str | None, typer.Option(
    "--pod", help="Pods whose name matches this regular expression.", show_default=False)]
ContainerOpt = Annotated[list[str] | None, typer.Option(
    "--container", "-c", help="Container name or id (repeatable).", show_default=False)]
NodeOpt = Annotated[list[str] | None, typer.Option(
    "--node", help="Node (repeatable).", show_default=False)]
LevelOpt = Annotated[str | None, typer.Option(
    "--level", "-l", help="Levels, comma separated (error,fatal), or a minimum: warn+ .",
    show_default=False)]
QueryOpt = Annotated[str | None, typer.Option(
    "--query", "-q", help="Words that must all appear in the message.", show_default=False)]
GrepOpt = Annotated[list[str] | None, typer.Option(
    "--grep", "-g", help="Only messages matching this RE2 regex (repeatable: any).",
    show_default=False)]
ExcludeOpt = Annotated[list[str] | None, typer.Option(
    "--exclude", "-v", help="Drop messages matching this RE2 regex (repeatable).",
    show_default=False)]
SinceOpt = Annotated[str | None, typer.Option(
    "--since", help="Start: relative (30s, 15m, 2h, 7d) or RFC 3339.", show_default=False)]
UntilOpt = Annotated[str | None, typer.Option(
    "--until", help="End (exclusive): relative or RFC 3339.", show_default=False)]
FieldOpt = Annotated[list[str] | None, typer.Option(
    "--field", help="name=value: the line's parsed JSON/logfmt field equals value "
    "(repeatable; nested keys as a.b; one name given twice: either value).",
    show_default=False)]
HasFieldOpt = Annotated[list[str] | None, typer.Option(
    "--has-field", help="Only lines that have this parsed field (repeatable).",
    show_default=False)]
TraceOpt = Annotated[list[str] | None, typer.Option(
    "--trace", help="Trace or request id: every app's lines that carry it (repeatable).",
    show_default=False)]
PatternOpt = Annotated[list[str] | None, typer.Option(
    "--pattern", help="Pattern id, as `logpipe stats patterns` lists them (repeatable).",
    show_default=False)]


def parse_levels(text: str | None) -> tuple[list[str], str | None]:
    """``error,fatal`` -> (levels, None); ``warn+`` -> ([], "warn"). ClientError if unknown."""
    if not text:
        return [], None
    text = text.strip().lower()
    if text.endswith("+"):
        floor = text[:-1]
        if floor not in LEVELS or floor == Level.UNKNOWN:
            raise ClientError(f"--level {text}: {floor!r} is not one of "
                              f"{', '.join(LEVELS[:-1])}")
        return [], floor
    levels = [p.strip() for p in text.split(",") if p.strip()]
    for lv in levels:
        if lv not in LEVELS:
            raise ClientError(f"--level: {lv!r} is not one of {', '.join(LEVELS)} "
                              "(comma separated, or a minimum such as warn+)")
    return levels, None


def parse_fields(given: list[str] | None) -> list[tuple[str, str]]:
    """``--field user=bo`` -> [("user", "bo")]; ClientError without a ``=``."""
    out = []
    for item in given or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ClientError(f"--field {item!r}: write name=value, e.g. --field user=bo")
        out.append((name, value))
    return out


def compile_pod(pattern: str | None) -> Any:
    """The --pod pattern on RE2, as the server reads it, to resolve it to names (logs.py).

    None when RE2 refuses it: the server then gets it as ``pod_regex`` and answers with a
    400 that says why, so the message is the API's own.
    """
    if pattern is None:
        return None
    options = re2.Options()
    options.log_errors = False  # a bad pattern is reported by the server, not on stderr
    try:
        return re2.compile(pattern, options)
    except re2.error:
        return None


@dataclass
class Selection:
    """The filters of one command, as Log API query parameters."""

    namespaces: list[str] = field(default_factory=list)
    apps: list[str] = field(default_factory=list)
    pods: list[str] = field(default_factory=list)  # exact names (resolved from --pod)
    containers: list[str] = field(default_factory=list)
    nodes: list[str] = field(default_factory=list)
    levels: list[str] = field(default_factory=list)
    min_level: str | None = None
    query: str | None = None
    grep: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    since: str | None = None
    until: str | None = None
    pod_regex: str | None = None  # --pod as given: the API's pod_regex filter
    pod_re: Any = None  # the compiled RE2 pattern, to resolve pod_regex to names (logs.py)
    fields: list[tuple[str, str]] = field(default_factory=list)  # field.<name>=<value>
    has_fields: list[str] = field(default_factory=list)
    traces: list[str] = field(default_factory=list)
    patterns: list[str] = field(default_factory=list)

    @classmethod
    def from_options(
        cls, *, namespace: list[str] | None = None, app: list[str] | None = None,
        pod: str | None = None, container: list[str] | None = None,
        node: list[str] | None = None, level: str | None = None, query: str | None = None,
        grep: list[str] | None = None, exclude: list[str] | None = None,
        since: str | None = None, until: str | None = None,
        fields: list[str] | None = None, has_field: list[str] | None = None,
        trace: list[str] | None = None, pattern: list[str] | None = None,
    ) -> Selection:
        levels, min_level = parse_levels(level)
        return cls(list(namespace or []), list(app or []), [], list(container or []),
                   list(node or []), levels, min_level, query, list(grep or []),
                   list(exclude or []), since, until, pod or None, compile_pod(pod),
                   parse_fields(fields), list(has_field or []), list(trace or []),
                   list(pattern or []))

    def params(self, *, regex: bool = True) -> list[tuple[str, str | None]]:
        out: list[tuple[str, str | None]] = []
        for name, values in (("namespace", self.namespaces), ("app", self.apps),
                             ("pod", self.pods), ("container", self.containers),
                             ("node", self.nodes), ("level", self.levels)):
            out.extend((name, v) for v in values)
        out += [("min_level", self.min_level), ("q", self.query),
                ("since", self.since), ("until", self.until)]
        out.extend((f"field.{name}", value) for name, value in self.fields)
        out.extend(("has_field", name) for name in self.has_fields)
        out.extend(("trace", t) for t in self.traces)
        out.extend(("pattern", p) for p in self.patterns)
        if regex:  # statistics refuse every regex filter
            out.append(("pod_regex", self.pod_regex))
            out.extend(("include", g) for g in self.grep)
            out.extend(("exclude", x) for x in self.exclude)
        return out


def fail(message: str, code: int = 1) -> typer.Exit:
    print(f"error: {message}", file=sys.stderr)
    return typer.Exit(code)


def handle_errors(func: Callable[P, T]) -> Callable[P, T]:
    """ClientError -> one line on stderr and exit 1; Ctrl-C -> 130; a closed pipe -> 0."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return func(*args, **kwargs)
        except ClientError as exc:
            raise fail(str(exc), exc.exit_code) from None
        except KeyboardInterrupt:
            raise typer.Exit(130) from None
        except BrokenPipeError:
            # `logpipe logs ... | head`: the reader left; stop quietly like cat does.
            sys.stderr.close()
            raise typer.Exit(0) from None

    return wrapper
