"""Real validators for the deploy files: helm, compose-go, client-go's strict
decoder and BuildKit's Dockerfile linter, built once and cached.

``tools/build-validators.sh`` builds them from the Go module proxy on a fresh
machine (a few minutes for helm, once) and prints their paths afterwards.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.deploy.chart import Manifests

ROOT = Path(__file__).resolve().parents[2]
# The first run builds helm: longer than the suite's default per-test timeout.
BUILD_TIMEOUT_S = 1500


@dataclass(frozen=True)
class Validators:
    helm: Path
    composecheck: Path
    kubecheck: Path
    dockerfilecheck: Path


@pytest.fixture(scope="session")
def validators() -> Validators:
    try:
        out = subprocess.run(["bash", str(ROOT / "tools" / "build-validators.sh")],
                             check=True, capture_output=True, text=True,
                             timeout=BUILD_TIMEOUT_S)
    except subprocess.CalledProcessError as exc:
        pytest.fail(f"tools/build-validators.sh failed:\n{exc.stderr}")
    except subprocess.TimeoutExpired:
        pytest.fail(f"tools/build-validators.sh took over {BUILD_TIMEOUT_S} s")
    helm, compose, kube, dockerfile = (Path(p) for p in out.stdout.split())
    return Validators(helm, compose, kube, dockerfile)


def clean_env(**extra: str) -> dict[str, str]:
    """Environment without the caller's LOGPIPE_* / compose variables, for repeatable runs."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "TMPDIR", "LANG")}
    return keep | extra



# Rendered once per session for every chart test module. chart.py imports this
# module, hence the imports inside the fixtures.
@pytest.fixture(scope="session")
def default(validators: Validators) -> Manifests:
    """The chart rendered with its default values."""
    from tests.deploy.chart import render
    return render(validators)


@pytest.fixture(scope="session")
def full(validators: Validators) -> Manifests:
    """The chart rendered with values-full.yaml (every optional feature on)."""
    from tests.deploy.chart import FULL, render
    return render(validators, "-f", str(FULL))
