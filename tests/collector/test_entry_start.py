"""Learned entry starts (collector.entry_start) through a stream's joiner: a stream
whose lines mostly start with one header kind joins the lines without it."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector import fastpath
from collector.entry_start import (
    _COMPILED,
    KINDS,
    LEARNED,
    LEARNING,
    OFF,
    WINDOW,
    EntryStarts,
    header_kind,
)
from collector.multiline import MultilineRules, StreamJoiner, compile_start


def _entries(lines: list[str], rules: MultilineRules | None = None) -> list[str]:
    out: list[str] = []
    j = StreamJoiner("stdout", rules or MultilineRules(), lambda *a: out.append(a[4]))
    for off, line in enumerate(lines):
        j.feed(None, off, None, line, False, (), 0)
    j.flush()
    return out


def _kind(name: str) -> int:
    return [n for n, _ in KINDS].index(name)


@pytest.mark.parametrize(("line", "kind"), [
    ("2016/10/25 14:49:34 [error] 54053#0: open()", "iso_ts"),
    ("2026-11-26T07:00:00.123Z INFO x", "iso_ts"),
    ("[2018-10-17 12:04:41,718] INFO x", "bracket_iso"),
    ("[2017-04-04 11:16:34 +0200] information/Notification: x", "bracket_iso"),
    ("[Wed Oct 11 14:32:52 2000] [error] x", "bracket_date"),
    ("13.07.2018 07:06:00 - Process(13440.3)", "dmy_ts"),
    ("Oct 11 14:32:52 host sshd[1]: x", "syslog_ts"),
    ("14:32:52.123 [main] x", "time"),
    ("I1017 12:04:41.718 1 main.go:1] x", "klog"),
    ("ERROR something failed", "level"),
    ("####<Mar 24, 2022 10:29:51,636 AM GMT> <Info> <Server>", "weblogic"),
    ("161212  9:05:01 mysqld_safe Starting", "compact_date"),
    ("[WARN] disk", "level"),
])
def test_header_kinds(line: str, kind: str) -> None:
    assert header_kind(line) == _kind(kind)


@pytest.mark.parametrize("line", ["", "PHP message: x", "org.x.Y: boom", "INFORMATION x",
                                  "12345 x", "{\"level\":\"info\"}", "/usr/bin/printf: error"])
def test_no_header(line: str) -> None:
    assert header_kind(line) == -1


def test_header_kind_is_linear_time() -> None:
    start = time.perf_counter()
    for text in ("[" * 300_000, "2" * 300_000, "INFO" * 100_000, "[2016-10-25" * 30_000):
        header_kind(text)
        EntryStarts(1000).feed(text)
    assert time.perf_counter() - start < 0.1


def test_learns_and_joins() -> None:
    lines = ["2016/10/25 14:49:34 [error] a", "2016/10/25 14:50:44 [error] b",
             "2019/10/30 23:26:34 [error] c", "PHP message: c2", "PHP message: c3",
             "2019/11/05 14:50:44 [error] d"]
    assert _entries(lines) == [lines[0], lines[1], "\n".join(lines[2:5]), lines[5]]


def test_blank_and_non_trace_lines_join_once_learned() -> None:
    lines = ["[2017-04-04 11:16:34 +0200] information/N: a",
             "[2017-04-04 11:16:34 +0200] warning/P: b", "/usr/bin/printf: write error", "",
             "[2017-04-04 11:16:48 +0200] information/I: c"]
    assert _entries(lines) == [lines[0], "\n".join(lines[1:4]), lines[4]]


def test_not_learned_below_the_share() -> None:
    # Half the lines have a header: no kind is learned, plain lines stay entries.
    lines = [f"2016-10-25 14:49:{i % 60:02d} x" if i % 2 else f"plain {i}"
             for i in range(WINDOW + 20)]
    assert _entries(lines) == lines
    starts = EntryStarts(1000)
    for line in lines[:WINDOW]:
        starts.feed(line)
    assert starts.state == OFF


def test_built_in_shapes_unchanged_while_learning_nothing() -> None:
    lines = ["plain a", "Traceback (most recent call last):", '  File "x", line 1',
             "ValueError: boom", "plain b", "panic: x", "", "goroutine 1 [running]:",
             "main.main()", "plain c"]
    assert _entries(lines) == ["\n".join(lines[0:4]), "plain b",
                               "\n".join(lines[5:9]), "plain c"]


def test_built_in_shapes_still_join_when_learned() -> None:
    lines = ["2026-11-26 07:00:00 INFO a", "2026-11-26 07:00:01 ERROR b",
             "java.lang.IllegalStateException: x", "\tat a.B.c(B.java:1)",
             "Caused by: java.io.IOException: y", "\t... 3 more", "2026-11-26 07:00:02 INFO c"]
    assert _entries(lines) == [lines[0], "\n".join(lines[1:6]), lines[6]]


def test_caps_hold_in_learned_mode() -> None:
    lines = ["2026-11-26 07:00:00 INFO a", "2026-11-26 07:00:01 INFO b",
             *[f"node {i}" for i in range(5)]]
    got = _entries(lines, MultilineRules(max_lines=3))
    assert got[:2] == [lines[0], "\n".join(lines[1:4])]
    assert "\n".join(got) == "\n".join(lines)  # nothing lost past the cap


def test_unlearns_after_a_run_longer_than_the_cap() -> None:
    starts = EntryStarts(max_run=5)
    for line in ["2026-11-26 07:00:00 a", "2026-11-26 07:00:01 b"]:
        starts.feed(line)
    assert starts.state == LEARNED
    assert all(starts.feed(f"x {i}") for i in range(5))
    assert not starts.feed("x 5")  # the sixth in a row: the layout changed
    assert starts.state == LEARNING


@settings(max_examples=500, deadline=None)
@given(st.one_of(
    st.text(max_size=40),
    st.builds(lambda a, b: a + b, st.sampled_from(
        ["2016-10-25 14:49:34", "2016/10/25T14:49", "[2018-10-17 12:04:41", "[Wed Oct 11 ",
         "[11/Oct/2000:1", "13.07.2018 07:06:00", "Oct 11 14:32:52", "Wed Oct  1 14:32:52",
         "14:32:52.1", "I1017 12:04:41", "INFO", "[WARN", "<ERROR", "ERR", "WARNING",
         "2016-10-2", "１4:32:52.", "####<Mar 24, 2022", "161212  9:05:01", "06-Mar-2023 18:34"]),
        st.sampled_from(["", " x", "]", ">", ":", "|", "\t", "\r", "\n", "x", "\x00", "é",
                         "\u2028", " "]))))
def test_c_shapes_agree_with_python(text: str) -> None:
    """The C fast path checks a learned header with the same shapes (shape_tables)."""
    for kind in range(len(KINDS)):
        want = _COMPILED[kind].match(text) is not None
        assert fastpath._c.start_matches(kind, text.encode("utf-8", "surrogatepass")) == want


@pytest.mark.parametrize("lines", [
    ["2026-11-26 07:00:00 a", "{}"],  # learning
    ["2026-11-26 07:00:00 a", "2026-11-26 07:00:01 b", "node list", '{"a": 1}', "[ERROR] x"],
])
def test_read_elsewhere_takes_the_whole_state(lines: list[str]) -> None:
    # What a fast path hands back (state, kind, run, after_json, own, other, learnt)
    # is all feed() leaves: a stream that read nothing takes it whole.
    fed, adopter = EntryStarts(max_run=1000), EntryStarts(max_run=1000)
    for line in lines:
        fed.feed(line)
    adopter.read_elsewhere(fed.state, fed.kind, fed.run, fed.after_json, fed.own, fed.other,
                           (fed.seen, fed.lines, tuple(fed.counts)))
    assert _state(adopter) == _state(fed)


def test_relearns_a_new_layout() -> None:
    starts = EntryStarts(max_run=3)
    for line in ["2026-11-26 07:00:00 a", "2026-11-26 07:00:01 b", *["x"] * 4,
                 "[2026-11-26 07:00:00] a", "[2026-11-26 07:00:01] b"]:
        starts.feed(line)
    assert (starts.state, starts.kind) == (LEARNED, _kind("bracket_iso"))
    assert starts.feed("continued")


def test_json_lines_are_not_joined_to_a_learned_header() -> None:
    lines = ["[2017-10-23T14:20:12,046][INFO ][a] x", "[2017-10-23T14:20:13,046][WARN ][b] y",
             '{"level":"INFO","message":"a"}', '{"level":"WARN","message":"b"}']
    assert _entries(lines) == lines


def test_a_start_pattern_turns_learning_off() -> None:
    rules = MultilineRules(start=compile_start(r"\d{4}-"))
    j = StreamJoiner("stdout", rules, lambda *a: None)
    assert not j.learning
    assert StreamJoiner("stdout", MultilineRules(), lambda *a: None).learning
    assert not StreamJoiner("stdout", MultilineRules(enabled=False), lambda *a: None).learning
    assert EntryStarts(10).state == LEARNING


def test_a_line_with_another_header_kind_is_an_entry() -> None:
    # Learned "[INFO]"; a line of another layout (a timestamp first) is not joined.
    lines = ["[INFO] a", "[INFO] b", "2019-03-06T08:55:28.903Z [INFO] c", "[ERROR] d",
             "plain continuation"]
    assert _entries(lines) == [*lines[:3], "\n".join(lines[3:])]


def test_nothing_continues_a_json_entry() -> None:
    lines = ["2026-11-26 07:00:00 INFO a", "2026-11-26 07:00:01 INFO b", '{"level":"info"}',
             "redis: 2024/05/16 15:21:18 pubsub.go:168: x", "2026-11-26 07:00:02 INFO c",
             "continued"]
    assert _entries(lines) == [*lines[:4], "\n".join(lines[4:])]


def test_trace_lines_do_not_dilute_the_share() -> None:
    # A first entry with a long indented trace: its header kind is still learned (the
    # share counts lines that may start an entry), so a plain line joins the second.
    trace = [f"\tat a.b{i}(C.java:{i})" for i in range(30)]
    lines = ["06-Mar-2023 18:34:17.383 SEVERE [main] x", *trace,
             "06-Mar-2023 18:34:18.001 SEVERE [main] y", "An error occurred at line: [18]",
             "161212 12:40:38 mysqld_safe Starting"]
    got = _entries(lines)
    assert got[-2:] == ["\n".join(lines[-3:-1]), lines[-1]]
    assert header_kind(lines[-1]) == _kind("compact_date")


def test_a_learned_stream_is_exported_only_to_a_scan_that_checks_starts() -> None:
    # A fast path that does not check the learned header (checks_starts=False) must
    # leave the stream to feed(): it would read a header-less line as an entry.
    rules = MultilineRules()
    j = StreamJoiner("stdout", rules, lambda *a: None)
    for off, line in enumerate(["2026-11-26 07:00:00 a", "2026-11-26 07:00:01 b"]):
        j.feed("f", off, "T", line, False, (), 0)
    assert j.learned_start == _kind("iso_ts")
    assert j.export_held("f", rules) is None
    assert j.export_held("f", rules, checks_starts=True) == (1, "T", "2026-11-26 07:00:01 b",
                                                             (), 21, 1, 0)
    assert j.export_starts() == (_kind("iso_ts"), 0, False, rules.max_lines, 0, 0, None)


def test_a_stream_mixing_layouts_stops_joining() -> None:
    # Two programs on one stream: an ISO-stamped app and a bracketed-date one, plus an
    # access log with no header kind. After a WINDOW of header lines with a third of
    # another kind the stream is OFF: the access lines are entries, not continuations.
    iso = "2026-11-26 07:00:00 INFO app"
    bracket = "[2026-11-26 07:00:00] other"
    access = '10.0.0.1 - - "GET / HTTP/1.1" 200 12'
    lines = [iso, iso, *([iso, iso, bracket] * (WINDOW // 3 + 1)), access, iso, access]
    starts = EntryStarts(max_run=1000)
    joined = [starts.feed(line) for line in lines]
    assert starts.state == OFF
    assert joined[-3:] == [False, False, False]
    # the same lines before the check: the access line was joined to the entry before
    assert EntryStarts(max_run=1000).feed(iso) is False
    early = EntryStarts(max_run=1000)
    assert [early.feed(x) for x in (iso, iso, bracket, access)] == [False, False, False, True]


def test_a_few_lines_of_another_layout_keep_the_learned_kind() -> None:
    iso = "2026-11-26 07:00:00 INFO app"
    starts = EntryStarts(max_run=1000)
    for i in range(3 * WINDOW):
        starts.feed("[2026-11-26 07:00:00] banner" if i % 10 == 5 else iso)
    assert starts.state == LEARNED
    assert starts.feed("continued")


def test_the_mix_is_checked_at_each_window_of_header_lines() -> None:
    iso, other = "2026-11-26 07:00:00 a", "[2026-11-26 07:00:00] other"
    starts = EntryStarts(max_run=1000)
    starts.feed(iso)
    starts.feed(iso)  # learned here: the learning line is no header line of a window
    for _ in range(WINDOW // 5):
        starts.feed(other)
    for _ in range(WINDOW - WINDOW // 5 - 1):
        starts.feed(iso)
    assert (starts.own, starts.other) == (WINDOW - WINDOW // 5 - 1, WINDOW // 5)
    starts.feed(iso)  # ends the window: a fifth of other kinds keeps the kind
    assert (starts.state, starts.own, starts.other) == (LEARNED, 0, 0)
    for _ in range(WINDOW // 5 + 1):
        starts.feed(other)
    for _ in range(WINDOW - WINDOW // 5 - 2):
        starts.feed(iso)
    assert starts.state == LEARNED
    starts.feed(iso)  # more than a fifth: OFF for good
    assert (starts.state, starts.kind, starts.own, starts.other) == (OFF, -1, 0, 0)



def _state(starts: EntryStarts) -> tuple[object, ...]:
    return tuple(getattr(starts, name) for name in EntryStarts.__slots__)
