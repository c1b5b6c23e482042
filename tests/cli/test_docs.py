"""The README documents every setting of every service, as the code defines them."""

from __future__ import annotations

from pathlib import Path

from cli.settings_doc import BEGIN, END, all_tables, settings_classes, with_tables

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_settings_tables_match_the_code() -> None:
    text = README.read_text()
    assert BEGIN in text and END in text
    assert with_tables(text) == text, (
        "README's settings tables are stale: run `python -m cli.settings_doc --write README.md`"
    )


def test_every_service_is_in_the_tables() -> None:
    titles = [title for title, _ in settings_classes()]
    assert len(titles) == 7, titles
    for _, cls in settings_classes():
        for name in cls.model_fields:
            prefix = str(cls.model_config.get("env_prefix", ""))
            assert f"`{prefix}{name}`".upper().replace("`", "") in all_tables().upper()


def test_readme_starts_with_the_two_commands() -> None:
    text = README.read_text()
    first = text.index("make up")
    assert first < text.index("## Configuration") and "make test" in text[: first + 400]
