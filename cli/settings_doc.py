"""Print every service's settings as Markdown tables (`python -m cli.settings_doc`).

docs/settings.md's tables come from here (`--write docs/settings.md`, the default
file of ``--write``), and tests/cli/test_docs.py checks that the file matches the
code, so documentation cannot drift from it.
"""

from __future__ import annotations

import importlib
import importlib.util

from pydantic_settings import BaseSettings

from logpipe.settings import CommonSettings, settings_table

# (title, module, class); a part not installed yet is skipped.
SERVICES = [
    ("Shared by all services", "logpipe.settings", "CommonSettings"),
    ("Collector (`logpipe collector`)", "collector.settings", "CollectorSettings"),
    ("Forwarder (`logpipe forwarder`)", "forwarder.settings", "ForwarderSettings"),
    ("Log API (`logpipe api`)", "log_api.settings", "ApiSettings"),
    ("Kubernetes events (`logpipe events`)", "events.settings", "EventsSettings"),
    ("journald (`logpipe journald`)", "journald.settings", "JournaldSettings"),
    ("Command-line client (`logpipe logs`, ...)", "client.config", "ClientSettings"),
]

# Program -> (module, class) of its settings: who reads which LOGPIPE_* variable, for
# the start-up report of logpipe.settings.environment_report.
PROGRAMS = {
    "collector": ("collector.settings", "CollectorSettings"),
    "forwarder": ("forwarder.settings", "ForwarderSettings"),
    "api": ("log_api.settings", "ApiSettings"),
    "events": ("events.settings", "EventsSettings"),
    "journald": ("journald.settings", "JournaldSettings"),
    "client": ("client.config", "ClientSettings"),
    "stack": ("stack.config", "StackSettings"),
}

_COMMON = set(CommonSettings.model_fields)


def _load(module: str, name: str) -> type[BaseSettings] | None:
    if importlib.util.find_spec(module.rsplit(".", 1)[0]) is None:
        return None
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError:
        return None
    cls = getattr(mod, name, None)
    return cls if isinstance(cls, type) and issubclass(cls, BaseSettings) else None


def settings_classes() -> list[tuple[str, type[BaseSettings]]]:
    found = []
    for title, module, name in SERVICES:
        cls = _load(module, name)
        if cls is not None:
            found.append((title, cls))
    return found


def settings_by_program() -> dict[str, type[BaseSettings]]:
    """Every installed program's settings class, by program name."""
    found = {}
    for program, (module, name) in PROGRAMS.items():
        cls = _load(module, name)
        if cls is not None:
            found[program] = cls
    return found


def markdown(title: str, cls: type[BaseSettings]) -> str:
    own = cls is CommonSettings or not issubclass(cls, CommonSettings)
    lines = [f"#### {title}", "", "| environment variable | default | meaning |",
             "| --- | --- | --- |"]
    for (env, default, desc), name in zip(settings_table(cls), cls.model_fields, strict=True):
        if own or name not in _COMMON:
            lines.append(f"| `{env}` | `{default}` | {desc.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


BEGIN, END = "<!-- settings:begin -->", "<!-- settings:end -->"


def all_tables() -> str:
    return "\n".join(markdown(title, cls) for title, cls in settings_classes())


DOC = "docs/settings.md"


def with_tables(text: str) -> str:
    """``text`` with what lies between the settings markers replaced by the tables."""
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{all_tables()}{END}{tail}"


if __name__ == "__main__":
    import sys

    if sys.argv[1:2] == ["--write"]:
        path = sys.argv[2] if len(sys.argv) > 2 else DOC
        with open(path) as f:
            text = f.read()
        with open(path, "w") as f:
            f.write(with_tables(text))
    else:
        print(all_tables())
