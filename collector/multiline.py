"""Reassembly of one stream's entries: partial pieces, then multi-line joining.

A ``StreamJoiner`` is fed the parsed lines of one source stream (a container's
stdout, or a host file) in file order and calls its sink with whole entries:
Docker 16 KiB pieces / CRI ``P`` pieces joined until the last piece, then
continuation lines (stack traces, indented lines) joined to the line they belong to.

The held (not yet emitted) entry has a start offset; the tailer must never
checkpoint past it, so ``floor()`` reports it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import re2  # type: ignore[import-untyped]

from collector.entry_start import LEARNED, LEARNING, OFF, EntryStarts, ForScan, Learning
from logpipe.record import TAG_MULTILINE, TAG_PARTIAL, TAG_TRUNCATED

# sink(origin, offset, ts, stream, text, tags): origin is the file the entry started in.
Sink = Callable[[Any, int, str | None, str | None, str, tuple[str, ...]], None]

# PY_END: a traceback just ended; a chained one ("During handling ...") may follow.
# The modes cross to the C scan as these ints (export_held / adopt_held).
_MODE_NONE, _MODE_PY, _MODE_GO, _MODE_PY_END = 0, 1, 2, 3

# The built-in shapes outside a trace mode. Public because collector.fastpath hands
# them to the C scan at init: it must send exactly these lines back to Python.
INDENT = (" ", "\t")  # an indented line always continues the held entry
PY_TRACE_OPENS = ("Traceback (most recent",)  # a held line starting so is in Python mode
CONTINUES = ("Caused by: ", "Suppressed: ", "Traceback (most recent call last):",
             # numbered stack frames (PHP, Laravel, Dart: "#0 /app/x.php(9): f()") and
             # the lines that open them
             *(f"#{d}" for d in range(10)), "Stack trace:", "[stacktrace]")
GO_DUMP_HEADS = ("panic: ", "fatal error: ")  # a held line so; then blank or GO_DUMP_FOLLOW
GO_DUMP_FOLLOW = ("goroutine ", "[signal ")
# Inside a trace mode (handed to the C scan at init too): in Python mode (and just
# after its exception line) what chains a traceback to the one before; in Go mode the
# lines besides blank ones and go_func_line's that continue the dump.
PY_FOLLOW = ("During handling of the above exception", "The above exception was the direct",
             "Traceback (most recent call last):")
GO_DUMP_LINES = ("goroutine ", "created by ", "[signal ", "exit status ")
# First characters of the lines that can continue an entry outside a trace mode
# (and blank lines): any other line is decided by its first character alone.
MAYBE = frozenset({p[:1] for p in (*CONTINUES, *GO_DUMP_FOLLOW)} | {""})

# What export_held hands a fast path: () nothing held, or the plain entry held:
# (offset, ts, first line, continuation lines, h_size, h_lines, trace mode).
HeldLine = tuple[int, str, str, tuple[str, ...], int, int, int]
# What export_starts hands it: (learned kind or -1, run, after_json, max_run, own,
# other, (seen, lines, counts) while learning else None): EntryStarts.for_scan.
StartsState = ForScan
# What export_partial hands it: () no pieces, or the plain pieces of the entry so far.
HeldPieces = tuple[int, str, tuple[str, ...], int]  # (offset, ts, pieces, characters)
# Every built-in pattern runs in linear time on any line (DESIGN.md: user text):
# a backtracking shape like r"[\w.*/()]+\(.*\)$" took 0.83 s on 32,000 "(" and
# about a minute on a 256 KiB line, stopping the node's collector.
# Last line of a Python traceback: "ValueError: boom", "KeyboardInterrupt". Linear:
# one pass over the name, then one character.
_PY_EXC = re.compile(r"[A-Za-z_][\w.]*(?::|$)")
# Go dump function lines: "main.main()", "net/http.(*conn).serve(0xc000, {0x7f, 0x1})":
# a name of these characters, a "(" after its first character, a ")" at the end.
_GO_NAME = re.compile(r"[\w.*/()\[\]{}-]+")


def go_func_line(text: str) -> bool:
    r"""``re.match(r"[\w.*/()\[\]{}-]+\(.*\)$", text)`` in linear time: the name run
    is matched once (a lone character class never backtracks) and the rest are
    string checks, instead of the regex's quadratic retries."""
    body = text[:-1] if text.endswith("\n") else text  # "$" also matches before a last \n
    if not body.endswith(")") or "\n" in body:
        return False
    name = _GO_NAME.match(body)
    if name is None:
        return False
    # The first "(" inside the name run after its first character; "(" is in the run's
    # class, so any "(" the regex could use lies there. ".*" may be empty: "f()".
    paren = body.find("(", 1, name.end())
    return 0 < paren < len(body) - 1


class StartPattern(Protocol):
    """A compiled per-app start pattern (an RE2 regex: linear time on any line)."""

    @property
    def pattern(self) -> str: ...
    def match(self, text: str) -> object | None: ...


# A user pattern's bounds: its length, and the memory RE2 may give its automaton
# (a pattern that needs more is refused rather than matched slowly).
START_MAX_CHARS = 1024
_RE2_MAX_MEM = 8 << 20


class PatternRefused(ValueError):
    """A start pattern that is not compiled: invalid, too long, or too big for RE2."""


def compile_start(pattern: str, max_chars: int = START_MAX_CHARS) -> StartPattern:
    """A user-supplied multi-line start pattern, compiled with RE2 (linear-time matching,
    no backreferences or lookaround); PatternRefused says why not."""
    if len(pattern) > max_chars:
        raise PatternRefused(f"longer than {max_chars} characters ({len(pattern)})")
    options = re2.Options()
    options.max_mem = _RE2_MAX_MEM
    options.log_errors = False
    try:
        compiled: StartPattern = re2.compile(pattern, options)
    except re2.error as exc:
        why = exc.args[0] if exc.args else exc
        why = why.decode(errors="replace") if isinstance(why, bytes) else str(why)
        raise PatternRefused(f"not an RE2 regular expression: {why}") from None
    return compiled


@dataclass(frozen=True)
class MultilineRules:
    """How entries are recognised. ``start`` (per-app) overrides the built-in shapes."""

    enabled: bool = True
    flush_ns: int = 50_000_000
    max_bytes: int = 1 << 20
    max_lines: int = 1000
    max_line_bytes: int = 256 << 10
    start: StartPattern | None = None


class StreamJoiner:
    """Partial-piece and multi-line state of one stream (no object per line)."""

    __slots__ = ("_mode", "_rules", "_sink", "_starts", "deadline", "h_lines", "h_off", "h_origin",
                 "h_other", "h_parts", "h_size", "h_tags", "h_text", "h_ts", "p_off", "p_origin",
                 "p_other", "p_parts",
                 "p_size", "p_tags", "p_ts", "stream")

    def __init__(self, stream: str | None, rules: MultilineRules, sink: Sink) -> None:
        self.stream = stream
        self._rules = rules
        self._sink = sink
        self.p_parts: list[str] = []  # partial pieces of the entry being assembled
        self.p_origin: Any = None
        # (file, first offset) of pieces/lines of the held entry that came from another
        # file than its first line (joined across a rotation): that file must not be
        # checkpointed past them either.
        self.p_other: tuple[Any, int] | None = None
        self.h_other: tuple[Any, int] | None = None
        self.p_off = 0
        self.p_ts: str | None = None
        self.p_tags: tuple[str, ...] = ()
        self.p_size = 0
        self.h_text = ""  # first line of the held multi-line candidate
        self.h_parts: list[str] = []  # its continuation lines
        self.h_origin: Any = None
        self.h_off = 0
        self.h_ts: str | None = None
        self.h_tags: tuple[str, ...] = ()
        self.h_size = 0
        self.h_lines = 0
        self._mode = _MODE_NONE
        self.deadline = 0  # monotonic ns after which held state is flushed; 0: none held
        # Learned entry starts: only where the built-in shapes decide (no start pattern).
        self._starts = EntryStarts(rules.max_lines, rules.enabled and rules.start is None)

    @property
    def learning(self) -> bool:
        """Still learning its entry start (its first lines, or again after a relearn)."""
        return self._starts.state == LEARNING

    @property
    def learned_start(self) -> int:
        """The learned entry-start kind (collector.entry_start.KINDS), -1 none (what
        ``export_starts`` hands a fast path first)."""
        return self._starts.kind if self._starts.state == LEARNED else -1

    @property
    def starts_state(self) -> tuple[int, int, int, int, int, bool, tuple[int, ...], int, int]:
        """What the stream has learned, as plain values (for the tests)."""
        st = self._starts
        return (st.state, st.kind, st.run, st.seen, st.lines, st.after_json, tuple(st.counts),
                st.own, st.other)

    # -- feeding ---------------------------------------------------------------
    def feed(self, origin: Any, off: int, ts: str | None, text: str, partial: bool,
             tags: tuple[str, ...], now_ns: int) -> None:
        """One parsed line at byte ``off`` of ``origin``."""
        if partial or self.p_parts:
            if not self.p_parts:
                self.p_origin, self.p_off, self.p_ts, self.p_tags = origin, off, ts, tags
                self.p_size = 0
                self.p_other = None
            else:
                if tags:
                    self.p_tags = _merge(self.p_tags, tags)
                if origin is not self.p_origin and self.p_other is None:
                    self.p_other = (origin, off)
            room = self._rules.max_line_bytes - self.p_size
            if len(text) > room:  # a joined entry is capped like a line, never dropped
                text = text[:max(room, 0)]
                self.p_tags = _merge(self.p_tags, (TAG_TRUNCATED,))
            if text:
                self.p_parts.append(text)
                self.p_size += len(text)
            if partial:
                self.deadline = now_ns + self._rules.flush_ns
                return
            text = "".join(self.p_parts)
            self.p_parts = []
            self._line(self.p_origin, self.p_off, self.p_ts, text, self.p_tags, now_ns,
                       self.p_other, origin, off)
            return
        self._line(origin, off, ts, text, tags, now_ns)

    def _line(self, origin: Any, off: int, ts: str | None, text: str,
              tags: tuple[str, ...], now_ns: int, carry: tuple[Any, int] | None = None,
              last_origin: Any = None, last_off: int = 0) -> None:
        """A whole line; ``carry`` / ``last_*`` say where a joined line's pieces were."""
        rules = self._rules
        if not rules.enabled:
            self._sink(origin, off, ts, self.stream, text, tags)
            return
        headerless = self._starts.feed(text)
        if self.h_lines:
            first = text[:1]
            if (((first == " " or first == "\t") and rules.start is None)
                    or self._continues(text) or headerless) and (
                    self.h_size + len(text) < rules.max_bytes and self.h_lines < rules.max_lines):
                self.h_parts.append(text)
                self.h_size += len(text) + 1
                self.h_lines += 1
                if self.h_other is None:
                    if origin is not self.h_origin:
                        self.h_other = (origin, off)
                    elif carry is not None:
                        self.h_other = carry
                    elif last_origin is not None and last_origin is not self.h_origin:
                        self.h_other = (last_origin, last_off)
                if tags:
                    self.h_tags = _merge(self.h_tags, tags)
                self.deadline = now_ns + rules.flush_ns
                return
            if self.h_lines == 1:  # the common case, inline: one line, nothing to join
                self._sink(self.h_origin, self.h_off, self.h_ts, self.stream, self.h_text,
                           self.h_tags)
            else:
                self._emit_held()
        self.h_text = text
        self.h_origin, self.h_off, self.h_ts, self.h_tags = origin, off, ts, tags
        self.h_other = carry
        self.h_size = len(text)
        self.h_lines = 1
        self._mode = _MODE_PY if text.startswith(PY_TRACE_OPENS) else _MODE_NONE
        self.deadline = now_ns + rules.flush_ns

    def _continues(self, text: str) -> bool:
        """Does ``text`` belong to the held entry? (the built-in shapes, or ``start``)"""
        start = self._rules.start
        if start is not None:
            return start.match(text) is None
        first = text[:1]
        if first == " " or first == "\t":
            return True
        mode = self._mode
        if mode == _MODE_NONE and first not in MAYBE:
            return False  # the common case: a plain new line, decided by one character
        if text.startswith(CONTINUES):
            if text.startswith(PY_TRACE_OPENS):
                self._mode = _MODE_PY
            return True
        if mode == _MODE_PY:
            if not text or text.startswith(PY_FOLLOW):
                return True
            last = self.h_parts[-1] if self.h_parts else self.h_text
            if last[:1] in INDENT and _PY_EXC.match(text):
                self._mode = _MODE_PY_END  # the exception line closes the traceback
                return True
            return False
        if mode == _MODE_PY_END:
            if text.startswith(PY_FOLLOW):
                self._mode = _MODE_PY
                return True
            return not text  # a blank line may separate chained tracebacks; kept either way
        if mode == _MODE_GO:
            return not text or text.startswith(GO_DUMP_LINES) or go_func_line(text)
        if self.h_lines and self.h_text.startswith(GO_DUMP_HEADS) and (
                not text or text.startswith(GO_DUMP_FOLLOW)):
            self._mode = _MODE_GO
            return True
        return False

    # -- the fast path's boundary -----------------------------------------------
    def export_held(self, origin: Any, rules: MultilineRules,
                    checks_starts: bool = False) -> HeldLine | tuple[()] | None:
        """The held state as plain values, for a fast path about to read ``origin``
        under ``rules``: ``()`` nothing held, or ``(offset, ts, text, parts, size,
        lines, mode)`` a plain entry whose lines are all of ``origin`` (no tags;
        ``parts`` its continuation lines, ``size`` and ``lines`` h_size and h_lines,
        ``mode`` its trace mode: 0 none, 1 Python, 2 Go, 3 just after a Python
        traceback's exception line).
        None: anything else (lines of another file, other rules since a pod annotation
        changed them, or a stream still learning its entry start or with a learned one
        unless the fast path ``checks_starts``: it follows ``export_starts``, learning
        included): only ``feed`` may go on from this state. Partial pieces are
        export_partial's."""
        if rules is not self._rules or (self._starts.state != OFF and not checks_starts):
            return None
        if not self.h_lines:
            return ()
        ts = self.h_ts
        if ts is None or not self._held_plain(origin):
            return None
        return (self.h_off, ts, self.h_text, tuple(self.h_parts), self.h_size, self.h_lines,
                self._mode)

    def _held_plain(self, origin: Any) -> bool:
        """The held entry is one a fast path reading ``origin`` may carry."""
        return not (self.h_tags or self.h_other is not None or self.h_origin is not origin
                    or self.h_ts is None)

    def _pieces_plain(self, origin: Any) -> bool:
        """The partial pieces are ones a fast path reading ``origin`` may carry."""
        return not (self.p_tags or self.p_other is not None or self.p_origin is not origin
                    or self.p_ts is None or len(self.p_ts) != 30)

    def feed_only(self, origin: Any) -> bool:
        """Only ``feed`` may read this stream's next line of ``origin``: it holds what a
        fast path cannot carry (tags, lines or pieces of another file). A fast path
        that stopped at a line of the stream hands it the lines after it too while
        this holds."""
        return ((self.h_lines > 0 and not self._held_plain(origin))
                or (bool(self.p_parts) and not self._pieces_plain(origin)))

    def adopt_held(self, origin: Any, off: int, ts: str, text: str, parts: tuple[str, ...],
                   size: int, lines: int, mode: int, now_ns: int) -> None:
        """Hold the plain entry a fast path read or extended last (its first line, its
        continuation lines, h_size, h_lines, trace mode), as ``feed`` would have left it (the entry
        before it, if any, the fast path has emitted)."""
        self.h_text = text
        self.h_parts = list(parts)
        self.h_origin, self.h_off, self.h_ts, self.h_tags = origin, off, ts, ()
        self.h_other = None
        self.h_size = size
        self.h_lines = lines
        self._mode = mode
        self.deadline = now_ns + self._rules.flush_ns

    def export_starts(self) -> StartsState:
        """The entry start, learning or learned, as plain values, for a fast path that
        checks it (``EntryStarts.for_scan``)."""
        return self._starts.for_scan()

    def read_elsewhere(self, state: int, kind: int, run: int, after_json: bool, own: int,
                       other: int, learnt: Learning | None = None) -> None:
        """A fast path read lines of this stream: the entry-start state they left as
        ``feed`` would have (state, kind, run, after_json, own, other), and where it was
        learning, ``learnt``: what they taught it (seen, lines, counts). It leaves a
        relearn to ``feed``."""
        self._starts.read_elsewhere(state, kind, run, after_json, own, other, learnt)

    def export_partial(self, origin: Any) -> HeldPieces | tuple[()] | None:
        """The partial pieces as plain values, for a fast path about to read ``origin``:
        ``()`` none, or ``(offset, ts, pieces, characters)`` untagged pieces of
        ``origin`` with a canonical time. None: only ``feed`` may go on from them."""
        if not self.p_parts:
            return ()
        ts = self.p_ts
        if ts is None or not self._pieces_plain(origin):
            return None
        return (self.p_off, ts, tuple(self.p_parts), self.p_size)

    def adopt_partial(self, origin: Any, off: int, ts: str, pieces: tuple[str, ...],
                      size: int, bump: bool, now_ns: int) -> None:
        """The pieces a fast path left, as ``feed`` would have: ``pieces`` () when the
        entry they began was completed there; ``bump``: a piece was read there."""
        self.p_parts = list(pieces)
        self.p_origin, self.p_off, self.p_ts, self.p_tags = origin, off, ts, ()
        self.p_size = size
        self.p_other = None
        if bump:
            self.deadline = now_ns + self._rules.flush_ns

    # -- flushing --------------------------------------------------------------
    def _emit_held(self) -> None:
        parts = self.h_parts
        if not parts:
            self._sink(self.h_origin, self.h_off, self.h_ts, self.stream, self.h_text, self.h_tags)
        else:
            tags = _merge(self.h_tags, (TAG_MULTILINE,))
            self._sink(self.h_origin, self.h_off, self.h_ts, self.stream,
                       "\n".join((self.h_text, *parts)), tags)
            self.h_parts = []
        self.h_lines = 0
        self._mode = _MODE_NONE

    def flush(self) -> None:
        """Emit everything held (timeout, end of a rotated file, shutdown)."""
        if self.p_parts:
            text = "".join(self.p_parts)
            self.p_parts = []
            self._line(self.p_origin, self.p_off, self.p_ts, text,
                       _merge(self.p_tags, (TAG_PARTIAL,)), 0, self.p_other)
        if self.h_lines:
            self._emit_held()
        self.deadline = 0

    def flush_due(self, now_ns: int) -> None:
        if self.deadline and now_ns >= self.deadline:
            self.flush()

    def floor(self, origin: Any) -> int | None:
        """Smallest start offset in ``origin`` of an entry still held, or None."""
        low: int | None = None
        for held, first, other in ((self.p_parts, (self.p_origin, self.p_off), self.p_other),
                                   (self.h_lines, (self.h_origin, self.h_off), self.h_other)):
            if not held:
                continue
            for pair in (first, other):
                if pair is not None and pair[0] is origin and (low is None or pair[1] < low):
                    low = pair[1]
        return low


def _merge(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    if not a:
        return b
    return a + tuple(t for t in b if t not in a)
