"""The C hot path on the CRI layout (``<time> <stdout|stderr> <P|F> <text>`` under
/var/log/pods) against the Python path: the same records byte for byte, in the same
order, with the same joiner state (held lines and partial pieces), batches and
checkpoints, for random and hostile lines read in chunks of any size, ``P`` pieces
joined across chunks and rotations."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from collector.source import Source
from tests.collector.test_fastpath import (
    _HEADERS,
    _LOOSE,
    TS,
    _java_app,
    _pick,
    _rows_split,
    _run,
    _spy_feed,
    _trace_app,
    cri_rows,
    lane_bodies,
    multiline_items,
    texts,
    trace_items,
)
from tests.hypothesis_budget import examples

# Times as runtimes write them and as they should not: containerd's RFC3339Nano drops
# trailing zeros; the rest must reach Python (offsets, bad dates, other letters ...).
_ODD_TS = ["2026-11-26T07:00:00.1234Z", "2026-11-26T07:00:00Z", "2026-11-26T07:00:00.1Z",
           "2026-11-26T07:00:00.1234567891234Z", "2026-11-26T07:00:00.123456789+00:00",
           "2026-02-29T07:00:00.5Z", "2024-02-29T07:00:00.5Z", "2026-11-31T07:00:00Z",
           "2026-11-26T24:00:00Z", "2026-11-26T07:60:00Z", "0000-01-01T00:00:00Z",
           "2026-11-26T07:00:00.Z", "2026-11-26t07:00:00.1z", "2026-11-26 07:00:00Z",
           "2026-11-26T07:00:00,123456789Z", "x" * 29 + "Z", "2026-11-26T07:00:00.12345678é",
           "2026-11-26T07:00:00.１Z", "9999-12-31T23:59:59.999999999Z", "", "\t"]


@st.composite
def cri_line(draw: st.DrawFn) -> bytes:
    text = draw(texts()).replace("\n", " ")
    ts = _pick(draw, TS, _ODD_TS, 25)
    stream = _pick(draw, draw(st.sampled_from(["stdout", "stderr"])), ["stdin", "", "STDOUT"], 5)
    tag = _pick(draw, draw(st.sampled_from(["F", "F", "F", "P"])), ["X", "PF", ""], 5)
    sep = _pick(draw, " ", ["  ", "\t", ""], 5)
    raw = f"{ts} {stream} {tag}{sep}{text}".encode()
    if draw(st.integers(0, 9)) == 0:  # no content at all: "<ts> stdout F"
        raw = f"{ts} {stream} {tag}".encode()
    kind = draw(st.integers(0, 19))
    if kind == 0:  # damaged bytes anywhere
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.sampled_from([b"\xff", b"\xed\xa0\x80", b"\xc3", b"\x00",
                                               b"\xf4\x90\x80\x80", b"\r"])) + raw[at:]
    elif kind == 1:
        raw = draw(st.binary(max_size=60))
    return raw.replace(b"\n", b"")


@st.composite
def pieces(draw: st.DrawFn) -> list[bytes]:
    """One entry the runtime split: P pieces, then the F piece (maybe of the other
    stream in between, maybe empty pieces)."""
    stream = draw(st.sampled_from(["stdout", "stderr"]))
    other = "stderr" if stream == "stdout" else "stdout"
    parts = draw(st.lists(st.sampled_from(["", "x", "INFO part", " indented", "é漢字", "y" * 70,
                                           "é" * 33, "z" * 34, "w" * 50,
                                           "Caused by: z", "Traceback (most recent call last):",
                                           "\tat a.b(C.java:1)"]), min_size=1, max_size=5))
    ts = _pick(draw, TS, ["2026-11-26T07:00:00.5Z", "2026-11-26T07:00:00+01:00"], 20)
    out = [f"{ts} {stream} P {p}".encode() for p in parts[:-1]]
    if draw(st.integers(0, 4)) == 0:
        out.insert(draw(st.integers(0, len(out))), f"{TS} {other} F WARN between".encode())
    out.append(f"{TS} {stream} F {parts[-1]}".encode())
    return out


_BLOCKS = [
    ["Traceback (most recent call last):", '  File "x.py", line 1', "    boom()",
     "ValueError: bad", "", "During handling of the above exception, another one:", "",
     "Traceback (most recent call last):", "KeyError: x", "next line"],
    ["panic: oops", "", "goroutine 1 [running]:", "main.main()", "\t/x.go:1 +0x1",
     "exit status 2", "after"],
    ["Exception in thread main java.lang.X", "\tat a.b(C.java:1)", "Caused by: y",
     "Suppressed: z", "\t... 3 more", "next"],
]


@st.composite
def block(draw: st.DrawFn) -> list[bytes]:
    stream = draw(st.sampled_from(["stdout", "stderr"]))
    lines = draw(st.sampled_from(_BLOCKS))
    start = draw(st.integers(0, len(lines) - 1))
    return [f"{TS} {stream} F {t}".encode()
            for t in lines[start:start + draw(st.integers(1, len(lines)))]]


def _both(tmp: Path, monkeypatch: pytest.MonkeyPatch, data: bytes, chunk: int = 4096,
          enabled: bool = True, split: int = -1, flush_ns: int = 1000,
          max_joined: int = 256 << 10) -> tuple[list[Any], list[Any]]:
    return tuple(_run(tmp, data, fast, chunk, enabled, monkeypatch, split, flush_ns,
                      kind="cri", max_joined=max_joined) for fast in (True, False))  # type: ignore[return-value]


@settings(max_examples=examples(400), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(items=st.lists(st.one_of(cri_line().map(lambda x: [x]), pieces(), block()),
                      max_size=25),
       chunk=st.integers(300, 2048), enabled=st.booleans(), long_at=st.integers(-1, 40),
       end_nl=st.booleans(), split=st.integers(-1, 40),
       flush_ns=st.sampled_from([1000, 10**9]), max_joined=st.sampled_from([256 << 10, 100]))
@example(items=[[f"{TS} stdout P ab".encode()], [f"{TS} stdout F cd".encode()]], chunk=300,
         enabled=True, long_at=-1, end_nl=True, split=1, flush_ns=10**9, max_joined=100)
def test_cri_fast_path_matches_python_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, items: list[list[bytes]], chunk: int,
        enabled: bool, long_at: int, end_nl: bool, split: int, flush_ns: int,
        max_joined: int) -> None:
    lines = [line for item in items for line in item]
    if 0 <= long_at < len(lines):  # an over-long line (truncated and skipped)
        lines[long_at] = f"{TS} stdout {'P' if long_at % 2 else 'F'} INFO {'x' * 400}".encode()
    data = b"\n".join(lines) + (b"\n" if end_nl and lines else b"")
    if 0 <= split < len(lines):  # rotated after line ``split``: maybe mid-entry
        split = len(b"\n".join(lines[:split])) + 1
    fast, slow = _both(tmp_path, monkeypatch, data, chunk, enabled, split, flush_ns, max_joined)
    assert fast == slow


@pytest.mark.parametrize("enabled", [True, False])
def test_common_cri_lines_take_the_c_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          enabled: bool) -> None:
    """containerd's lines -- short RFC3339Nano times, P pieces of long lines, two
    streams -- go through C (Python sees none) and match the Python path exactly."""
    calls: list[int] = []
    real = Source.feed_line

    def spy(*args: Any) -> None:
        calls.append(1)
        real(*args)

    rows = []
    for i in range(300):
        stream = "stderr" if i % 7 == 0 else "stdout"
        frac = f"{i * 37 % 10**9:09d}".rstrip("0")
        ts = f"2026-11-26T07:00:{i % 60:02d}{'.' + frac if frac else ''}Z"
        text = f"2026-11-26 07:00:00.123 INFO [http-1] GET /api/{i} 200 user={i}"
        if i % 10 == 3:
            rows += [f"{ts} {stream} P {text[:20]}", f"{ts} {stream} P {text[20:30]}"]
            text = text[30:]
        rows.append(f"{ts} {stream} F {text}")
    data = "".join(r + "\n" for r in rows).encode()
    monkeypatch.setattr(Source, "feed_line", spy)
    fast = _run(tmp_path, data, True, 4096, enabled, monkeypatch, kind="cri")
    assert len(calls) < 300 // 5  # the first lines of each stream (learning its start)
    slow = _run(tmp_path, data, False, 4096, enabled, monkeypatch, kind="cri")
    assert fast == slow
    messages = [v for v, _, _ in fast[-2][0]]  # every record sent, before the acks
    assert len(messages) == 300 and b'"message":"2026-11-26 07:00:00.123 INFO [http-1] GET ' \
        b'/api/3 200 user=3"' in b"".join(messages)


@pytest.mark.parametrize("rows", [
    # pieces of one entry across the rotation: the new file's C scan leaves them to Python
    (["P one ", "P two "], ["F three", "F next"]),
    # an entry cut at the joiner's cap (tagged truncated by Python), then the usual again
    (["P " + "a" * 60, "P " + "b" * 60, "F c"], ["F after"]),
    # exactly at the cap (100 characters), then one past it
    (["P " + "a" * 50, "P " + "b" * 49, "F é", "P " + "a" * 50, "P " + "b" * 50, "F c"], ["F x"]),
    (["P " + "é" * 100, "F ", "P " + "é" * 101, "F "], ["F x"]),
    # pieces whose joined entry opens a Python traceback
    (["P Traceback (most ", "F recent call last):", "F   File x", "F ValueError: x"], ["F z"]),
])
def test_pieces_across_rotation_and_caps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         rows: tuple[list[str], list[str]]) -> None:
    first, second = ("".join(f"{TS} stdout {r}\n" for r in part).encode() for part in rows)
    for enabled in (True, False):
        fast, slow = _both(tmp_path, monkeypatch, first + second, 300, enabled,
                           split=len(first), max_joined=100)
        assert fast == slow


_CRI_BODIES = ["INFO x", "WARN [main] y", "ERROR z", "msg", ""]


@st.composite
def learned_cri_stream(draw: st.DrawFn) -> list[bytes]:
    """CRI lines of one or two streams that mostly start with one header kind (so it
    is learned), with header-less lines, other kinds, layout changes and entries split
    into P pieces (the header maybe cut across them) among them."""
    out = []
    for _ in range(draw(st.integers(1, 3))):  # a layout, then maybe another
        head = draw(st.sampled_from(_HEADERS))
        for _ in range(draw(st.integers(1, 14))):
            r = draw(st.integers(0, 9))
            text = (head + draw(st.sampled_from(_CRI_BODIES)) if r < 6
                    else draw(st.sampled_from(_LOOSE)) if r < 9
                    else draw(st.sampled_from(_HEADERS)) + "x")
            stream = "stderr" if draw(st.integers(0, 5)) == 0 else "stdout"
            if draw(st.integers(0, 5)) == 0 and text:  # split into P pieces, then F
                cuts = sorted(draw(st.lists(st.integers(0, len(text)), min_size=1,
                                            max_size=3)))
                bounds = [0, *cuts, len(text)]
                parts = [text[a:b] for a, b in pairwise(bounds)]
                out += [f"{TS} {stream} P {t}".encode() for t in parts[:-1]]
                text = parts[-1]
            out.append(f"{TS} {stream} F {text}".encode())
    return out


@settings(max_examples=examples(300), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(lines=learned_cri_stream(), chunk=st.integers(300, 4096), max_lines=st.integers(2, 6),
       split=st.integers(-1, 30), flush_ns=st.sampled_from([1000, 10**9]))
def test_learned_cri_streams_match_python_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lines: list[bytes], chunk: int,
        max_lines: int, split: int, flush_ns: int) -> None:
    """Learned entry starts in the CRI layout: learning in Python, header lines (and
    entries joined from P pieces with the header) in C, header-less ones joined in
    Python, unlearning and relearning: the same on both paths."""
    data = b"\n".join(lines) + b"\n"
    if 0 <= split < len(lines):
        split = len(b"\n".join(lines[:split])) + 1
    fast, slow = (_run(tmp_path, data, fast, chunk, True, monkeypatch, split, flush_ns,
                       max_lines, kind="cri") for fast in (True, False))
    assert fast == slow


def test_learned_cri_stream_takes_the_c_path(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A learned CRI stream is read in C (its header checked there, also on an entry
    joined from P pieces); lines without the header, and a joined entry without it, stop
    the scan and Python joins them to the held entry, as the Python path does."""
    calls: list[int] = []
    real = Source.feed_line

    def spy(*args: Any) -> None:
        calls.append(1)
        real(*args)

    rows = []
    for i in range(600):
        text = f"[2026-11-26 07:00:00,{i % 1000:03d}] INFO request {i}"
        if i % 50 == 7:
            rows += [f"{TS} stdout P {text[:10]}", f"{TS} stdout P {text[10:25]}"]
            text = text[25:]
        rows.append(f"{TS} stdout F {text}")
        if i % 100 == 99:  # header-less: continues the entry
            rows += [f"{TS} stdout P org.example.", f"{TS} stdout F NodeList: a, b"]
    data = "".join(r + "\n" for r in rows).encode()
    monkeypatch.setattr(Source, "feed_line", spy)
    fast = _run(tmp_path, data, True, 4096, True, monkeypatch, flush_ns=10**9, kind="cri")
    # learning (the first lines), each header-less entry's pieces and the line after it
    assert len(calls) < 60
    slow = _run(tmp_path, data, False, 4096, True, monkeypatch, flush_ns=10**9, kind="cri")
    assert fast == slow
    joined = [v for v, *_ in fast[-2][0] if b"NodeList" in v]
    assert len(joined) == 6 and all(b"request" in v and b"multiline" in v for v in joined)


@settings(max_examples=examples(500), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(items=st.one_of(multiline_items(), trace_items()), chunk=st.integers(300, 4096),
       max_lines=st.sampled_from([2, 3, 5, 6, 1000]),
       max_bytes=st.sampled_from([40, 60, 90, 200, 1 << 20]),
       split=st.integers(-1, 60), flush_ns=st.sampled_from([1000, 10**9]),
       max_joined=st.sampled_from([256 << 10, 30]))
def test_cri_multiline_entries_match_python_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, items: list[tuple[str, str, bool]],
        chunk: int, max_lines: int, max_bytes: int, split: int, flush_ns: int,
        max_joined: int) -> None:
    """Multi-line entries in the CRI layout joined in C (OFF and learned streams, caps,
    entries across scans, chunks and a rotation, P pieces around and inside them, two
    streams interleaved), Python tracebacks and Go dumps among them: the same records,
    joiner state (mode included), batches and checkpoints as the Python path."""
    data = cri_rows(items)
    at = _rows_split(data, split)
    fast, slow = (_run(tmp_path, data, fast, chunk, True, monkeypatch, at, flush_ns, max_lines,
                       kind="cri", max_joined=max_joined, max_bytes=max_bytes)
                  for fast in (True, False))
    assert fast == slow


@pytest.mark.parametrize("app", [_java_app(300, True), _trace_app(200, True)],
                         ids=["java", "python-go"])
def test_cri_stack_traces_are_joined_in_c(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         app: list[str]) -> None:
    """A learned CRI stream's Java stack traces, or its Python tracebacks and Go dumps,
    some lines cut into P pieces: Python reads only the lines it learns from."""
    items = []
    for i, text in enumerate(app):
        if i % 7 == 3 and len(text) > 10:
            items.append(("stdout", text[:10], True))
            text = text[10:]
        items.append(("stdout", text, False))
    data = cri_rows(items)
    calls = _spy_feed(monkeypatch)
    fast = _run(tmp_path, data, True, 4096, True, monkeypatch, flush_ns=10**9, kind="cri")
    assert len(calls) <= 2
    assert fast == _run(tmp_path, data, False, 4096, True, monkeypatch, flush_ns=10**9,
                        kind="cri")


# Raw bytes that end a clean run in the CRI scans (the UTF-8 check, the record's JSON
# escaping), valid and not mixed.
_CRI_LANE_BYTES = [b'"', b"\x00", b"\\", b"\xff", b"\x01", b"\xc3", b"\t", b"\xed\xa0\x80",
                   b"\x1f", b"\xf4\x90\x80\x80", b"\r", b"\xc3\xa9", "漢".encode(),
                   "😀".encode(), b"\x7f", b"\xe2\x80\xa8", b"\\u0041", b" "]


@pytest.mark.parametrize("ts", [TS, "2026-11-26T07:00:00.5Z"])  # the text at 40 and 32
def test_cri_word_lanes_match_python_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          ts: str) -> None:
    """clean_utf8 (the whole line, 8 bytes a step), n_chars on P pieces (max_joined in
    characters), the record's escaping and the line cap (max_line_bytes 300) with
    their special byte in each lane of a word and at the very end: the same records
    and joiner state (p_size) as the Python path."""
    lines = [f"{ts} stdout {'P' if i % 5 == 0 else 'F'} ".encode() + body
             for i, body in enumerate(lane_bodies(_CRI_LANE_BYTES))]
    prefix = len(f"{ts} stdout F ")
    for size in range(295, 306):  # around max_line_bytes: the last line C reads
        body = "é" * ((size - prefix) // 2) + "e" * ((size - prefix) % 2)
        lines.append(f"{ts} stdout F {body}".encode())
    data = b"\n".join(lines) + b"\n"
    for max_joined in (256 << 10, 40):
        fast, slow = (_run(tmp_path, data, fast, 1 << 16, False, monkeypatch, kind="cri",
                           max_joined=max_joined) for fast in (True, False))
        assert fast == slow
