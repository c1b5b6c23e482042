"""The container log hot path in bulk, for Docker json-file and CRI:
``collector._fastpath`` (C, built by ``pip install``) turns the common lines of a
chunk into record bytes in one call.

The C scan takes only the shortcut whose outcome the Python path is known to give:
a complete ``{"log":"...","stream":"stdout|stderr","time":"..."}`` or
``<time> <stdout|stderr> <P|F> <text>`` line with a plain UTC RFC 3339 time, valid
UTF-8 without NUL, on a stream whose joiner holds nothing or a plain entry of this
file (and maybe plain partial pieces, which the C goes on joining). It joins the
lines that continue a plain entry (indented, a ``CONTINUES`` prefix, on a learned
stream a header-less line, and in a trace mode -- Python traceback, Go dump -- what
``StreamJoiner._continues`` joins, the mode crossing the seam as an int) within the
joiner's caps. It learns a stream's entry start from its first lines as
``EntryStarts.feed`` does, and goes on with the learned kind in the same call. At any
other line (a cap, a trace-mode rule on a non-ASCII name,
another kind's header on a learned stream ...) it stops and that one line goes
through the host's ``feed_line`` (parse -> join -> emit); then the scan goes on.

The seam is narrow and the C owns no rule: the level words and tables
(``init_levels``: the C detector of ``collector/_levels.h`` mirrors
``level_detect.detect_level``, hint and learned level field included, and hands it
what it cannot be sure of), the continuation shapes, the entry-start shapes and
learning rules (``init``, ``init_starts``, ``init_learning``, once) and the record
layout with its tails (a ``Context`` per file) come from Python; the joiners' held
entries and pieces and entry-start state (learning or learned) cross it as plain
values (``StreamJoiner.export_held``, ``export_partial`` and ``export_starts`` before
a scan, ``adopt_held``, ``adopt_partial`` and ``read_elsewhere`` after). The records,
their order, the joiners' state and so the checkpoints are the same either way
(tests/collector/test_fastpath.py and test_fastpath_cri.py compare them byte for
byte). Without the extension everything stays in Python.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from orjson import JSONEncodeError, dumps

from collector import entry_start, level_detect
from collector.multiline import (
    CONTINUES,
    GO_DUMP_FOLLOW,
    GO_DUMP_HEADS,
    GO_DUMP_LINES,
    INDENT,
    MAYBE,
    PY_FOLLOW,
    PY_TRACE_OPENS,
    HeldLine,
    HeldPieces,
    MultilineRules,
    StartsState,
    StreamJoiner,
)
from logpipe.record import Record

if TYPE_CHECKING:
    from collector.files import TrackedFile
    from collector.level_detect import LevelRule

try:
    from collector import _fastpath
except ImportError:  # pragma: no cover - a build without a C compiler
    _fastpath = None  # type: ignore[assignment]
else:
    _fastpath.init(
        unknown=level_detect.UNKNOWN,
        indent="".join(INDENT).encode("ascii"), maybe="".join(MAYBE).encode("ascii"),
        opens=tuple(p.encode() for p in PY_TRACE_OPENS),
        continues=tuple(p.encode() for p in CONTINUES),
        dump_heads=tuple(p.encode() for p in GO_DUMP_HEADS),
        dump_follow=tuple(p.encode() for p in GO_DUMP_FOLLOW),
        py_follow=tuple(p.encode() for p in PY_FOLLOW),
        dump_lines=tuple(p.encode() for p in GO_DUMP_LINES))
    _fastpath.init_starts(*entry_start.shape_tables())
    _fastpath.init_learning(**entry_start.learn_rules())
    _fastpath.init_levels(level_detect.c_tables())
_c = _fastpath  # None: everything stays in Python (the tests set that too)

# The streams the C scan knows, in the order of its ``held`` / ``partial`` tuples.
STREAMS = ("stdout", "stderr")
# Record fields whose value the C computes per entry (the others up to the first
# per-source field are the same for every record of a file: encoded once).
_PER_ENTRY = frozenset(("id", "ts", "ingest_ts", "offset", "message", "level", "stream"))
_PER_FILE = ("node", "source", "path", "file")
MAX_MISSES = 8  # scans in a row that took no line: the next lines are not for the C path
_NO_STARTS: StartsState = (-1, 0, False, 0, 0, 0, None)  # a stream without a joiner yet
# Lines then fed to Python before the C scan is tried again. Bounded: a run of lines
# the C refuses must not send the rest of a 1 MiB chunk of common lines to Python. Not
# ended early when the joiners could be carried again (cri15's rule): with learned
# entry starts that meant 8x the scan calls and ~15-20 % more CPU on varied lines.
# Since the C joins trace modes too, files of Python tracebacks or Go dumps no longer
# reach it (0.27-0.31 µs/line with or without it); a file of lines the C refuses
# (spaced JSON) does: 6.7 µs/line with it, 12.0 without (a scan call per line).
FALLBACK_LINES = 256


class Caps(Protocol):
    @property
    def node(self) -> str: ...
    @property
    def max_line_bytes(self) -> int: ...
    @property
    def max_record_bytes(self) -> int: ...


class ScanHost(Protocol):
    """What the scan needs of its source (collector.source.Source)."""

    kind: str
    wire_path: str  # the record's path (collector.wire)
    rules: MultilineRules
    joiners: dict[str | None, StreamJoiner]
    ingest_ts: str
    level_hint: level_detect.Hint
    level_rule: LevelRule | None  # an app's level rule: Python decides every level
    plain_tail: bytes  # the record's end after "stream" for an entry without tags
    multiline_tail: bytes  # the same for an entry joined from several lines
    scan_context: FileContext | None

    @property
    def out(self) -> Caps: ...
    def shrink(self, value: bytes) -> bytes: ...
    def feed_line(self, f: TrackedFile, off: int, raw: bytes, now_ns: int,
                  tags: tuple[str, ...] = ()) -> None: ...
    def produce_records(self, f: TrackedFile, values: list[bytes]) -> None: ...


class FileContext:
    """The C context of one file of a source, and what it was made from: a new one
    when the file, its generation (id prefix), the source's fields or rules change."""

    __slots__ = ("ctx", "f", "id_prefix", "multiline_tail", "plain_tail", "rules")

    def __init__(self, host: ScanHost, f: TrackedFile) -> None:
        self.f = f
        self.id_prefix = f.id_prefix
        self.plain_tail = host.plain_tail
        self.multiline_tail = host.multiline_tail
        self.rules = rules = host.rules
        self.ctx: _fastpath.Context | None = None
        try:
            layout = record_layout(host.out.node, host.kind, host.wire_path, f.file_id,
                                   host.plain_tail)
            # the same record but for its tags: only the last literal differs
            joined = record_layout(host.out.node, host.kind, host.wire_path, f.file_id,
                                   host.multiline_tail)[-1]
        except JSONEncodeError:  # e.g. a path with lone surrogates: Python's own behaviour
            return
        assert isinstance(joined, bytes)  # record_layout ends with literal bytes
        self.ctx = _c.Context(
            kind=host.kind, layout=layout, multiline_tail=joined, id_prefix=f.id_prefix,
            max_line=host.out.max_line_bytes, max_record=host.out.max_record_bytes,
            max_joined=rules.max_line_bytes, max_bytes=rules.max_bytes,
            max_lines=rules.max_lines, hold=rules.enabled, hint=host.level_hint,
            detect_level=level_detect.detect_level, shrink=host.shrink)

    def fits(self, host: ScanHost, f: TrackedFile) -> bool:
        return (f is self.f and f.id_prefix is self.id_prefix
                and host.plain_tail is self.plain_tail
                and host.multiline_tail is self.multiline_tail and host.rules is self.rules)


def record_layout(node: str, kind: str, path: str, file_id: str,
                  tail: bytes) -> tuple[bytes | str, ...]:
    """The record in ``Record``'s field order as the C writes it: literal bytes, and
    the names of the values it computes per entry; ``tail``: the rest, encoded."""
    values = {"node": node, "source": kind, "path": path, "file": file_id}
    layout: list[bytes | str] = []
    lit = b"{"
    for name in Record.__dataclass_fields__:
        if name not in _PER_ENTRY and name not in _PER_FILE:
            # The per-source fields (``tail``) start here. A new per-entry or per-file
            # field of Record must be taught here, not be left out of the C's records.
            if not tail.startswith(b',%s:' % dumps(name)):
                raise ValueError(f"Record field {name!r} is not in the C path's records")
            break
        lit += b"%s%s:" % (b"" if lit == b"{" else b",", dumps(name))
        if name in _PER_FILE:
            lit += dumps(values[name])
        else:
            layout += (lit, name)
            lit = b""
    layout.append(lit + tail)
    return tuple(layout)


def available() -> bool:
    return _c is not None


def _export(j: StreamJoiner | None, f: TrackedFile,
            rules: MultilineRules) -> HeldLine | tuple[()] | None:
    return None if j is None else j.export_held(f, rules, checks_starts=True)


def _pieces(j: StreamJoiner | None, f: TrackedFile) -> HeldPieces | tuple[()] | None:
    return None if j is None else j.export_partial(f)


def _starts(j: StreamJoiner | None) -> StartsState:
    return _NO_STARTS if j is None else j.export_starts()


def container_lines(host: ScanHost, f: TrackedFile, data: bytes, last: int,
                    now_ns: int) -> int:
    """Parse, join and send the lines of ``data[:last + 1]`` (``data[last]`` is a
    newline) read at ``f.pos``; returns the number of lines, or -1 when the C path
    does not apply (no extension, a per-app start pattern or level rule) and the
    caller's loop must."""
    rules = host.rules
    if _c is None or rules.start is not None or host.level_rule is not None:
        return -1
    fc = host.scan_context
    if fc is None or not fc.fits(host, f):
        fc = host.scan_context = FileContext(host, f)
    ctx = fc.ctx
    if ctx is None:
        return -1
    end = last + 1
    ingest = dumps(host.ingest_ts)
    joiners = host.joiners
    feed = host.feed_line
    pos, off, total, misses = 0, f.pos, 0, 0
    while pos < end:
        js = (joiners.get(STREAMS[0]), joiners.get(STREAMS[1]))
        # A new stream's first line is Python's (feed_line makes its joiner; the scan
        # stops at the lines of a stream without one). While no stream has a joiner,
        # that line goes to Python without a scan; such a stop is no sign of a file the
        # C cannot read (misses). The scan learns entry starts itself (export_starts).
        # While a stream learns, stops count as no misses, as when only Python learned.
        # (Measured before the mix window moved to C, when other-kind headers still
        # stopped the scan: counting them sent FALLBACK_LINES runs to Python, 283
        # instead of 188 varied lines per 100k; now such stops are relearns only.)
        learning = (js[0] is not None and js[0].learning) or (
            js[1] is not None and js[1].learning)
        if js[0] is None and js[1] is None:
            n, stopped, follow = 0, True, 0
        else:
            held = (_export(js[0], f, rules), _export(js[1], f, rules))
            pieces = (_pieces(js[0], f), _pieces(js[1], f))
            values, pos, off, n, stopped, now_held, now_pieces, read, (stream_at, follow) = (
                _c.scan(ctx, data, pos, end, off, ingest, held, pieces,
                        (_starts(js[0]), _starts(js[1]))))
            for stream, entry, part, learned in zip(STREAMS, now_held, now_pieces, read,
                                                    strict=True):
                if entry is not None:
                    joiners[stream].adopt_held(f, *entry, now_ns)
                if part is not None:
                    joiners[stream].adopt_partial(f, *part, now_ns)
                if learned is not None:
                    joiners[stream].read_elsewhere(*learned)
            total += n
            if values:
                host.produce_records(f, values)
            misses = misses + 1 if n == 0 and not learning else 0
        if stopped:
            # Lines the C scan keeps refusing (another shape of file, a trace longer
            # than its follow): the next FALLBACK_LINES in Python rather than a scan call
            # per line; then the scan is tried again.
            count = 1
            if misses >= MAX_MISSES:
                count, misses, follow = FALLBACK_LINES, 0, 0
            while pos < end and count:
                count -= 1
                nl = data.index(b"\n", pos)
                feed(f, off, data[pos:nl], now_ns)
                total += 1
                off += nl - pos + 1
                pos = nl + 1
                # The stopped stream's next lines in a row, while its joiner holds what
                # the scan cannot carry (tags, lines of another file):
                # Python's anyway, so without a scan call each. (Since the C carries
                # trace modes, it saves ~80 of ~195 scan calls per 100k varied lines.)
                if not count and follow > 1:
                    follow -= 1
                    j = joiners.get(STREAMS[stream_at])
                    count = 1 if j is not None and j.feed_only(f) else 0
    return total

