"""The ports `stack up --kafka-port/--es-port` chose are the ones `status`, `services up`
and `down` use afterwards, without the flags again (no server is started here)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from stack import local
from stack.cli import app
from stack.config import StackSettings
from stack.manager import Stack


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LOGPIPE_STACK_HOME", str(tmp_path))
    for name in ("LOGPIPE_STACK_KAFKA_PORT", "LOGPIPE_STACK_ES_PORT"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_chosen_ports_are_remembered_for_later_commands(home: Path) -> None:
    # What a successful `stack up --kafka-port 19092 --es-port 19200` leaves behind.
    Stack(StackSettings(home=home, kafka_port=19092, es_port=19200)).remember_ports()
    assert orjson.loads((home / "ports.json").read_bytes()) == {
        "kafka_port": 19092, "es_port": 19200, "kafka_brokers": 1, "es_nodes": 1}
    status = CliRunner().invoke(app, ["status", "--json"])
    assert status.exit_code == 1  # nothing runs in this home
    ports = {name: s["ports"] for name, s in orjson.loads(status.output).items()}
    assert ports == {"kafka": [19092, 9093], "elasticsearch": [19200, 9300]}
    services = {spec.name: spec.env for spec in local.specs(Stack.from_env().settings)}
    assert services["forwarder"]["LOGPIPE_KAFKA_BOOTSTRAP"] == "127.0.0.1:19092"
    assert services["api"]["LOGPIPE_ES_URL"] == "http://127.0.0.1:19200"
    assert services["collector"]["LOGPIPE_KAFKA_BOOTSTRAP"] == "127.0.0.1:19092"
    down = CliRunner().invoke(app, ["down"])
    assert (down.exit_code, down.output) == (0, "nothing was running\n")
    assert not (home / "ports.json").exists()  # the next `up` starts from the defaults
    assert Stack.from_env().settings.kafka_port == 9092


def test_a_flag_or_the_environment_beats_the_remembered_ports(
        home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Stack(StackSettings(home=home, kafka_port=19092, es_port=19200)).remember_ports()
    monkeypatch.setenv("LOGPIPE_STACK_ES_PORT", "29200")
    settings = Stack.from_env(kafka_port=29092).settings
    assert (settings.kafka_port, settings.es_port) == (29092, 29200)
