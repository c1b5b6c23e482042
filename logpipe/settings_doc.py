"""Print every service's settings as Markdown tables (`python -m logpipe.settings_doc`).

The README's configuration tables come from here, and a test checks that the README
names every setting, so documentation cannot drift from the code.
"""

from __future__ import annotations

import importlib
import importlib.util

from pydantic_settings import BaseSettings

from logpipe.settings import CommonSettings, settings_table

# (title, module, class); a part not installed yet is skipped.
SERVICES = [
    ("Shared by all services", "logpipe.settings", "CommonSettings"),
    ("Collector", "collector.settings", "CollectorSettings"),
    ("Forwarder", "forwarder.settings", "ForwarderSettings"),
    ("Log API", "log_api.settings", "ApiSettings"),
    ("Kubernetes events", "collector.kube.config", "EventsSettings"),
    ("journald", "collector.journald.settings", "JournaldSettings"),
    ("Local stack", "logpipe.stack.config", "StackSettings"),
]

_COMMON = set(CommonSettings.model_fields)


def settings_classes() -> list[tuple[str, type[BaseSettings]]]:
    found = []
    for title, module, name in SERVICES:
        if importlib.util.find_spec(module.rsplit(".", 1)[0]) is None:
            continue
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError:
            continue
        cls = getattr(mod, name, None)
        if isinstance(cls, type) and issubclass(cls, BaseSettings):
            found.append((title, cls))
    return found


def markdown(title: str, cls: type[BaseSettings]) -> str:
    own = cls is CommonSettings or not issubclass(cls, CommonSettings)
    lines = [f"#### {title}", "", "| environment variable | default | meaning |",
             "| --- | --- | --- |"]
    for (env, default, desc), name in zip(settings_table(cls), cls.model_fields, strict=True):
        if own or name not in _COMMON:
            lines.append(f"| `{env}` | `{default}` | {desc.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    for title, cls in settings_classes():
        print(markdown(title, cls))
