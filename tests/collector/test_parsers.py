"""Parsers: Docker json-file, CRI, host lines; hostile input is kept and tagged."""

from __future__ import annotations

import orjson
from hypothesis import assume, given
from hypothesis import strategies as st

from collector.parsers import decode_text, parse_cri, parse_docker, parse_host, syslog_ts
from logpipe.timefmt import parse_ns

TS = "2026-11-26T07:00:00.123456789Z"


def docker(log: str, stream: str = "stdout", time: str = TS) -> bytes:
    return orjson.dumps({"log": log, "stream": stream, "time": time})


def test_docker_complete_line() -> None:
    p = parse_docker(docker("hello world\n"))
    assert (p.ts, p.stream, p.text, p.partial, p.tags) == (TS, "stdout", "hello world", False, ())


def test_docker_piece_without_newline_is_partial() -> None:
    p = parse_docker(docker("x" * 16384, "stderr"))
    assert p.partial and p.stream == "stderr" and len(p.text) == 16384


def test_docker_time_is_normalised() -> None:
    assert parse_docker(docker("a\n", time="2026-11-26T08:00:00.5+01:00")).ts == (
        "2026-11-26T07:00:00.500000000Z")


def test_docker_invalid_json_kept_as_text() -> None:
    p = parse_docker(b'{"log":"unterminated')
    assert p.text == '{"log":"unterminated' and "parse_error" in p.tags and p.ts is None


def test_docker_invalid_utf8_keeps_fields_and_escapes_bytes() -> None:
    raw = b'{"log":"caf\xe9 ok\\n","stream":"stdout","time":"' + TS.encode() + b'"}'
    p = parse_docker(raw)
    assert p.text == "caf\\xe9 ok" and p.stream == "stdout" and p.ts == TS
    assert "invalid_utf8" in p.tags and "parse_error" in p.tags


def test_docker_nul_bytes_kept_and_tagged() -> None:
    p = parse_docker(docker("a\x00b\n"))
    assert p.text == "a\x00b" and "nul_bytes" in p.tags


def test_docker_missing_log_field() -> None:
    p = parse_docker(b'{"msg":"x"}')
    assert p.text == '{"msg":"x"}' and "parse_error" in p.tags


@given(st.text(), st.sampled_from(["stdout", "stderr"]), st.booleans())
def test_docker_roundtrip(text: str, stream: str, complete: bool) -> None:
    assume(complete or not text.endswith("\n"))  # a piece ending in \n is a whole line
    p = parse_docker(docker(text + ("\n" if complete else ""), stream))
    assert p.text == text and p.stream == stream
    assert p.partial is not complete


@given(st.binary(max_size=300))
def test_docker_never_raises(raw: bytes) -> None:
    p = parse_docker(raw)
    assert isinstance(p.text, str)
    orjson.dumps(p.text)  # always encodable into a record


def test_cri_full_and_partial() -> None:
    p = parse_cri(b"2026-11-26T07:00:00.123456789Z stdout P hello ")
    assert (p.ts, p.stream, p.text, p.partial) == (TS, "stdout", "hello ", True)
    f = parse_cri(b"2026-11-26T07:00:00.1+00:00 stderr F world")
    assert (f.stream, f.text, f.partial) == ("stderr", "world", False)
    assert f.ts == "2026-11-26T07:00:00.100000000Z"


def test_cri_empty_message() -> None:
    p = parse_cri(b"2026-11-26T07:00:00Z stdout F ")
    assert p.text == "" and not p.partial
    assert parse_cri(b"2026-11-26T07:00:00Z stdout F").text == ""


def test_cri_garbage_kept() -> None:
    p = parse_cri(b"not a cri line")
    assert p.text == "not a cri line" and "parse_error" in p.tags


@given(st.text().filter(lambda t: "\n" not in t), st.sampled_from(["stdout", "stderr"]),
       st.sampled_from(["P", "F"]))
def test_cri_roundtrip(text: str, stream: str, tag: str) -> None:
    p = parse_cri(f"{TS} {stream} {tag} {text}".encode())
    assert p.text == text and p.stream == stream and p.partial == (tag == "P") and p.ts == TS


@given(st.binary(max_size=200))
def test_decode_text_never_raises(raw: bytes) -> None:
    text, tags = decode_text(raw)
    orjson.dumps(text)
    if b"\x00" in raw:
        assert "nul_bytes" in tags


def test_host_bsd_syslog_stamp() -> None:
    now = parse_ns("2026-11-26T12:00:00Z")
    assert syslog_ts("Nov 26 07:00:01 host sshd[1]: hi", now) == "2026-11-26T07:00:01.000000000Z"
    assert syslog_ts("<34>Nov  3 07:00:01 host x", now) == "2026-11-03T07:00:01.000000000Z"


def test_host_bsd_stamp_of_last_year() -> None:
    now = parse_ns("2027-01-01T00:00:10Z")
    assert syslog_ts("Dec 31 23:59:59 host x", now) == "2026-12-31T23:59:59.000000000Z"


def test_host_iso_stamp() -> None:
    assert syslog_ts("2026-11-26T08:00:00.25+01:00 host app: x") == (
        "2026-11-26T07:00:00.250000000Z")
    assert syslog_ts("<13>1 2026-11-26T07:00:00Z host app - - x") == (
        "2026-11-26T07:00:00.000000000Z")


def test_host_line_without_stamp() -> None:
    p = parse_host(b"just text\r")
    assert p.ts is None and p.text == "just text" and p.stream is None


@given(st.binary(max_size=200).filter(lambda b: b"\n" not in b))
def test_host_never_raises(raw: bytes) -> None:
    assert isinstance(parse_host(raw).text, str)
