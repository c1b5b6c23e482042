"""Learned entry starts: the header kind (a timestamp shape, a bracketed date, a level
word) most lines of a stream begin with, so that a line without it continues the
previous entry (collector.multiline.StreamJoiner asks ``EntryStarts.feed``).

A kind is a few *shapes* of fixed length, one byte class per position (``9`` a digit,
``~`` a date separator ...; see _CLASSES): matching one costs the same on any line,
however long (DESIGN.md: user text). The C fast path gets the same shapes at import
(``shape_tables``) and checks a learned stream's lines with them, so both paths agree
on every line by construction (tests/collector/test_fastpath.py checks it).
"""

from __future__ import annotations

import re
from typing import TypedDict

# Position classes of a shape; any other character stands for itself. END also
# matches past the end of the line (a level word alone on its line).
END = "$"
_CLASSES: dict[str, str] = {
    "9": "0123456789",
    "~": "-/.",  # a date separator
    "^": " T_",  # between date and time
    "_": " 0123456789",  # a space-padded day
    "%": ".,: ",  # after the seconds
    "@": "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "*": "abcdefghijklmnopqrstuvwxyz",
    "&": "IWEF",  # klog/glog severities
    END: "]>:| \t\r",
}
_LEVELS = ("TRACE", "DEBUG", "INFO", "NOTICE", "WARN", "WARNING", "ERROR", "CRITICAL", "FATAL",
           "SEVERE", "PANIC", "TRC", "DBG", "INF", "WRN", "ERR", "EROR", "CRIT", "FINE",
           "FINER", "FINEST", "ALERT", "EMERG")
# The kinds, tried in this order; a line has at most one (the first that matches).
KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # 2016-10-25 14:49:34, 2016/10/25 14:49:34, 2016-10-25T14:49:34Z, 2005.06.03 ...
    ("iso_ts", ("9999~99~99^99:99", "9999~99~99^9999")),
    # [2018-10-17 12:04:41,718], [2017-04-04 11:16:34 +0200], [2024/01/02 ...
    ("bracket_iso", ("[9999~99~99^99:99",)),
    # [Wed Oct 11 14:32:52 2000], [11/Oct/2000:13:55:36 -0700], [17-Oct-2018 ...
    ("bracket_date", ("[@** @** ", "[99~@**~9999")),
    # 13.07.2018 07:06:00, 25/10/2016 14:49, 10-17-2018 12:04; Tomcat 06-Mar-2023 18:34
    ("dmy_ts", ("99~99~9999^99:99", "99~@**~9999^99:99")),
    # Oct 11 14:32:52 (syslog), Wed Oct 11 14:32:52
    ("syslog_ts", ("@** _9 99:99:99", "@** @** _9 99:99:99")),
    # MySQL 5 and mysqld_safe: 161212 12:40:38, 161212  9:05:01
    ("compact_date", ("999999 _9:99:99",)),
    # 14:32:52.123 (a time of day alone)
    ("time", ("99:99:99%",)),
    # klog/glog: I1017 12:04:41.718
    ("klog", ("&9999 99:99:99",)),
    # WebLogic: ####<Mar 24, 2022 10:29:51,636 AM GMT> <Info> ...
    ("weblogic", ("####<@** ",)),
    # a level word first: INFO ..., [ERROR] ..., <WARN> ...
    ("level", tuple(f"{o}{w}{END}" for o in ("", "[", "<") for w in _LEVELS)),
)


def _regex(shape: str) -> str:
    out = []
    for ch in shape:
        members = _CLASSES.get(ch)
        if members is None:
            out.append(re.escape(ch))
        elif ch == END:
            out.append(f"(?:[{re.escape(members)}]|\\Z)")
        else:
            out.append(f"[{re.escape(members)}]")
    return "".join(out)


def _kind_regex(shapes: tuple[str, ...]) -> str:
    return "|".join(_regex(s) for s in shapes)


_COMPILED = tuple(re.compile(_kind_regex(shapes)) for _, shapes in KINDS)
_ANY = re.compile("|".join(f"(?P<{name}>{_kind_regex(shapes)})" for name, shapes in KINDS))
_INDEX = {name: i for i, (name, _) in enumerate(KINDS)}


def shape_tables() -> tuple[tuple[bytes, ...], tuple[tuple[bytes, ...], ...]]:
    """The kinds for the C fast path: the byte classes (each the bytes it holds; NUL
    stands for the line's end) and, per kind, its shapes as strings of class indexes."""
    classes: list[bytes] = []
    index: dict[str, int] = {}

    def cls(ch: str) -> int:
        if ch not in index:
            members = _CLASSES.get(ch, ch).encode("ascii")
            index[ch] = len(classes)
            classes.append(members + b"\0" if ch == END else members)
        return index[ch]

    kinds = tuple(tuple(bytes(cls(ch) for ch in shape) for shape in shapes)
                  for _, shapes in KINDS)
    return tuple(classes), kinds


# Lines learned from: after so many with no kind learned, only the built-in shapes
# decide. Long enough for a first entry with a stack trace.
WINDOW = 100
LEARN_SHARE = 0.8  # the share of a window's lines that must start with the kind
LEARN_MIN = 2  # lines of the kind before it is used (the first entries join early)

LEARNING, LEARNED, OFF = 0, 1, 2
# A line starting so (or blank) continues by the built-in shapes while learning: it is
# no candidate entry start and not counted in ``seen``.
INDENTED = " \t"
# What a fast path learning from a stream's lines gets besides the shapes (from
# for_scan) and hands back where it learned from lines (read_elsewhere): (seen,
# lines, counts) while LEARNING.
Learning = tuple[int, int, tuple[int, ...]]
# What it gets (for_scan): the learned kind or -1, run, after_json, max_run, own,
# other, the learning or None.
ForScan = tuple[int, int, bool, int, int, int, Learning | None]


class LearnRules(TypedDict):
    """learn_rules(): _fastpath.init_learning's keywords."""

    window: int
    learn_min: int
    learn_share: float
    indented: bytes
    states: tuple[int, int, int]


def learn_rules() -> LearnRules:
    """The learning rules for the C fast path (init_learning), as EntryStarts.feed
    applies them: the window, the count and share a kind needs, the first bytes of a
    line that is no candidate, and the ints of the states it hands back."""
    return {"window": WINDOW, "learn_min": LEARN_MIN, "learn_share": LEARN_SHARE,
            "indented": INDENTED.encode("ascii"), "states": (LEARNING, LEARNED, OFF)}


def _mixed(own: int, other: int) -> bool:
    """A window of header lines with too many of another kind (the learning share)."""
    return own < LEARN_SHARE * (own + other)


def header_kind(text: str) -> int:
    """The index in KINDS of the header ``text`` starts with, or -1."""
    match = _ANY.match(text)
    if match is None or match.lastgroup is None:
        return -1
    return _INDEX[match.lastgroup]


class EntryStarts:
    """What one stream has learned of where its entries start.

    LEARNING: the first WINDOW lines (again after an unlearn) are classified; a kind
    is learned once it heads at least LEARN_MIN lines and LEARN_SHARE of those seen.
    LEARNED: ``feed`` says a line with no header kind continues the held entry; the
    kind is dropped when more than ``max_run`` header-less lines come in a row (the
    layout changed), and the stream goes OFF when more than 1 - LEARN_SHARE of a
    WINDOW of its header lines carry another kind (or are JSON): several layouts mixed
    on one stream, where a header-less line is as likely another layout's entry as a
    continuation (a container running two programs, a proxy and its app).
    OFF: the window went by without a kind; the built-in shapes alone decide (and the
    C fast path may take the stream: it knows only those).
    """

    __slots__ = ("after_json", "counts", "kind", "lines", "max_run", "other", "own", "run",
                 "seen", "state")

    def __init__(self, max_run: int, enabled: bool = True) -> None:
        self.max_run = max_run
        self.state = LEARNING if enabled else OFF
        self.kind = -1
        self.counts = [0] * len(KINDS)
        self.seen = 0  # lines seen that may start an entry (not indented, not blank)
        self.lines = 0  # lines seen while learning
        self.run = 0
        self.after_json = False  # LEARNED: the last line was a whole JSON object
        # LEARNED: header lines of the learned kind / of another kind or JSON, since
        # the last check of the mix (every WINDOW of them)
        self.own = 0
        self.other = 0

    def feed(self, text: str) -> bool:
        """One line of the stream, in order: True when it must continue the held entry
        because it lacks the learned header (only in LEARNED)."""
        state = self.state
        if state == OFF:
            return False
        if state == LEARNED:
            if _COMPILED[self.kind].match(text) is not None:
                self.run = 0
                self.after_json = False
                self.own += 1
                self._check_mix()
                return False
            if (text[:1] == "{" and text.rstrip()[-1:] == "}") or _ANY.match(text) is not None:
                # a whole JSON object, or another kind of header: an entry of its own
                # (lines of another layout, another logger writing to the stream)
                self.run = 0
                self.after_json = text[:1] == "{"
                self.other += 1
                self._check_mix()
                return False
            if self.after_json:  # nothing continues a JSON entry: a line of its own
                self.after_json = False
                self.run = 0
                return False
            self.run += 1
            if self.run > self.max_run:
                self._relearn()
                return False
            return True
        self.lines += 1
        if self.lines >= WINDOW:
            self.state = OFF
        if not text or text[0] in INDENTED:
            return False  # continues by the built-in shapes: not a candidate start
        kind = header_kind(text)
        self.seen += 1
        if kind >= 0:
            self.counts[kind] += 1
            count = self.counts[kind]
            if count >= LEARN_MIN and count >= LEARN_SHARE * self.seen:
                self.state, self.kind = LEARNED, kind
                self.seen = self.run = self.lines = 0
                return False
        return False

    def _relearn(self) -> None:
        self.state, self.kind = LEARNING, -1
        self.counts = [0] * len(KINDS)
        self.seen = self.run = self.lines = self.own = self.other = 0
        self.after_json = False

    def _check_mix(self) -> None:
        """Every WINDOW header lines: too many of another kind -> OFF for good (the
        stream mixes layouts; the built-in shapes alone decide, as for a stream where
        no kind was learned)."""
        if self.own + self.other < WINDOW:
            return
        if _mixed(self.own, self.other):
            self.state, self.kind = OFF, -1
        self.own = self.other = 0

    def for_scan(self) -> ForScan:
        """What a fast path reading this stream's lines must know, as plain values:
        (kind, run, after_json, max_run, own, other, learning), kind -1 when no start
        is learned (the built-in shapes alone decide). It counts the header lines of
        the mix window in own and other and checks the mix as ``feed`` does (learn_rules
        gave it the window and share), going on as OFF where a check turns the stream
        OFF; it stops at a header-less line that would relearn.
        learning: while LEARNING, (seen, lines, counts): the fast path learns from the
        lines as ``feed`` does (learn_rules) and, once it learns a kind, goes on as
        LEARNED (own and other are 0 while learning); else None."""
        if self.state == OFF:
            return (-1, 0, False, 0, 0, 0, None)
        learning = ((self.seen, self.lines, tuple(self.counts))
                    if self.state == LEARNING else None)
        kind = self.kind if self.state == LEARNED else -1
        return (kind, self.run, self.after_json, self.max_run, self.own, self.other, learning)

    def read_elsewhere(self, state: int, kind: int, run: int, after_json: bool, own: int,
                       other: int, learnt: Learning | None = None) -> None:
        """Lines of a LEARNING or LEARNED stream a fast path read (``for_scan``): the
        state ``feed`` of each leaves, as plain values; ``learnt`` (seen, lines,
        counts) where it was LEARNING and learned from lines, else None."""
        self.state, self.kind, self.run, self.after_json = state, kind, run, after_json
        self.own, self.other = own, other
        if learnt is not None:
            self.seen, self.lines, counts = learnt
            self.counts = list(counts)
