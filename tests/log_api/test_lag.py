"""The lag arithmetic of the live tail's hand-over: which ring records the forwarders
have not committed, how long ago the oldest reached the hub, and which offsets are
neither committed nor in the ring (the gap). No broker."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from types import SimpleNamespace

from log_api.lag import (
    GroupOffsets,
    LagSeconds,
    PendingSpan,
    lag_seconds,
    oldest_pending,
    uncovered,
)
from log_api.tail import _Gap, _gap_indexed


@dataclass(frozen=True)
class Rec:
    partition: int
    offset: int
    arrived: float


# Partition 0 read offsets 10..14 at t=100..104, partition 1 offsets 3..4 at t=102.5, 103.5;
# the ring is in arrival order.
RING = sorted([Rec(0, 10 + i, 100.0 + i) for i in range(5)]
              + [Rec(1, 3, 102.5), Rec(1, 4, 103.5)], key=lambda r: r.arrived)
EARLIEST = {0: 10, 1: 3}
POSITIONS = {0: 14, 1: 4}


def test_everything_committed_means_no_lag_and_no_gap() -> None:
    committed = {0: 15, 1: 5}
    assert oldest_pending(RING, committed) is None
    assert uncovered(committed, EARLIEST, POSITIONS) == {}
    assert lag_seconds(RING, committed, EARLIEST, POSITIONS, 110.0, 50.0) == LagSeconds(0.0, False)


def test_lag_is_the_age_of_the_oldest_uncommitted_ring_record() -> None:
    committed = {0: 13, 1: 4}  # 0/13 arrived at 103, 1/4 at 103.5
    assert oldest_pending(RING, committed) == 103.0
    assert uncovered(committed, EARLIEST, POSITIONS) == {}
    assert lag_seconds(RING, committed, EARLIEST, POSITIONS, 110.0, 50.0) == LagSeconds(7.0, False)
    # The oldest over all partitions counts, whichever partition it is in.
    assert oldest_pending(RING, {0: 15, 1: 3}) == 102.5


def test_uncommitted_records_older_than_the_ring_are_the_gap() -> None:
    committed = {0: 4, 1: 5}  # partition 0: 4..9 left the ring before being committed
    assert uncovered(committed, EARLIEST, POSITIONS) == {0: (4, 10)}
    lag = lag_seconds(RING, committed, EARLIEST, POSITIONS, 110.0, 50.0)
    # Older than the ring's oldest record: the age of that record is a floor.
    assert lag == LagSeconds(10.0, True)


def test_a_partition_with_nothing_in_the_ring() -> None:
    # Partition 2: the hub read up to 7 but all of it left the ring; 6 and 7 are pending.
    positions = {**POSITIONS, 2: 7}
    assert uncovered({0: 15, 1: 5, 2: 6}, EARLIEST, positions) == {2: (6, 8)}
    assert uncovered({0: 15, 1: 5, 2: 8}, EARLIEST, positions) == {}
    # A partition the measurement does not know yet: from its first offset.
    assert uncovered({0: 15, 1: 5}, EARLIEST, positions) == {2: (0, 8)}
    assert oldest_pending([Rec(2, 0, 1.0)], {}) == 1.0


def test_the_forwarder_ahead_of_the_hub_is_no_gap() -> None:
    assert uncovered({0: 20, 1: 9}, EARLIEST, POSITIONS) == {}


def test_an_empty_ring_floors_the_lag_at_the_hubs_age() -> None:
    lag = lag_seconds([], {0: 0}, {}, {0: 4}, 110.0, 50.0)
    assert lag == LagSeconds(60.0, True)


def test_records_not_committed_count_from_the_low_watermark() -> None:
    assert GroupOffsets({0: 4, 1: 10}, {0: 10, 1: 10}).records == 6
    assert GroupOffsets({0: 12}, {0: 10}).records == 0


def test_a_gap_the_forwarder_never_indexes_is_sent_at_the_wait_deadline() -> None:
    hub = SimpleNamespace(settings=SimpleNamespace(tail_gap_wait_max_s=60.0,
                                                   tail_handover_margin_s=5.0))
    gap = _Gap({0: 10}, PendingSpan(3, 1_000, 2_000, True), 3_000)
    gap.found_at = time.monotonic() - 61.0  # waited past the deadline
    assert asyncio.run(_gap_indexed(hub, gap)) is True  # type: ignore[arg-type]
    assert gap.data()["indexed"] is False
