"""The demo's encoders write exactly what Docker json-file and containerd write."""

from __future__ import annotations

import json
import re

from hypothesis import given
from hypothesis import strategies as st

from demo import formats
from logpipe.timefmt import parse_ns

CRI = re.compile(rb"^(\S+) (stdout|stderr) ([PF]) (.*)$")


def test_rfc3339nano_trims_trailing_zeros_like_go() -> None:
    base = parse_ns("2026-11-26T10:00:00Z")
    assert formats.rfc3339nano(base) == "2026-11-26T10:00:00Z"
    assert formats.rfc3339nano(base + 120_000_000) == "2026-11-26T10:00:00.12Z"
    assert formats.rfc3339nano(base + 1) == "2026-11-26T10:00:00.000000001Z"
    assert parse_ns(formats.rfc3339nano(base + 987_654_321)) == base + 987_654_321


def test_go_json_string_escapes_html_characters_and_round_trips() -> None:
    text = 'a<b>&"c"\n\u2028ü'
    out = formats.go_json_string(text)
    assert "<" not in out and ">" not in out and "&" not in out and "\u2028" not in out
    assert "\\u003c" in out and "ü" in out  # non-ASCII stays raw UTF-8, as Go writes it
    assert json.loads(out) == text


@given(st.text(max_size=300), st.integers(min_value=4, max_value=64))
def test_split_pieces_keeps_every_byte_and_whole_characters(text: str, limit: int) -> None:
    data = text.encode()
    pieces = formats.split_pieces(data, limit)
    assert b"".join(pieces) == data
    for piece in pieces:
        assert len(piece) <= limit
        piece.decode()  # raises if a character was cut
    assert all(pieces[:-1])  # only the last piece may be empty


def test_docker_long_line_is_split_into_partial_entries() -> None:
    message = "x" * 40_000
    raw = formats.docker_json_lines(message, "stdout", parse_ns("2026-11-26T10:00:00.5Z"))
    entries = [json.loads(line) for line in raw.splitlines()]
    assert len(entries) == 3
    assert [e["log"].endswith("\n") for e in entries] == [False, False, True]
    assert all(len(e["log"].encode()) <= formats.MAX_PIECE for e in entries)
    assert "".join(e["log"] for e in entries) == message + "\n"
    assert {e["stream"] for e in entries} == {"stdout"}
    assert {e["time"] for e in entries} == {"2026-11-26T10:00:00.5Z"}


def test_docker_line_of_exactly_16k_leaves_a_lone_newline_piece() -> None:
    raw = formats.docker_json_lines("y" * formats.MAX_PIECE, "stderr", 0)
    entries = [json.loads(line) for line in raw.splitlines()]
    assert [len(e["log"]) for e in entries] == [formats.MAX_PIECE, 1]
    assert entries[1]["log"] == "\n"


def test_cri_long_line_is_tagged_partial_then_full() -> None:
    message = "z" * 33_000
    raw = formats.cri_lines(message, "stderr", parse_ns("2026-11-26T10:00:00Z"))
    lines = raw.split(b"\n")
    assert lines[-1] == b""  # every piece ends with a newline
    matches = [CRI.match(line) for line in lines[:-1]]
    assert all(matches)
    tags = [m.group(3) for m in matches if m]
    assert tags == [b"P", b"P", b"F"]
    assert b"".join(m.group(4) for m in matches if m) == message.encode()


def test_cri_short_line_is_one_full_entry() -> None:
    raw = formats.cri_lines("hello world", "stdout", parse_ns("2026-11-26T10:00:00.25Z"))
    assert raw == b"2026-11-26T10:00:00.25Z stdout F hello world\n"


def test_syslog_line_pads_single_digit_day_with_a_space() -> None:
    raw = formats.syslog_line(parse_ns("2026-11-05T07:08:09Z"), "node-1", "sshd", 42, "hi")
    assert raw == b"Nov  5 07:08:09 node-1 sshd[42]: hi\n"
    assert formats.syslog_line(0, "n", "kernel", None, "x").endswith(b" n kernel: x\n")
