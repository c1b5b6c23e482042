"""The C level detector on JSON lines (collector/_levels.h, json_level) against
collector.level_detect.detect_level: the same level and hint after every entry, on the
corpus's JSON lines, on generated objects (the level keys in every type, nested
``log``, duplicate keys, whitespace, escapes, non-ASCII) and on near-JSON that orjson
refuses (the cascade then goes on with the same text)."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from collector import fastpath
from collector.level_detect import (
    _ES_DATASET_KEYS,
    _ES_DEPRECATION,
    _JSON_KEYS,
    _OTEL_KEYS,
    _PRIORITY_KEYS,
    _STATUS_KEYS,
    _TAG_LEVELS,
    new_hint,
)
from logpipe.levels import spellings
from tests.collector.level_corpus import formats, incoming, load
from tests.collector.test_fastpath import lane_bodies
from tests.collector.test_level_c import _SETTINGS, _compare, _entries

pytestmark = pytest.mark.skipif(not fastpath.available(), reason="no C extension")

# The share of the corpus's JSON entries the C leaves to Python (escaped keys or level
# values, surrogate escapes): measured 0.0 % of them.
MAX_JSON_FALLBACK = 0.05

_CORPUS = formats() + incoming()


def _json_entries() -> list[list[str]]:
    """Per corpus file, its entries (and lines) that start with ``{``."""
    out = []
    for path in _CORPUS:
        texts = [t for t in _entries(path) + [line for _l, line in load(path)] if t[:1] == "{"]
        if texts:
            out.append(texts)
    return out


def test_corpus_json_lines() -> None:
    streams = _json_entries()
    assert sum(map(len, streams)) > 300
    calls0, falls0 = fastpath._c.level_stats()
    for texts in streams:
        _compare(texts)
    calls, falls = fastpath._c.level_stats()
    # _compare calls the C once per text: the share of those left to Python
    assert (falls - falls0) / (calls - calls0) < MAX_JSON_FALLBACK


def _each(texts: list[str]) -> None:
    """Each text with a new hint (a shared one may decide by its column first)."""
    for text in texts:
        _compare([text])


def _decided_in_c(text: str) -> bool:
    before = fastpath._c.level_stats()[1]
    _compare([text])
    return fastpath._c.level_stats()[1] == before


@pytest.mark.parametrize("text", [  # each with a new hint
    '{"level":"warn"}', '{"log":{"level":"error"}}', '{"log.level":null,"log":{"level":"E"}}',
    '{"level":30}', '{"level":35}', '{"level":7}', '{"level":-1}', '{"level":true}',
    '{"level":1.0}', '{"level":1e1}', '{"level":[1]}', '{"level":"007"}', '{"level":""}',
    '{"level":"CRITICAL","type":"deprecation"}', '{"level":"CRITICAL","type":"x"}',
    '{"level":"critical","type":"deprecation"}', '{"level":"info","level":"error"}',
    '{"level":"error","level":null}', '{"severity_number":13}', '{"severityNumber":true}',
    '{"priority":"Warning"}', '{"PRIORITY":"6"}', '{"priority":3}', '{"status":503}',
    '{"status":true}', '{"response_code":404.0}', '{"status_code":99}', '{"tags":["x","warn"]}',
    '{"tags":"warn"}', '{"tags":[1,["error"],"debug"]}', '{"level":12345678901234567890}',
    ' {"level":"info"} ', '{"level" : "info"\t}\r', '{"level":"info"}\n{"level":"error"}',
    '{"msg":"level=warn"}', '{"level":"info",}', '{"level":"info"} x', '{"level":NaN}',
    '{"a":01,"level":"info"}', '{"a":"\x01","level":"info"}', "{'level':'info'}",
    '{"level":"info"', '{', '{}', '{"a":"é","level":"warn"}', '{"a":"\\n\\u00e9"}',
    '{"msg":"x"} ERROR here', '{"level":"info" /* c */}', '{"level":"in\\u0066o"}',
])
def test_examples(text: str) -> None:
    _compare([text])


# A value orjson refuses or accepts, where reading the JSON (fatal, bunyan 50) and going
# on with the cascade (the WARN before it) disagree.
_REFUSED = ["NaN", "Infinity", "-Infinity", "01", "-01", "1.", ".5", "+1", "-", "1e", "1e+",
            "0x1", "'x'", '"\x01"', '"\x1f"', '"\\x"', '"\\u12"', '"\\u12g4"', "[1,]",
            '{"b":1,}', "[,1]", "tru", "nul", "True", "None", "1 2", '"a" "b"', "{1:2}",
            '{"b"}', '{"b":}', "[", '"x', "\u00a0", "1e999", "/**/1", "\t1"]
_ACCEPTED = ["1", "-0", "0", "1.5", "-1.5e-3", "1E+2", "0.0e+00", "[1]", "[]", "{}", "true",
             "false", "null", '"\\n"', '"\\u00e9"', '"\\/"', '"\x7f"', '"é"', " 1 ",
             "\t1\r", '{"b":[{"c":{}}]}', "9" * 18, "9" * 19, "-" + "9" * 30, "1" * 200]


@pytest.mark.parametrize("value", _REFUSED + _ACCEPTED)
def test_valid_or_refused(value: str) -> None:
    value = value.replace("\\t", "\t").replace("\\r", "\r")
    _each([f'{{"msg":"WARN x","a":{value},"level":50}}',
           f'{{"msg":"WARN x","level":50,"a":{value}}}'])


@pytest.mark.parametrize("tail", [",", " ,", ",}", "}", "]", " x", "x", "\x00", "{}", "\r",
                                  "\t ", "\n,", "\x0b", "\x0c", "\u00a0"])
def test_after_the_object(tail: str) -> None:
    tail = tail.encode().decode("unicode_escape")
    _each([f'{{"msg":"WARN x","level":50}}{tail}', f'{{"msg":"WARN x","level":50{tail}}}'])


def test_common_json_decided_in_c() -> None:
    for text in ('{"level":"warn","msg":"x é \\" \\\\ \\n"}', '{"log":{"level":"E"}}',
                 '{"a":[1,2.5e-3,{"b":null}],"level":30}', '{"level":"info",}',
                 '{"msg":"a"} ERROR', '{"status":404,"tags":["x"]}'):
        assert _decided_in_c(text), text
    for text in ('{"lev\\u0065l":"warn"}', '{"level":"w\\u0061rn"}', '{"level":"[warn]"}',
                 '{"a":"\\ud83d\\ude00","level":"info"}', '{"a":' * 100 + "1" + "}" * 100):
        assert not _decided_in_c(text), text


# -- generated objects -----------------------------------------------------------------

_KEYS = sorted({*_JSON_KEYS, *_OTEL_KEYS, *_PRIORITY_KEYS, *_STATUS_KEYS, *_ES_DATASET_KEYS,
                "tags", "log", "level.x", "Level", "msg", "a"})
_WORDS = sorted({*spellings(), *_TAG_LEVELS, *_ES_DEPRECATION, "CRITICAL", "Warning", "WARN",
                 " info", "info ", "[info]", "<warn>", "x", "7", "42", "0007", "in fo", "é",
                 "İnfo", "\u212a", "ınfo", "info\u00a0", "\x7f"})
_scalar = st.one_of(
    st.sampled_from(_WORDS), st.text(max_size=4),
    st.integers(-3, 70), st.sampled_from([99, 100, 404, 599, 600, 2**63, -(2**63), 10**19]),
    st.booleans(), st.none(), st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1.0, 30.0, 0.5]))
_value = st.recursive(_scalar, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(_KEYS), inner, max_size=3)),
    max_leaves=6)
_object = st.dictionaries(st.sampled_from(_KEYS), _value, max_size=6)


def _dumps(obj: Any, how: str) -> str:
    if how == "orjson":
        return orjson.dumps(obj).decode()
    if how == "ascii":  # \u escapes for every non-ASCII character
        return json.dumps(obj)
    if how == "spaced":
        return json.dumps(obj, ensure_ascii=False, separators=(" , ", " :\t"))
    return json.dumps(obj, ensure_ascii=False, indent=1)  # "{" alone on the first line


@_SETTINGS
@given(st.lists(st.tuples(_object, st.sampled_from(["orjson", "ascii", "spaced", "indent"])),
                min_size=1, max_size=5))
def test_generated_objects(objs: list[tuple[dict[str, Any], str]]) -> None:
    texts = [_dumps(obj, how) for obj, how in objs]
    _compare(texts)
    _each(texts)


@_SETTINGS
@given(st.lists(st.tuples(st.sampled_from(_KEYS), _value), min_size=1, max_size=6),
       st.sampled_from(["", " ", "\t", "\r", "\n"]))
@example([("level", "info"), ("level", "error")], "")
@example([("log", {"level": "error"}), ("log", 1)], "")
@example([("tags", ["warn"]), ("tags", [])], "")
def test_duplicate_keys(members: list[tuple[str, Any]], ws: str) -> None:
    """Members written by hand: duplicates kept in order (Python's dict keeps the last)."""
    body = f",{ws}".join(f"{orjson.dumps(k).decode()}:{ws}{orjson.dumps(v).decode()}"
                         for k, v in members)
    _compare([f"{ws}{{{ws}{body}{ws}}}{ws}"])


_JUNK = ["", ",", " ,", "}", "]", "x", " x", "NaN", "Infinity", "-", "01", "1.", ".5", "1e",
         "+1", "\x00", "\x01", "\x1f", "\x7f", "\t", "\u00a0", "é", "//", "/**/", "'", '"',
         "\\", "\\x", "\\u12", "\\ud800", "\\udc00", "true", "nul", "[", "{", ":", "1e999",
         "9" * 30, "-0", "0.0e+00"]


@_SETTINGS
@given(_object, st.sampled_from(["orjson", "ascii", "spaced"]), st.data())
def test_mutated_json(obj: dict[str, Any], how: str, data: st.DataObject) -> None:
    """Near-JSON: a piece inserted, a character removed, the line cut short. orjson
    refuses most of them, and the cascade goes on with the same text."""
    # the JSON says fatal, the cascade (when orjson refuses it) warn
    text = _dumps({"msg": "WARN x", **obj, "level": 50}, how)
    at = data.draw(st.integers(1, len(text)))
    kind = data.draw(st.sampled_from(["insert", "delete", "cut", "append", "comma"]))
    junk = data.draw(st.sampled_from(_JUNK))
    if kind == "insert":
        text = text[:at] + junk + text[at:]
    elif kind == "delete":
        text = text[:at - 1] + text[at:] if at > 1 else text
    elif kind == "cut":
        text = text[:at]
    elif kind == "comma":  # a trailing comma in the last object or list
        end = max(text.rfind("}"), text.rfind("]"))
        text = text[:end] + junk[:1] + "," + text[end:]
    else:
        text = text + junk
    _each([text, text + " ERROR x", text + "\n[warn] y"])


def test_streams_keep_their_hint() -> None:
    """JSON entries between text entries leave the column and level field as Python."""
    lines = ["2026-11-26 07:00:00 INFO a", '{"level":"warn"}', "2026-11-26 07:00:01 ERROR b",
             '{"msg":"no level"}', "x y WARN z", '{"level":"info",}'] * 8
    hint_c, hint_py = new_hint(), new_hint()
    _compare(lines, hint_c, hint_py)


# What ends a clean run in j_string (8 bytes a step): escapes (a surrogate one is
# Python's), UTF-8 of 2-4 bytes, raw controls and quotes orjson refuses, DEL
_LANE_TEXT = ['\\"', "é", "\\\\", "\x01", "\\n", "漢", "\\ud800", "\t", "\\u0041", "😀",
              '"', "\\q", "\\ud83d\\ude00", "\x7f", "\\/", "\u2028", " "]


def test_json_string_lanes() -> None:
    """JSON strings (keys, values, level values) with their special character in each
    lane of a word and at the very end, and cut short at every length: the same level
    and hint as Python. A level only the parsed object gives (severity_number) tells a
    string scanned wrong (the text cascade finds none); a level word with Unicode
    whitespace at an end (Python strips it) needs the string's non-ASCII flag."""
    bodies = [b.decode() for b in lane_bodies([t.encode() for t in _LANE_TEXT])]
    texts = []
    for body in bodies:
        texts += ['{"msg":"' + body + '","severity_number":17}',
                  '{"severity_number":17,"msg":"' + body + '"}',
                  '{"' + body + '":1,"severity_number":13}', '{"level":"' + body + '"}',
                  '{"severity_number":17,"msg":"' + body]
    for k in range(9):
        for word in ["e", "warn", "error", "notice", "warning", "critical"]:
            for space in ["\u00a0", "\u2028", "\u3000", "\x85"]:
                texts += ['{"m":"' + "a" * k + '","level":"' + word + space + '"}',
                          '{"m":"' + "a" * k + '","level":"' + space + word + '"}']
    _each(texts)
