"""Dockerfile: BuildKit's own checks (``docker build --check``, run offline), plus
what the image promises: every role from one entrypoint, a non-root user, and a
build context that holds every package the project ships."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.deploy.conftest import BUILD_TIMEOUT_S, ROOT, Validators, clean_env

pytestmark = pytest.mark.timeout(BUILD_TIMEOUT_S + 120)

DOCKERFILE = ROOT / "Dockerfile"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", text)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def final_stage() -> list[tuple[str, str]]:
    steps = instructions(DOCKERFILE.read_text())
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


def check(v: Validators, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(v.dockerfilecheck), str(path)], capture_output=True, text=True,
                          timeout=60, env=clean_env())


def test_buildkit_checks_pass(validators: Validators) -> None:
    res = check(validators, DOCKERFILE)
    assert res.returncode == 0, res.stderr
    assert "fetch" not in res.stderr  # offline: base images are never looked up


def test_buildkit_checks_catch_a_bad_dockerfile(validators: Validators, tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:3.12-slim as build\nENTRYPOINT logpipe\n")
    res = check(validators, bad)
    assert res.returncode == 1
    assert "FromAsCasing" in res.stderr and "JSONArgsRecommended" in res.stderr


def test_final_stage_is_slim_non_root_with_the_logpipe_entrypoint() -> None:
    steps = final_stage()
    assert re.fullmatch(r"python:\$\{PYTHON_VERSION\}-slim-\w+ AS runtime", steps[0][1])
    users = [arg for word, arg in steps if word == "USER"]
    assert users and not users[-1].startswith(("0", "root"))
    assert ("ENTRYPOINT", '["logpipe"]') in steps
    # Only the built venv comes over from the build stage: no compilers, no sources.
    copies = [arg for word, arg in steps if word == "COPY"]
    assert copies == ["--from=build /opt/logpipe /opt/logpipe"]
    assert any(word == "FROM" and "AS build" in arg
               for word, arg in instructions(DOCKERFILE.read_text()))


def _dockerignore_allows(path: str) -> bool:
    """.dockerignore semantics for our patterns: the last matching line decides."""
    allowed = True
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line.lstrip("!").rstrip("/")
        regex = re.escape(pattern).replace(r"\*\*", ".*").replace(r"\*", "[^/]*")
        # A pattern naming a folder also covers everything below it.
        if re.fullmatch(f"{regex}(/.*)?", path):
            allowed = negate
    return allowed


def test_build_context_holds_every_package_and_copied_file() -> None:
    steps = instructions(DOCKERFILE.read_text())
    sources = [s for word, arg in steps if word == "COPY" and not arg.startswith("--from")
               for s in arg.split()[:-1]]
    for src in sources:
        assert (ROOT / src).exists(), f"COPY {src}: not in the repository"
        assert _dockerignore_allows(src), f"COPY {src}: excluded by .dockerignore"
    assert not _dockerignore_allows("tests/conftest.py")
    assert not _dockerignore_allows("logpipe/__pycache__/cli.cpython-311.pyc")
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]
                ["include"]}
    assert packages <= set(sources), "a package in pyproject.toml is not copied into the image"


def test_final_stage_installs_journalctl_for_the_journald_role() -> None:
    runs = " ".join(args for word, args in final_stage() if word == "RUN")
    assert re.search(r"apt-get install\b[^;&]*\bsystemd\b", runs)
