"""The documented include/exclude filters (fnmatch on the full path) through the real
collector and Kafka: only the included, not excluded files are tailed and shipped."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.discovery import Discovery
from tests.collector.helpers import TopicReader, append, running, settings

pytestmark = pytest.mark.integration


def test_include_and_exclude_filters(tmp_path: Path, kafka_bootstrap: str, topic: str) -> None:
    s = settings(tmp_path, kafka_bootstrap, topic,
                 host_globs=["*.log", "syslog", "sub/*.log"],
                 include=["*/log/app-*.log", "*/log/sub/*"],
                 exclude=["*/app-debug.log", "*/sub/noisy.log"])
    log = tmp_path / "log"
    (log / "sub").mkdir()
    files = {"app-web.log": "web line", "app-debug.log": "debug line", "other.log": "other line",
             "syslog": "syslog line", "sub/keep.log": "sub line", "sub/noisy.log": "noisy line"}
    for name, text in files.items():
        append(log / name, f"{text}\n".encode())
    # What the filters select, written out: the included ones, less the excluded ones.
    assert Discovery(s).scan() == {str(log / "app-web.log"): "file",
                                   str(log / "sub" / "keep.log"): "file"}
    reader = TopicReader(kafka_bootstrap, topic)
    with running(s) as agent:
        reader.until(lambda rs: {r.message for r in rs} >= {"web line", "sub line"})
        append(log / "other.log", b"other second\n")  # written while running: still skipped
        append(log / "app-debug.log", b"debug second\n")
        append(log / "app-web.log", b"web second\n")
        got = reader.until(lambda rs: "web second" in {r.message for r in rs})
        # The files it tails, after a scan that saw the writes to the excluded ones.
        assert sorted(agent.sources) == [str(log / "app-web.log"), str(log / "sub" / "keep.log")]
    reader.close()
    assert sorted((r.path, r.message) for r in got) == [
        (str(log / "app-web.log"), "web line"), (str(log / "app-web.log"), "web second"),
        (str(log / "sub" / "keep.log"), "sub line")]
