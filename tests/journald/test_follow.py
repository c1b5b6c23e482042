"""`logpipe journald` end to end: a real journal file, the real journalctl following
it, the real Kafka; the cursor file moves only past acknowledged entries."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from journald.follow import JournaldRole
from journald.settings import JournaldSettings
from logpipe.delivery import StateFile
from tests.journald.journal import JournalWriter, entry, require_tools
from tests.journald.test_entry import read_json
from tests.kube.fixtures import wait_for
from tests.kube.kafka_util import read_records
from tests.roles import RunningRole

pytestmark = pytest.mark.integration


def test_follow_resume_exactly(tmp_path: Path, kafka_bootstrap: str, topic: str) -> None:
    require_tools()
    # A directory, as on a node: systemd-journal-remote archives the file on each
    # append (node@....journal~) and starts a new one, so rotation is exercised too.
    journal = tmp_path / "journal"
    journal.mkdir()
    writer = JournalWriter(journal / "system.journal")
    writer.append([entry(f"boot line {i}", priority=6) for i in range(5)])
    settings = JournaldSettings(kafka_bootstrap=kafka_bootstrap, kafka_topic=topic,
                                journal_directory=str(journal), node_name="node-a",
                                cursor_file=str(tmp_path / "cursor"), metrics_port=0,
                                checkpoint_interval_s=0.1)
    cursor = StateFile(settings.cursor_file)

    run = RunningRole(JournaldRole(settings))
    wait_for(lambda: run.role.entries == 5, "the first five entries read")
    # Appended while following: journalctl --follow picks them up.
    writer.append([entry("E1126 kubelet lost the runtime", priority=3),
                   entry("containerd warns", unit="containerd.service", priority=4)])
    wait_for(lambda: run.role.entries == 7, "appended entries followed")
    last = read_json(journal)[-1]["__CURSOR"]
    wait_for(lambda: cursor.load() == last, "cursor at the last acked entry")
    run.stop()

    got = read_records(kafka_bootstrap, topic, expect=7)
    assert len(got) == 7
    by_msg = {r.message: (k, r) for k, r in got}
    key, rec = by_msg["E1126 kubelet lost the runtime"]
    assert key == b"journald:kubelet.service" and rec.level == "error"
    assert rec.namespace == "host" and rec.node == "node-a" and rec.app == "kubelet"
    assert by_msg["containerd warns"][1].level == "warn"
    assert by_msg["containerd warns"][0] == b"journald:containerd.service"
    saved = cursor.load()
    assert saved == by_msg["containerd warns"][1].attrs["cursor"]

    # Entries written while the role is down are shipped after the restart, and
    # nothing before the saved cursor is sent again.
    writer.append([entry(f"while down {i}") for i in range(3)])
    run = RunningRole(JournaldRole(settings))
    wait_for(lambda: run.role.entries == 3, "only the new entries")
    last = read_json(journal)[-1]["__CURSOR"]
    wait_for(lambda: cursor.load() == last, "cursor moved to the newest entry")
    run.stop()
    got = read_records(kafka_bootstrap, topic, expect=10)
    assert len(got) == 10
    assert len({r.id for _, r in got}) == 10


def test_tail_start_skips_history(tmp_path: Path, kafka_bootstrap: str, topic: str) -> None:
    require_tools()
    journal = tmp_path / "journal"
    journal.mkdir()
    writer = JournalWriter(journal / "system.journal")
    writer.append([entry("old news")])
    settings = JournaldSettings(kafka_bootstrap=kafka_bootstrap, kafka_topic=topic,
                                journal_directory=str(journal), start_at="tail",
                                cursor_file=str(tmp_path / "cursor"), metrics_port=0,
                                checkpoint_interval_s=0.1, units=["kubelet.service"])
    run = RunningRole(JournaldRole(settings))
    # Whether journalctl has found the tail yet cannot be seen from outside: write
    # probes until one comes through, then the entries under test.
    probes, last_probe = 0, 0.0

    def probe_arrived() -> bool:
        nonlocal probes, last_probe
        if run.role.entries == 0 and time.monotonic() - last_probe > 0.5:
            probes += 1
            last_probe = time.monotonic()
            writer.append([entry(f"probe {probes}")])
        return run.role.entries > 0

    wait_for(probe_arrived, "journalctl following", timeout=30)
    writer.append([entry("other unit", unit="sshd.service"), entry("fresh")])
    fresh = next(e["__CURSOR"] for e in read_json(journal) if e["MESSAGE"] == "fresh")
    cursor = StateFile(settings.cursor_file)
    wait_for(lambda: cursor.load() == fresh, "the fresh kubelet entry acknowledged")
    run.stop()
    got = [r.message for _, r in read_records(kafka_bootstrap, topic, expect=2)]
    assert "fresh" in got and "old news" not in got and "other unit" not in got
    assert all(m.startswith("probe") for m in got if m != "fresh")
