"""The `logpipe events` and `logpipe journald` commands as an operator runs them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from logpipe.delivery import StateFile
from tests.kube.fake_apiserver import FakeApiServer
from tests.kube.fixtures import wait_for
from tests.kube.kafka_util import read_records
from tests.kube.objects import core_event

LOGPIPE = [sys.executable, "-c", "from cli.main import main; main()"]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("LOGPIPE_") and k != "KUBERNETES_SERVICE_HOST"}
    env.update(extra)
    return env


@pytest.mark.integration
def test_events_command_ships_and_stops_cleanly_on_sigterm(
        apiserver: FakeApiServer, kafka_bootstrap: str, topic: str, tmp_path: Path) -> None:
    config = tmp_path / "kubeconfig"
    config.write_text(yaml.safe_dump({
        "current-context": "t",
        "contexts": [{"name": "t", "context": {"cluster": "t", "user": "t"}}],
        "clusters": [{"name": "t", "cluster": {"server": apiserver.url}}],
        "users": [{"name": "t", "user": {"token": apiserver.token}}]}))
    apiserver.put("events", core_event("shop", "from-cli"))
    state = StateFile(tmp_path / "rv")
    proc = subprocess.Popen(
        [*LOGPIPE, "events", "--kubeconfig", str(config), "--state-file", str(state.path),
         "--metrics-port", "0"],
        env=_env(LOGPIPE_KAFKA_BOOTSTRAP=kafka_bootstrap, LOGPIPE_KAFKA_TOPIC=topic,
                 LOGPIPE_CHECKPOINT_INTERVAL_S="0.1"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: state.load() == str(apiserver.rv) or proc.poll() is not None,
                 "state saved by the command", timeout=60)
        assert proc.poll() is None, proc.communicate()[1].decode()
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    got = read_records(kafka_bootstrap, topic, expect=1)
    assert [r.attrs["event_name"] for _, r in got] == ["from-cli"]


def test_events_command_without_credentials_says_what_to_set(tmp_path: Path) -> None:
    proc = subprocess.run([*LOGPIPE, "events", "--metrics-port", "0"], capture_output=True,
                          timeout=60, env=_env(HOME=str(tmp_path),
                                               KUBECONFIG=str(tmp_path / "none")))
    assert proc.returncode == 2
    assert b"no Kubernetes credentials" in proc.stderr and b"LOGPIPE_KUBECONFIG" in proc.stderr


def test_journald_command_is_off_without_a_journal(tmp_path: Path) -> None:
    proc = subprocess.run([*LOGPIPE, "journald", "--directory", str(tmp_path)],
                          capture_output=True, timeout=60, env=_env())
    assert proc.returncode == 0 and b"the source is off" in proc.stderr
    proc = subprocess.run([*LOGPIPE, "journald", "--directory", str(tmp_path)],
                          capture_output=True, timeout=60,
                          env=_env(LOGPIPE_JOURNALD_ENABLED="true"))
    assert proc.returncode == 2
