"""`services up` reuses a running service started with the same spec and restarts one
started with another (the demo collector after `--real-logs`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from stack import local
from stack.config import StackSettings
from stack.proc import alive
from stack.services import Service, ServiceSpec, needs_restart, start_all, stop_all
from tests.conftest import Servers, free_port


def test_the_restart_decision() -> None:
    spec = ServiceSpec("collector", "collector", ["collector", "run"], {"LOGPIPE_A": "1"})
    same = {"args": ["collector", "run"], "env": {"LOGPIPE_A": "1"}}
    assert spec.saved_form() == same
    assert not needs_restart(True, same, spec)
    assert needs_restart(True, {"args": ["collector", "run"], "env": {"LOGPIPE_A": "2"}}, spec)
    assert needs_restart(True, {"args": ["collector"], "env": {"LOGPIPE_A": "1"}}, spec)
    assert needs_restart(True, None, spec)  # started before specs were kept: unknown
    assert not needs_restart(False, None, spec)  # not running: a plain start


def test_real_logs_changes_the_collector_and_drops_the_demo(tmp_path: Path) -> None:
    settings = StackSettings(home=tmp_path)
    demo = {spec.name: spec for spec in local.specs(settings)}
    real = {spec.name: spec for spec in local.specs(settings, real_logs=True)}
    assert list(demo) == ["demo", "collector", "forwarder", "api"]
    assert list(real) == ["collector", "forwarder", "api"]
    assert demo["demo"] == local.demo_spec(settings)
    assert demo["demo"].args[:3] == ["demo", "--out", f"{tmp_path}/services/demo-logs"]
    assert demo["collector"].env["LOGPIPE_DOCKER_ROOT"] == (
        f"{tmp_path}/services/demo-logs/docker/containers")
    assert real["collector"].env["LOGPIPE_DOCKER_ROOT"] == "/var/lib/docker/containers"
    assert real["collector"].env["LOGPIPE_CRI_ROOT"] == "/var/log/pods"
    assert real["collector"].env["LOGPIPE_HOST_ROOT"] == "/var/log"
    saved = demo["collector"].saved_form()
    assert needs_restart(True, saved, real["collector"])
    for name in ("forwarder", "api"):  # unchanged: reused, not restarted
        assert not needs_restart(True, demo[name].saved_form(), real[name])


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


@pytest.mark.timeout(180)
def test_a_running_collector_is_restarted_when_its_spec_changes(
        servers: Servers, topic: str, ledger_topic: str, tmp_path: Path) -> None:
    port = free_port()

    def collector(root: Path) -> ServiceSpec:
        for sub in ("containers", "pods", "log"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        return ServiceSpec("collector", "collector", ["collector", "run"], {
            "LOGPIPE_KAFKA_BOOTSTRAP": servers.kafka_bootstrap,
            "LOGPIPE_KAFKA_TOPIC": topic,
            "LOGPIPE_LEDGER_TOPIC": ledger_topic,
            "LOGPIPE_DOCKER_ROOT": str(root / "containers"),
            "LOGPIPE_CRI_ROOT": str(root / "pods"),
            "LOGPIPE_HOST_ROOT": str(root / "log"),
            "LOGPIPE_POD_METADATA": "false",
            "LOGPIPE_STATE_DIR": str(tmp_path / "state"),
            "LOGPIPE_METRICS_HOST": "127.0.0.1",
            "LOGPIPE_METRICS_PORT": str(port),
        }, f"http://127.0.0.1:{port}/healthz")

    home = tmp_path / "services"
    demo, real = collector(tmp_path / "demo-logs"), collector(tmp_path / "real")
    try:
        (first,), restarted = start_all(home, [demo])
        assert restarted == []
        pid = first.pid
        assert pid is not None
        assert _environ(pid)["LOGPIPE_DOCKER_ROOT"] == str(tmp_path / "demo-logs/containers")

        (again,), restarted = start_all(home, [demo])  # same spec: the same process
        assert (again.pid, restarted) == (pid, [])

        (moved,), restarted = start_all(home, [real])  # `services up --real-logs`
        assert restarted == ["collector"]
        new_pid = moved.pid
        assert new_pid is not None and new_pid != pid
        assert not alive(pid, "logpipe collector")
        assert _environ(new_pid)["LOGPIPE_DOCKER_ROOT"] == str(tmp_path / "real/containers")
        assert moved.saved_spec() == real.saved_form()

        # A copy started before specs were kept is restarted too: its folders are unknown.
        moved.specfile.unlink()
        (unknown,), restarted = start_all(home, [real])
        assert restarted == ["collector"] and unknown.pid not in (None, new_pid)
        assert not alive(new_pid, "logpipe collector")
    finally:
        stopped = stop_all(home, [real])
    assert stopped == ["collector"]
    assert Service(home / "collector", real).pid is None
    assert not (home / "collector" / "collector.spec.json").exists()
