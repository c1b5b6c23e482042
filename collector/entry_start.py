"""Learned entry starts: the header kind (a timestamp shape, a bracketed date, a level
word) most lines of a stream begin with, so that a line without it continues the
previous entry (collector.multiline.StreamJoiner asks ``EntryStarts.feed``).

Every kind is an anchored pattern of bounded length (no nested or unbounded
repetition): matching costs the same on any line, however long (DESIGN.md: user text).
"""

from __future__ import annotations

import re

# The kinds, tried in this order; a line has at most one (the first that matches).
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_LEVEL = (r"(?:TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|CRITICAL|FATAL|SEVERE|PANIC"
          r"|TRC|DBG|INF|WRN|ERR|EROR|CRIT|FINE|FINER|FINEST|ALERT|EMERG)")
KINDS: tuple[tuple[str, str], ...] = (
    # 2016-10-25 14:49:34, 2016/10/25 14:49:34, 2016-10-25T14:49:34Z, 2005.06.03 ...
    ("iso_ts", r"\d{4}[-/.]\d{2}[-/.]\d{2}[ T_]\d{2}:?\d{2}"),
    # [2018-10-17 12:04:41,718], [2017-04-04 11:16:34 +0200], [2024/01/02 ...
    ("bracket_iso", r"\[\d{4}[-/.]\d{2}[-/.]\d{2}[ T]\d{2}:\d{2}"),
    # [Wed Oct 11 14:32:52 2000], [11/Oct/2000:13:55:36 -0700], [17-Oct-2018 ...
    ("bracket_date", r"\[(?:" + _DAY + " " + _MONTH + r" |\d{2}[-/]" + _MONTH + r"[-/]\d{4})"),
    # 13.07.2018 07:06:00, 25/10/2016 14:49, 10-17-2018 12:04
    ("dmy_ts", r"\d{2}[-/.]\d{2}[-/.]\d{4}[ T]\d{2}:\d{2}"),
    # Oct 11 14:32:52 (syslog), Wed Oct 11 14:32:52
    ("syslog_ts", r"(?:" + _DAY + " )?" + _MONTH + r" [ \d]\d \d{2}:\d{2}:\d{2}"),
    # 14:32:52.123 (a time of day alone)
    ("time", r"\d{2}:\d{2}:\d{2}[.,: ]"),
    # klog/glog: I1017 12:04:41.718
    ("klog", r"[IWEF]\d{4} \d{2}:\d{2}:\d{2}"),
    # a level word first: INFO ..., [ERROR] ..., <WARN> ...
    ("level", r"[\[<]?" + _LEVEL + r"(?:[\]>:|\s]|$)"),
)
_COMPILED = tuple(re.compile(pattern) for _, pattern in KINDS)
_ANY = re.compile("|".join(f"(?P<{name}>{pattern})" for name, pattern in KINDS))
_INDEX = {name: i for i, (name, _) in enumerate(KINDS)}
# The same kinds at the start of a Docker json-file line's "log" value; ASCII only, and
# a value's end is its closing quote (so any doubt is a line not counted: Python's).
_CHUNK = tuple(re.compile(rb'\n\{"log":"(?:' + pattern.replace("|$", '|"').encode() + rb")")
               for _, pattern in KINDS)

WINDOW = 20  # lines learned from (and, once learned, lines per check)
LEARN_SHARE = 0.8  # the share of a window's lines that must start with the kind
LEARN_MIN = 2  # lines of the kind before it is used (the first entries join early)

LEARNING, LEARNED, OFF = 0, 1, 2


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
    LEARNED: ``feed`` says a line without the kind continues the held entry; the
    kind is dropped when more than ``max_run`` header-less lines come in a row (the
    layout changed).
    OFF: the window went by without a kind; the built-in shapes alone decide (and the
    C fast path may take the stream: it knows only those).
    """

    __slots__ = ("counts", "kind", "max_run", "run", "seen", "state")

    def __init__(self, max_run: int, enabled: bool = True) -> None:
        self.max_run = max_run
        self.state = LEARNING if enabled else OFF
        self.kind = -1
        self.counts = [0] * len(KINDS)
        self.seen = 0
        self.run = 0

    def feed(self, text: str) -> bool:
        """One line of the stream, in order: True when it must continue the held entry
        because it lacks the learned header (only in LEARNED)."""
        state = self.state
        if state == OFF:
            return False
        if state == LEARNED:
            # A header line only resets the run (the same after one or many): so the
            # C fast path may take a chunk whose every line has the header (verify).
            if _COMPILED[self.kind].match(text) is not None:
                self.run = 0
                return False
            if text[:1] == "{" and text.rstrip()[-1:] == "}":
                self.run = 0  # a whole JSON object is an entry of its own (a new layout)
                return False
            self.run += 1
            if self.run > self.max_run:
                self._relearn()
                return False
            return True
        kind = header_kind(text)
        self.seen += 1
        if kind >= 0:
            self.counts[kind] += 1
            count = self.counts[kind]
            if count >= LEARN_MIN and count >= LEARN_SHARE * self.seen:
                self.state, self.kind = LEARNED, kind
                self.seen = self.run = 0
                return False
        if self.seen >= WINDOW:
            self.state = OFF
        return False

    def _relearn(self) -> None:
        self.state, self.kind = LEARNING, -1
        self.counts = [0] * len(KINDS)
        self.seen = self.run = 0

    def header_lines(self, chunk: bytes, end: int) -> bool:
        """Does every line of a Docker json-file ``chunk[:end]`` start with the learned
        header (``{"log":"<header>``)? Then the learned start joins none of them and the
        C scan may read them (``hits`` after it). False when unsure."""
        lines = chunk.count(b"\n", 0, end)
        body = b"\n" + chunk[:end - 1]  # each line after a newline (a match over two: fewer)
        return lines > 0 and len(_CHUNK[self.kind].findall(body)) == lines

    def hits(self) -> None:
        """Header lines of this stream were read elsewhere (the C scan)."""
        self.run = 0
