"""Journal entries -> records, read through the real journalctl from a real file."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import orjson
import pytest

from journald.entry import field_text, to_record
from journald.follow import journal_available, journalctl_command
from journald.settings import JournaldSettings
from logpipe.delivery import StateFile
from logpipe.record import decode, encode
from tests.journald.journal import JournalWriter, entry, require_tools


def read_json(path: Path) -> list[dict[str, Any]]:
    """Every entry of a journal file, or of a journal directory (archived files too)."""
    where = f"--directory={path}" if path.is_dir() else f"--file={path}"
    out = subprocess.run(["journalctl", where, "--output=json", "--all", "--no-pager"],
                         check=True, capture_output=True, timeout=60).stdout
    return [orjson.loads(line) for line in out.splitlines()]


def test_fields_from_a_real_journal(tmp_path: Path) -> None:
    require_tools()
    journal = tmp_path / "node.journal"
    JournalWriter(journal).append([
        entry("Started kubelet", priority=6),
        entry("E1126 07:00:00.000000 812 pod_workers.go:1] sync failed\n  detail",
              priority=3),
        entry(b"bad \xff bytes", unit="containerd.service", priority=4, pid=99),
        {"MESSAGE": "kernel says hi", "PRIORITY": "0", "_TRANSPORT": "kernel",
         "SYSLOG_IDENTIFIER": "kernel"},
        {"MESSAGE": "no priority", "_SYSTEMD_USER_UNIT": "app.service"},
    ])
    entries = read_json(journal)
    recs = [to_record(e, node="node-a", namespace="host") for e in entries]
    assert [r.level for r in recs] == ["info", "error", "warn", "fatal", "unknown"]
    first = recs[0]
    assert first.source == "journald" and first.namespace == "host"
    assert first.app == "kubelet" and first.path == "journald:kubelet.service"
    assert first.attrs["unit"] == "kubelet.service" and first.attrs["pid"] == "812"
    assert first.attrs["host"] == "node-a" and first.attrs["cursor"] == entries[0]["__CURSOR"]
    assert first.ts.endswith("Z") and first.offset > 0
    assert recs[1].message.endswith("\n  detail") and "multiline" in recs[1].tags
    assert recs[2].message == "bad \ufffd bytes" and "invalid_utf8" in recs[2].tags
    assert recs[2].app == "containerd" and recs[2].attrs["pid"] == "99"
    assert recs[3].attrs["unit"] == "kernel" and recs[3].app == "kernel"
    assert recs[4].attrs["unit"] == "app.service"
    assert len({r.id for r in recs}) == 5
    # Reading the same entries again gives the same ids.
    assert [to_record(e, node="node-a", namespace="host").id for e in read_json(journal)] \
        == [r.id for r in recs]
    for r in recs:
        assert decode(encode(r)) == r


def test_field_text_shapes() -> None:
    assert field_text("x") == ("x", False)
    assert field_text([104, 105]) == ("hi", False)
    assert field_text([[104], "last"]) == ("last", False)
    assert field_text(None) == (None, False)
    assert field_text([0xC3]) == ("\ufffd", True)


def test_missing_message_is_flagged() -> None:
    rec = to_record({"__CURSOR": "s=1;i=a", "PRIORITY": "5"}, node="n", namespace="host")
    assert rec.message == "" and "parse_error" in rec.tags and "no_timestamp" in rec.tags
    assert rec.offset == 10 and rec.level == "info"


def test_command_line(tmp_path: Path) -> None:
    s = JournaldSettings(journal_files=["/j/a.journal"], units=["kubelet.service"],
                         start_at="tail")
    cmd = journalctl_command(s, None)
    assert "--file=/j/a.journal" in cmd and "--unit=kubelet.service" in cmd
    assert "--lines=0" in cmd and "--follow" in cmd and "--all" in cmd
    cmd = journalctl_command(s, "s=abc;i=5")
    assert "--after-cursor=s=abc;i=5" in cmd and "--lines=all" in cmd


@pytest.mark.parametrize("how", ["missing-file", "empty-dir", "no-binary"])
def test_off_where_there_is_no_journal(tmp_path: Path, how: str) -> None:
    s = {
        "missing-file": JournaldSettings(journal_files=[str(tmp_path / "nope.journal")]),
        "empty-dir": JournaldSettings(journal_directory=str(tmp_path)),
        "no-binary": JournaldSettings(journalctl=str(tmp_path / "journalctl")),
    }[how]
    ok, why = journal_available(s)
    assert not ok and why


def test_default_cursor_file_is_writable_for_a_non_root_user(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOGPIPE_CURSOR_FILE", raising=False)
    monkeypatch.setattr("os.geteuid", lambda: 0)
    assert JournaldSettings().cursor_file == "/var/lib/logpipe/journald.cursor"
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    path = JournaldSettings().cursor_file
    assert path == str(tmp_path / ".local" / "state" / "logpipe" / "journald.cursor")
    StateFile(path).save("s=1;i=1")  # the folder is created, under the user's home
    assert StateFile(path).load() == "s=1;i=1"
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert JournaldSettings().cursor_file == str(tmp_path / "xdg" / "logpipe" /
                                                 "journald.cursor")
