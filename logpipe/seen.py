"""A bounded set of recently seen ids, to drop the duplicates a resumed stream replays
(the API's live tail and the client's ``logs -f`` both meet the same entry twice at
the back-fill / live seam)."""

from __future__ import annotations

from collections import OrderedDict


class SeenIds:
    """The ``size`` most recently added ids; older ones are forgotten first."""

    def __init__(self, size: int) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._size = size

    def add(self, rid: str) -> bool:
        """True when the id is new."""
        if rid in self._ids:
            return False
        self._ids[rid] = None
        if len(self._ids) > self._size:
            self._ids.popitem(last=False)
        return True

    def __len__(self) -> int:
        return len(self._ids)
