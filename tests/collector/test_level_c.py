"""The C level detector (collector/_levels.h) against collector.level_detect.detect_level:
the same level and the same hint -- column, last level, learned level field -- after
every entry, on the level corpus and on lines built from the pieces each shape of the
cascade reads. ``_fastpath.detect_level`` runs the C detector with the Python fallback
exactly as the scan's emit does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from collector import fastpath
from collector.level_detect import (
    _BRACKETED,
    _LEADING_WORDS,
    _TITLE_WORDS,
    LEVEL_WORDS,
    detect_level,
    new_hint,
)
from collector.multiline import MultilineRules, StreamJoiner
from logpipe.levels import spellings
from tests.collector.level_corpus import formats, incoming, load

pytestmark = pytest.mark.skipif(not fastpath.available(), reason="no C extension")

# The share of entries the C leaves to Python on the level corpus: JSON lines (kept in
# Python) and non-ASCII text near the level; measured 5.8 % of lines, 6.7 % of entries.
MAX_FALLBACK = 0.08


def _state(hint: list[Any]) -> tuple[Any, ...]:
    f = hint[2]
    return (hint[0], hint[1], f.field, f.candidate, f.run)


def _outcome(fn: Any, text: str, hint: list[Any]) -> tuple[str, Any]:
    try:
        return "ok", fn(text, hint)
    except Exception as exc:  # the Python cascade has raising corners (a Redis marker)
        return "raised", type(exc)


def _compare(texts: list[str], hint_c: list[Any] | None = None,
             hint_py: list[Any] | None = None) -> None:
    """Feed texts in order through one hint per side; equal after every entry."""
    hint_c = new_hint() if hint_c is None else hint_c
    hint_py = new_hint() if hint_py is None else hint_py
    for i, text in enumerate(texts):
        got = _outcome(fastpath._c.detect_level, text, hint_c)
        want = _outcome(detect_level, text, hint_py)
        assert got == want, (i, text)
        assert _state(hint_c) == _state(hint_py), (i, text)


def _entries(path: Path) -> list[str]:
    """The entries of a corpus file as the joiner emits them (multi-line ones too)."""
    out: list[str] = []
    joiner = StreamJoiner("stdout", MultilineRules(),
                          lambda origin, off, ts, stream, text, tags: out.append(text))
    for off, (_label, line) in enumerate(load(path)):
        joiner.feed(None, off, None, line, False, (), 0)
    joiner.flush()
    return out


_CORPUS = formats() + incoming()


@pytest.mark.parametrize("path", _CORPUS, ids=[p.stem for p in _CORPUS])
def test_corpus_lines_and_entries(path: Path) -> None:
    _compare([line for _label, line in load(path)])
    _compare(_entries(path))


def test_corpus_mostly_decided_in_c() -> None:
    calls0, falls0 = fastpath._c.level_stats()
    for path in _CORPUS:
        hint = new_hint()
        for text in _entries(path):
            fastpath._c.detect_level(text, hint)
    calls, falls = fastpath._c.level_stats()
    assert calls - calls0 > 5000
    assert (falls - falls0) / (calls - calls0) < MAX_FALLBACK


def test_json_and_non_ascii_go_to_python() -> None:
    """What the C never decides itself is counted as left to Python (and still equal)."""
    for text in ('{"level":"warn"}', "é ERROR x", "2026-11-26 07:00:00 é ERROR x"):
        before = fastpath._c.level_stats()[1]
        _compare([text])
        assert fastpath._c.level_stats()[1] > before, text


def test_decided_in_c_without_python(monkeypatch: pytest.MonkeyPatch) -> None:
    """The common shapes never reach the Python function (the counter says so)."""
    texts = ["2026-11-26 07:00:00 INFO x", "[error] y", "I1126 07:00:00.1 1 f.go:1] z",
             'a - - [26/Nov/2026:07:00:00 +0000] "GET / HTTP/1.1" 404 1 "-"',
             "plain prose, no level", "level=warn msg=x", "x\ty\tz"]
    calls0, falls0 = fastpath._c.level_stats()
    _compare(texts)
    calls, falls = fastpath._c.level_stats()
    assert (calls - calls0, falls - falls0) == (len(texts), 0)


# -- generated lines -----------------------------------------------------------------

def _cases(word: str) -> list[str]:
    return [word, word.lower(), word.upper(), word.title(), word.swapcase()]


_LEVELISH = sorted({c for w in (*LEVEL_WORDS, *_TITLE_WORDS, *_BRACKETED, *_LEADING_WORDS,
                                *spellings(), "ALERT", "EMERG", "LOG", "DEBUG1", "DEBUG7",
                                "DETAIL", "HINT", "STATEMENT", "System", "information",
                                "Informational", "NOTICE", "WARNI")
                    for c in _cases(w)})
_STAMPS = ["2026-11-26 07:00:00", "2026-11-26T07:00:00.123Z", "2026-11-26 07:00:00,123",
           "Nov 26 07:00:00", "Nov  6 07:00:00", "I1126 07:00:00.123456", "W1126 07:00:00",
           "11-26 07:00:00.123", "[2026-11-26 07:00:00]", "[Mon Nov 26 07:00:00.1 2026]",
           "26 Nov 2026 07:00:00.123", "26 Nov 07:00:00", "123:M 26 Nov 2026 07:00:00.123",
           "[42] 26 Nov 07:00:00", "2018-02-05T13:44:56.657+0100", "2018-02-05T13:44:56Z",
           "[26/Nov/2026:07:00:00 +0000]", "<13>", "<191>", "<1234>", "20170404", "12:00"]
_PIECES = ["[", "]", "<", ">", "|", " | ", "| I |", "| W | ", ":", ": ", ":  ", " - ", "-",
           ".", ",", "{", '"', "'", "=", "level=", "lvl:", '"level":"', "severity=",
           "loglevel=", "level= ", "\t", " ", "  ", "\n", "host", "sshd[123]:", "app[1]:",
           "postfix/smtpd[1]:", "%ASA-4-106023:", "%LINK-3-UPDOWN ", "%SYS-Foo-5-X:",
           '"GET / HTTP/1.1" 503 12 ', 'HTTP/1.0" 404 ', '"GET /a\\" b" 200 ',
           " 0/0/1/2/+3 503 ", " 10/-1/-1/-1/40 404 ", ",ERROR,42P01,", ",LOG,00000,",
           ",WARNING,01000,", "core:", "[core:error]", "information/Notification:",
           "local.ERROR: ", "CONTROL  [initandlisten]", "W/Tag( 123):", "D/x (1)",
           "  123  456 W ", " * ", " # ", " - ", " . ", "the", "message", "started",
           "Connection", "of", "x1", "_", "A", "I", "W", "E", "D", "T", "\x1c", "\x0b",
           "\r", "é", "漢", "\u0130", "\u212a", "\u0663", "\u00a0", "😀", "0", "42", "123456"]
_piece = st.one_of(st.sampled_from(_LEVELISH), st.sampled_from(_STAMPS),
                   st.sampled_from(_PIECES), st.text(st.characters(max_codepoint=127),
                                                     max_size=6))
_line = st.lists(_piece, min_size=1, max_size=14).map("".join)
# long lines reach the wide header (past 96 characters) and the 512-character window
_long = st.tuples(_line, st.integers(0, 300), st.sampled_from(["x", " ", "A", "-", "."]),
                  _line).map(lambda t: t[0] + t[2] * t[1] + t[3])


@st.composite
def _stream(draw: st.DrawFn) -> list[str]:
    """Lines of one stream: a layout repeated with its level token varied (so a level
    column or a level field is learned and then dropped), other lines between."""
    out: list[str] = []
    for _ in range(draw(st.integers(1, 4))):
        if draw(st.booleans()):
            out += draw(st.lists(st.one_of(_line, _long), max_size=6))
            continue
        left, right = draw(_line), draw(_line)
        sep = draw(st.sampled_from([" ", "\t", " [", "] ", " | "]))
        tokens = st.one_of(st.sampled_from(_LEVELISH), st.sampled_from("TDIWEFVAX"), _piece)
        out += [left + sep + draw(tokens) + sep + right
                for _ in range(draw(st.integers(1, 20)))]
    return out


_SETTINGS = settings(max_examples=1500, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@_SETTINGS
@given(st.lists(st.one_of(_line, _long), min_size=1, max_size=8), st.integers(-1, 60))
@example(["26 Nov 07:00:00.123 # Server started"], -1)  # Python raises: the C must too
@example(["2026-11-26 07:00:00 [main] W msg"] * 12 + ["2026-11-26 07:00:00 [main] msg"] * 9,
         -1)
def test_generated_lines(texts: list[str], column: int) -> None:
    hint_c, hint_py = new_hint(), new_hint()
    hint_c[0] = hint_py[0] = column
    _compare(texts, hint_c, hint_py)


@_SETTINGS
@given(_stream())
def test_generated_streams(texts: list[str]) -> None:
    _compare(texts)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_line, _long), min_size=1, max_size=4),
       st.sampled_from([[-1], [3, "warn"], [-1, "error", None], [True, "info"]]))
def test_unusual_hints(texts: list[str], hint: list[Any]) -> None:
    """Short hints, a hint without a LevelField, a bool column: as Python does."""
    hint_c, hint_py = list(hint), list(hint)
    for text in texts:
        assert _outcome(fastpath._c.detect_level, text, hint_c) == _outcome(
            detect_level, text, hint_py)
        assert hint_c == hint_py
