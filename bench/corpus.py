"""The collector benchmark's varied corpus: real log lines of many formats, written as
Docker json-file logs or as CRI logs under /var/log/pods, so the bench measures the
collector on what nodes hold rather than on one repeated line.

The lines are the labelled corpus of tests/data/levels/*.tsv (column 2; each file's
header gives its source and licence), taken entry by entry (a line and the lines that
continue it: a Java exception, PHP warnings, a multi-line SQL statement) and cycled to
the wanted line count. Each file mixes every format in runs of 1 to 8 entries. Each
line's first timestamp of a common shape (ISO-like, syslog, ctime) is rewritten to the
line's write time, width kept, so time only moves forward; the runtime's own
timestamp (Docker ``time``, the CRI prefix) is that same time.

About one line in LONG_EVERY is long (20-48 KiB: consecutive real lines of one format
joined by `` | ``, as a batch dump would be) and is cut into 16 KiB pieces as Docker
and containerd cut it; the CRI layout also cuts about one line in SHORT_P_EVERY into
2-3 ``P`` pieces at random points, as a runtime does with a line written in parts.
"""

from __future__ import annotations

import random
import re
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import orjson

from collector.multiline import MultilineRules, StreamJoiner
from tests.collector.level_corpus import CONTINUES, formats, load

PIECE_BYTES = 16 * 1024  # Docker's and containerd's (max_container_log_line_size) cut
LONG_EVERY = 2000
SHORT_P_EVERY = 200
START_NS = 1_795_676_400_000_000_000  # 2026-11-26T07:00:00Z
STEP_NS = 997_003  # ~1 ms a line per file; odd, so the CRI stamp's trailing zeros vary
NAMESPACES = ("shop", "payments", "search", "platform", "data")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
           "Dec")
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class AppLine(NamedTuple):
    """One line as an application wrote it."""

    ts_ns: int
    stream: str
    text: str
    fmt: str  # the corpus file (format) it came from
    first: bool = True  # the first line of an entry (False: it continues one)


Entry = tuple[str, ...]  # a first line and the lines that continue it


def load_entries(paths: Iterable[Path] | None = None) -> dict[str, list[Entry]]:
    """format name -> its entries, in file order."""
    out: dict[str, list[Entry]] = {}
    for path in paths if paths is not None else formats():
        entries: list[list[str]] = []
        for label, text in load(path):
            if label == CONTINUES and entries:
                entries[-1].append(text)
            else:
                entries.append([text])
        out[path.stem] = [tuple(e) for e in entries]
    return out


# -- timestamps ------------------------------------------------------------------
_CTIME = re.compile(r"\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct"
                    r"|Nov|Dec) (\d\d) (\d\d):(\d\d):(\d\d) (\d{4})\b")
_ISO = re.compile(r"(?<!\d)\d{4}([-/])\d\d\1\d\d([T ])\d\d:\d\d:\d\d(?!\d)")
_BSD = re.compile(r"\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ([ \d]\d) "
                  r"\d\d:\d\d:\d\d\b")


class _Stamps(NamedTuple):
    ymd: tuple[str, str, str]
    hms: str
    ctime: str
    month: str
    day: int


@lru_cache(maxsize=4096)
def _stamps(secs: int) -> _Stamps:
    t = datetime.fromtimestamp(secs, UTC)
    hms = f"{t.hour:02d}:{t.minute:02d}:{t.second:02d}"
    month = _MONTHS[t.month - 1]
    return _Stamps((f"{t.year:04d}", f"{t.month:02d}", f"{t.day:02d}"), hms,
                   f"{_DAYS[t.weekday()]} {month} {t.day:02d} {hms} {t.year:04d}", month, t.day)


def restamp(text: str, ts_ns: int) -> str:
    """The line with its first ctime, ISO-like or syslog stamp set to ``ts_ns`` (UTC),
    each field keeping its width; a line with none of these shapes is unchanged."""
    t = _stamps(ts_ns // 1_000_000_000)
    m = _CTIME.search(text)
    if m is not None:
        new = t.ctime
    else:
        m = _ISO.search(text)
        if m is not None:
            sep, mid = m.group(1), m.group(2)
            new = f"{sep.join(t.ymd)}{mid}{t.hms}"
        else:
            m = _BSD.search(text)
            if m is None:
                return text
            day = f"{t.day:02d}" if m.group(1)[0] == "0" else f"{t.day:2d}"
            new = f"{t.month} {day} {t.hms}"
    return f"{text[:m.start()]}{new}{text[m.end():]}"


# -- the app lines of one file ---------------------------------------------------
def _long_line(rng: random.Random, entries: list[Entry], start: int) -> str:
    target = rng.randint(20 << 10, 48 << 10)
    parts: list[str] = []
    size, i = 0, start
    while size < target:
        text = entries[i % len(entries)][0]
        parts.append(text)
        size += len(text) + 3
        i += 1
    return " | ".join(parts)


def app_lines(k: int, lines: int, corpus: dict[str, list[Entry]],
              errors: frozenset[str] = frozenset()) -> list[AppLine]:
    """File ``k``'s ``lines`` lines: every format mixed in runs of 1-8 entries, each
    format's entries cycled from a per-file starting point. An entry whose first line
    is in ``errors`` goes to stderr, the rest to stdout."""
    rng = random.Random(k)
    names = sorted(corpus)
    cursor = {name: rng.randrange(len(corpus[name])) for name in names}
    out: list[AppLine] = []
    next_long = rng.randrange(LONG_EVERY)
    while len(out) < lines:
        name = rng.choice(names)
        entries = corpus[name]
        for _ in range(rng.randint(1, 8)):
            entry = entries[cursor[name] % len(entries)]
            cursor[name] += 1
            if len(out) >= next_long:
                next_long += LONG_EVERY
                entry = (_long_line(rng, entries, cursor[name]),)
            stream = "stderr" if entry[0] in errors else "stdout"
            for i, text in enumerate(entry):
                if len(out) == lines:
                    break
                ts = START_NS + len(out) * STEP_NS + k
                out.append(AppLine(ts, stream, restamp(text, ts), name, i == 0))
    return out


def error_lines(paths: Iterable[Path] | None = None) -> frozenset[str]:
    """First lines labelled error or fatal: the entries the apps write to stderr."""
    return frozenset(text for path in (paths if paths is not None else formats())
                     for label, text in load(path) if label in ("error", "fatal"))


class Joined(NamedTuple):
    """What the collector's joiner makes of an application's lines."""

    records: int  # the entries the joiner finds: the records the collector sends
    entries: int  # the entries the applications wrote
    exact: int  # records that are exactly one written entry (not split, not merged)


def expected_records(lines: list[AppLine]) -> Joined:
    """The entries the collector's own joiner (default rules, one per stream) finds in
    these lines, as partial pieces reassemble to the lines, scored against the entries
    written: a record is exact when it starts at an entry's first line and holds all of
    that entry's lines and no other."""
    starts = [i for i, line in enumerate(lines) if line.first]
    truth = {(a, b - a) for a, b in zip(starts, [*starts[1:], len(lines)], strict=True)}
    found: list[tuple[int, int]] = []

    def sink(origin: object, off: int, ts: object, stream: object, text: str,
             tags: object) -> None:
        found.append((off, text.count("\n") + 1))

    joiners = {s: StreamJoiner(s, MultilineRules(), sink) for s in ("stdout", "stderr")}
    for off, line in enumerate(lines):
        joiners[line.stream].feed(None, off, None, line.text, False, (), 0)
    for joiner in joiners.values():
        joiner.flush()
    return Joined(len(found), len(truth), sum(1 for f in found if f in truth))


# -- writers -----------------------------------------------------------------------
def _pieces(text: str, size: int) -> list[str]:
    """``text`` cut into pieces of at most ``size`` UTF-8 bytes, on character bounds."""
    raw = text.encode()
    if len(raw) <= size:
        return [text]
    out: list[str] = []
    start = 0
    while start < len(raw):
        end = min(start + size, len(raw))
        while end < len(raw) and (raw[end] & 0xC0) == 0x80:  # not inside a character
            end -= 1
        out.append(raw[start:end].decode())
        start = end
    return out


def rfc3339(ts_ns: int, fixed: bool) -> str:
    """Docker's fixed 9-digit stamp, or Go's RFC3339Nano (trailing zeros dropped) as
    containerd writes the CRI prefix."""
    secs, frac = divmod(ts_ns, 1_000_000_000)
    t = _stamps(secs)
    base = f"{'-'.join(t.ymd)}T{t.hms}"
    digits = f"{frac:09d}"
    if not fixed:
        digits = digits.rstrip("0")
    return f"{base}.{digits}Z" if digits else f"{base}Z"


def _html_escape(raw: bytes) -> bytes:
    # Docker's json-file encoder escapes these three as Go's encoding/json does.
    return raw.replace(b"<", b"\\u003c").replace(b">", b"\\u003e").replace(b"&", b"\\u0026")


def docker_bytes(lines: Iterable[AppLine]) -> bytes:
    """Docker json-file lines; a line over 16 KiB becomes partial entries (no ``\\n``)."""
    out: list[bytes] = []
    for line in lines:
        ts = rfc3339(line.ts_ns, fixed=True)
        pieces = _pieces(line.text, PIECE_BYTES)
        for i, piece in enumerate(pieces):
            log = piece + "\n" if i == len(pieces) - 1 else piece
            out.append(_html_escape(orjson.dumps({"log": log, "stream": line.stream,
                                                  "time": ts})))
    out.append(b"")
    return b"\n".join(out)


def cri_bytes(lines: Iterable[AppLine], seed: int = 0) -> bytes:
    """CRI lines ``<ts> <stream> <P|F> <text>``: over 16 KiB cut into ``P`` pieces and a
    last ``F``; about one line in SHORT_P_EVERY also cut at 1-2 random points."""
    rng = random.Random(seed)
    out: list[bytes] = []
    for line in lines:
        pieces = _pieces(line.text, PIECE_BYTES)
        if len(pieces) == 1 and len(line.text) > 40 and rng.randrange(SHORT_P_EVERY) == 0:
            cuts = sorted(rng.sample(range(1, len(line.text)), rng.randint(1, 2)))
            pieces = [line.text[a:b] for a, b in zip([0, *cuts], [*cuts, len(line.text)],
                                                      strict=True)]
        for i, piece in enumerate(pieces):
            # containerd stamps each piece when it writes it; they share the line's here
            tag = "F" if i == len(pieces) - 1 else "P"
            out.append(f"{rfc3339(line.ts_ns, fixed=False)} {line.stream} {tag} {piece}"
                       .encode())
    out.append(b"")
    return b"\n".join(out)


def write_docker(root: Path, k: int, data: bytes) -> Path:
    """Container ``k``'s folder under a Docker root: its json log and config."""
    cid = f"{k:064x}"
    folder = root / cid
    folder.mkdir(parents=True)
    (folder / "config.v2.json").write_bytes(orjson.dumps(
        {"ID": cid, "Name": f"/app-{k}", "Config": {"Image": f"app-{k}:1", "Labels": {}}}))
    path = folder / f"{cid}-json.log"
    path.write_bytes(data)
    return path


def write_cri(root: Path, k: int, data: bytes) -> Path:
    """Pod ``k``'s ``<ns>_<pod>_<uid>/<container>/0.log`` under a /var/log/pods root,
    the layout the collector's cri_globs (``*/*/*.log``) find."""
    uid = uuid.UUID(int=k + 1, version=4)
    pod = f"{NAMESPACES[k % len(NAMESPACES)]}_app-{k}-7d9f8b6c5-x{k:04d}_{uid}"
    folder = root / pod / f"app-{k}"
    folder.mkdir(parents=True)
    path = folder / "0.log"
    path.write_bytes(data)
    return path


class Corpus(NamedTuple):
    """One corpus laid out under ``staging`` (one folder per container or pod), ready to
    be moved under a collector's root at once."""

    name: str
    kind: str  # docker | cri: the collector source, and the layout's glob below
    staging: Path
    lines: int  # lines the applications wrote
    records: int  # records the collector makes of them (joined entries)
    entries: int  # entries the applications wrote
    exact: int  # records that are exactly one written entry
    messages: int  # lines in the files (pieces included): what rsyslog and raw send
    nbytes: int

    @property
    def glob(self) -> str:
        return "*/*-json.log" if self.kind == "docker" else "*/*/*.log"

    def paths(self, root: Path) -> list[Path]:
        return sorted(root.glob(self.glob))


def build_varied(docker: Path, cri: Path, files: int, lines: int) -> tuple[Corpus, Corpus]:
    """The varied corpus, ``lines`` lines in ``files`` files, in both layouts."""
    entries, errors = load_entries(), error_lines()
    per = lines // files
    joined = [0, 0, 0]  # records, entries, exact
    sizes = {"docker": [0, 0], "cri": [0, 0]}  # messages, bytes
    for k in range(files):
        written = app_lines(k, per, entries, errors)
        joined = [a + b for a, b in zip(joined, expected_records(written), strict=True)]
        for kind, data in (("docker", docker_bytes(written)), ("cri", cri_bytes(written, k))):
            (write_docker if kind == "docker" else write_cri)(
                docker if kind == "docker" else cri, k, data)
            sizes[kind][0] += data.count(b"\n")
            sizes[kind][1] += len(data)
    n = per * files
    return (Corpus("varied, Docker", "docker", docker, n, *joined, *sizes["docker"]),
            Corpus("varied, CRI", "cri", cri, n, *joined, *sizes["cri"]))
