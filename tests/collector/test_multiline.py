"""Reassembly: partial pieces, stack traces, timeouts, caps, per-app start patterns."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from collector.entry_start import WINDOW
from collector.multiline import MultilineRules, StreamJoiner

Out = list[tuple[int, str, tuple[str, ...]]]


def joiner(rules: MultilineRules | None = None) -> tuple[StreamJoiner, Out]:
    out: Out = []

    def sink(origin: object, off: int, ts: str | None, stream: str | None, text: str,
             tags: tuple[str, ...]) -> None:
        out.append((off, text, tags))

    return StreamJoiner("stdout", rules or MultilineRules(), sink), out


def feed_lines(j: StreamJoiner, lines: list[str], origin: object = "f") -> None:
    off = 0
    for line in lines:
        j.feed(origin, off, None, line, False, (), 0)
        off += len(line) + 1
    j.flush()


def test_java_trace_joined() -> None:
    j, out = joiner()
    lines = ["2026 ERROR boom", "java.lang.IllegalStateException: x", "\tat a.B.c(B.java:1)",
             "\tat a.B.d(B.java:2)", "Caused by: java.io.IOException: y", "\t... 3 more",
             "2026 INFO next"]
    feed_lines(j, lines)
    # the exception class line is not indented: Java traces start with it after the message
    assert [t for _, t, _ in out] == ["2026 ERROR boom",
                                      "\n".join(lines[1:6]), "2026 INFO next"]
    assert "multiline" in out[1][2]


def test_python_traceback_joined_with_log_line() -> None:
    j, out = joiner()
    lines = ["ERROR:root:failed", "Traceback (most recent call last):",
             '  File "a.py", line 1, in <module>', "    f()", "ValueError: bad", "INFO:root:next"]
    feed_lines(j, lines)
    assert [t for _, t, _ in out] == ["\n".join(lines[:5]), "INFO:root:next"]
    assert out[1][0] == sum(len(x) + 1 for x in lines[:5])


def test_python_chained_traceback() -> None:
    j, out = joiner()
    lines = ["Traceback (most recent call last):", '  File "a", line 1', "KeyError: 'k'", "",
             "During handling of the above exception, another exception occurred:", "",
             "Traceback (most recent call last):", '  File "b", line 2', "ValueError: v",
             "done"]
    feed_lines(j, lines)
    assert [t for _, t, _ in out] == ["\n".join(lines[:9]), "done"]


def test_go_panic_dump_joined() -> None:
    j, out = joiner()
    lines = ["panic: runtime error: index out of range [3] with length 3", "",
             "goroutine 1 [running]:", "main.main()", "\t/app/main.go:8 +0x1d",
             "exit status 2", "next line"]
    feed_lines(j, lines)
    assert [t for _, t, _ in out] == ["\n".join(lines[:6]), "next line"]


def test_plain_lines_stay_single() -> None:
    j, out = joiner()
    feed_lines(j, ["a", "b", "", "c"])
    assert [t for _, t, _ in out] == ["a", "b", "", "c"]
    assert all("multiline" not in tags for _, _, tags in out)


def test_flush_timeout() -> None:
    j, out = joiner(MultilineRules(flush_ns=1000))
    j.feed("f", 0, None, "first", False, (), 10)
    j.flush_due(500)
    assert out == []
    j.flush_due(1010)
    assert out == [(0, "first", ())]
    assert j.deadline == 0


def test_max_lines_splits() -> None:
    j, out = joiner(MultilineRules(max_lines=3))
    feed_lines(j, ["head", " 1", " 2", " 3", " 4"])
    assert [t for _, t, _ in out] == ["head\n 1\n 2", " 3\n 4"]


def test_max_bytes_splits() -> None:
    j, out = joiner(MultilineRules(max_bytes=20))
    feed_lines(j, ["head", " " + "x" * 10, " " + "y" * 10])
    assert len(out) == 2 and "".join(t for _, t, _ in out).count("x") == 10


def test_per_app_start_pattern() -> None:
    j, out = joiner(MultilineRules(start=re.compile(r"\d{4}-")))
    feed_lines(j, ["2026- a", "not indented but continues", "2026- b"])
    assert [t for _, t, _ in out] == ["2026- a\nnot indented but continues", "2026- b"]


def test_disabled_passes_lines_through() -> None:
    j, out = joiner(MultilineRules(enabled=False))
    feed_lines(j, ["a", "\tb"])
    assert [t for _, t, _ in out] == ["a", "\tb"]


def test_partial_pieces_joined_with_first_offset() -> None:
    j, out = joiner()
    j.feed("f", 0, "t1", "aaa", True, (), 0)
    j.feed("f", 10, "t2", "bbb", True, (), 0)
    j.feed("f", 20, "t3", "ccc", False, (), 0)
    j.flush()
    assert out == [(0, "aaabbbccc", ())]


def test_partial_never_completed_is_tagged() -> None:
    j, out = joiner()
    j.feed("f", 0, None, "half", True, (), 0)
    assert j.floor("f") == 0 and j.floor("other") is None
    j.flush()
    assert out == [(0, "half", ("partial",))]


def test_partial_joined_size_capped() -> None:
    j, out = joiner(MultilineRules(max_line_bytes=10))
    for i in range(5):
        j.feed("f", i * 10, None, "x" * 4, True, (), 0)
    j.feed("f", 50, None, "end", False, (), 0)
    j.flush()
    assert out == [(0, "x" * 10, ("truncated",))]


def test_floor_tracks_held_entry() -> None:
    j, _ = joiner()
    j.feed("f", 5, None, "held", False, (), 0)
    assert j.floor("f") == 5
    j.flush()
    assert j.floor("f") is None


@given(st.lists(st.text(alphabet=st.sampled_from("ab \tTrcepvl:()\r"), max_size=12),
                max_size=30))
def test_every_line_survives_joining(lines: list[str]) -> None:
    j, out = joiner()
    feed_lines(j, lines)
    joined = "\n".join(t for _, t, _ in out).split("\n") if out else []
    assert joined == lines
    offsets = [o for o, _, _ in out]
    assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets)


def test_entry_joined_across_rotation_holds_both_files() -> None:
    j, out = joiner()
    j.feed("old", 100, None, "first piece ", True, (), 0)
    j.feed("new", 0, None, "last piece", False, (), 0)  # the rotation came in between
    assert j.floor("old") == 100 and j.floor("new") == 0
    j.feed("new", 30, None, "\tat continuation", False, (), 0)
    assert j.floor("new") == 0
    j.feed("new", 60, None, "next entry", False, (), 0)
    assert j.floor("old") is None and j.floor("new") == 60
    assert out[0][1] == "first piece last piece\n\tat continuation"


def test_continuation_from_new_file_holds_it() -> None:
    j, _ = joiner()
    j.feed("old", 5, None, "ERROR x", False, (), 0)
    j.feed("new", 0, None, "\tat y", False, (), 0)
    assert j.floor("new") == 0 and j.floor("old") == 5


# -- the fast path's boundary: export_held / adopt_held ---------------------------------
_STATE = ("p_parts", "p_origin", "p_off", "p_ts", "p_tags", "p_size", "p_other", "h_text",
          "h_parts", "h_origin", "h_off", "h_ts", "h_tags", "h_size", "h_lines", "_mode",
          "deadline", "h_other")


def _state(j: StreamJoiner) -> list[object]:
    return [getattr(j, a) for a in _STATE]


# Lines that open, continue, chain and close trace modes (Python traceback, Go dump).
_TRACE_LINES = st.sampled_from([
    "Traceback (most recent call last):", '  File "x.py", line 1, in f', "ValueError: boom",
    "KeyboardInterrupt", "During handling of the above exception, another exception occurred:",
    "The above exception was the direct cause of the following exception:", "",
    "panic: boom", "fatal error: all goroutines are asleep", "goroutine 1 [running]:",
    "main.main()", "\t/app/main.go:9 +0x1d", "created by main.f", "[signal SIGSEGV]",
    "exit status 2", "plain"])
_LINES = st.one_of(st.text(alphabet=st.sampled_from("ab \tCTgp:[()"), max_size=8), _TRACE_LINES)


@given(st.lists(_LINES, max_size=8), _LINES)
def test_adopting_an_export_gives_the_same_joiner(lines: list[str], last: str) -> None:
    """What a fast path does at its boundary: a joiner that adopts the exported line
    (its trace mode included) is the joiner that was fed it, and both emit the same
    afterwards."""
    rules = MultilineRules()
    fed, fed_out = joiner(rules)
    for i in range(WINDOW):  # lines with no header: nothing learned, the shapes decide
        fed.feed("f", 0, "T", f"plain {i}", False, (), 0)
    fed.flush()
    for i, line in enumerate(lines):
        fed.feed("f", i * 10, "T", line, False, (), 0)
    before = fed.export_held("f", rules)
    if before is None:  # a state only feed() may go on from
        return
    fed.feed("f", 100, "T2", last, False, (), 5)
    now = fed.export_held("f", rules)
    adopter, adopter_out = joiner(rules)
    if before:
        adopter.adopt_held("f", *before, 0)
        adopter.feed("f", 100, "T2", last, False, (), 5)
    else:
        adopter.feed("f", 100, "T2", last, False, (), 5)
    if now:  # what the fast path hands back after reading ``last``
        fresh, _ = joiner(rules)
        fresh.adopt_held("f", *now, 5)
        assert _state(fresh) == _state(fed)
    assert _state(adopter) == _state(fed)
    fed.flush()
    adopter.flush()
    assert adopter_out == fed_out[len(fed_out) - len(adopter_out):]


def test_export_partial_carries_plain_pieces_of_this_file_only() -> None:
    ts = "2026-11-26T07:00:00.000000000Z"
    j, out = joiner()
    assert j.export_partial("f") == ()
    j.feed("f", 0, ts, "ab", True, (), 0)
    j.feed("f", 3, ts, "cé", True, (), 0)
    assert j.export_partial("f") == (0, ts, ("ab", "cé"), 4)
    assert j.export_partial("g") is None  # pieces of another file (a rotation)
    # what a fast path hands back is what feed would have left
    k, k_out = joiner()
    k.adopt_partial("f", 0, ts, ("ab", "cé"), 4, True, 0)
    assert k.deadline == j.deadline
    for x in (j, k):
        x.feed("f", 6, ts, "d", False, (), 0)
        x.flush()
    assert out == k_out == [(0, "abcéd", ())]
    j.feed("f", 9, ts, "x", True, ("invalid_utf8",), 0)
    assert j.export_partial("f") is None  # tagged
    j.flush()
    j.feed("f", 12, None, "x", True, (), 0)
    assert j.export_partial("f") is None  # no time


def test_export_held_refuses_what_a_fast_path_cannot_carry() -> None:
    rules = MultilineRules()
    j, _ = joiner(rules)
    assert j.export_held("f", rules) is None  # learning its entry starts (entry_start)
    assert j.export_held("f", rules, checks_starts=True) == ()  # a scan that learns too
    for i in range(WINDOW):  # lines with no header: nothing learned, the shapes decide
        j.feed("f", 0, "T", f"plain {i}", False, (), 0)
    j.flush()
    assert j.export_held("f", rules) == ()  # nothing held
    j.feed("f", 0, "T", "plain", False, (), 0)
    assert j.export_held("f", rules) == (0, "T", "plain", (), 5, 1, 0)
    assert j.export_held("g", rules) is None  # held from another file (a rotation)
    assert j.export_held("f", MultilineRules()) is None  # other rules (a pod annotation)
    j.feed("f", 6, "T", "\tat x", False, (), 0)
    j.feed("f", 12, "T", "Caused by: é", False, (), 0)
    # lines joined: the first, the continuation lines, h_size (characters), h_lines, mode
    assert j.export_held("f", rules) == (0, "T", "plain", ("\tat x", "Caused by: é"), 24, 3,
                                         0)
    j.feed("g", 0, "T", "\tat y", False, (), 0)
    assert j.export_held("g", rules) is None  # joined across a rotation
    assert j.export_held("f", rules) is None  # ... either file
    j.flush()
    j.feed("f", 20, "T", "Traceback (most recent call last):", False, (), 0)
    assert j.export_held("f", rules) == (20, "T", "Traceback (most recent call last):", (),
                                         34, 1, 1)  # a trace mode crosses as its int
    j.feed("f", 60, "T", "  f()", False, (), 0)
    j.feed("f", 70, "T", "ValueError", False, (), 0)
    assert j.export_held("f", rules) == (20, "T", "Traceback (most recent call last):",
                                         ("  f()", "ValueError"), 51, 3, 3)  # after its end
    j.flush()
    j.feed("f", 30, "T", "piece", True, (), 0)
    assert j.export_held("f", rules) == ()  # partial pieces are export_partial's
    assert j.export_partial("f") is None  # ... and "T" is not a canonical time
    j.flush()
    j.feed("f", 40, None, "no time", False, (), 0)
    assert j.export_held("f", rules) is None
    j.flush()
    j.feed("f", 50, "T", "tagged", False, ("nul_bytes",), 0)
    assert j.export_held("f", rules) is None


def test_numbered_stack_frames_continue() -> None:
    # PHP / Laravel / Dart frames: "#0 /app/x.php(9): f()", opened by "Stack trace:"
    out: list[str] = []
    j = StreamJoiner("stdout", MultilineRules(), lambda *a: out.append(a[4]))
    lines = ["PHP Fatal error:  Uncaught Exception: boom in /app/x.php:3", "Stack trace:",
             "#0 /app/x.php(9): f()", "#1 {main}", "next entry"]
    for off, line in enumerate(lines):
        j.feed(None, off, None, line, False, (), 0)
    j.flush()
    assert out == ["\n".join(lines[:4]), lines[4]]
