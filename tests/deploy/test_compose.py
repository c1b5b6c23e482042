"""docker-compose.yml, checked offline by compose-go (the Compose v2 CLI's loader).

The checker validates against the Compose schema, interpolates ``.env.example``,
checks consistency (depends_on targets, volumes) and prints the resolved project,
which these tests read like ``docker compose config`` output.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from pydantic_settings import BaseSettings

from collector.settings import CollectorSettings
from forwarder.settings import ForwarderSettings
from journald.settings import JournaldSettings
from log_api.settings import ApiSettings
from tests.deploy.conftest import BUILD_TIMEOUT_S, ROOT, Validators, clean_env

pytestmark = pytest.mark.timeout(BUILD_TIMEOUT_S + 120)

COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
ROLES: dict[str, type[BaseSettings]] = {
    "collector": CollectorSettings, "forwarder": ForwarderSettings, "api": ApiSettings}


def load(v: Validators, compose: Path = COMPOSE, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(v.composecheck), "-f", str(compose), *args],
                          capture_output=True, text=True, env=clean_env(), timeout=60)


@pytest.fixture(scope="module")
def project(validators: Validators) -> dict[str, Any]:
    res = load(validators, COMPOSE, "--env-file", str(ENV_EXAMPLE), "--profile", "demo")
    assert res.returncode == 0, res.stderr
    doc: dict[str, Any] = orjson.loads(res.stdout)
    return doc


def test_services_and_images(project: dict[str, Any]) -> None:
    services = project["services"]
    assert set(services) == {"kafka", "kafka-init", "elasticsearch", "collector", "forwarder",
                             "api", "demo"}
    assert services["kafka"]["image"] == "apache/kafka:4.4.0"
    assert re.fullmatch(r"docker\.elastic\.co/elasticsearch/elasticsearch:9\.\d+\.\d+",
                        services["elasticsearch"]["image"])
    for role in ("collector", "forwarder", "api", "demo"):
        assert services[role]["image"] == "logpipe:latest"
        assert services[role]["build"]["context"] == str(ROOT)
    assert [services[r]["command"][0] for r in ROLES] == list(ROLES)


def test_kafka_is_one_kraft_node_and_elasticsearch_one_open_node(project: dict[str, Any]
                                                                 ) -> None:
    kafka = project["services"]["kafka"]["environment"]
    assert kafka["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert kafka["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@kafka:9093"
    assert kafka["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"
    es = project["services"]["elasticsearch"]["environment"]
    assert es["discovery.type"] == "single-node"
    assert es["xpack.security.enabled"] == "false"


def test_health_checks_and_start_order(project: dict[str, Any]) -> None:
    services = project["services"]
    for name, svc in services.items():
        if name not in ("kafka-init", "volumes-init", "demo"):  # one-shots and the demo
            assert svc["healthcheck"]["test"], name

    def conditions(name: str) -> dict[str, str]:
        return {k: v["condition"] for k, v in services[name].get("depends_on", {}).items()}

    assert conditions("kafka-init") == {"kafka": "service_healthy"}
    assert conditions("collector") == {"kafka-init": "service_completed_successfully"}
    assert conditions("forwarder") == {"kafka-init": "service_completed_successfully",
                                       "elasticsearch": "service_healthy"}
    assert conditions("api") == {"kafka": "service_healthy", "elasticsearch": "service_healthy"}
    # Each logpipe role's health check asks its own port.
    for role, port in (("collector", 9101), ("forwarder", 9102), ("api", 8080)):
        assert f"127.0.0.1:{port}/healthz" in " ".join(services[role]["healthcheck"]["test"])


def test_collector_reads_host_folders_read_only_and_keeps_state(project: dict[str, Any]) -> None:
    col = project["services"]["collector"]
    binds = {v["target"]: v for v in col["volumes"] if v["type"] == "bind"}
    assert set(binds) == {"/var/lib/docker/containers", "/var/log/pods", "/host/var/log"}
    assert all(v["read_only"] for v in binds.values())
    assert binds["/var/lib/docker/containers"]["source"] == "/var/lib/docker/containers"
    (state,) = [v for v in col["volumes"] if v["type"] == "volume"]
    assert state["source"] == "collector-state" and not state.get("read_only")
    env = col["environment"]
    assert env["LOGPIPE_STATE_DIR"] == state["target"]
    assert env["LOGPIPE_DOCKER_ROOT"] in binds and env["LOGPIPE_CRI_ROOT"] in binds
    assert env["LOGPIPE_HOST_ROOT"] in binds
    # Root for root-only Docker log files, but with nothing else.
    assert col["user"] == "0:0" and col["cap_drop"] == ["ALL"] and col["read_only"] is True
    for role in ("forwarder", "api"):
        assert "user" not in project["services"][role]  # the image's non-root user


def test_env_names_are_real_settings_and_valid(project: dict[str, Any],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    for role, settings_cls in ROLES.items():
        env = project["services"][role]["environment"]
        fields = {f"LOGPIPE_{name.upper()}" for name in settings_cls.model_fields}
        ours = {k for k in env if k.startswith("LOGPIPE_")}
        assert ours <= fields, f"{role}: not settings: {sorted(ours - fields)}"
        with monkeypatch.context() as m:
            for key, value in env.items():
                m.setenv(key, value)
            settings_cls()  # raises ValidationError on a bad value


def test_ports_bind_to_loopback_by_default(project: dict[str, Any]) -> None:
    published = {(name, p["target"]): p for name, svc in project["services"].items()
                 for p in svc.get("ports", [])}
    assert ("api", 8080) in published and ("elasticsearch", 9200) in published
    assert {p["host_ip"] for p in published.values()} == {"127.0.0.1"}


def test_api_gets_the_tokens_file_from_env(project: dict[str, Any]) -> None:
    api = project["services"]["api"]
    (cfg,) = api["configs"]
    assert cfg["target"] == api["environment"]["LOGPIPE_TOKENS_FILE"]
    tokens = yaml.safe_load(project["configs"][cfg["source"]]["content"])
    (admin,) = tokens["tokens"]
    assert admin["admin"] is True and re.fullmatch(r"[0-9a-f]{64}", admin["sha256"])


def test_missing_token_hash_is_refused_with_a_message(validators: Validators,
                                                      tmp_path: Path) -> None:
    env = tmp_path / "empty.env"
    env.write_text("")
    res = load(validators, COMPOSE, "--env-file", str(env))
    assert res.returncode != 0
    assert "LOGPIPE_ADMIN_TOKEN_SHA256" in res.stderr


def test_checker_rejects_a_broken_file(validators: Validators, tmp_path: Path) -> None:
    broken = tmp_path / "docker-compose.yml"

    def check(doc: dict[str, Any]) -> str:
        broken.write_text(yaml.safe_dump(doc))
        res = load(validators, broken, "--env-file", str(ENV_EXAMPLE))
        assert res.returncode != 0
        return res.stderr

    doc = yaml.safe_load(COMPOSE.read_text())
    doc["services"]["api"]["depends_on"]["kafka"]["condition"] = "service_happy"
    assert "depends_on.kafka.condition value must be one of" in check(doc)
    doc = yaml.safe_load(COMPOSE.read_text())
    del doc["services"]["elasticsearch"]  # depends_on now names a missing service
    assert "elasticsearch" in check(doc)


def test_env_example_documents_every_variable_the_file_uses() -> None:
    used = set(re.findall(r"\$\{([A-Z0-9_]+)", COMPOSE.read_text()))
    documented = set(re.findall(r"^#?([A-Z0-9_]+)=", ENV_EXAMPLE.read_text(), re.M))
    assert used - documented == set()


@pytest.fixture(scope="module")
def journald_project(validators: Validators) -> dict[str, Any]:
    res = load(validators, COMPOSE, "--env-file", str(ENV_EXAMPLE), "--profile", "journald")
    assert res.returncode == 0, res.stderr
    doc: dict[str, Any] = orjson.loads(res.stdout)
    return doc


def test_journald_is_opt_in_and_reads_the_host_journal_read_only(
        project: dict[str, Any], journald_project: dict[str, Any]) -> None:
    assert "journald" not in project["services"]  # only with --profile journald
    svc = journald_project["services"]["journald"]
    assert svc["command"] == ["journald"] and svc["image"] == "logpipe:latest"
    assert svc["user"] == "0:0" and svc["cap_drop"] == ["ALL"] and svc["read_only"] is True
    binds = {v["target"]: v for v in svc["volumes"] if v["type"] == "bind"}
    assert set(binds) == {"/var/log", "/run/log/journal", "/etc/machine-id"}
    for target, bind in binds.items():
        # Same paths as on the host: journalctl finds the host journal where it looks.
        assert bind["source"] == target and bind["read_only"] is True, target
    # A missing machine id fails the start; Docker would otherwise create a folder there.
    assert binds["/etc/machine-id"]["bind"]["create_host_path"] is False
    (state,) = [v for v in svc["volumes"] if v["type"] == "volume"]
    env = svc["environment"]
    assert state["source"] == "journald-state"
    assert str(Path(env["LOGPIPE_CURSOR_FILE"]).parent) == state["target"]
    assert env["LOGPIPE_JOURNALD_ENABLED"] == "true" and env["LOGPIPE_NAMESPACE"] == "host"
    port = env["LOGPIPE_METRICS_PORT"]
    assert f"127.0.0.1:{port}/healthz" in " ".join(svc["healthcheck"]["test"])
    assert {k: v["condition"] for k, v in svc["depends_on"].items()} == {
        "kafka-init": "service_completed_successfully"}


def test_journald_env_names_are_real_settings(journald_project: dict[str, Any],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    env = journald_project["services"]["journald"]["environment"]
    fields = {f"LOGPIPE_{name.upper()}" for name in JournaldSettings.model_fields}
    ours = {k for k in env if k.startswith("LOGPIPE_")}
    assert ours <= fields, sorted(ours - fields)
    with monkeypatch.context() as m:
        for key, value in env.items():
            m.setenv(key, value)
        JournaldSettings()



def test_every_volume_a_non_root_service_writes_is_handed_to_uid_10001(
        project: dict[str, Any]) -> None:
    # The image runs as uid 10001; a fresh named volume is root's. Each volume a
    # non-root logpipe service mounts writable is chowned first by a root one-shot that
    # the service waits for. None mounts one today (export archives live in
    # Elasticsearch); this holds any that is added.
    services = project["services"]
    for name, svc in services.items():
        if svc.get("image") != "logpipe:latest" or svc.get("user") == "0:0":
            continue
        for vol in svc.get("volumes", []):
            if vol["type"] != "volume" or vol.get("read_only"):
                continue
            inits = [dep for dep, cond in svc.get("depends_on", {}).items()
                     if cond["condition"] == "service_completed_successfully"]
            owners = [dep for dep in inits
                      if services[dep].get("user") == "0:0"
                      and services[dep]["entrypoint"] == ["chown", "10001:10001", vol["target"]]
                      and any(v["source"] == vol["source"] and v["target"] == vol["target"]
                              for v in services[dep].get("volumes", []))]
            assert owners, f"{name}: volume {vol['source']} is not handed to uid 10001"
