"""Level detection from a log entry's text (the level ratio depends on it).

Only the entry's header is looked at: the JSON/logfmt level field, or a level token
near the start of the first line. Words in the body ("parity error corrected") never
override the header, and lowercase words never count unless bracketed or in a
``level=`` field. Title-case words (``Info``) and uppercase words past the first 96
characters count only in a header free of prose (no lowercase letter before them).
Nothing found: ``unknown``.

An operator's per-app ``LevelRule`` (an RE2 regex with a ``level`` group, or
``json:<key>``) is tried first where one is set; the C fast path is then not used.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, cast

import orjson

from collector import level_field
from collector.level_field import LevelField
from collector.multiline import START_MAX_CHARS, PatternRefused, compile_start
from logpipe.levels import Level, bunyan_level, normalize_level, otel_severity, spellings

UNKNOWN = Level.UNKNOWN.value
# A stream's (a source's) memory: [the column of its level word or -1, the level of its
# last entry, its learned level field]; the C fast path reads the first and writes the
# second (collector.fastpath), and hands every entry the first does not decide to
# detect_level, so both paths leave the same memory.
Hint = list[Any]


def new_hint() -> Hint:
    return [-1, UNKNOWN, LevelField()]

# How much of the first line counts as the "header" for word shapes.
HEADER_CHARS = 96
# A longer prose-free header (BGL RAS, long node names): searched this far.
WIDE_HEADER_CHARS = 256
# Access logs, Cisco ids, HAProxy, PostgreSQL csvlog: their fields are searched this far.
WINDOW_CHARS = 512

_JSON_KEYS = ("level", "severity", "lvl", "loglevel", "log_level", "levelname", "@l",
              "level_name", "severity_text", "severityText", "log.level", "@level", "status",
              "s")  # MongoDB 4.4+ {"s":"I"}
_OTEL_KEYS = ("severity_number", "severityNumber")
# Falco "priority":"Warning", journald's JSON export "PRIORITY":"6": read as words or
# syslog digits, never as a number (a task's "priority": 3 is no severity).
_PRIORITY_KEYS = ("priority", "PRIORITY")
# JSON access logs (Envoy/Istio "response_code", others "status"): an HTTP status
# number decides as in a text access log, when no level key did.
_STATUS_KEYS = ("response_code", "status", "status_code")
# "status" among _JSON_KEYS is skipped by their loop: _STATUS_KEYS decide it, as a number.
_JSON_SKIPPED = "status"
_STATUS_CODES = (100, 599)
# Kibana 6 legacy JSON (and hapi's server.log) carry the level as one of the "tags".
_TAGS_KEY = "tags"
_TAG_LEVELS = frozenset(("trace", "debug", "info", "warn", "warning", "error", "fatal",
                         "critical"))
# Elasticsearch's deprecation logger defines CRITICAL between WARN and ERROR ("more
# serious than WARN by 1"): a critical deprecation *warning*, not a fatal error.
_ES_DEPRECATION = frozenset(("deprecation", "deprecation.elasticsearch"))
_ES_DATASET_KEYS = ("event.dataset", "data_stream.dataset", "type")
_ES_CRITICAL = "CRITICAL"

# klog/glog "I1126 07:00:00.123456   1 file.go:12] msg"; logcat threadtime
# "11-26 07:00:00.123  123  456 W Tag: msg"; logcat brief "W/Tag( 123): msg".
_KLOG_LETTERS = "IWEF"
_LOGCAT_LETTERS = "VDIWEFA"
_KLOG = re.compile(rf"([{_KLOG_LETTERS}])\d{{4}} \d\d:\d\d:\d\d")
_LOGCAT = re.compile(rf"\d\d-\d\d \d\d:\d\d:\d\d\.\d{{3}}\s+\d+\s+\d+ ([{_LOGCAT_LETTERS}]) ")
_LOGCAT_BRIEF = re.compile(rf"([{_LOGCAT_LETTERS}])/[^\s(]+\s*\(\s*\d+\)")
_SYSLOG_PRI = re.compile(r"<(\d{1,3})>")
# A daemon's own lowercase level prefix right after the syslog tag: OpenSSH
# "sshd[123]: error: ...", Postfix "postfix/smtpd[1]: warning: ...".
_TAG_WORDS = ("error", "fatal", "warning", "panic", "debug1", "debug2", "debug3", "debug")
_SYSLOG_TAG = re.compile(r"(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT\S+) \S+ "
                         rf"[^\s:]+: ({'|'.join(_TAG_WORDS)}): ")
# Icinga 2 "[2017-04-04 11:16:34 +0200] information/Notification: ..." (severity/facility)
_SLASHED_WORDS = ("debug", "notice", "information", "warning", "critical")
_SLASHED = re.compile(rf"\[[^\]]{{8,40}}\] ({'|'.join(_SLASHED_WORDS)})/\w")
# The uppercase level words as loggers print them (log4j, logback, python, zap,
# env_logger); collector.fastpath hands the same tuple to the C hint shortcut.
# ALERT and EMERG are not among them: bare, they are as often message text ("logrotate:
# ALERT exited abnormally"); they count bracketed, in a level field or as "ALERT:".
LEVEL_WORDS = ("TRACE", "DEBUG", "INFO", "NOTICE", "WARN", "WARNING", "ERROR", "ERR", "FATAL",
               "CRITICAL", "CRIT", "SEVERE", "PANIC", "DPANIC", "FINE",
               "FINER", "FINEST", "CONFIG",
               # abbreviated forms (zerolog/serilog/.NET console, log15 "EROR")
               "TRC", "DBG", "INF", "WRN", "EROR", "FTL")
_WORDS = "|".join(LEVEL_WORDS)
_TITLE_WORDS = ("Trace", "Debug", "Info", "Information", "Notice", "Warning", "Warn", "Error",
                "Fatal", "Critical")
# The other word lists of the shapes below (collector.fastpath hands them to the C
# detector too, c_tables): a level field's keys, bracketed words (any case; the last
# only as written), the words that count with a colon, PostgreSQL's severities.
_FIELD_KEYS = ("level", "lvl", "severity", "loglevel")
_BRACKETED = ("trace", *(f"trace{n}" for n in range(1, 9)), "debug", "info", "notice", "warn",
              "warning", "error", "err", "crit", "critical", "alert", "emerg", "fatal", "severe",
              "panic", "note")
_BRACKETED_CASED = ("System",)
_COLON_WORDS = ("ALERT", "EMERG")
_PIPE_LETTERS = "TDIWEFV"
_PG_WORDS = ("LOG", *(f"DEBUG{n}" for n in range(1, 6)))
# One pass over the header finds the earliest of: a logfmt/JSON-ish ``level=`` field,
# a bracketed level ("[error]", "[WARN]", apache 2.4 "[core:error]", "<warning>"), or
# one of LEVEL_WORDS. The earliest wins: the header comes before the body.
_HEADER = re.compile(
    rf'(?:^|[\s,{{])"?(?:{"|".join(_FIELD_KEYS)})"?[=:]\s*"?(?P<lf>[A-Za-z]+)'
    rf"|[\[<](?:\w*:)?(?P<br>(?i:{'|'.join(_BRACKETED)})|{'|'.join(_BRACKETED_CASED)})[\]>]"
    rf"|(?<![\w.-])(?P<wd>{_WORDS})(?![\w-])"
    rf"|(?<![\w.-])(?P<al>{'|'.join(_COLON_WORDS)}):"
    # a single-letter level as a pipe-separated field ("... 11:38:49.414 | I | Voip ...")
    rf"|\| (?P<pl>[{_PIPE_LETTERS}]) \|"
    # PostgreSQL "LOG:  ", "DEBUG1:  " (its severity words end with a colon and 2 spaces)
    rf"|(?<![\w.-])(?P<pg>{'|'.join(_PG_WORDS)}):  "
    # Title-case ("2016-09-28 04:30:30, Info   CBS ..."): only before any prose
    rf"|(?<![\w.-])(?P<tc>{'|'.join(_TITLE_WORDS)})"
    r"(?=[\s:,\]|])")
_PG_LEVELS = {"LOG": Level.INFO.value}
# Where every _HEADER shape but the ``level=`` field's can begin: a bracket or a pipe,
# or the first two letters of one of its words (uppercase, Title-case, ALERT/EMERG,
# PostgreSQL's LOG/DEBUG1).
_STARTS = re.compile(r"[\[<|]|" + "|".join(sorted(
    {w[:2] for w in (*LEVEL_WORDS, *_TITLE_WORDS, *_COLON_WORDS, *_PG_WORDS)})))
# Redis "123:M 26 Nov 2026 07:00:00.123 * msg" (also "[123] 26 Nov ..." and no pid):
# its marker . - * # is the level (debug, verbose, notice, warning).
_REDIS_MARKS = ".*#-"
_REDIS = re.compile(r"(?P<pid>\d{1,10}:[A-Z] |\[\d{1,10}\] )?\d\d [A-Z][a-z][a-z](?: \d{4})? "
                    rf"\d\d:\d\d:\d\d(?:\.\d{{1,6}})? ([{re.escape(_REDIS_MARKS)}]) ")
_REDIS_LEVELS = {".": "debug", "-": "debug", "*": "info", "#": "warn"}
# Redis 1.x wrote no pid and had three levels: "." debug, "-" notice, "*" warning.
# A line without a pid marked "#" is a later Redis's warning (1.x never wrote "#").
_REDIS1_LEVELS = {".": "debug", "-": "info", "*": "warn", "#": "warn"}
# MongoDB before 4.4: "2018-02-05T13:44:56.657+0100 I CONTROL  [initandlisten] ..."
# (a severity letter, or D1-D5, then the component in capitals, then the context).
_MONGO_LEVELS = {"F": "fatal", "E": "error", "W": "warn", "I": "info"}
_MONGO_DEBUG = "D"  # D, D1-D5: debug (the default of _MONGO_LEVELS.get)
_MONGO_DEFAULT = Level.DEBUG.value
_MONGO = re.compile(rf"\d{{4}}-\d\d-\d\dT[\d:.]{{8,15}}(?:[+-]\d{{4}}|Z) "
                    rf"([{''.join(_MONGO_LEVELS)}]|{_MONGO_DEBUG}[1-5]?) +[A-Z][A-Z_]{{1,15}} +\[")
# PostgreSQL csvlog: ...,<session line>,<command tag>,<start>,<vxid>,<txid>,<severity>,
# <SQLSTATE>,"message" -- the severity is the field before a 5-character SQLSTATE.
_CSV_WORDS = (*(f"DEBUG{n}" for n in range(1, 6)), "LOG", "INFO", "NOTICE", "WARNING", "ERROR",
              "FATAL", "PANIC")
_PG_CSV = re.compile(rf",({'|'.join(_CSV_WORDS)}),[0-9A-Z]{{5}},")
# each severity's level: DEBUG1-5 are debug (WARNING and NOTICE are words of their own)
_CSV_LEVELS = {w: normalize_level(w.rstrip("12345")).value for w in _CSV_WORDS}
# PostgreSQL's follow-up lines of a message (same prefix, written right after it): the
# level of the message they belong to, the stream's last entry.
_SECONDARY_WORDS = ("DETAIL", "HINT", "STATEMENT", "CONTEXT", "QUERY", "LOCATION")
_PG_SECONDARY = re.compile(rf"(?<![\w.-])(?:{'|'.join(_SECONDARY_WORDS)}):  ")
# A level as its own tab-separated field after the time (zap's console encoder:
# "2025-04-24T22:09:20.854Z\tinfo\tcaller\tmsg").
_TABBED = re.compile(r"[^\t\n]{8,40}\t([A-Za-z]{3,8})\t")
# PHP Monolog's line format: "[2023-05-15 18:19:32] local.ERROR: message".
_MONOLOG = re.compile(r"\[[^\]]{10,40}\] [\w-]{1,40}\.([A-Z]{4,9}): ")
# HAProxy's HTTP log: "... [date] frontend backend/server TR/Tw/Tc/Tr/Ta status bytes ..."
_HAPROXY = re.compile(r" -?\d+/-?\d+/-?\d+/-?\d+/\+?-?\d+ (\d{3}) ")
_LOWER = re.compile(r"[a-z]")
# The uppercase-word shape alone, anchored where a stream's hint points.
_WORD_AT = re.compile(rf"(?<![\w.-])({_WORDS})(?![\w-])")
_LEADING_WORDS = ("Trace", "Debug", "Info", "Notice", "Warning", "Warn", "Error", "Fatal",
                  "Critical", "Panic")
_LEADING = re.compile(rf"({'|'.join(_LEADING_WORDS)})(?::| -) ")
# Access logs: ... "GET / HTTP/1.1" 503 ... -> the status decides; also a request that
# is not HTTP ("-", a TLS hello) right after the Common Log Format's bracketed date.
_ACCESS = re.compile(r'HTTP/[\d.]+" (\d{3}) ')
_CLF = re.compile(r'\[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "(?:[^"\\]|\\.)*" '
                  r"(\d{3}) ")
# Cisco IOS / ASA message ids: %FACILITY-SEVERITY-MNEMONIC (syslog severity 0-7).
_CISCO = re.compile(r"%[A-Z][A-Z0-9_]{1,20}(?:-[A-Za-z]{1,20})?-([0-7])-[A-Z0-9_]{1,30}(?::|\s)")


_NAMES: dict[str, str] = {}


def _name(token: str) -> str:
    """normalize_level(token).value, memoised: the same few spellings recur."""
    found = _NAMES.get(token)
    if found is None:
        found = normalize_level(token).value
        if len(_NAMES) < 4096:
            _NAMES[token] = found
    return found


def _letter(letter: str) -> str:
    # logcat "A" is assert, its most severe level; the others are common aliases.
    return Level.FATAL.value if letter == "A" else normalize_level(letter).value


def _from_json(text: str) -> str | None:
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(obj, dict):
        return None
    for key in _JSON_KEYS:
        value = obj.get(key)
        if value is None and "." in key:  # ECS "log.level" nested as {"log":{"level":..}}
            outer, inner = key.split(".", 1)
            nested = obj.get(outer)
            value = nested.get(inner) if isinstance(nested, dict) else None
        if value is not None and key != _JSON_SKIPPED:
            if isinstance(value, int) and value >= 10:  # bunyan/pino; 0-7 are syslog
                lv = bunyan_level(value)
            else:
                lv = normalize_level(value)
            if lv is Level.FATAL and value == _ES_CRITICAL and _es_deprecation(obj):
                lv = Level.WARN
            if lv is not Level.UNKNOWN:
                return lv.value
    for key in _OTEL_KEYS:
        number = obj.get(key)
        if isinstance(number, int):
            lv = otel_severity(number)
            if lv is not Level.UNKNOWN:
                return lv.value
    for key in _PRIORITY_KEYS:
        word = obj.get(key)
        if isinstance(word, str):
            lv = normalize_level(word)
            if lv is not Level.UNKNOWN:
                return lv.value
    for key in _STATUS_KEYS:
        code = obj.get(key)
        if (isinstance(code, int) and not isinstance(code, bool)
                and _STATUS_CODES[0] <= code <= _STATUS_CODES[1]):
            return _status(str(code))
    tags = obj.get(_TAGS_KEY)
    if isinstance(tags, list):
        for tag in tags:
            if isinstance(tag, str) and tag in _TAG_LEVELS:
                return _name(tag)
    return None


def _es_deprecation(obj: dict[str, object]) -> bool:
    return any(obj.get(key) in _ES_DEPRECATION for key in _ES_DATASET_KEYS)


def _prose_before(head: str, pos: int) -> bool:
    """A lowercase letter before ``pos``: the message (prose) has begun."""
    return _LOWER.search(head, 0, pos) is not None


def _wide_header(text: str, hint: Hint | None) -> str | None:
    """An uppercase level word past the first HEADER_CHARS characters, in a header with
    no prose before it ("... R02-M1-N0-C:J12-U11 RAS KERNEL INFO instruction ...")."""
    line = text[:WIDE_HEADER_CHARS]
    nl = line.find("\n")
    if nl >= 0:
        line = line[:nl]
    m = _LOWER.search(line)
    end = len(line) if m is None else m.start()
    m = _WORD_AT.search(line, 0, end)
    if m is None:
        return None
    if hint is not None:
        hint[0] = m.start(1)
    return _name(m.group(1))


def _header_level(head: str, hint: Hint | None) -> str | None:
    """The earliest _HEADER match in ``head`` that names a level (a Title-case word only
    before any prose). Every _HEADER shape but ``level=`` begins with one of _STARTS, so
    without a ``level=`` field only those positions are tried, with an anchored match:
    several times cheaper than the search (which tries the alternation everywhere)."""
    searched = "level" in head or "lvl" in head or "severity" in head
    pos = 0
    while True:
        if searched:
            m = _HEADER.search(head, pos)
            if m is None:
                return None
        else:
            c = _STARTS.search(head, pos)
            if c is None:
                return None
            m = _HEADER.match(head, c.start())
            if m is None:
                pos = c.start() + 1
                continue
        kind = m.lastgroup
        pos = m.end()  # "level=foo" names no level: keep looking
        if kind == "tc" and _prose_before(head, m.start()):
            continue
        word = m.group(m.lastindex or 0)
        found = _PG_LEVELS.get(word) or _name(word[:5] if kind == "pg" else word)
        if found != UNKNOWN:
            if hint is not None:
                hint[0] = m.start("wd") if kind == "wd" else -1
            return found


def detect_level(text: str, hint: Hint | None = None) -> str:
    """The level of an entry (its first line decides), one of logpipe.levels.LEVELS.

    ``hint`` (one per stream: ``new_hint()``) remembers the column where a level word
    was found: lines of one stream share a layout, so the next line is first checked
    there, which is several times cheaper than searching the header. It also keeps the
    level found last (PostgreSQL's HINT/DETAIL lines take their message's).
    """
    if hint is None or not text:
        found = _detect(text, None) if text else UNKNOWN
    elif hint[0] >= 0 and (m := _WORD_AT.match(text, hint[0])) is not None and (
            text.find("\n", 0, hint[0]) < 0):
        found = _name(m.group(1))  # what the C fast path decides alone
    else:
        learned: LevelField | None = hint[2] if len(hint) > 2 else None
        if learned is not None and learned.field >= 0:
            found = learned.apply(text) or _detect(text, hint)
        else:
            found = _detect(text, hint)
            if learned is not None:
                learned.observe(text, found)
    if hint is not None and len(hint) > 1:
        hint[1] = found
    return found


def _detect(text: str, hint: Hint | None) -> str:
    head = text[:HEADER_CHARS]
    first = head[0]
    if first == "{":
        found = _from_json(text.partition("\n")[0] if len(text) < 65536 else text[:65536])
        if found is not None:
            return found
    elif first in "IWEF":
        m = _KLOG.match(head)
        if m is not None:
            return _name(m.group(1))
    elif first == "<":
        m = _SYSLOG_PRI.match(head)
        if m is not None:
            return normalize_level(int(m.group(1)) % 8).value
    elif first == "[":
        m = _SLASHED.match(head)
        if m is not None:
            return _name(m.group(1))
    if first.isupper() or first.isdigit():
        m = _SYSLOG_TAG.match(text, 0, WIDE_HEADER_CHARS)
        if m is not None:
            return _name(m.group(1))
    nl = head.find("\n")
    if nl >= 0:
        head = head[:nl]
    if first.isdigit() or first == "[":
        m = _LOGCAT.match(head) if first != "[" else None
        if m is not None:
            return _letter(m.group(1))
        m = _REDIS.match(head)
        if m is not None:
            return (_REDIS_LEVELS if m.group("pid") else _REDIS1_LEVELS)[m.group(2)]
        m = _MONGO.match(head)
        if m is not None:
            return _MONGO_LEVELS.get(m.group(1), _MONGO_DEFAULT)
    elif first in "VDIWEFA" and head[1:2] == "/":
        m = _LOGCAT_BRIEF.match(head)
        if m is not None:
            return _letter(m.group(1))
    if "\t" in head:
        m = _TABBED.match(head)
        if m is not None and (named := _name(m.group(1))) != UNKNOWN:
            return named
    elif first == "[":
        m = _MONOLOG.match(head)
        if m is not None and (named := _name(m.group(1))) != UNKNOWN:
            return named
    found = _header_level(head, hint)
    if found is not None:
        return found
    if ":  " in head:
        m = _PG_SECONDARY.search(head)
        if m is not None:
            return hint[1] if hint is not None and len(hint) > 1 else UNKNOWN
    if len(text) > HEADER_CHARS:
        found = _wide_header(text, hint)
        if found is not None:
            return found
    if hint is not None:
        hint[0] = -1
    m = _LEADING.match(head)
    if m is not None:
        return _name(m.group(1))
    window = text[:WINDOW_CHARS]
    if "HTTP/" in window:
        m = _ACCESS.search(window)
        if m is not None:
            return _status(m.group(1))
    if "] \"" in window:
        m = _CLF.search(window)
        if m is not None:
            return _status(m.group(1))
    if "%" in head:
        m = _CISCO.search(head)
        if m is not None:
            return normalize_level(int(m.group(1))).value
    if "/" in window:
        m = _HAPROXY.search(window)
        if m is not None:
            return _status(m.group(1))
    if "," in window:
        m = _PG_CSV.search(window)
        if m is not None:
            return _CSV_LEVELS[m.group(1)]
    return UNKNOWN


def _status(code: str) -> str:
    n = int(code)
    return "error" if n >= 500 else "warn" if n >= 400 else "info"


def c_tables() -> dict[str, object]:
    """What collector.fastpath hands the C detector (collector/_levels.h, init_levels):
    every word, letter and level table of the cascade above, its sizes, and the function
    and type whose results and state it must reproduce. The shapes themselves are C code
    mirroring the regexes here; tests/collector/test_level_c.py holds both to the same
    results and hint state."""
    return {
        "detect": detect_level, "field_type": LevelField, "unknown": UNKNOWN,
        "aliases": spellings(),
        "syslog": tuple(normalize_level(n).value for n in range(8)),
        "status": tuple(_status(f"{d}00") for d in range(10)),  # by the code's first digit
        "sizes": (HEADER_CHARS, WIDE_HEADER_CHARS, WINDOW_CHARS),
        "words": LEVEL_WORDS, "title": _TITLE_WORDS, "keys": _FIELD_KEYS,
        "bracketed": _BRACKETED, "bracketed_cased": _BRACKETED_CASED, "colon": _COLON_WORDS,
        "pipe": _PIPE_LETTERS, "pg": _PG_WORDS, "pg_levels": _PG_LEVELS,
        "tag": _TAG_WORDS, "slashed": _SLASHED_WORDS, "klog": _KLOG_LETTERS,
        "logcat": {c: _letter(c) for c in _LOGCAT_LETTERS},
        "redis_marks": _REDIS_MARKS, "redis": _REDIS_LEVELS, "redis1": _REDIS1_LEVELS,
        "mongo": _MONGO_LEVELS, "mongo_debug": _MONGO_DEBUG, "mongo_default": _MONGO_DEFAULT,
        "csv": _CSV_LEVELS, "secondary": _SECONDARY_WORDS, "leading": _LEADING_WORDS,
        **level_field.c_tables(), **_json_c_tables(),
    }


def _json_c_tables() -> dict[str, object]:
    """_from_json's keys for the C (collector/_levels.h, json_level): every key read
    flat from the object ("json_top"; the C keeps those members), the keys read from a
    nested object ("json_inner"), and each loop's keys as indices into those."""
    first = [key for key in _JSON_KEYS if key != _JSON_SKIPPED]
    split = {key: key.split(".", 1) for key in first if "." in key}
    top = tuple(dict.fromkeys((*first, *(outer for outer, _ in split.values()), *_OTEL_KEYS,
                               *_PRIORITY_KEYS, *_STATUS_KEYS, *_ES_DATASET_KEYS, _TAGS_KEY)))
    inner = tuple(dict.fromkeys(name for _, name in split.values()))
    levels: list[int] = []
    for key in first:
        outer, name = split.get(key, (None, None))
        levels += (top.index(key), -1 if outer is None else top.index(outer),
                   -1 if name is None else inner.index(name))
    probe = Level.INFO.value
    return {
        "json_top": top, "json_inner": inner, "json_levels": tuple(levels),
        "json_otel": tuple(map(top.index, _OTEL_KEYS)),
        "json_priority": tuple(map(top.index, _PRIORITY_KEYS)),
        "json_status": tuple(map(top.index, _STATUS_KEYS)),
        "json_es": tuple(map(top.index, _ES_DATASET_KEYS)),
        "json_tags": (top.index(_TAGS_KEY),),
        "json_es_values": tuple(_ES_DEPRECATION),
        "json_tag_levels": {tag: _name(tag) for tag in _TAG_LEVELS},
        "json_es_rule": (_ES_CRITICAL, Level.FATAL.value, Level.WARN.value),
        "json_codes": _STATUS_CODES,
        # the characters normalize_level strips from a word's ends (found by asking it)
        "json_strip": "".join(c for c in map(chr, range(128))
                              if normalize_level(f"{c}{probe}{c}").value == probe),
        "otel": tuple(otel_severity(n).value for n in range(25)),
        "bunyan": tuple(bunyan_level(n).value for n in range(10, 70)),
    }


# -- per-app rules (setting level_rules, pod annotation logpipe.io/level) ------------------

LEVEL_ANNOTATION = "logpipe.io/level"
_JSON_RULE = "json:"
# A rule reads the first line only, this far (RE2 is linear, this bounds it further).
RULE_CHARS = 4096


class _Found(Protocol):
    def group(self, name: str) -> str | None: ...


class _LevelPattern(Protocol):
    groupindex: Mapping[str, int]

    def search(self, text: str) -> _Found | None: ...


@dataclass(frozen=True)
class LevelRule:
    """An operator's rule for one app's level: an RE2 regex whose named group ``level``
    holds the level (``\\| (?P<level>[A-Z]) \\|``), or ``json:<key>`` (a dotted key
    reaches into nested objects). Where it finds no level word, the general detection
    decides (a line of another shape, a start-up banner)."""

    spec: str
    pattern: _LevelPattern | None
    key: tuple[str, ...]

    def level(self, text: str, hint: Hint | None = None) -> str:
        line = text[:RULE_CHARS].partition("\n")[0]
        value: object = None
        if self.pattern is not None:
            m = self.pattern.search(line)
            value = None if m is None else m.group("level")
        elif line.startswith("{"):
            value = _json_path(line, self.key)
        if value is not None:
            found = _value_level(value)
            if found is not Level.UNKNOWN:
                return found.value
        return detect_level(text, hint)


def _json_path(line: str, key: tuple[str, ...]) -> object:
    try:
        value: object = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if isinstance(value, dict) and ".".join(key) in value:  # a flat "log.level" key
        return value[".".join(key)]
    for part in key:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _value_level(value: object) -> Level:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 10:
        return bunyan_level(value)
    return normalize_level(value)


def compile_level_rule(spec: str, max_chars: int = START_MAX_CHARS) -> LevelRule:
    """A per-app level rule, or PatternRefused saying why not (too long, not RE2, no
    group named ``level``, an empty JSON key)."""
    if spec.startswith(_JSON_RULE):
        key = spec[len(_JSON_RULE):].strip()
        if not key or len(spec) > max_chars:
            raise PatternRefused("json: needs a key" if not key
                                 else f"longer than {max_chars} characters ({len(spec)})")
        return LevelRule(spec, None, tuple(key.split(".")))
    pattern = cast(_LevelPattern, compile_start(spec, max_chars))
    if "level" not in pattern.groupindex:
        raise PatternRefused("no group named 'level' ((?P<level>...))")
    return LevelRule(spec, pattern, ())
