"""The settings rules shared by every program: renamed settings still read under their
old names (with a warning), the start-up report of unknown LOGPIPE_* variables, and
the one declaration of the metrics endpoint."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from cli.settings_doc import settings_by_program
from client.config import ClientSettings
from collector.settings import CollectorSettings
from events.settings import EventsSettings
from forwarder.settings import ForwarderSettings
from journald.settings import JournaldSettings
from log_api.settings import ApiSettings
from logpipe.settings import (
    MetricsEndpoint,
    environment_report,
    log_environment_report,
    register_programs,
)
from stack.config import StackSettings

# The renames of this release, written out: old env -> new env, per class.
RENAMED: dict[type[BaseSettings], dict[str, str]] = {
    ForwarderSettings: {
        "LOGPIPE_BATCH_MAX_SECONDS": "LOGPIPE_BATCH_MAX_S",
        "LOGPIPE_RETRY_INITIAL_SECONDS": "LOGPIPE_RETRY_INITIAL_S",
        "LOGPIPE_RETRY_MAX_SECONDS": "LOGPIPE_RETRY_MAX_S",
        "LOGPIPE_ES_REQUEST_TIMEOUT": "LOGPIPE_ES_REQUEST_TIMEOUT_S",
        "LOGPIPE_SHUTDOWN_TIMEOUT": "LOGPIPE_SHUTDOWN_TIMEOUT_S",
        "LOGPIPE_JANITOR_INTERVAL_SECONDS": "LOGPIPE_JANITOR_INTERVAL_S",
    },
    EventsSettings: {
        "LOGPIPE_CHECKPOINT_INTERVAL": "LOGPIPE_CHECKPOINT_INTERVAL_S",
        "LOGPIPE_WATCH_TIMEOUT": "LOGPIPE_WATCH_TIMEOUT_S",
        "LOGPIPE_BACKOFF_MAX": "LOGPIPE_BACKOFF_MAX_S",
        "LOGPIPE_LEASE_DURATION": "LOGPIPE_LEASE_DURATION_S",
        "LOGPIPE_RENEW_DEADLINE": "LOGPIPE_RENEW_DEADLINE_S",
        "LOGPIPE_RETRY_PERIOD": "LOGPIPE_RETRY_PERIOD_S",
    },
    JournaldSettings: {
        "LOGPIPE_CHECKPOINT_INTERVAL": "LOGPIPE_CHECKPOINT_INTERVAL_S",
        "LOGPIPE_RESTART_BACKOFF_MAX": "LOGPIPE_RESTART_BACKOFF_MAX_S",
    },
    CollectorSettings: {"LOGPIPE_POD_METADATA_RETENTION": "LOGPIPE_POD_METADATA_RETENTION_S"},
    ApiSettings: {"LOGPIPE_ES_REQUEST_TIMEOUT": "LOGPIPE_ES_REQUEST_TIMEOUT_S"},
    ClientSettings: {"LOGPIPE_TIMEOUT": "LOGPIPE_TIMEOUT_S"},
    StackSettings: {"LOGPIPE_STACK_START_TIMEOUT": "LOGPIPE_STACK_START_TIMEOUT_S"},
}


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for var in list(os.environ):
        if var.upper().startswith("LOGPIPE_"):
            monkeypatch.delenv(var)
    monkeypatch.setenv("LOGPIPE_CLIENT_CONFIG", str(tmp_path / "none.yaml"))


@pytest.mark.parametrize("cls", list(RENAMED), ids=lambda c: c.__name__)
def test_old_environment_names_still_work(cls: type[BaseSettings],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    for old, new in RENAMED[cls].items():
        monkeypatch.setenv(old, "7")
        field = new.removeprefix("LOGPIPE_STACK_").removeprefix("LOGPIPE_").lower()
        assert getattr(cls(), field) == 7, old
        monkeypatch.setenv(new, "9")  # the new name wins when both are set
        assert getattr(cls(), field) == 9, new
        monkeypatch.delenv(old)
        monkeypatch.delenv(new)


def test_old_yaml_keys_still_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "forwarder.yaml"
    config.write_text("shutdown_timeout: 3\nretry_max_seconds: 4\n")
    monkeypatch.setenv("LOGPIPE_CONFIG", str(config))
    settings = ForwarderSettings()
    assert (settings.shutdown_timeout_s, settings.retry_max_s) == (3, 4)


def test_durations_in_seconds_end_in_s() -> None:
    for cls in RENAMED:
        names = set(cls.model_fields)
        for new in RENAMED[cls].values():
            assert new.removeprefix("LOGPIPE_STACK_").removeprefix("LOGPIPE_").lower() in names


def test_an_old_name_is_reported_with_its_new_name() -> None:
    report = environment_report("forwarder", settings_by_program(),
                                {"LOGPIPE_SHUTDOWN_TIMEOUT": "5"})
    assert report == [(logging.WARNING, "LOGPIPE_SHUTDOWN_TIMEOUT is deprecated: rename it "
                       "LOGPIPE_SHUTDOWN_TIMEOUT_S (the old name is still read in this "
                       "release)")]


def test_a_retired_setting_is_ignored_with_its_reason(
        caplog: pytest.LogCaptureFixture) -> None:
    own = environment_report("api", settings_by_program(), {"LOGPIPE_EXPORT_DIR": "/x"})
    other = environment_report("forwarder", settings_by_program(),
                               {"LOGPIPE_EXPORT_DIR": "/x"})
    with caplog.at_level(logging.WARNING, logger="logpipe.settings"):
        # An old YAML key or keyword still starts (mypy knows the field is gone).
        ApiSettings(export_dir="/x")  # type: ignore[call-arg]
    assert own == [(logging.WARNING, "LOGPIPE_EXPORT_DIR is no longer used (export archives "
                    "are kept in Elasticsearch (<index_prefix>_state), shared by every "
                    "replica; no volume is needed); remove it")]
    assert other == [(logging.INFO, "LOGPIPE_EXPORT_DIR is not a forwarder setting (a "
                      "setting api no longer uses)")]
    assert "setting export_dir is no longer used" in caplog.text


def test_a_typo_is_a_warning_naming_the_closest_setting() -> None:
    [(level, message)] = environment_report("collector", settings_by_program(),
                                            {"LOGPIPE_STATE_DIRR": "/x"})
    assert level == logging.WARNING
    assert "LOGPIPE_STATE_DIRR is not a setting of collector" in message
    assert "did you mean LOGPIPE_STATE_DIR (collector)?" in message


def test_a_typo_of_another_programs_setting_names_that_program() -> None:
    [(level, message)] = environment_report("collector", settings_by_program(),
                                            {"LOGPIPE_CONSUMER_GROPU": "g"})
    assert level == logging.WARNING and "LOGPIPE_CONSUMER_GROUP (forwarder)" in message


def test_another_programs_setting_is_only_information() -> None:
    report = environment_report("collector", settings_by_program(), {
        "LOGPIPE_CONSUMER_GROUP": "g", "LOGPIPE_URL": "http://x", "LOGPIPE_STACK_HOME": "/s",
        "LOGPIPE_CHECKPOINT_INTERVAL": "1"})
    assert report == [
        (logging.INFO, "LOGPIPE_CHECKPOINT_INTERVAL is not a collector setting: it belongs "
                       "to events, journald"),
        (logging.INFO, "LOGPIPE_CONSUMER_GROUP is not a collector setting: it belongs to "
                       "forwarder"),
        (logging.INFO, "LOGPIPE_STACK_HOME is not a collector setting: it belongs to stack"),
        (logging.INFO, "LOGPIPE_URL is not a collector setting: it belongs to client"),
    ]


def test_known_variables_and_other_variables_are_not_reported() -> None:
    assert environment_report("forwarder", settings_by_program(), {
        "LOGPIPE_SHUTDOWN_TIMEOUT_S": "5", "LOGPIPE_CONFIG": "/x.yaml",
        "LOGPIPE_KAFKA_OPTIONS__security.protocol": "SSL", "logpipe_log_level": "debug",
        "PATH": "/bin", "HOME": "/root"}) == []


def test_the_report_is_logged_at_start(monkeypatch: pytest.MonkeyPatch,
                                       caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("LOGPIPE_TYPO", "1")
    monkeypatch.setenv("LOGPIPE_CONSUMER_GROUP", "g")
    monkeypatch.setattr("logpipe.settings._PROGRAMS", {})
    register_programs(settings_by_program())  # what the root command does (cli.main)
    with caplog.at_level(logging.INFO):
        log_environment_report("journald", JournaldSettings)
    typo, other = (next(r for r in caplog.records if name in r.getMessage())
                   for name in ("LOGPIPE_TYPO", "LOGPIPE_CONSUMER_GROUP"))
    assert typo.levelno == logging.WARNING and typo.name == "journald"
    assert other.levelno == logging.INFO and "belongs to forwarder" in other.getMessage()


def test_without_the_root_command_only_the_programs_own_settings_are_known() -> None:
    # `python -m collector`: no claim about what other programs read.
    [(level, message)] = environment_report(
        "collector", {"collector": CollectorSettings}, {"LOGPIPE_STATE_DIRR": "/x"})
    assert level == logging.WARNING and "any other" not in message
    assert "did you mean LOGPIPE_STATE_DIR (collector)?" in message


def test_the_metrics_endpoint_is_declared_once() -> None:
    ports = {cls: cls().metrics_port for cls in (CollectorSettings, ForwarderSettings,
                                                 EventsSettings, JournaldSettings)}
    assert list(ports.values()) == [9101, 9102, 9103, 9104]
    for cls in ports:
        assert issubclass(cls, MetricsEndpoint)
        assert "metrics_port" not in vars(cls).get("__annotations__", {})
    assert MetricsEndpoint.model_fields["metrics_port"].default == 0
    with pytest.raises(ValueError):
        CollectorSettings(metrics_port=70000)


def test_a_typo_of_an_old_name_suggests_the_name_to_write_today() -> None:
    [(level, message)] = environment_report("forwarder", settings_by_program(),
                                            {"LOGPIPE_BATCH_MAX_SECOND": "1"})
    assert (level, message) == (logging.WARNING, (
        "LOGPIPE_BATCH_MAX_SECOND is not a setting of forwarder or of any other logpipe "
        "program and is ignored; did you mean LOGPIPE_BATCH_MAX_S (forwarder)?"))


def test_a_real_forwarder_warns_about_typos_on_stderr(tmp_path: Path) -> None:
    """`logpipe forwarder` as a process, its broker unreachable: the report is written
    before it tries to connect, so it is read there and the process is then stopped."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("LOGPIPE_")}
    env.update({"LOGPIPE_TYPO": "1", "LOGPIPE_BATCH_MAX_SECOND": "1",
                "LOGPIPE_KAFKA_BOOTSTRAP": "127.0.0.1:9",  # nothing listens on port 9
                "LOGPIPE_ES_URL": "http://127.0.0.1:9", "LOGPIPE_METRICS_PORT": "0",
                "LOGPIPE_LOG_FORMAT": "text", "LOGPIPE_CONFIG": str(tmp_path / "none.yaml")})
    lines: list[str] = []
    with subprocess.Popen([sys.executable, "-c", "from cli.main import main; main()",
                           "forwarder"], env=env, stderr=subprocess.PIPE, text=True,
                          stdout=subprocess.DEVNULL) as proc:
        assert proc.stderr is not None
        try:
            for line in proc.stderr:  # the test's global timeout bounds this read
                lines.append(line)
                if "LOGPIPE_TYPO" in line:
                    break
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    output = "".join(lines)
    assert "LOGPIPE_TYPO is not a setting of forwarder or of any other logpipe program" \
        in output, output
    assert "LOGPIPE_BATCH_MAX_SECOND is not a setting of forwarder" in output, output
    assert "did you mean LOGPIPE_BATCH_MAX_S (forwarder)?" in output, output
    assert "WARNING" in output, output
