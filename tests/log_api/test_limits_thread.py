"""A stream's place is freed when its end runs in a thread: Starlette runs a sync
background task (the tail's ``end``) in its thread pool, where there is no event loop;
the release must still reach the loop that holds the place. Pure logic: a stand-in
for the shared places (the real ones are tests/log_api/test_replicas.py's)."""

from __future__ import annotations

import asyncio

from log_api.limits import ConcurrencyLimiter
from log_api.settings import ApiSettings
from log_api.shared import Place


class StandInSlots:
    def __init__(self) -> None:
        self.released: list[Place] = []

    async def take(self, *args: object, **kwargs: object) -> Place:
        return Place(doc=object())  # type: ignore[arg-type]

    async def release(self, place: Place) -> None:
        self.released.append(place)


async def test_a_release_from_a_thread_frees_the_place_on_the_loop() -> None:
    slots = StandInSlots()
    limiter = ConcurrencyLimiter(ApiSettings(), slots)  # type: ignore[arg-type]
    slot = await limiter.acquire("tail", "token")
    assert limiter.count("tail", "token") == 1
    await asyncio.to_thread(slot.release)  # as Starlette runs a sync BackgroundTask
    for _ in range(100):
        if not limiter.held:
            break
        await asyncio.sleep(0.01)
    assert slots.released == [slot.place]
    assert limiter.count("tail", "token") == 0
    slot.release()  # idempotent: nothing more is written
    await asyncio.sleep(0.05)
    assert len(slots.released) == 1
