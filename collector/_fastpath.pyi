"""Types of the C extension built from collector/_fastpath.c."""

from collections.abc import Callable
from typing import Any

class Context:
    """What scan() needs of one source file, made once (collector.fastpath.FileContext)."""

    layout: tuple[bytes | str, ...]
    id_prefix: bytes
    max_line: int
    max_record: int
    max_joined: int
    max_bytes: int
    max_lines: int
    multiline_tail: bytes
    hold: bool

    def __init__(self, *, kind: str, layout: tuple[bytes | str, ...], multiline_tail: bytes,
                 id_prefix: bytes, max_line: int, max_record: int, max_joined: int,
                 max_bytes: int, max_lines: int, hold: bool, hint: list[Any],
                 detect_level: Callable[[str, list[int] | None], str],
                 shrink: Callable[[bytes], bytes]) -> None: ...

# Per stream (stdout, stderr): what StreamJoiner.export_held / export_partial /
# export_starts gave, in; what its joiner must adopt / read_elsewhere (None: nothing
# new), out. A held entry: (offset, ts, first line, continuation lines, size, lines,
# trace mode: StreamJoiner's, 0 none, 1 Python, 2 Go, 3 after a Python exception line).
Entry = tuple[int, str, str, tuple[str, ...], int, int, int]
Held = Entry | tuple[()] | None
Pieces = tuple[int, str, tuple[str, ...], int] | tuple[()] | None
# (learned kind or -1, run, after_json, max_run, own, other: the header lines of the mix
# window so far, while learning (seen, lines, counts) else None)
Starts = tuple[int, int, bool, int, int, int, tuple[int, int, tuple[int, ...]] | None]
NowHeld = Entry | None
NowPieces = tuple[int, str, tuple[str, ...], int, bool] | None
# (state, kind, run, after_json, own, other, where it learned from lines there: (seen,
# lines, counts))
NowStarts = tuple[int, int, int, bool, int, int, tuple[int, int, tuple[int, ...]] | None] | None

def scan(ctx: Context, data: bytes, pos: int, end: int, off: int, ingest_ts: bytes,
         held: tuple[Held, Held], partial: tuple[Pieces, Pieces], starts: tuple[Starts, Starts]
         ) -> tuple[list[bytes], int, int, int, bool, tuple[NowHeld, NowHeld],
                    tuple[NowPieces, NowPieces], tuple[NowStarts, NowStarts],
                    tuple[int, int]]: ...
def blake2b_hex(data: bytes) -> str: ...
def init(*, unknown: str, indent: bytes, maybe: bytes, opens: tuple[bytes, ...],
         continues: tuple[bytes, ...], dump_heads: tuple[bytes, ...],
         dump_follow: tuple[bytes, ...], py_follow: tuple[bytes, ...],
         dump_lines: tuple[bytes, ...]) -> None: ...
def init_starts(classes: tuple[bytes, ...], kinds: tuple[tuple[bytes, ...], ...], /) -> None: ...
def init_learning(*, window: int, learn_min: int, learn_share: float, indented: bytes,
                  states: tuple[int, int, int]) -> None: ...
def start_matches(kind: int, text: bytes, /) -> bool: ...

# The level detector (collector/_levels.h): its tables (collector.level_detect.c_tables),
# detect_level through it as the scan runs it, and (entries seen, entries left to Python).
def init_levels(tables: dict[str, object], /) -> None: ...
def detect_level(text: str, hint: list[Any], /) -> str: ...
def level_stats() -> tuple[int, int]: ...
