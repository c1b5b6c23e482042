"""A host log file whose name is not valid UTF-8 (a byte the OS hands to Python as a
lone surrogate): its lines ship with the name escaped losslessly, the checkpoint
survives a restart (no line read twice), and nothing crashes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from collector.wire import unwire, wire_text
from tests.collector.helpers import TopicReader, messages, running, settings

NAME = b"caf\xe9-\\x41.log"  # latin-1 e-acute, and a literal backslash-x sequence


def test_wire_text_is_lossless_and_leaves_valid_names_alone() -> None:
    bad = os.fsdecode(b"/var/log/" + NAME)
    assert wire_text(bad) == "/var/log/caf\\xe9-\\\\x41.log"
    assert unwire(wire_text(bad)) == bad
    assert wire_text("/var/log/ok-\\x41.log") == "/var/log/ok-\\x41.log"


@pytest.mark.integration
def test_a_file_name_that_is_not_utf8_ships_and_resumes(tmp_path: Path, kafka_bootstrap: str,
                                                        topic: str) -> None:
    s = settings(tmp_path, kafka_bootstrap, topic, sources=["file"], host_globs=["*.log"])
    path = os.path.join(os.fsencode(str(tmp_path / "log")), NAME)
    with open(path, "wb") as fh:
        fh.write(b"first line\nsecond line\n")
    reader = TopicReader(kafka_bootstrap, topic)
    try:
        with running(s):
            got = reader.until(lambda rs: {"first line", "second line"} <= messages(rs))
        with open(path, "ab") as fh:
            fh.write(b"third line\n")
        with running(s):  # restarted: the escaped checkpoint is found again
            got = reader.until(lambda rs: "third line" in messages(rs))
    finally:
        reader.close()
    wire = str(tmp_path / "log") + "/caf\\xe9-\\\\x41.log"
    assert sorted(r.message for r in got) == ["first line", "second line", "third line"]
    assert {r.path for r in got} == {wire}
    assert {r.app for r in got} == {"caf\\xe9-\\\\x41"}
