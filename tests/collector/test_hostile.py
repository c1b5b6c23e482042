"""Hostile input, without a broker: linear-time matching, refused user patterns,
timestamps at the ends of the calendar, random bytes through every parser."""

from __future__ import annotations

import errno
import os
import re
import threading
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector.checkpoint import Checkpoint, CheckpointStore
from collector.discovery import Discovery
from collector.multiline import (
    MultilineRules,
    PatternRefused,
    StreamJoiner,
    compile_start,
    go_func_line,
)
from collector.parsers import parse_cri, parse_docker, parse_host, syslog_ts
from collector.settings import CollectorSettings
from journald.entry import to_record
from logpipe.timefmt import format_ns, parse_ns

# The pattern go_func_line replaces (quadratic on a line of "(").
_OLD_GO_FUNC = re.compile(r"[\w.*/()\[\]{}-]+\(.*\)$")


@given(st.text(alphabet="ab(){}[]*./-_ \n\té", max_size=30))
def test_go_func_line_is_the_old_pattern(text: str) -> None:
    assert go_func_line(text) == (_OLD_GO_FUNC.match(text) is not None)


def _in_thread(work: object, timeout: float) -> bool:
    """Run ``work`` in a thread; True when it finished before ``timeout`` (a generous
    deadline, not a timing assertion: the backtracking version needs minutes)."""
    done = threading.Event()

    def run() -> None:
        work()  # type: ignore[operator]
        done.set()

    threading.Thread(target=run, daemon=True).start()
    return done.wait(timeout)


def test_go_dump_with_a_256k_line_is_joined_without_stalling() -> None:
    out: list[str] = []
    j = StreamJoiner("stderr", MultilineRules(max_bytes=4 << 20),
                     lambda o, off, ts, st_, text, tags: out.append(text))
    hostile = "(" * (256 << 10)

    def work() -> None:
        for i, line in enumerate(["panic: boom", "", "goroutine 1 [running]:", "main.f()",
                                  "f" + hostile + ")", hostile, "main.main()", "next entry"]):
            j.feed("f", i, None, line, False, (), 0)
        j.flush()

    assert _in_thread(work, 20.0), "matching a 256 KiB line stalled"
    # "f((((...)" is a function line of the dump; "((((..." is not, so it starts an entry.
    assert out == ["\n".join(["panic: boom", "", "goroutine 1 [running]:", "main.f()",
                              "f" + hostile + ")"]), hostile, "main.main()", "next entry"]


def test_start_pattern_is_re2_and_linear() -> None:
    start = compile_start(r"(a|aa)+$")
    assert _in_thread(lambda: start.match("a" * 45 + "!"), 10.0)
    assert start.match("a" * 45 + "!") is None and start.match("aaa") is not None


@pytest.mark.parametrize("pattern", ["(unclosed", r"(\w)\1", "(?=x)y", "x" * 1025,
                                     r"((a{100}){100}){100}"])
def test_start_pattern_refused(pattern: str) -> None:
    with pytest.raises(PatternRefused):
        compile_start(pattern)
    with pytest.raises(ValueError, match="multiline_start_patterns"):
        CollectorSettings(multiline_start_patterns={"web": pattern})


def test_start_pattern_cap_is_a_setting() -> None:
    with pytest.raises(ValueError, match="longer than 16"):
        CollectorSettings(multiline_start_max_chars=16,
                          multiline_start_patterns={"web": r"^\d{4}-\d\d-\d\d \d\d"})


@pytest.mark.parametrize("stamp", ["0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00"])
def test_syslog_stamp_outside_the_calendar_is_kept_as_text(stamp: str) -> None:
    piece = parse_host(f"{stamp} host app: hello".encode())
    assert piece.ts is None and piece.text.endswith("hello")
    assert syslog_ts(stamp) is None


def test_year_one_and_9999_format_as_rfc3339() -> None:
    assert format_ns(parse_ns("0001-01-01T01:30:00+01:00")) == "0001-01-01T00:30:00.000000000Z"
    assert format_ns(parse_ns("9999-12-31T23:59:59Z")) == "9999-12-31T23:59:59.000000000Z"
    with pytest.raises(ValueError):
        format_ns(parse_ns("9999-12-31T23:59:59Z") + 1_000_000_000)


_LINE = st.binary(max_size=300).filter(lambda b: b"\n" not in b)


def _kept(raw: bytes, text: str) -> bool:
    """No byte of the line lost: the text holds the raw line, or its bad bytes
    escaped as ``\\xNN`` (a JSON line may also be unwrapped to its ``log``)."""
    return text.encode("utf-8", "surrogatepass") in (raw, raw.rstrip(b"\r")) or \
        text == raw.decode("utf-8", "backslashreplace") or \
        text == raw.decode("utf-8", "backslashreplace").removesuffix("\r")


@given(_LINE)
def test_random_bytes_through_every_parser(raw: bytes) -> None:
    for parse in (parse_docker, parse_cri, parse_host):
        piece = parse(raw)
        orjson.dumps(piece.text)  # always encodable into a record
        if "parse_error" in piece.tags or parse is parse_host:
            assert _kept(raw, piece.text), (parse.__name__, raw, piece)


@given(st.lists(_LINE, max_size=20), st.sampled_from(["docker", "cri", "file"]))
def test_random_lines_none_lost_through_parse_and_join(lines: list[bytes], kind: str) -> None:
    """Every line read comes out (alone or joined), with multi-line on: nothing dropped."""
    parse = {"docker": parse_docker, "cri": parse_cri, "file": parse_host}[kind]
    out: list[tuple[int, str]] = []
    j = StreamJoiner(None, MultilineRules(),
                     lambda o, off, ts, st_, text, tags: out.append((off, text)))
    off = 0
    for raw in lines:
        p = parse(raw)
        j.feed("f", off, p.ts, p.text, p.partial, p.tags, 0)
        off += len(raw) + 1
    j.flush()
    joined = "\n".join(text for _, text in out)
    for raw in lines:
        p = parse(raw)
        assert p.text in joined


@given(st.dictionaries(st.sampled_from(["MESSAGE", "PRIORITY", "_SYSTEMD_UNIT", "__CURSOR",
                                        "__REALTIME_TIMESTAMP", "_PID", "SYSLOG_IDENTIFIER"]),
                       st.one_of(st.text(), st.binary().map(list), st.integers(), st.none())))
def test_random_journald_entries(entry: dict[str, object]) -> None:
    try:
        record = to_record(entry, node="n", namespace="host")
    except ValueError:
        return  # refused with a reason is fine; a crash of another kind is not
    orjson.dumps(record)


# -- the checkpoint file --------------------------------------------------------------
def _store(tmp_path: Path, problems: list[str]) -> CheckpointStore:
    return CheckpointStore(str(tmp_path), problems.append)


def _cp(offset: int) -> Checkpoint:
    return Checkpoint("/var/log/a.log", 1, 2, "fp", offset, offset)


def test_damaged_checkpoint_file_is_moved_aside_and_the_previous_used(tmp_path: Path) -> None:
    problems: list[str] = []
    store = _store(tmp_path, problems)
    store.save([_cp(10)])
    store.history("/var/log/a.log").finished("old", 5)
    store.save([_cp(20)])
    (tmp_path / "checkpoints.json").write_bytes(b'{"version": 2, "files": [{"pa')
    again = _store(tmp_path, problems)
    assert again.exists()
    assert [c.offset for c in again.load()] == [10]
    assert problems == ["damaged"]
    assert list(tmp_path.glob("checkpoints.json.damaged-*"))
    # A wrong shape (not torn JSON) is damage too; with neither copy: no checkpoints.
    (tmp_path / "checkpoints.json").write_bytes(b'{"files": [{"path": 1}]}')
    (tmp_path / "checkpoints.json.prev").write_bytes(b"[]")
    assert _store(tmp_path, problems).load() == []
    assert problems == ["damaged", "damaged", "prev_damaged"]


def test_checkpoint_write_checks_bytes_and_survives_a_full_disk(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    problems: list[str] = []
    store = _store(tmp_path, problems)
    real_write = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: real_write(fd, bytes(data[:7])))
    assert store.save([_cp(1), _cp(2)])  # short writes are continued, not truncated
    assert [c.offset for c in _store(tmp_path, []).load()] == [1, 2]

    def full(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    assert not store.save([_cp(3)])
    assert problems == ["write_failed"]
    monkeypatch.setattr(os, "write", real_write)
    assert store.save([_cp(3)])  # tried again at the next save
    assert [c.offset for c in _store(tmp_path, []).load()] == [3]
    assert [c.offset for c in CheckpointStore(str(tmp_path))._load(
        str(tmp_path / "checkpoints.json.prev"))] == [1, 2]


# -- discovery: symlinks and identities --------------------------------------------------
def test_symlink_out_of_the_roots_is_refused_and_counted(tmp_path: Path) -> None:
    s = collector_settings(tmp_path)
    log_dir = Path(s.host_root)
    (log_dir / "app.log").write_text("fine\n")
    (log_dir / "x.log").symlink_to("/proc/self/environ")
    secret = tmp_path / "secret.txt"
    secret.write_text("token\n")
    (log_dir / "y.log").symlink_to(secret)
    (log_dir / "inside.log").symlink_to(log_dir / "app.log")  # same file: read once
    refused: list[int] = []
    d = Discovery(s, lambda: refused.append(1))
    found = d.scan()
    assert found == {str(log_dir / "app.log"): "file"}
    assert len(refused) == 2
    d.scan()
    assert len(refused) == 2  # counted once per path, not per scan


def test_cri_dockerd_link_is_read_once_as_docker_with_pod_metadata(tmp_path: Path) -> None:
    s = collector_settings(tmp_path)
    cid = "c0ffee" * 10 + "abcd"
    folder = Path(s.docker_root) / cid
    folder.mkdir(parents=True)
    (folder / "config.v2.json").write_bytes(orjson.dumps(
        {"ID": cid, "Name": "/k8s_web_web-1_shop_u1_0", "Config": {"Image": "web:1"}}))
    json_log = folder / f"{cid}-json.log"
    json_log.write_text('{"log":"hi\\n","stream":"stdout","time":"2026-11-26T07:00:00Z"}\n')
    link = Path(s.cri_root) / "shop_web-1_u1" / "web" / "0.log"
    link.parent.mkdir(parents=True)
    link.symlink_to(json_log)
    for sources in (["docker", "cri", "file"], ["cri"]):
        d = Discovery(s.model_copy(update={"sources": sources}))
        assert d.scan() == {str(json_log): "docker"}
        assert d.aliases == {str(json_log): str(link)}


def test_file_name_not_utf8_is_found(tmp_path: Path) -> None:
    s = collector_settings(tmp_path)
    name = os.fsdecode(b"bad-\xff\xfe.log")
    (Path(s.host_root) / name).write_text("x\n")
    assert Discovery(s).scan() == {os.path.join(s.host_root, name): "file"}


def collector_settings(tmp_path: Path) -> CollectorSettings:
    for sub in ("docker", "pods", "log"):
        (tmp_path / sub).mkdir(exist_ok=True)
    return CollectorSettings(docker_root=str(tmp_path / "docker"),
                             cri_root=str(tmp_path / "pods"), host_root=str(tmp_path / "log"),
                             state_dir=str(tmp_path / "state"), pod_metadata="false")
