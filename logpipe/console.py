"""The stderr console of the command-line programs (client, stack)."""

from __future__ import annotations

from rich.console import Console


def notes() -> Console:
    """stderr for progress and notes: soft-wrapped, so a path or URL is never cut by a
    newline when stderr is a file or a pipe (rich wraps at 80 columns there; a terminal
    wraps long lines itself), and not highlighted."""
    return Console(stderr=True, soft_wrap=True, highlight=False)
