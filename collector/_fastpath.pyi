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
    hold: bool

    def __init__(self, *, kind: str, layout: tuple[bytes | str, ...], id_prefix: bytes,
                 max_line: int, max_record: int, max_joined: int, hold: bool, hint: list[Any],
                 detect_level: Callable[[str, list[int] | None], str],
                 shrink: Callable[[bytes], bytes], starts: list[int]) -> None: ...

# Per stream (stdout, stderr): what StreamJoiner.export_held / export_partial gave, in;
# what its joiner must adopt (None: nothing new), out.
Held = tuple[int, str, str] | tuple[()] | None
Pieces = tuple[int, str, tuple[str, ...], int] | tuple[()] | None
NowHeld = tuple[int, str, str] | None
NowPieces = tuple[int, str, tuple[str, ...], int, bool] | None

def scan(ctx: Context, data: bytes, pos: int, end: int, off: int, ingest_ts: bytes,
         held: tuple[Held, Held], partial: tuple[Pieces, Pieces]
         ) -> tuple[list[bytes], int, int, int, bool, tuple[NowHeld, NowHeld],
                    tuple[NowPieces, NowPieces], tuple[int, int]]: ...
def blake2b_hex(data: bytes) -> str: ...
def init(*, unknown: str, indent: bytes, maybe: bytes, opens: tuple[bytes, ...],
         continues: tuple[bytes, ...], dump_heads: tuple[bytes, ...],
         dump_follow: tuple[bytes, ...]) -> None: ...
def init_starts(classes: tuple[bytes, ...], kinds: tuple[tuple[bytes, ...], ...], /) -> None: ...
def start_matches(kind: int, text: bytes, /) -> bool: ...

# The level detector (collector/_levels.h): its tables (collector.level_detect.c_tables),
# detect_level through it as the scan runs it, and (entries seen, entries left to Python).
def init_levels(tables: dict[str, object], /) -> None: ...
def detect_level(text: str, hint: list[Any], /) -> str: ...
def level_stats() -> tuple[int, int]: ...
