"""The folder rules of docs/architecture.md, checked on the source: the shared base
``logpipe`` imports no program, and no two modules import each other (directly or
round a longer loop). Imports under ``if TYPE_CHECKING:`` count too: a type-only
cycle is still two modules that cannot be read apart."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROGRAMS = ("collector", "forwarder", "log_api", "events", "journald", "kube", "client",
            "stack", "demo", "cli")
PACKAGES = ("logpipe", *PROGRAMS)


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _graph() -> dict[str, set[str]]:
    modules = {_module(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            found: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                found = [a.name for a in node.names]
            targets.update(t for t in found if t in modules and t != name)
        graph[name] = targets
    return graph


def test_the_base_imports_no_program() -> None:
    up = sorted(f"{m} -> {t}" for m, ts in _graph().items() if m.split(".")[0] == "logpipe"
                for t in ts if t.split(".")[0] != "logpipe")
    assert up == []


def test_no_import_cycles() -> None:
    graph = _graph()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert cycles == []


def test_programs_do_not_import_each_other_except_through_the_allowed_seams() -> None:
    # collector and events share kube/ (the API client); the root command and the
    # settings reference (cli/) know every program; the stack starts the demo; the
    # client's tests of the API aside, nothing else crosses between programs.
    allowed = {("collector", "kube"), ("events", "kube"), ("cli", "*"), ("stack", "demo")}
    crossing = sorted(
        f"{m} -> {t}" for m, ts in _graph().items() for t in ts
        if (a := m.split(".")[0]) != (b := t.split(".")[0]) and b != "logpipe"
        and (a, b) not in allowed and (a, "*") not in allowed)
    assert crossing == []
