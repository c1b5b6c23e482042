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
    _CSV_WORDS,
    _LEADING_WORDS,
    _PG_WORDS,
    _SECONDARY_WORDS,
    _SLASHED_WORDS,
    _TAG_WORDS,
    _TITLE_WORDS,
    LEVEL_WORDS,
    detect_level,
    new_hint,
)
from collector.multiline import MultilineRules, StreamJoiner
from logpipe.levels import spellings
from tests.collector.level_corpus import formats, incoming, load
from tests.hypothesis_budget import examples

pytestmark = pytest.mark.skipif(not fastpath.available(), reason="no C extension")

# The share of entries the C leaves to Python on the level corpus: non-ASCII text where
# the cascade looks, JSON it cannot be sure of (test_level_c_json.py); measured 2.0 % of
# its entries with every JSON line left to Python, 0.06 % since the C reads JSON.
MAX_FALLBACK = 0.005


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
    for text in ('{"level":"w\\u0061rn"}', "é ERROR x", "2026-11-26 07:00:00 é ERROR x"):
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


def _bounds() -> list[str]:
    """Each pattern at its bounds: every {lo,hi} run at lo-1, lo, hi, hi+1 characters,
    every lookaround class member and a near miss, each optional part with and without."""
    out: list[str] = []
    four = (0, 1, 2, 3)
    for k in (7, 8, 40, 41):  # _TABBED's prefix, _SLASHED's and _MONOLOG's brackets
        out += [f"{'x' * k}\t{w}\tmsg" for w in ("wn", "err", "info", "warnings", "exception")]
        out += [f"[{'y' * k}] warning/x msg", f"[{'z' * (k + 2)}] app.WARNING: m"]
    for j in (0, 1, 40, 41):
        out += [f"[2023-05-15 18:19:32] {'c' * j}.{w}: m" for w in ("ERR", "INFO", "EXCEPTION")]
    for k in (7, 8, 15, 16):  # _MONGO's clock and component
        clock = ("13:44:56.657123456"[:k]).ljust(k, "1")
        out += [f"2018-02-05T{clock}+0100 {c} CONTROL  [main] x" for c in ("I", "D", "D3")]
        out.append(f"2018-02-05T13:44:56.657Z W {'C' * (k - 1)}  [main] x")
    for k in (0, 1, 20, 21):  # _CISCO's facility, its optional part, the mnemonic
        out += [f"x %A{'B' * k}-4-LINK: up", f"%ASA-{'a' * k}-3-X:", f"%SYS-5-{'M' * (k + 10)} x"]
    out += [f"<{'1' * n}>x" for n in range(5)]  # _SYSLOG_PRI
    for n in (10, 11):  # _REDIS's pid, its fraction
        out += [f"{'1' * n}:M 26 Nov 2026 07:00:00.{'1' * (n - 4)} * x", f"[{'2' * n}] 26 Nov"
                f" 07:00:00 # x", "26 Nov 07:00:00.1234567 * x", "26 Nov 2026 07:00:00 - x"]
    out += [f"11-26 07:00:00.{'1' * n}  12  34 W Tag: x" for n in (2, 3, 4)]  # _LOGCAT
    for word in (*_TITLE_WORDS, *LEVEL_WORDS, *_PG_WORDS, "ALERT", "EMERG", "System"):
        for after in (" ", "\t", "\x1c", ":", ",", "]", "|", ":  ", "-", ".", "x", "1", "/"):
            for before in ("", "2016-09-28 04:30:30, ", "[", "<", "x", ".", "- ", "a "):
                out.append(f"{before}{word}{after}msg")
    for quoted in ('GET / HTTP/1.1', 'a\\"b', 'a\\\nb', 'a\\', 'a\\\\', 'a\nb'):
        out.append(f'1.2.3.4 - - [26/Nov/2026:07:00:00 +0000] "{quoted}" 503 1 "-"')
    out += [f"{p}{w}:  x" for w in (*_PG_WORDS, "DEBUG6", *_SECONDARY_WORDS) for p in ("", "a.")]
    out += [f"1,2,{w},42P01,x" for w in (*_CSV_WORDS, "DEBUG6")]
    out += [f"a {'/'.join(['-1', '2', '+3', '4'][:n])}/+5 503 x" for n in four]
    return out


def test_shape_bounds() -> None:
    texts = _bounds()
    _compare(texts)
    _compare([f"2026-11-26 07:00:00 {t}" for t in texts])


# -- generated lines -----------------------------------------------------------------

def _cases(word: str) -> list[str]:
    return [word, word.lower(), word.upper(), word.title(), word.swapcase()]


_LEVELISH = sorted({c for w in (*LEVEL_WORDS, *_TITLE_WORDS, *_BRACKETED, *_LEADING_WORDS,
                                *spellings(), *_PG_WORDS, *_CSV_WORDS, *_SECONDARY_WORDS,
                                *_TAG_WORDS, *_SLASHED_WORDS, "ALERT", "EMERG", "DEBUG7",
                                "System", "Informational", "WARNI")
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


def _length(lo: int, hi: int) -> st.SearchStrategy[int]:
    """A run's length for a pattern's {lo,hi}: mostly at and around its bounds."""
    return st.one_of(st.sampled_from([max(lo - 1, 0), lo, hi, hi + 1]),
                     st.integers(max(lo - 2, 0), hi + 2))


def _chars(alphabet: str, lo: int, hi: int) -> st.SearchStrategy[str]:
    return _length(lo, hi).flatmap(
        lambda n: st.text(st.sampled_from(alphabet), min_size=n, max_size=n))


def _cat(*parts: st.SearchStrategy[str] | str) -> st.SearchStrategy[str]:
    return st.tuples(*(st.just(p) if isinstance(p, str) else p for p in parts)).map("".join)


_UP, _LOW, _DIG = "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz", "0123456789"
_TEXT = _UP[:6] + _LOW[:6] + _DIG[:4] + " :.-_[]/|,=\"'<>(){}"
_opt = st.sampled_from
# a level-ish word, each family as likely as the others
_word = st.one_of(*(_opt(sorted({c for w in family for c in _cases(w)})) for family in (
    LEVEL_WORDS, _TITLE_WORDS, _BRACKETED, _LEADING_WORDS, tuple(spellings()), _PG_WORDS,
    _CSV_WORDS, _SECONDARY_WORDS, _TAG_WORDS, _SLASHED_WORDS,
    ("ALERT", "EMERG", "DEBUG7", "System", "Informational", "WARNI"))))
# One generator per shape of the cascade, its runs at and around the pattern's bounds
# (a regex's {8,40} gets 7, 8, 40, 41 characters and some between), its separators varied.
_SHAPES = [
    _cat(_chars(_TEXT + "\n", 8, 40), _opt(["\t", " "]),
         st.one_of(_word, _chars(_UP[:4] + _LOW[:4], 3, 8)), _opt(["\t", " "])),
    _cat("[", _chars(_TEXT.replace("]", "") + "\n", 8, 40), _opt(["] ", "]", "]  "]),
         _opt([*_SLASHED_WORDS, "Debug"]), _opt(["/a", "/", "/-", "x/a"])),
    _cat("[", _chars(_TEXT.replace("]", ""), 10, 40), "] ", _chars(_LOW[:3] + "_-.", 1, 40),
         ".", st.one_of(_word, _chars("EROIWANG", 4, 9)), _opt([": ", ":", " :"])),
    _cat("2018-02-05T", _chars("0123456789:.", 8, 15), _opt(["+0100", "-01", "Z", "", "z"]),
         " ", _opt(["F", "E", "W", "I", "D", "D1", "D6", "X", "I1"]), _chars(" ", 1, 2),
         _opt(_UP[:3]), _chars(_UP[:4] + "_", 1, 15), _chars(" ", 1, 2), _opt(["[", "x["])),
    _cat(_opt(["", "x ", ": "]), "%", _opt([*_UP[:3], "9"]), _chars(_UP[:5] + "9_", 1, 20),
         _opt(["", "-"]), st.one_of(st.just(""), _cat("-", _chars("aB", 1, 20))), "-",
         _opt("0789-"), "-", _chars(_UP[:3] + "0_", 1, 30), _opt([":", " ", "\t", "", "x", "-"])),
    _cat('1.2.3.4 - - [26/Nov/2026:07:00:00 ', _opt(["+", "-", "*"]), "0000] \"",
         st.lists(_opt(["a", " ", '\\"', "\\\\", "\\\n", "\n", '"', "\\"]),
                  max_size=6).map("".join),
         _opt(['" ', '"', " "]), _chars(_DIG[:6], 3, 3), _opt([" ", "", "x"])),
    _cat(_opt(["", "x", "fe be/srv"]), " ", st.lists(_cat(_opt(["", "-", "+", "+-"]),
                                                          _chars(_DIG[:3], 1, 2)),
                                                     min_size=3, max_size=6).map("/".join),
         _opt([" ", "", "  "]), _chars(_DIG[:6], 3, 3), _opt([" ", "", "\t"])),
    _cat("11-26 07:00:00.", _chars(_DIG, 3, 3), _chars(" \t\x1c", 1, 2), _chars(_DIG, 1, 2),
         _chars(" ", 1, 2), _chars(_DIG, 1, 2), _opt([" ", "  "]), _opt([*"VDIWEFAX", "I"]),
         _opt([" ", "", ":"])),
    _cat(_opt(["", "1:M ", "12345678901:M ", "1234567890:M ", "[42] ", "[] ", "7:m "]),
         "26 Nov", _opt(["", " 2026", " 202"]), " 07:00:00", _opt(["", "."]),
         _chars(_DIG, 1, 6), " ", _opt([*".*#-", "+"]), _opt([" ", ""])),
    _cat(_opt(["Nov 26 07:00:00", "Nov  6 07:00:00", "2026-11-26T07:00:00Z", "2026-11-26T"]),
         _opt([" host ", " ", "  "]), _chars(_LOW[:4] + "[]1/:", 0, 12), _opt([": ", ":", " "]),
         _opt([*_TAG_WORDS, "debug4", "errors", "Error"]), _opt([": ", ":", ":  "])),
    _cat("<", _chars(_DIG, 1, 3), _opt([">", "", " >"])),
    _cat(_opt([*"IWEFXi"]), _chars(_DIG, 4, 4), _opt([" 07:00:00", "07:00:00", " 07:00"])),
    _cat(_opt(["", " ", "[", "<", "|", ".", "-", "_", "x", "(", "\x1c", ",", "{", "[a:", "<:"]),
         _word, _opt(["", " ", ":", ",", "]", ">", "|", "-", ".", "x", "1", "\t", "\x1c",
                      ":  ", "/"])),
    _cat(_opt(["", " ", ",", "{", "\t", "x", '"']), _opt(["level", "lvl", "severity",
                                                          "loglevel", "Level", "levels"]),
         _opt(["", '"']), _opt(["=", ":", " ", ""]), _chars(" \x1c", 0, 2), _opt(["", '"']),
         st.one_of(_word, _opt(["", "1", "foo"]))),
    _cat(_chars(_TEXT, 0, 12), ",", _opt([*_CSV_WORDS, "DEBUG7", "WARN"]), ",",
         _chars(_UP[:3] + _DIG[:3] + "a", 5, 5), _opt([",", ""])),
    _cat(_opt([*_LEADING_WORDS, "Information", "PANIC"]), _opt([": ", " - ", ":", " -", " -x"])),
    _cat(_opt([*"VDIWEFAX"]), "/", _chars(_LOW[:3] + "( ", 1, 4), _chars(" ", 0, 2), "(",
         _chars(" ", 0, 2), _chars(_DIG, 1, 3), _opt([")", ""])),
    _cat(_chars(_TEXT, 0, 12), _opt(["", " ", "."]), _opt([*_SECONDARY_WORDS, "DETAILS"]),
         _opt([":  ", ": ", ":"])),
    _cat(_opt(["", " ", "x ", "| "]), "|", _opt([" ", ""]), _opt([*"TDIWEFVAX"]),
         _opt([" |", "|", " "])),
]
_shape = st.one_of(_SHAPES)
_piece = st.one_of(_shape, _word, st.sampled_from(_STAMPS),
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


_SETTINGS = settings(max_examples=examples(300), deadline=None,
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


@settings(_SETTINGS, max_examples=examples(200))
@given(_stream())
def test_generated_streams(texts: list[str]) -> None:
    _compare(texts)


@settings(_SETTINGS, max_examples=examples(1500))
@given(st.lists(st.tuples(st.sampled_from(["", *_STAMPS, "2026-11-26 07:00:00 "]), _shape,
                          st.sampled_from(["", " msg", "\nnext ERROR", " é"])).map("".join),
                min_size=1, max_size=6))
def test_generated_shapes(texts: list[str]) -> None:
    """Each shape at the start of a line (where the anchored ones are tried)."""
    _compare(texts)


@settings(max_examples=examples(100), deadline=None)
@given(st.lists(st.one_of(_line, _long), min_size=1, max_size=4),
       st.sampled_from([[-1], [3, "warn"], [-1, "error", None], [True, "info"]]))
def test_unusual_hints(texts: list[str], hint: list[Any]) -> None:
    """Short hints, a hint without a LevelField, a bool column: as Python does."""
    hint_c, hint_py = list(hint), list(hint)
    for text in texts:
        assert _outcome(fastpath._c.detect_level, text, hint_c) == _outcome(
            detect_level, text, hint_py)
        assert hint_c == hint_py
