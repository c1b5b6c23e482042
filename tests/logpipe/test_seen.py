"""The one bounded id set shared by the API's live tail and the client's follow."""

from __future__ import annotations

from logpipe.seen import SeenIds


def test_seen_ids_is_bounded() -> None:
    seen = SeenIds(2)
    assert seen.add("a") and not seen.add("a") and seen.add("b") and seen.add("c")
    assert seen.add("a")  # forgotten: only the newest two are kept
    assert len(seen) == 2

