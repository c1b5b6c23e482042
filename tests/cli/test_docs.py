"""docs/settings.md documents every setting of every service, as the code defines them;
the README's first screen holds the two commands and what they print."""

from __future__ import annotations

from pathlib import Path

from cli.settings_doc import BEGIN, DOC, END, settings_classes, with_tables

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SETTINGS = ROOT / DOC


def test_settings_doc_tables_match_the_code() -> None:
    text = SETTINGS.read_text()
    assert BEGIN in text and END in text
    assert with_tables(text) == text, (
        "docs/settings.md is stale: run `python -m cli.settings_doc --write docs/settings.md`"
    )


def test_the_readme_links_the_tables_instead_of_holding_them() -> None:
    text = README.read_text()
    assert BEGIN not in text
    assert not any(f"#### {title}" in text for title, _ in settings_classes())
    assert "(docs/settings.md)" in text


def test_every_service_is_in_the_tables() -> None:
    titles = [title for title, _ in settings_classes()]
    assert titles == [
        "Shared by all services", "Collector (`logpipe collector`)",
        "Forwarder (`logpipe forwarder`)", "Log API (`logpipe api`)",
        "Kubernetes events (`logpipe events`)", "journald (`logpipe journald`)",
        "Command-line client (`logpipe logs`, ...)"]
    tables = SETTINGS.read_text()
    for _, cls in settings_classes():
        prefix = str(cls.model_config.get("env_prefix", ""))
        for name in cls.model_fields:
            assert f"| `{prefix}{name}`".upper() in tables.upper(), name


def test_readme_starts_with_the_two_commands_and_what_they_print() -> None:
    first_screen = "\n".join(README.read_text().splitlines()[:40])
    assert "make up " in first_screen and "make test " in first_screen
    assert "running: kafka, elasticsearch" in first_screen  # what make up prints
    assert "passed" in first_screen  # what make test prints


def test_collector_doc_names_the_demo_folder_make_up_writes(tmp_path: Path) -> None:
    from stack import local
    from stack.config import StackSettings

    settings = StackSettings(home=tmp_path)
    collector = next(s for s in local.specs(settings) if s.name == "collector")
    docker_root = Path(collector.env["LOGPIPE_DOCKER_ROOT"])
    assert docker_root == local.demo_logs(settings) / "docker" / "containers"
    text = (ROOT / "docs" / "collector.md").read_text()
    assert "services/demo-logs" in text
    assert "LOGPIPE_DOCKER_ROOT=$DEMO/docker/containers" in text
    assert "DEMO=~/.cache/logpipe/stack/services/demo-logs" in text


def test_no_export_example_fetches_after_wait() -> None:
    # `export create --wait` already watches and downloads (client/export.py).
    for doc in (README, ROOT / "docs" / "gui-cli.md", ROOT / "docs" / "log-api.md"):
        for line in doc.read_text().splitlines():
            if "export create" in line and "--wait" in line:
                assert "export fetch" not in line, f"{doc.name}: {line}"
