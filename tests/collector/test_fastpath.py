"""The C hot path (collector.fastpath) against the Python path it shortcuts: the same
records byte for byte, in the same order, with the same delivery-report requests,
joiner state, level hints, batches and checkpoints, for random and hostile Docker
json-file lines read in chunks of any size."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from collector import fastpath
from collector import source as source_module
from collector.entry_start import KINDS, LEARNED, OFF, WINDOW
from collector.files import TrackedFile
from collector.multiline import MultilineRules
from collector.source import Source
from logpipe.record import Record
from tests.collector.test_source import Recorder
from tests.hypothesis_budget import examples

TS = "2026-11-26T07:00:00.123456789Z"
META: dict[str, Any] = {
    "container_id": "c" * 64, "container_name": "web", "image": "web:1",
    "namespace": "default", "pod": None, "pod_uid": None, "app": "web",
    "labels": {"a": "b"}, "attrs": {}}

_KIND = {name: i for i, (name, _) in enumerate(KINDS)}
_JOINER_FIELDS = ("p_parts", "p_origin", "p_off", "p_ts", "p_tags", "p_size", "p_other",
                  "h_text", "h_parts", "h_origin", "h_off", "h_ts", "h_tags", "h_size",
                  "h_lines", "_mode", "deadline", "h_other", "starts_state")


def test_extension_is_built() -> None:
    # pip install -e . builds it; without it the collector is about 3x slower.
    assert fastpath.available()


@given(st.binary(max_size=400))
def test_blake2b_matches_hashlib(data: bytes) -> None:
    assert fastpath._c.blake2b_hex(data) == hashlib.blake2b(data, digest_size=16).hexdigest()


# -- line generation -------------------------------------------------------------------
_WORDS = ["INFO", "WARN", "WARNING", "ERROR", "ERR", "DEBUG", "FATAL", "CRIT", "FINER",
          "INFOx", "INFO-", "info", "[error]", "level=warn", "INFO.", "INFOé", "éINFO"]
_SHAPES = ["", " indented", "\tat com.example.Main(Main.java:1)", "Caused by: boom",
           "Suppressed: x", "Traceback (most recent call last):", '  File "x.py", line 1',
           "ValueError: bad", "panic: oops", "goroutine 1 [running]:", "[signal SIGSEGV]",
           "main.main()", "fatal error: x", "During handling of the above exception",
           '{"level":"warn","msg":"x"}', "I1126 07:00:00.123456 1 x.go:1] hi",
           "<11>Nov 26 host x", 'GET / HTTP/1.1" 503 12 ', "Sxyz", "Cabc", "gx", "[x] y",
           "Tx", "a\nb", "tab\tin", "quote\"back\\slash/", "ctl\x01\x1f\x7f", "nul\x00x",
           "é ü 漢字 😀", "\u2028", "2017-04-07 22:45:30 CEST [1] STATEMENT:  SELECT 1"]


@st.composite
def texts(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 9))
    if kind < 4:
        return draw(st.sampled_from(_SHAPES))
    if kind < 8:  # a level word at some column, as loggers print them
        pad = draw(st.sampled_from(["2026-11-26 07:00:00.123 ", "", "x ", "é ", "12 ",
                                    "2026-11-26 07:00:00 ", "a.", "a-"]))
        return pad + draw(st.sampled_from(_WORDS)) + draw(st.sampled_from(
            ["", " [main] msg", ": msg", "-x", "é", "\n INFO"]))
    return draw(st.text(max_size=60))


def _pick(draw: st.DrawFn, usual: Any, odd: list[Any], percent_odd: int = 15) -> Any:
    """Mostly the usual value (so the C path runs long stretches), sometimes odd."""
    return draw(st.sampled_from(odd)) if draw(st.integers(0, 99)) < percent_odd else usual


@st.composite
def docker_line(draw: st.DrawFn) -> bytes:
    text = draw(texts())
    log = text + _pick(draw, "\n", [""])  # some partial pieces
    stream = _pick(draw, draw(st.sampled_from(["stdout", "stderr"])), ["stdin", ""], 5)
    ts = _pick(draw, TS, ["2026-11-26T07:00:00Z", "2026-11-26T07:00:00.12345678xZ",
                          "x" * 29 + "Z", "2026-11-26T07:00:00.123456789+00:00"])
    obj: dict[str, Any] = {"log": log, "stream": stream}
    if draw(st.integers(0, 4)) == 0:  # Docker's labels/env log-opts
        obj["attrs"] = draw(st.dictionaries(st.text(max_size=8), st.text(max_size=8),
                                            min_size=draw(st.integers(0, 2)), max_size=3))
    obj["time"] = ts
    style = _pick(draw, 5, [0, 1, 2, 3, 4], 30)
    if style == 0:  # Python's own escaping: \uXXXX for non-ASCII, surrogate pairs
        raw = json.dumps(obj, separators=(",", ":")).encode()
    elif style == 1:  # "\/" and other legal but unusual escapes
        raw = orjson.dumps(obj).replace(b"/", b"\\/").replace(b"a", b"\\u0061")
    elif style == 2:  # not the usual shape: spaces, key order, extra keys
        alt = draw(st.sampled_from([{**obj, "attrs": {"k": "v"}}, {"stream": stream, **obj}]))
        raw = json.dumps(alt).encode()
    elif style == 3:  # damaged bytes, often inside the attrs object
        raw = orjson.dumps(obj)
        lo, hi = 0, len(raw)
        if "attrs" in obj and draw(st.booleans()):
            lo = raw.index(b'"attrs":') + 8
            hi = raw.index(b',"time":')
        at = draw(st.integers(lo, hi))
        cut = at + draw(st.integers(0, 1))  # insert, or replace one byte
        raw = raw[:at] + draw(st.sampled_from([
            b"\xff", b"\xed\xa0\x80", b"\xc3", b"\x00", b'"', b"\\", b"\\u00", b"\t", b"",
            b"\\ud800", b"\\ud83d\\ude00", b"x", b",", b":", b"}", b"{", b"\\/"])) + raw[cut:]
    elif style == 4:
        raw = draw(st.binary(max_size=80)).replace(b"\n", b"")
    else:
        raw = orjson.dumps(obj)
    return raw.replace(b"\n", b"")


_BLOCKS = [
    ["Traceback (most recent call last):", '  File "x.py", line 1', "    boom()",
     "ValueError: bad", "", "During handling of the above exception, another one:", "",
     "Traceback (most recent call last):", "KeyError: x", "next line"],
    ["panic: oops", "", "goroutine 1 [running]:", "main.main()", "\t/x.go:1 +0x1",
     "exit status 2", "after"],
    ["fatal error: x", "[signal SIGSEGV]", "", "goroutine 7", "done"],
    ["Exception in thread main java.lang.X", "\tat a.b(C.java:1)", "Caused by: y",
     "Suppressed: z", "\t... 3 more", "next"],
    ["Traceback (most recent call last):", "During handling of the above exception", "", "x"],
    # a single-letter level field (learned after level_field.LEARN_RUN entries)
    [f"2026-11-26 07:00:{i:02d} [main] {'IWED'[i % 4]} msg {i}" for i in range(20)],
]


@st.composite
def block(draw: st.DrawFn) -> list[bytes]:
    """Related lines of one stream: a stack trace, or one layout with level words."""
    stream = draw(st.sampled_from(["stdout", "stderr"]))
    if draw(st.booleans()):
        lines = draw(st.sampled_from(_BLOCKS))
        start = draw(st.integers(0, len(lines) - 1))
        lines = lines[start:start + draw(st.integers(1, len(lines)))]
    else:
        pad = draw(st.sampled_from(["2026-11-26 07:00:00.123 ", "x ", "a.", "", "é "]))
        lines = [pad + w + draw(st.sampled_from(["", " msg", "é", "-x", ".x"]))
                 for w in draw(st.lists(st.sampled_from(_WORDS), min_size=1, max_size=6))]
    return [orjson.dumps({"log": t + "\n", "stream": stream, "time": TS}) for t in lines]


def _run(tmp: Path, data: bytes, fast: bool, chunk: int, enabled: bool,
         monkeypatch: pytest.MonkeyPatch, split: int = -1, flush_ns: int = 1000,
         max_lines: int = 1000, kind: str = "docker", max_joined: int = 256 << 10,
         max_bytes: int = 1 << 20) -> list[Any]:
    """Read ``data`` chunk by chunk; a snapshot of everything observable per step.
    ``split`` >= 0: the bytes from there on are a second file (the log rotated), read
    after the first, so held entries cross files as in a rotation. ``kind``: the
    layout (docker, cri); ``max_joined``: the joiner's cap on an entry joined from
    pieces (characters); ``max_lines`` / ``max_bytes``: its caps on a multi-line entry."""
    parts = [data] if split < 0 else [data[:split], data[split:]]
    out = Recorder()
    out.read_chunk_bytes = chunk
    out.max_line_bytes = 300
    out.max_record_bytes = 700
    rules = MultilineRules(enabled=enabled, flush_ns=flush_ns, max_lines=max_lines,
                           max_line_bytes=max_joined, max_bytes=max_bytes)
    src = Source(str(tmp / "x-json.log"), kind, META, rules, out)
    files: list[TrackedFile] = []
    for i, part in enumerate(parts):
        path = tmp / f"{'fast' if fast else 'slow'}-{i}.log"
        path.write_bytes(part)
        fd = os.open(path, os.O_RDONLY)
        # the same identity in both runs, so the same ids; each file its own
        files.append(TrackedFile("/var/lib/docker/x-json.log", kind, fd, 1, 2 + i, "fp",
                                 0, "node-1", lambda *a: None, [0]))
    src.ingest_ts = TS
    # the same ingest time in both runs
    monkeypatch.setattr(source_module, "format_ns", lambda ns: "2026-11-26T08:00:00.000000000Z")
    if not fast:
        monkeypatch.setattr(fastpath, "_c", None)
    steps: list[Any] = []

    def snap() -> None:
        def norm(v: Any) -> Any:
            if isinstance(v, tuple):  # h_other / p_other: (file, offset)
                return tuple(norm(x) for x in v)
            if isinstance(v, list):  # p_parts / h_parts: as they are now, not as they end
                return list(v)
            return f"F{files.index(v)}" if isinstance(v, TrackedFile) else v

        steps.append((
            [(v, k, cb is None) for v, k, cb in out.sent], list(src.level_hint),
            [(f.pos, f.acked, [(b.count, b.safe, b.held, b.pending, b.closed)
                               for b in f.batches]) for f in files],
            [(s, [norm(getattr(j, a)) for a in _JOINER_FIELDS]) for s, j in src.joiners.items()],
            out.truncated, src.last_lines))

    try:
        now = 0
        for f in files:
            src.current = f
            for _ in range(10_000):
                src.last_lines = 0
                n = src.read(f, now, at_end=False)
                snap()
                now += 600  # some reads pass the flush deadline, some do not
                src.flush_due(now)
                snap()
                if n == 0:
                    break
            src.read(f, now, at_end=True)
            src.close_batch(f)
            snap()
        src.flush_all()
        snap()
        out.ack_all()
        snap()
    finally:
        for f in files:
            os.close(f.fd)
        monkeypatch.undo()
    return steps


@settings(max_examples=examples(400), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(items=st.lists(st.one_of(docker_line().map(lambda x: [x]), block()), max_size=25),
       chunk=st.integers(300, 2048),
       enabled=st.booleans(), long_at=st.integers(-1, 40), end_nl=st.booleans(),
       split=st.integers(-1, 40), flush_ns=st.sampled_from([1000, 10**9]),
       max_joined=st.sampled_from([256 << 10, 120]))
def test_fast_path_matches_python_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       items: list[list[bytes]], chunk: int, enabled: bool,
                                       long_at: int, end_nl: bool, split: int,
                                       flush_ns: int, max_joined: int) -> None:
    lines = [line for item in items for line in item]
    if 0 <= long_at < len(lines):  # an over-long line (truncated and skipped)
        lines[long_at] = orjson.dumps({"log": "INFO " + "x" * 400 + "\n", "stream": "stdout",
                                       "time": TS})
    data = b"\n".join(lines) + (b"\n" if end_nl and lines else b"")
    if 0 <= split < len(lines):  # rotated after line ``split``
        split = len(b"\n".join(lines[:split])) + 1
    fast = _run(tmp_path, data, True, chunk, enabled, monkeypatch, split, flush_ns,
                max_joined=max_joined)
    slow = _run(tmp_path, data, False, chunk, enabled, monkeypatch, split, flush_ns,
                max_joined=max_joined)
    assert fast == slow


def test_common_lines_take_the_c_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Lines with no header to learn go through C, the learning window (entry_start.WINDOW
    lines) and after it, and still match the Python path."""
    calls: list[int] = []
    real = Source.feed_line

    def spy(*args: Any) -> None:
        calls.append(1)
        real(*args)

    body = [f"GET /api/{i} 200 user={i} took 3 ms" for i in range(3000)]
    data = b"".join(orjson.dumps({"log": t + "\n", "stream": "stderr" if i % 7 == 0 else "stdout",
                                  "time": TS}) + b"\n" for i, t in enumerate(body))
    monkeypatch.setattr(Source, "feed_line", spy)
    fast = _run(tmp_path, data, True, 4096, True, monkeypatch)
    # only each stream's first line (its joiner is made there); the C learns from the rest
    assert len(calls) == 2
    slow = _run(tmp_path, data, False, 4096, True, monkeypatch)
    assert fast == slow
    assert len(fast[-1][0]) == 0 and fast[-2][0][-1][0].startswith(b'{"id":"')


@pytest.mark.parametrize("chunk", [4096, 1 << 20])
def test_learned_stream_takes_the_c_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        chunk: int) -> None:
    """The bench's shape: the C scan learns its timestamp (2 lines a stream), then
    reads every line with the header and joins a line without it to the held entry;
    the same records and state as the Python path."""
    calls: list[int] = []
    real = Source.feed_line

    def spy(*args: Any) -> None:
        calls.append(1)
        real(*args)

    body = [f"2026-11-26 07:00:00.123 INFO [http-1] GET /api/{i} 200 user={i}" for i in range(600)]
    body[450] = "node list: a, b, c"
    data = b"".join(orjson.dumps({"log": t + "\n", "stream": "stderr" if i % 7 == 0 else "stdout",
                                  "time": TS}) + b"\n" for i, t in enumerate(body))
    monkeypatch.setattr(Source, "feed_line", spy)
    fast = _run(tmp_path, data, True, chunk, True, monkeypatch, flush_ns=10**9)
    # each stream's first line (its joiner is made there); the C learns the timestamp
    # from the next ones and joins "node list" to the entry before it
    assert len(calls) == 2
    slow = _run(tmp_path, data, False, chunk, True, monkeypatch, flush_ns=10**9)
    assert fast == slow
    joined = [v for v, *_ in fast[-2][0] if b"node list" in v]
    assert len(joined) == 1 and b"user=449" in joined[0] and b"multiline" in joined[0]


def test_learned_stream_joins_header_less_lines(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Lines without the learned header (not a built-in shape) continue their entry,
    on both paths alike."""
    texts = []
    for i in range(100):
        texts.append(f"[2026-11-26 07:00:00,{i:03d}] INFO request {i}")
        if i % 10 == 9:
            texts.append("org.example.NodeList: a, b, c")
    data = b"".join(orjson.dumps({"log": t + "\n", "stream": "stdout", "time": TS}) + b"\n"
                    for t in texts)
    fast = _run(tmp_path, data, True, 4096, True, monkeypatch, flush_ns=10**9)
    slow = _run(tmp_path, data, False, 4096, True, monkeypatch, flush_ns=10**9)
    assert fast == slow
    joined = [v for v, *_ in fast[-2][0] if b"NodeList" in v]
    assert len(joined) == 10 and all(b"request" in v and b"multiline" in v for v in joined)


_HEADERS = ["2026-11-26 07:00:00.123 ", "[2026-11-26 07:00:00,123] ", "Nov 26 07:00:00 ",
            "I1126 07:00:00.123456 ", "13.07.2018 07:06:00 ", "07:00:00.123 ", "INFO ",
            "[WARN] ", "2026-11-26T07:00", "[Wed Nov 26 "]
_BODIES = ["INFO x", "WARN [main] y", "ERROR z", "msg", ""]
_LOOSE = ["node list: a, b", "", "PHP message: x", "Version: 1", "  indented", "\tat x(Y.java:1)",
          "Caused by: e", '{"level":"warn"}', "Traceback (most recent call last):",
          "ValueError: v", "2026-11-26", "INFORMATION", "é 07:00:00", "[2026-11-26"]


@st.composite
def learned_stream(draw: st.DrawFn) -> list[bytes]:
    """Lines of one or two streams that mostly start with one header kind (so it is
    learned), with header-less lines, other kinds and layout changes among them."""
    out = []
    for _ in range(draw(st.integers(1, 3))):  # a layout, then maybe another
        head = draw(st.sampled_from(_HEADERS))
        for _ in range(draw(st.integers(1, 14))):
            r = draw(st.integers(0, 9))
            text = (head + draw(st.sampled_from(_BODIES)) if r < 6
                    else draw(st.sampled_from(_LOOSE)) if r < 9
                    else draw(st.sampled_from(_HEADERS)) + "x")
            stream = "stderr" if draw(st.integers(0, 5)) == 0 else "stdout"
            partial = draw(st.integers(0, 30)) == 0
            out.append(orjson.dumps({"log": text + ("" if partial else "\n"),
                                     "stream": stream, "time": TS}))
    return out


@settings(max_examples=examples(300), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(lines=learned_stream(), chunk=st.integers(300, 4096), max_lines=st.integers(2, 6),
       split=st.integers(-1, 30), flush_ns=st.sampled_from([1000, 10**9]))
def test_learned_streams_match_python_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           lines: list[bytes], chunk: int, max_lines: int,
                                           split: int, flush_ns: int) -> None:
    """Learning, learned (header lines in C, header-less ones joined in Python), the
    caps, unlearning (a run over max_lines) and relearning: the same on both paths."""
    data = b"\n".join(lines) + b"\n"
    if 0 <= split < len(lines):
        split = len(b"\n".join(lines[:split])) + 1
    fast = _run(tmp_path, data, True, chunk, True, monkeypatch, split, flush_ns, max_lines)
    slow = _run(tmp_path, data, False, chunk, True, monkeypatch, split, flush_ns, max_lines)
    assert fast == slow


# -- multi-line entries joined in C ----------------------------------------------------
# First lines of entries: a learned header kind (ISO, bracketed), plain ones, a Go dump
# head; and the lines that may follow them: the built-in continuation shapes (joined
# in C on a plain entry), header-less lines (joined in C on a learned stream), and
# what stops the scan (trace openers, Go dump lines, JSON, another kind's header).
_HEADS = ["2026-11-26 07:00:00.123 ERROR [main] boom", "2026-11-26 07:00:01.456 INFO started",
          "[2026-11-26 07:00:00,123] WARN y", "ERROR plain", "Exception in thread main",
          "panic: oops", "x", "é 漢字 😀 WARN"]
_CONTINUED = ["\tat com.example.Main.run(Main.java:12)", "    SELECT * FROM t WHERE a = 1",
              "Caused by: java.io.IOException: é", "Suppressed: z", "\t... 3 more",
              "#0 /app/x.php(9): f()", "Stack trace:", "[stacktrace]", "  漢字 😀 INFO",
              " ", "\t", "Caused by: " + "x" * 40]
_AFTER = ["", "java.lang.IllegalStateException: boom", "node list: a, b", '{"a":1}',
          "Traceback (most recent call last):", "goroutine 1 [running]:", "[signal SIGSEGV]",
          "2026-11-26 07:00:02 other", "[2026-11-26 07:00:00,123] other kind", "INFO x",
          "Tx", "#x", "main.main()", "ValueError: v"]


@st.composite
def multiline_items(draw: st.DrawFn) -> list[tuple[str, str, bool]]:
    """(stream, text, partial) of entries of one or two streams, their lines
    interleaved: a first line, then continuation lines (mostly joined), maybe other
    lines among them; some lines cut into partial pieces. A stream may first write
    WINDOW lines with no header kind (its learned start goes OFF: the built-in shapes
    alone decide), else it learns the header its entries start with."""
    per_stream: dict[str, list[str]] = {"stdout": [], "stderr": []}
    for stream in per_stream:
        if draw(st.integers(0, 2)) == 0:
            per_stream[stream] += [f"GET /api/{i} 200" for i in range(WINDOW)]
    for _ in range(draw(st.integers(1, 10))):
        stream = "stderr" if draw(st.integers(0, 3)) == 0 else "stdout"
        lines = [draw(st.sampled_from(_HEADS))]
        for _ in range(draw(st.integers(0, 8))):
            lines.append(draw(st.sampled_from(_CONTINUED if draw(st.integers(0, 4))
                                              else _AFTER)))
        per_stream[stream] += lines
    return _interleave(draw, per_stream)


def _interleave(draw: st.DrawFn, per_stream: dict[str, list[str]]
                ) -> list[tuple[str, str, bool]]:
    """(stream, text, partial) of the streams' lines interleaved at random, some cut
    into partial pieces."""
    out: list[tuple[str, str, bool]] = []
    rows = {stream: list(lines) for stream, lines in per_stream.items()}
    while rows["stdout"] or rows["stderr"]:  # the two streams' lines interleaved
        stream = draw(st.sampled_from([s for s in rows if rows[s]]))
        text = rows[stream].pop(0)
        if len(text) > 4 and draw(st.integers(0, 12)) == 0:  # cut into pieces
            cut = draw(st.integers(1, len(text) - 1))
            out.append((stream, text[:cut], True))
            text = text[cut:]
        out.append((stream, text, False))
    return out


def docker_rows(items: list[tuple[str, str, bool]]) -> bytes:
    return b"".join(orjson.dumps({"log": text + ("" if partial else "\n"), "stream": stream,
                                  "time": TS}) + b"\n" for stream, text, partial in items)


def cri_rows(items: list[tuple[str, str, bool]]) -> bytes:
    return "".join(f"{TS} {stream} {'P' if partial else 'F'} {text}\n"
                   for stream, text, partial in items).encode()


def _rows_split(data: bytes, split: int) -> int:
    """The byte offset of line ``split`` (a rotation there), or -1."""
    if split < 0:
        return -1
    at = 0
    for _ in range(split):
        at = data.find(b"\n", at) + 1
        if at == 0:
            return -1
    return at if at < len(data) else -1


@settings(max_examples=examples(300), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(items=multiline_items(), chunk=st.integers(300, 4096),
       max_lines=st.sampled_from([2, 3, 5, 1000]), max_bytes=st.sampled_from([40, 90, 1 << 20]),
       split=st.integers(-1, 60), flush_ns=st.sampled_from([1000, 10**9]))
def test_multiline_entries_match_python_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, items: list[tuple[str, str, bool]],
        chunk: int, max_lines: int, max_bytes: int, split: int, flush_ns: int) -> None:
    """Entries of several lines joined in C (plain entries of OFF and learned streams,
    the caps hit, scans and chunks ending inside an entry, a rotation inside one, pieces
    around them, two streams interleaved): the same records, joiner and learned-start
    state, batches and checkpoints as the Python path."""
    data = docker_rows(items)
    at = _rows_split(data, split)
    fast, slow = (_run(tmp_path, data, fast, chunk, True, monkeypatch, at, flush_ns, max_lines,
                       max_bytes=max_bytes) for fast in (True, False))
    assert fast == slow


# -- trace modes joined in C -------------------------------------------------------------
# Python tracebacks (StreamJoiner's Python mode, closed by the exception line, chained)
# and Go dumps (Go mode after a head and a blank or GO_DUMP_FOLLOW line). Exception and
# func lines include the odd ones: no colon, not a name, non-ASCII where Unicode \w
# decides (Python's: the scan stops there) or where it does not.
_PY_FRAMES = ['  File "/app/x.py", line 9, in f', "    boom()", "\tx", '  File "é.py", line 1']
_PY_EXC_LINES = ["ValueError: bad", "KeyboardInterrupt", "a.b.Error: é", "_x:", "x.y.",
                 "ValueError bad", "1Error: x", "Erré: x", "é: x", "Err.é", "StopIteration",
                 "Error:x\ny", "ERROR plain"]
_PY_CHAIN = ["During handling of the above exception, another exception occurred:",
             "The above exception was the direct cause of the following exception:",
             "Traceback (most recent call last):"]
_GO_HEADS = ["panic: runtime error: index out of range", "fatal error: all goroutines asleep",
             "panic: é"]
_GO_LINES = ["", "goroutine 1 [running]:", "main.main()", "\t/app/main.go:9 +0x1d",
             "net/http.(*conn).serve(0xc000, {0x7f, 0x1})", "created by main.start",
             "[signal SIGSEGV: segmentation violation]", "exit status 2", "f()", "(x)",
             "main.é()", "é.f()", "a(é)", "main.main( )x", "x(", "-(", "[a](b)",
             "goroutine 7 [chan receive]:", "ERROR plain"]
_AFTER_TRACE = ["ERROR next entry", "2026-11-26 07:00:01.456 INFO next", "", "x y",
                "Caused by: z", "  indented"]


@st.composite
def python_trace(draw: st.DrawFn) -> list[str]:
    """A Python traceback, maybe chained to more (blank lines between)."""
    lines: list[str] = []
    for i in range(draw(st.integers(1, 3))):
        if i:
            lines += draw(st.lists(st.just(""), max_size=2))
            lines.append(draw(st.sampled_from(_PY_CHAIN)))
            lines += draw(st.lists(st.just(""), max_size=2))
        if not lines or lines[-1] != "Traceback (most recent call last):":
            lines.append("Traceback (most recent call last):")
        lines += draw(st.lists(st.sampled_from(_PY_FRAMES), max_size=4))
        if draw(st.integers(0, 5)):
            lines.append(draw(st.sampled_from(_PY_EXC_LINES)))
    return lines


@st.composite
def go_dump(draw: st.DrawFn) -> list[str]:
    """A Go panic or fatal error and its goroutine dump."""
    lines = [draw(st.sampled_from(_GO_HEADS))]
    lines.append(draw(st.sampled_from(["", "[signal SIGSEGV: segmentation violation]",
                                       "goroutine 1 [running]:", "x"])))
    lines += draw(st.lists(st.sampled_from(_GO_LINES), max_size=10))
    return lines


@st.composite
def trace_items(draw: st.DrawFn) -> list[tuple[str, str, bool]]:
    """(stream, text, partial) of Python tracebacks and Go dumps on one or two streams,
    interleaved: each after an entry's first line (on a learned stream a header line,
    which the trace joins as header-less lines) or on its own, then the next entry. A
    stream may first write WINDOW lines with no header kind (its learned start OFF)."""
    per_stream: dict[str, list[str]] = {"stdout": [], "stderr": []}
    for stream in per_stream:
        if draw(st.booleans()):
            per_stream[stream] += [f"GET /api/{i} 200" for i in range(WINDOW)]
        else:
            per_stream[stream] += [f"2026-11-26 07:00:0{i}.123 INFO start" for i in range(2)]
    for _ in range(draw(st.integers(1, 6))):
        stream = "stderr" if draw(st.integers(0, 2)) == 0 else "stdout"
        lines = per_stream[stream]
        if draw(st.booleans()):
            lines.append(draw(st.sampled_from(["2026-11-26 07:00:00.123 ERROR [main] boom",
                                               "ERROR boom", "x"])))
        lines += draw(st.one_of(python_trace(), go_dump()))
        lines += draw(st.lists(st.sampled_from(_AFTER_TRACE), max_size=2))
    return _interleave(draw, per_stream)


@settings(max_examples=examples(300), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(items=trace_items(), chunk=st.integers(300, 4096),
       max_lines=st.sampled_from([3, 6, 1000]), max_bytes=st.sampled_from([60, 200, 1 << 20]),
       split=st.integers(-1, 60), flush_ns=st.sampled_from([1000, 10**9]))
def test_traces_match_python_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, items: list[tuple[str, str, bool]],
        chunk: int, max_lines: int, max_bytes: int, split: int, flush_ns: int) -> None:
    """Python tracebacks and Go dumps joined in C, their trace modes moving as in
    StreamJoiner._continues (chained tracebacks, blank lines, exception lines with or
    without a colon, func lines, the caps cutting a trace, scans, chunks and rotations
    inside one, two streams interleaved, OFF and learned streams, pieces): the same
    records, joiner state (mode included), batches and checkpoints as Python's."""
    data = docker_rows(items)
    at = _rows_split(data, split)
    fast, slow = (_run(tmp_path, data, fast, chunk, True, monkeypatch, at, flush_ns, max_lines,
                       max_bytes=max_bytes) for fast in (True, False))
    assert fast == slow


def _trace_app(entries: int, stamp: bool) -> list[str]:
    """An app's lines: every fifth entry ends in a chained Python traceback, every
    fifth (another) in a Go panic with its goroutine dump."""
    texts = []
    for i in range(entries):
        head = f"2026-11-26 07:00:{i % 60:02d}.123 " if stamp else ""
        texts.append(f"{head}{'ERROR' if i % 5 == 4 else 'INFO'} [main] request {i}")
        if i % 5 == 4:
            texts += ["Traceback (most recent call last):", '  File "/app/x.py", line 9, in f',
                      "    boom()", "KeyError: 'x'", "",
                      "During handling of the above exception, another exception occurred:",
                      "", "Traceback (most recent call last):", '  File "/app/y.py", line 2',
                      "ValueError"]
        if i % 5 == 2:
            texts += ["panic: runtime error: invalid memory address", "",
                      "[signal SIGSEGV: segmentation violation code=0x1]", "",
                      "goroutine 1 [running]:", "main.main()", "\t/app/main.go:9 +0x1d",
                      "created by main.start", "\t/app/main.go:3 +0x2", "exit status 2"]
    return texts


@pytest.mark.parametrize("stamp", [True, False])
def test_traces_are_joined_in_c(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                stamp: bool) -> None:
    """Python tracebacks and Go dumps on an OFF stream (no header in its first WINDOW
    lines) and on a learned one: the C learns and joins them whole; Python sees only the
    first line. The same records as the Python path."""
    fast = _app_in_c(tmp_path, monkeypatch, _trace_app(200, stamp), stamp)
    messages = [orjson.loads(v)["message"] for v, *_ in fast[-2][0]]
    # each trace in one entry (a traceback its first line's, a panic on an OFF stream its
    # own); no other line of one starts an entry (record caps may cut the messages)
    py_head, go_head = "Traceback (most recent call last):\n  File", "panic: runtime error"
    assert sum(py_head in m for m in messages) == sum(go_head in m for m in messages) == 40
    assert len(messages) == 200 + (0 if stamp else 40 + WINDOW)  # a panic starts one


def _app_in_c(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, app: list[str],
              stamp: bool) -> Any:
    """An app's lines on stdout, after WINDOW header-less lines unless ``stamp`` (the
    stream is then OFF, else learned): Python reads only the first line (the C learns
    from the rest), and the records are the Python path's. The fast run's result."""
    texts = [f"GET /api/{i} 200" for i in range(WINDOW)] if not stamp else []
    data = docker_rows([("stdout", t, False) for t in texts + app])
    calls = _spy_feed(monkeypatch)
    fast = _run(tmp_path, data, True, 4096, True, monkeypatch, flush_ns=10**9)
    assert len(calls) == 1
    assert fast == _run(tmp_path, data, False, 4096, True, monkeypatch, flush_ns=10**9)
    return fast


def _spy_feed(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    calls: list[bytes] = []
    real = Source.feed_line

    def spy(self: Source, f: TrackedFile, off: int, raw: bytes, *rest: Any) -> None:
        calls.append(raw)
        real(self, f, off, raw, *rest)

    monkeypatch.setattr(Source, "feed_line", spy)
    return calls


def _java_app(entries: int, stamp: bool) -> list[str]:
    """A Java app's lines: every fifth entry has a stack trace (a header-less exception
    line, indented frames, Caused by); ``stamp``: its lines start with an ISO time."""
    texts = []
    for i in range(entries):
        head = f"2026-11-26 07:00:{i % 60:02d}.123 " if stamp else ""
        texts.append(f"{head}{'ERROR' if i % 5 == 4 else 'INFO'} [main] c.e.App - request {i}")
        if i % 5 == 4:
            texts += ["java.lang.IllegalStateException: boom",
                      *(f"\tat c.e.App.m{k}(App.java:{k})" for k in range(4)),
                      "Caused by: java.io.IOException: é", "\tat java.io.X.read(X.java:1)",
                      "\t... 9 more"]
    return texts


@pytest.mark.parametrize("stamp", [True, False])
def test_stack_traces_are_joined_in_c(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      stamp: bool) -> None:
    """A Java app's stack traces: on a learned stream (ISO times) and on one whose
    learned start is OFF (no header kind in its first WINDOW lines), the C joins the
    frames; Python sees the first line only (the C learns from the rest), where the
    stream is learned not even the header-less exception line. The same records as the
    Python path."""
    fast = _app_in_c(tmp_path, monkeypatch, _java_app(400, stamp), stamp)
    joined = [orjson.loads(v) for v, *_ in fast[-2][0] if b"multiline" in v]  # before acks
    assert len(joined) == 80 and all("multiline" in r["tags"] for r in joined)
    # a header-less exception line continues a learned stream's entry; on an OFF stream
    # it starts one (record caps: the messages may be cut, tagged truncated)
    assert all(r["message"].startswith("2026-11-26 " if stamp else "java.lang.Illegal")
               for r in joined)


_CAPPED = ["2026-11-26 07:00:00 ERROR é漢😀", "\tat é(Y.java:1)", "Caused by: 😀",
           "\tat x", "  y", "\tz"]
# h_size once the first three lines are joined (58 characters, more bytes): the third
# joins while h_size before it + its length (_CAPPED_SIZE - 1) < max_bytes
_CAPPED_SIZE = len("\n".join(_CAPPED[:3]))


@pytest.mark.parametrize("kind", ["docker", "cri"])
@pytest.mark.parametrize("learned", [True, False])
@pytest.mark.parametrize(("max_bytes", "max_lines"), [
    (_CAPPED_SIZE - 1, 1000), (_CAPPED_SIZE, 1000),  # the third line at / within the cap
    (1 << 20, 3), (1 << 20, 2)])
def test_caps_on_joined_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str,
                              learned: bool, max_bytes: int, max_lines: int) -> None:
    """The joiner's caps exactly as _line checks them (h_size + len(line) < max_bytes,
    sizes in characters; h_lines < max_lines): the line past a cap starts an entry."""
    texts = [] if learned else [f"GET /api/{i} 200" for i in range(WINDOW)]
    texts += ["2026-11-26 07:00:00 INFO a", "2026-11-26 07:00:00 INFO b", *_CAPPED, *_CAPPED]
    items = [("stdout", t, False) for t in texts]
    data = docker_rows(items) if kind == "docker" else cri_rows(items)
    fast, slow = (_run(tmp_path, data, fast, 4096, True, monkeypatch, flush_ns=10**9,
                       max_lines=max_lines, max_bytes=max_bytes, kind=kind)
                  for fast in (True, False))
    assert fast == slow
    messages = [orjson.loads(v)["message"] for v, *_ in fast[-2][0]]
    lines = 3 if max_bytes == _CAPPED_SIZE or max_lines == 3 else 2
    assert "\n".join(_CAPPED[:lines]) in messages


@pytest.mark.parametrize("passed", [0, 200])
def test_a_learned_stream_turned_off_inside_a_scan(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   passed: int) -> None:
    """The mix check (a WINDOW of header lines, more than a fifth of another kind)
    turns a learned stream OFF at a header line, in the C as in feed: it reads on as
    OFF in the same scan, so it never joins a header-less line by a kind no longer in
    force; windows that keep the kind it reads through (``passed`` header lines after
    a few other-kind ones). The same records and learned-start state on both paths."""
    iso = "2026-11-26 07:00:00.123 INFO request"
    other = "[2026-11-26 07:00:00,123] other"
    texts = [iso, iso]
    if passed:
        texts += [iso, other] * 10  # a fifth at most: the window keeps the kind
        texts += [t for i in range(passed) for t in (f"{iso} p{i}", "node list: a")]
    texts += [iso, other] * 25  # read by the C, counted in other
    for i in range(120):  # the window that turns the stream OFF ends in here
        texts += [f"{iso} {i}", "node list: a", "\tat x(Y.java:1)"]
    data = docker_rows([("stdout", t, False) for t in texts])
    calls = _spy_feed(monkeypatch)
    fast = _run(tmp_path, data, True, 1 << 20, True, monkeypatch, flush_ns=10**9)
    # the first line only: the C reads the rest (learning, the other kind's lines and
    # the check that turns the stream OFF included)
    assert len(calls) == 1
    slow = _run(tmp_path, data, False, 1 << 20, True, monkeypatch, flush_ns=10**9)
    assert fast == slow
    messages = [orjson.loads(v)["message"] for v, *_ in fast[-2][0]]
    assert f"{iso} 0\nnode list: a\n\tat x(Y.java:1)" in messages  # still learned
    assert "node list: a\n\tat x(Y.java:1)" in messages  # OFF: an entry of its own
    assert slow[-1][3][0][1][-1][0] == OFF  # the learned-start state, in the end


def test_learned_level_field_matches_python_path(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A single-letter level field is learned in Python (the C hands it every entry its
    column hint does not decide), with uppercase level words of another layout between:
    the same levels and hint on both paths."""
    texts = [f"2026-11-26 07:00:{i % 60:02d} [main] {'IWED'[i % 4]} msg {i}" for i in range(40)]
    texts[20:20] = [f"2026-11-26 07:00:00.123 INFO [http-1] GET /{i}" for i in range(5)]
    data = b"".join(orjson.dumps({"log": t + "\n", "stream": "stdout", "time": TS}) + b"\n"
                    for t in texts)
    fast = _run(tmp_path, data, True, 1024, True, monkeypatch)
    assert fast == _run(tmp_path, data, False, 1024, True, monkeypatch)
    levels = [orjson.loads(v)["level"] for step in fast for v, *_ in step[0]]
    assert "warn" in levels and "debug" in levels


@pytest.mark.parametrize("texts", [
    # a traceback held alone (first line of its stream): the joiner is in Python mode
    ["Traceback (most recent call last):", "During handling of the above exception", "x"],
    ["Traceback (most recent call last):", "", "y"],
    ["panic: boom", "", "goroutine 1 [running]:", "z"],
])
def test_held_shapes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, texts: list[str]) -> None:
    data = b"".join(orjson.dumps({"log": t + "\n", "stream": "stdout", "time": TS}) + b"\n"
                    for t in texts)
    fast = _run(tmp_path, data, True, 4096, True, monkeypatch)
    assert fast == _run(tmp_path, data, False, 4096, True, monkeypatch)


def test_chunk_of_other_shapes_goes_to_python(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Many lines in a row the C scan refuses (spaced JSON) hand the rest of the chunk
    to Python; the usual lines after them take the C path again, same records."""
    spaced = [json.dumps({"log": f"INFO spaced {i}\n", "stream": "stdout", "time": TS}).encode()
              for i in range(30)]
    usual = [orjson.dumps({"log": f"WARN usual {i}\n", "stream": "stdout", "time": TS})
             for i in range(30)]
    data = b"\n".join([*usual[:5], *spaced, *usual[5:]]) + b"\n"
    fast = _run(tmp_path, data, True, 4096, True, monkeypatch)
    assert fast == _run(tmp_path, data, False, 4096, True, monkeypatch)


_DAMAGE = [b"\xff", b"\xed\xa0\x80", b"\xc3", b"\x00", b'"', b"\\", b"\\u00", b"\t", b"\x1f",
           b"", b"\\ud800", b"\\udc00x", b"\\ud83d\\ude00", b"x", b",", b":", b"}", b"{",
           b"\\/", b"\\q", b"1"]


@settings(max_examples=examples(300), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(attrs=st.dictionaries(st.text(max_size=6), st.text(max_size=6), max_size=3),
       damage=st.sampled_from(_DAMAGE), where=st.floats(0, 1), replace=st.booleans())
@example(attrs={"a": "b", "c": "d"}, damage=b"x", where=0.5, replace=True)  # the ","
@example(attrs={"a": "b"}, damage=b"1", where=0.5, replace=True)  # the string value
def test_attrs_object_is_validated_like_orjson(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, attrs: dict[str, str], damage: bytes,
        where: float, replace: bool) -> None:
    """Docker's "attrs" object is skipped by the C scan only when it is JSON orjson
    reads; anything else must reach the Python path (parse_error, kept as text)."""
    raw = orjson.dumps({"log": "INFO x\n", "stream": "stdout", "attrs": attrs, "time": TS})
    lo, hi = raw.index(b'"attrs":') + 8, raw.index(b',"time":')
    at = lo + int((hi - lo) * where)
    raw = raw[:at] + damage + raw[at + (1 if replace else 0):]
    good = orjson.dumps({"log": "WARN y\n", "stream": "stdout", "time": TS})
    data = b"\n".join([good, raw.replace(b"\n", b""), good]) + b"\n"
    fast = _run(tmp_path, data, True, 4096, True, monkeypatch)
    assert fast == _run(tmp_path, data, False, 4096, True, monkeypatch)


def test_layout_follows_the_record_field_order() -> None:
    """The C writes the record as Python lays it out: Record's field order, the
    per-file fields encoded once, the rest of the record (per source) at the end."""
    layout = fastpath.record_layout("node-1", "docker", '/p"x', "0123456789abcdef",
                                    b',"container_id":"c","tags":[],"v":1}')
    filled = b"".join(item if isinstance(item, bytes) else orjson.dumps(item.upper())
                      for item in layout)
    record = orjson.loads(filled)
    fields = list(Record.__dataclass_fields__)
    assert list(record) == [*fields[:fields.index("container_id") + 1], "tags", "v"]
    assert (record["node"], record["source"], record["path"], record["file"]) == (
        "node-1", "docker", '/p"x', "0123456789abcdef")
    assert [item for item in layout if isinstance(item, str)] == [
        "id", "ts", "ingest_ts", "offset", "message", "level", "stream"]


def test_layout_refuses_a_record_field_it_would_leave_out() -> None:
    with pytest.raises(ValueError, match="not in the C path's records"):
        fastpath.record_layout("n", "docker", "/p", "f", b',"x":1}')


def test_context_is_made_once_per_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[int] = []
    real = fastpath.FileContext.__init__

    def spy(self: fastpath.FileContext, *args: Any) -> None:
        made.append(1)
        real(self, *args)

    data = b"".join(orjson.dumps({"log": f"request {i}\n", "stream": "stdout", "time": TS}) + b"\n"
                    for i in range(200))
    monkeypatch.setattr(fastpath.FileContext, "__init__", spy)
    _run(tmp_path, data, True, 512, True, monkeypatch, split=len(data) // 2 // 64 * 64)
    assert len(made) == 2  # one per file, not one per chunk


def test_context_refuses_an_unknown_value() -> None:
    with pytest.raises(ValueError, match="layout item"):
        fastpath._c.Context(kind="docker", layout=(b"{", "host", b"}"), multiline_tail=b"}",
                            id_prefix=b"", max_line=1, max_record=1, max_joined=1,
                            max_bytes=1, max_lines=1, hold=True, hint=[-1],
                            detect_level=lambda t, h: "", shrink=bytes)
    with pytest.raises(ValueError, match="ends with literal bytes"):
        fastpath._c.Context(kind="docker", layout=(b"{", "id"), multiline_tail=b"}",
                            id_prefix=b"", max_line=1, max_record=1, max_joined=1,
                            max_bytes=1, max_lines=1, hold=True, hint=[-1],
                            detect_level=lambda t, h: "", shrink=bytes)
    with pytest.raises(ValueError, match="kind"):
        fastpath._c.Context(kind="file", layout=(b"{", "id", b"}"), multiline_tail=b"}",
                            id_prefix=b"", max_line=1, max_record=1, max_joined=1,
                            max_bytes=1, max_lines=1, hold=True, hint=[-1],
                            detect_level=lambda t, h: "", shrink=bytes)
    with pytest.raises(TypeError):
        fastpath._c.scan(object(), b"", 0, 0, 0, b'""', (None, None),  # type: ignore[arg-type]
                         (None, None), (fastpath._NO_STARTS, fastpath._NO_STARTS))


# -- entry starts learned in C -----------------------------------------------------------
# A stream's first lines (EntryStarts in LEARNING) are read by the C scan too: it counts
# them as feed does (header kind, counts, seen, lines) and goes on as LEARNED or OFF in
# the same call. Python's feed_line sees a stream's first line (its joiner is made
# there) and the lines the scan refuses (``odd`` below); the learned-start state after
# every read is compared with the Python path's (_run's snapshots: state, kind, run,
# seen, lines, after_json, counts, own, other).
_ISO = "2026-11-26 07:00:00.123 INFO request"
_BRACKET = "[2026-11-26 07:00:00,123] WARN other"
_ODD_TIME = "2026-11-26T07:00:00.123456789+00:00"  # Python normalizes it; the C refuses it


def learning_rows(kind: str, items: list[tuple[str, str, bool, bool]]) -> bytes:
    """The lines of (stream, text, partial, odd) in a layout; ``odd``: a line the C scan
    refuses (a time with an offset) and Python parses, so it learns from it there."""
    out = []
    for stream, text, partial, odd in items:
        ts = _ODD_TIME if odd else TS
        if kind == "cri":
            out.append(f"{ts} {stream} {'P' if partial else 'F'} {text}\n".encode())
        else:
            out.append(orjson.dumps({"log": text + ("" if partial else "\n"), "stream": stream,
                                     "time": ts}) + b"\n")
    return b"".join(out)


def _learn_both(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str,
                items: list[tuple[str, str, bool, bool]], chunk: int = 4096,
                max_lines: int = 1000, split: int = -1, flush_ns: int = 10**9
                ) -> tuple[Any, int]:
    """Both paths over ``items``; they must match step by step. (the fast run's steps,
    the lines Python's feed_line read on it)."""
    data = learning_rows(kind, items)
    at = _rows_split(data, split)
    calls = _spy_feed(monkeypatch)
    fast = _run(tmp_path, data, True, chunk, True, monkeypatch, at, flush_ns, max_lines,
                kind=kind)
    fed = len(calls)
    assert fast == _run(tmp_path, data, False, chunk, True, monkeypatch, at, flush_ns,
                        max_lines, kind=kind)
    return fast, fed


def _final_starts(steps: Any, stream: str) -> tuple[Any, ...]:
    """The stream's learned-start state (StreamJoiner.starts_state) at the end."""
    fields: tuple[Any, ...] = dict(steps[-1][3])[stream][-1]
    return fields


def _messages(steps: Any) -> list[str]:
    return [orjson.loads(v)["message"] for v, *_ in steps[-2][0]]


def _plain(texts: list[str], stream: str = "stdout") -> list[tuple[str, str, bool, bool]]:
    return [(stream, t, False, False) for t in texts]


@pytest.mark.parametrize("kind", ["docker", "cri"])
def test_learning_to_learned_in_c(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  kind: str) -> None:
    """LEARNING -> LEARNED inside a scan: lines that are no candidate (indented, blank),
    candidates of no kind (JSON, plain) and of another kind dilute the share until
    enough ISO lines come; then the same scan joins a header-less line by the learned
    kind. A header-less line while learning is an entry of its own."""
    texts = ["  indented", "", '{"a":1}', "GET /x 200", _BRACKET, _ISO, "node list: early"]
    texts += [f"{_ISO} {i}" for i in range(16)] + ["node list: late", f"{_ISO} last"]
    fast, fed = _learn_both(tmp_path, monkeypatch, kind, _plain(texts))
    assert fed == 1  # the first line: the C learned from the rest
    state, learned, run, seen, lines, _, counts, _, _ = _final_starts(fast, "stdout")
    assert (state, learned, run, seen, lines) == (LEARNED, _KIND["iso_ts"], 0, 0, 0)
    # learned at the 16th ISO line: 16 >= 0.8 * (16 + 4 other candidates)
    assert counts[_KIND["iso_ts"]] == 16 and counts[_KIND["bracket_iso"]] == 1
    messages = _messages(fast)
    assert "node list: early" in messages  # while learning: not joined
    assert f"{_ISO} 15\nnode list: late" in messages  # learned: joined


@pytest.mark.parametrize("kind", ["docker", "cri"])
@pytest.mark.parametrize(("before", "state"), [(WINDOW - 2, LEARNED), (WINDOW - 1, OFF)])
def test_learning_ends_at_the_window(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     kind: str, before: int, state: int) -> None:
    """The window's last line may still learn a kind (feed turns the stream OFF, then
    learns); one line later the stream is OFF for good: the built-in shapes decide,
    a header-less line is an entry of its own."""
    texts = ["\tat x(Y.java:1)"] * before + [f"{_ISO} {i}" for i in range(4)] + ["node list"]
    fast, fed = _learn_both(tmp_path, monkeypatch, kind, _plain(texts))
    assert fed == 1
    got, learned, _, _, lines, _, counts, _, _ = _final_starts(fast, "stdout")
    assert got == state and counts[_KIND["iso_ts"]] == (2 if state == LEARNED else 1)
    assert (learned, lines) == ((_KIND["iso_ts"], 0) if state == LEARNED else (-1, WINDOW))
    assert ("node list" in _messages(fast)) == (state == OFF)


@pytest.mark.parametrize("kind", ["docker", "cri"])
def test_learning_to_off_in_c(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                              kind: str) -> None:
    """Two layouts on one stream from the start (half and half: no share reached): OFF
    after WINDOW lines, counted in C; the C reads on with the built-in shapes."""
    texts = [f"{_ISO} {i}" if i % 2 else f"{_BRACKET} {i}" for i in range(WINDOW + 20)]
    texts[WINDOW + 5] = "node list"
    fast, fed = _learn_both(tmp_path, monkeypatch, kind, _plain(texts), chunk=700)
    assert fed == 1
    state, learned, _, seen, lines, _, counts, _, _ = _final_starts(fast, "stdout")
    assert (state, learned, seen, lines) == (OFF, -1, WINDOW, WINDOW)
    assert counts[_KIND["iso_ts"]] == counts[_KIND["bracket_iso"]] == WINDOW // 2
    assert "node list" in _messages(fast)


@pytest.mark.parametrize("kind", ["docker", "cri"])
def test_relearning_after_a_long_header_less_run(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 kind: str) -> None:
    """A learned stream whose run of header-less lines passes max_run relearns (in
    Python: the scan stops at that line); the next layout is learned in C again."""
    # the 6th header-less line relearns; the 7th is a candidate of no kind while learning
    texts = [_ISO, _ISO] + [f"node list {i}" for i in range(7)]
    texts += [f"{_BRACKET} {i}" for i in range(6)] + ["node list: b"]
    fast, fed = _learn_both(tmp_path, monkeypatch, kind, _plain(texts), max_lines=5)
    # the first line, the header-less line past the joiner's cap (max_lines) and the
    # one past max_run (the relearn): the scan stops at each
    assert fed == 3
    state, learned, *_ = _final_starts(fast, "stdout")
    assert (state, learned) == (LEARNED, _KIND["bracket_iso"])
    assert f"{_BRACKET} 5\nnode list: b" in _messages(fast)


@pytest.mark.parametrize("kind", ["docker", "cri"])
@pytest.mark.parametrize("split", [-1, 9])
def test_learning_across_chunks_and_the_seam(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             kind: str, split: int) -> None:
    """Learning spread over many scans (small chunks), a rotation inside it, two
    streams interleaved, lines Python learns from among those the C learns from (the
    scan refuses them), another kind's headers and indented lines diluting the share, a
    header cut into pieces: the state crosses the seam both ways and ends as Python's."""
    items: list[tuple[str, str, bool, bool]] = []
    for i in range(40):
        stream = "stderr" if i % 3 == 0 else "stdout"
        odd = i % 5 == 2
        if i % 11 == 4:  # the header in two pieces
            items.append((stream, _ISO[:7], True, False))
            items.append((stream, f"{_ISO[7:]} {i}", False, False))
        elif i % 4 == 1:  # another kind while learning (on a learned stream: Python's)
            items.append((stream, f"{_BRACKET} {i}" if i < 8 else "  at x", False, odd))
        else:
            items.append((stream, f"{_ISO} {i}", False, odd))
    fast, fed = _learn_both(tmp_path, monkeypatch, kind, items, chunk=300, split=split)
    if split < 0:  # the streams' first lines and the odd ones (after a rotation: more)
        assert fed == 2 + sum(item[3] for item in items)
    for stream in ("stdout", "stderr"):
        assert _final_starts(fast, stream)[:2] == (LEARNED, _KIND["iso_ts"])


# -- the mix check of a learned stream in C -------------------------------------------
# A learned stream's header lines of another kind and whole JSON objects are entries of
# their own, counted in ``other`` (its own kind's in ``own``); every WINDOW of them the
# mix is checked: more than 1 - LEARN_SHARE of another kind and the stream is OFF for
# good. The C counts and checks as feed does and reads on as OFF in the same call.


@pytest.mark.parametrize("kind", ["docker", "cri"])
def test_other_kinds_and_json_on_a_learned_stream_in_c(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       kind: str) -> None:
    """Other kinds' headers and JSON objects (also with trailing ASCII whitespace) on a
    learned stream: read in C, each an entry of its own; a header-less line after a
    JSON object is an entry too (after_json), after another kind's header it joins."""
    texts = [_ISO, _ISO, _BRACKET, "node list: a", '{"a": 1}', "node list: b",
             '{"b": 2} \x1f\t', "node list: c", "INFO plain level", f"{_ISO} last"]
    fast, fed = _learn_both(tmp_path, monkeypatch, kind, _plain(texts))
    assert fed == 1  # the first line: the C read the rest
    state, learned, run, _, _, after_json, _, own, other = _final_starts(fast, "stdout")
    assert (state, learned, run, after_json) == (LEARNED, _KIND["iso_ts"], 0, False)
    assert (own, other) == (1, 4)  # the last line; the bracket, 2 JSON, the level word
    messages = _messages(fast)
    assert f"{_BRACKET}\nnode list: a" in messages  # joined to the other kind's entry
    assert "node list: b" in messages and "node list: c" in messages  # after JSON


def test_a_json_line_ended_by_unicode_whitespace_is_pythons(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """str.rstrip() strips Unicode whitespace (U+3000): the C leaves a "{" line ending
    in a non-ASCII character to feed, which counts it as JSON here."""
    texts = [_ISO, _ISO, '{"a": 1}\u3000', "node list", "{x é", "node list 2"]
    fast, fed = _learn_both(tmp_path, monkeypatch, "docker", _plain(texts))
    assert fed == 3
    assert _final_starts(fast, "stdout")[-2:] == (0, 1)
    # the JSON line an entry of its own, and so the line after it (after_json)
    assert {'{"a": 1}\u3000', "node list\n{x é\nnode list 2"} <= set(_messages(fast))


@pytest.mark.parametrize("kind", ["docker", "cri"])
@pytest.mark.parametrize(("others", "state"), [(WINDOW // 5, LEARNED),
                                               (WINDOW // 5 + 1, OFF)])
@pytest.mark.parametrize("last", ["own", "other"])
@pytest.mark.parametrize(("chunk", "split"), [(1 << 16, -1), (300, -1), (1 << 16, WINDOW),
                                              (700, WINDOW + 1), (700, WINDOW - 20)])
def test_the_mix_check_at_exactly_a_window(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           kind: str, others: int, state: int, last: str,
                                           chunk: int, split: int) -> None:
    """A window of exactly WINDOW header lines after the kind is learned, ``others`` of
    another kind (or JSON) among them, the window's last line of the kind or not: a
    fifth keeps the kind (the window starts again), one more turns the stream OFF at
    that line. The check lands inside a scan (one chunk), across many chunks (300) or
    around a rotation (split, in lines); header-less lines after it join the entry
    before while learned, are entries of their own once OFF, read in C in the same
    call."""
    other_lines = [_BRACKET if i % 2 else f'{{"n": {i}}}' for i in range(others)]
    if last == "other":
        window = [f"{_ISO} {i}" for i in range(WINDOW - others)] + other_lines
    else:
        window = other_lines + [f"{_ISO} {i}" for i in range(WINDOW - others)]
    # the learning lines (the second one learns: no header line of the window)
    texts = [_ISO, _ISO, *window, "node list: after", "\tat x(Y.java:1)"]
    texts += [t for i in range(3) for t in (f"{_ISO} tail {i}", "node list: tail")]
    fast, fed = _learn_both(tmp_path, monkeypatch, kind, _plain(texts), chunk=chunk,
                            split=split)
    if split < 0:
        assert fed == 1  # the first line: the C counted, checked and read on
    got, learned, _, _, _, _, _, own, other = _final_starts(fast, "stdout")
    if state == LEARNED:
        assert (got, learned, own, other) == (LEARNED, _KIND["iso_ts"], 3, 0)
    else:
        assert (got, learned, own, other) == (OFF, -1, 0, 0)
    joined = "\n".join([window[-1], "node list: after", "\tat x(Y.java:1)"])
    messages = _messages(fast)
    assert (joined in messages) == (state == LEARNED)
    assert (f"{_ISO} tail 2\nnode list: tail" in messages) == (state == LEARNED)
    assert ("node list: tail" in messages) == (state == OFF)


_LEARN_HEADS = [_ISO, _BRACKET, "Nov 26 07:00:00 host x", "INFO x", "[WARN] y",
                "I1126 07:00:00.123456 x", "13.07.2018 07:06:00 z"]
_LEARN_OTHER = ["", "  indented", "\tat x(Y.java:1)", '{"a":1}', "node list", "Caused by: e",
                "Traceback (most recent call last):", "ValueError: v", "GET / 200", "é 漢字"]


@st.composite
def learning_items(draw: st.DrawFn) -> list[tuple[str, str, bool, bool]]:
    """(stream, text, partial, odd) of one or two streams that learn their entry start
    soon, late or never (OFF after WINDOW lines), then maybe relearn after a run of
    header-less lines: runs of one header kind with other lines among them at some
    rate; some lines cut into pieces, some the scan refuses (odd: Python learns from
    them)."""
    per_stream: dict[str, list[str]] = {"stdout": [], "stderr": []}
    for lines in per_stream.values():
        for _ in range(draw(st.integers(0, 3))):
            if draw(st.integers(0, 3)) == 0:  # header-less lines in a row (a relearn)
                lines += [f"node list {i}" for i in range(draw(st.integers(2, 8)))]
                continue
            head = draw(st.sampled_from(_LEARN_HEADS))
            rate = draw(st.integers(0, 6))  # in 10: lines of other shapes or kinds
            for i in range(draw(st.sampled_from([2, 6, 20, WINDOW + 5]))):
                lines.append(f"{head} {i}" if draw(st.integers(0, 9)) >= rate else
                             draw(st.sampled_from(_LEARN_OTHER + _LEARN_HEADS)))
    return [(stream, text, partial, draw(st.integers(0, 40)) == 0)
            for stream, text, partial in _interleave(draw, per_stream)]


@settings(max_examples=examples(200), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(items=learning_items(), kind=st.sampled_from(["docker", "cri"]),
       chunk=st.integers(300, 4096), max_lines=st.sampled_from([3, 5, 1000]),
       split=st.integers(-1, 150), flush_ns=st.sampled_from([1000, 10**9]))
def test_learning_matches_python_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      items: list[tuple[str, str, bool, bool]], kind: str,
                                      chunk: int, max_lines: int, split: int,
                                      flush_ns: int) -> None:
    """Streams learning in C (LEARNING -> LEARNED soon or late, -> OFF, relearning after
    a header-less run past max_run, learning spread over scans, chunks, a rotation and
    lines Python reads, pieces, flushes): the same records and learned-start state
    (state, kind, counts, seen, lines ...) after every read as the Python path."""
    _learn_both(tmp_path, monkeypatch, kind, items, chunk, max_lines, split, flush_ns)


# -- the word-at-a-time scans (8 bytes a step) at every lane ---------------------------
# Bytes that end a clean run in the C scans, as they stand in a Docker "log" string:
# JSON escapes (unescaped, then escaped again in the record), UTF-8 of 2-4 bytes, bytes
# that make the line Python's (raw controls and quotes, invalid UTF-8, NUL, surrogates).
_LANE_ESCAPES = [b'\\"', b"\xff", b"\\\\", b"\\u0000", b"\\n", b"\xc3", b"\\t", b"\\ud800",
                 b"\\u0001", b"\xed\xa0\x80", b"\\u001f", b"\x01", b"\\b", b"\t", b"\\/",
                 b'"', b"\\u00e9", b"\xf4\x90\x80\x80", b"\\u2028", b"\\q", b"\x7f", b"\\",
                 b"\xc3\xa9", "漢".encode(), "😀".encode(), b" "]  # valid and not, mixed


def lane_bodies(specials: list[bytes]) -> list[bytes]:
    """Raw string bodies with a special sequence at each offset 0..16 (every lane of the
    first two 8-byte words), followed by runs that end at every lane, two specials a
    few bytes apart, every length 0..40, and the same ending on its last byte."""
    out = []
    for k in range(17):  # the specials mixed: the scan never meets a long run it refuses
        for m in (0, 1, 6, 7, 8, 9, 15, 16, 17):
            out += [b"a" * k + sp + b"b" * m for sp in specials]
        for j in range(10):
            out += [b"a" * k + sp + b"c" * j + sp + b"d" * (16 - j) for sp in specials]
    for n in range(41):
        out.append(b"x" * n)
        out += [b"x" * max(n - len(sp), 0) + sp for sp in specials]
    return out


def test_word_lanes_match_python_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """parse_docker's unescaping and UTF-8 check, buf_json_str's escaping of the record,
    n_chars on partial pieces (max_joined in characters) and the line cap
    (max_line_bytes 300) with their special byte in each lane of a word and at the very
    end: the same records and joiner state (p_size) as the Python path."""
    bodies = lane_bodies(_LANE_ESCAPES)
    lines = []
    for i, body in enumerate(bodies):
        nl = b"" if i % 5 == 0 else b"\\n"  # some partial pieces, joined with the next
        lines.append(b'{"log":"' + body + nl + b'","stream":"stdout","time":"' + TS.encode()
                     + b'"}')
    prefix = len(b'{"log":"","stream":"stdout","time":""}') + len(TS)
    for size in range(295, 306):  # around max_line_bytes: the last line C reads
        body = b"\xc3\xa9" * ((size - prefix) // 2) + b"e" * ((size - prefix) % 2)
        lines.append(b'{"log":"' + body + b'","stream":"stdout","time":"' + TS.encode() + b'"}')
    data = b"\n".join(lines) + b"\n"
    for max_joined in (256 << 10, 40):
        fast, slow = (_run(tmp_path, data, fast, 1 << 16, False, monkeypatch,
                           max_joined=max_joined) for fast in (True, False))
        assert fast == slow
