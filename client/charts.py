"""Bar charts for the terminal: eighth-block bars, stacked bars by level, and rich
tables around them. Pure functions of the numbers, so they are unit tested."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.text import Text

from logpipe.levels import LEVELS

EIGHTHS = " ▏▎▍▌▋▊▉█"
LEVEL_STYLE = {"trace": "bright_black", "debug": "blue", "info": "green", "warn": "yellow",
               "error": "red", "fatal": "bold magenta", "unknown": "white"}


def bar(value: float, top: float, width: int) -> str:
    """A left-aligned bar of ``width`` cells for ``value`` out of ``top`` (1/8 cell steps)."""
    if top <= 0 or value <= 0 or width <= 0:
        return ""
    eighths = round(min(value / top, 1.0) * width * 8)
    full, rest = divmod(eighths, 8)
    return "█" * full + (EIGHTHS[rest] if rest else "")


def stacked(parts: Sequence[tuple[str, float]], top: float, width: int) -> list[tuple[str, int]]:
    """Whole cells per part (largest remainder), so the bar length tracks the total and
    no visible part vanishes entirely."""
    total = sum(v for _, v in parts)
    if top <= 0 or total <= 0 or width <= 0:
        return []
    cells = round(min(total / top, 1.0) * width)
    cells = max(cells, 1)
    exact = [(name, v / total * cells) for name, v in parts if v > 0]
    alloc = [(name, int(x)) for name, x in exact]
    left = cells - sum(n for _, n in alloc)
    order = sorted(range(len(exact)), key=lambda i: exact[i][1] - int(exact[i][1]), reverse=True)
    for i in order[:left]:
        alloc[i] = (alloc[i][0], alloc[i][1] + 1)
    return [(name, n) for name, n in alloc if n > 0]


def level_bar(levels: Mapping[str, int], top: float, width: int) -> Text:
    parts = [(lv, float(levels.get(lv, 0))) for lv in LEVELS]
    text = Text()
    for name, n in stacked(parts, top, width):
        text.append("█" * n, style=LEVEL_STYLE.get(name, ""))
    return text


def legend() -> Text:
    text = Text()
    for lv in LEVELS:
        text.append("█ ", style=LEVEL_STYLE[lv])
        text.append(f"{lv}  ")
    return text


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"
