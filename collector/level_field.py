"""Where a stream writes its level, learned from its own entries: the k-th
whitespace-separated field of the first line, when the general detection
(collector.level_detect) finds no level there but the field holds a level token in
entry after entry: a single letter (``2018-02-05T13:44:56 I CONTROL ...``), a Title-case
or lowercase word after prose (``... app[12]: Info: ...``), a bracketed form.

It only ever adds a level where the general detection says ``unknown``: it is learned
from LEARN_RUN entries in a row that the detection left ``unknown`` and that hold a level
token at the same field, and dropped after UNLEARN_RUN entries in a row without one
there (the layout changed). Costs one bounded ``split`` per entry.
"""

from __future__ import annotations

from dataclasses import dataclass

from logpipe.levels import Level, normalize_level

MAX_FIELDS = 6  # the level is looked for in the first fields only: the header
LINE_CHARS = 192
LEARN_RUN = 8
UNLEARN_RUN = 8
_STRIP = "[]<>():|,;"
_LETTERS = frozenset("TDIWEFV")  # as loggers abbreviate; "A" (logcat assert) is too rare
_WORDS = frozenset(("trace", "debug", "info", "information", "informational", "notice",
                    "warn", "warning", "error", "err", "fatal", "critical", "crit", "severe",
                    "panic", "emerg", "alert"))


def _spellings() -> dict[str, str]:
    found: dict[str, str] = {}
    for word in _WORDS:
        for spelling in (word, word.upper(), word.title()):
            found[spelling] = normalize_level(word).value
    return found


_WORD_LEVELS = _spellings()  # every accepted spelling: one dict look-up per token
_LETTER_LEVELS = {c: normalize_level(c).value for c in _LETTERS}


def c_tables() -> dict[str, object]:
    """What the C detector needs to learn and apply a level field as LevelField does
    (collector.level_detect.c_tables)."""
    return {"field_words": _WORD_LEVELS, "field_letters": _LETTER_LEVELS, "field_strip": _STRIP,
            "field_sizes": (MAX_FIELDS, LINE_CHARS, LEARN_RUN, UNLEARN_RUN)}


def token_level(token: str, letters: bool) -> str | None:
    """The level a header token names (a single letter only if ``letters``), or None."""
    t = token.strip(_STRIP)
    found = _WORD_LEVELS.get(t)
    if found is None and letters:
        found = _LETTER_LEVELS.get(t)
    return found


def _fields(text: str) -> list[str]:
    return text[:LINE_CHARS].partition("\n")[0].split(None, MAX_FIELDS)[:MAX_FIELDS]


def _header_before(fields: list[str], i: int) -> bool:
    """A field with a digit (a time, a pid) before field ``i`` and no lowercase word:
    a header, where a single letter may be the level (not the pronoun "I" in prose)."""
    head = fields[:i]
    return (any(any(c.isdigit() for c in f) for f in head)
            and not any(f.isalpha() and f.islower() for f in head))


def _first_level_field(text: str) -> int:
    """The first field holding a level token (a single letter only after a header)."""
    fields = _fields(text)
    for i, token in enumerate(fields):
        t = token.strip(_STRIP)
        if t in _WORD_LEVELS or (t in _LETTER_LEVELS and _header_before(fields, i)):
            return i
    return -1


@dataclass(slots=True)
class LevelField:
    """One stream's learned level field (``field`` >= 0) and the runs that learn and
    unlearn it; kept in the stream's hint (collector.level_detect.new_hint)."""

    field: int = -1
    candidate: int = -1
    run: int = 0

    def apply(self, text: str) -> str | None:
        """The level at the learned field, or None (the general detection decides)."""
        fields = _fields(text)
        token = fields[self.field] if self.field < len(fields) else ""
        found = token_level(token, True) if token else None
        if found is not None:
            self.run = 0
            return found
        self.run += 1
        if self.run >= UNLEARN_RUN:
            self.field, self.run = -1, 0
        return None

    def observe(self, text: str, found: str) -> None:
        """An entry the general detection judged ``found`` (while nothing is learned)."""
        field = _first_level_field(text) if found == Level.UNKNOWN.value else -1
        if field < 0 or field != self.candidate:
            self.candidate, self.run = field, int(field >= 0)
            return
        self.run += 1
        if self.run >= LEARN_RUN:
            self.field, self.candidate, self.run = field, -1, 0
