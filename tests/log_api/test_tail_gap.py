"""The live tail's hand-over when the forwarder lags more than the hub's ring holds,
against the real Kafka, Elasticsearch and forwarder: the tail is told (``notice``),
then, once the forwarder has indexed them, gets a ``gap`` event whose range holds
exactly the entries it could not bridge; history fills it with nothing lost or doubled.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from log_api.state import AppState
from logpipe.timefmt import parse_ns
from tests.conftest import unique
from tests.forwarder.util import forwarder_env, running
from tests.log_api.helpers import PAY, auth, copy_record, produce, record, served, settings_for
from tests.log_api.test_tail import Events, _live, _wait, tail

pytestmark = pytest.mark.integration


def _gap(events: Events) -> bool:
    return any(e.event == "gap" for e in events)


async def test_unbridged_lag_becomes_a_gap_event_that_history_fills(
        tmp_path: Path, kafka_bootstrap: str, es_url: str, topic: str, index_prefix: str) -> None:
    group = unique("fwd")
    settings = settings_for(tmp_path, kafka_bootstrap, es_url, topic, index_prefix,
                            handover_window=5, tail_handover_margin_s=0.5,
                            forwarder_group=group)
    # Three containers: the records spread over the topic's partitions.
    lagging = [copy_record(record(i, container=f"c{i % 3}"), container_id=f"k{i % 3}")
               for i in range(30)]
    async with served(settings) as (app, base):
        state: AppState = app.state.logpipe
        hub = state.hub
        # No forwarder runs: nothing is indexed, and the hub keeps only the last 5.
        produce(kafka_bootstrap, topic, lagging)
        await _wait(lambda: sum(o + 1 for o in hub.positions.values()) >= 30,
                    "the hub to read every record")
        ring_ids = {r.id for r in hub.ring}
        missing = [r for r in lagging if r.id not in ring_ids]
        assert len(missing) == 25
        # A reading is reused for 5 s: the one from before the records may come first.
        started = time.monotonic()
        while (lag := await hub.measure_lag()) is None or hub.lag_records != 30:
            assert time.monotonic() - started < 30, f"lag never counted 30: {lag}"
            await asyncio.sleep(0.5)
        assert lag.beyond_ring
        async with tail(base, PAY, backfill=100) as stream:
            await stream.until(_live)
            # The ring is bridged; the rest is announced, not silently skipped.
            assert {e["id"] for e in stream.entries()} == ring_ids
            notice = next(e.json()["notice"] for e in stream.events if e.event == "notice")
            assert notice.startswith("25 entries from")
            assert not _gap(stream.events)  # not indexed yet: nothing to fetch so far
            live = copy_record(record(100), container_id="k0")
            produce(kafka_bootstrap, topic, [live])  # the stream stays live meanwhile
            await stream.until(lambda evs: any(e.event == "entry" and e.json()["id"] == live.id
                                               for e in evs))
            log = tmp_path / "forwarder.log"
            with running(forwarder_env(kafka_bootstrap, es_url, topic, index_prefix, group),
                         log):
                await stream.until(_gap, timeout=90)
        gap = next(e.json() for e in stream.events if e.event == "gap")
        assert gap["reason"] == "lag_exceeds_ring" and gap["entries"] == 25 and gap["complete"]
        assert parse_ns(gap["from"]) == min(parse_ns(r.ts) for r in missing)
        assert parse_ns(gap["to"]) == max(parse_ns(r.ts) for r in missing) + 1
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            page = (await client.get("/api/v1/search", headers=auth(PAY), params={
                "since": gap["from"], "until": gap["to"], "order": "oldest",
                "size": 1000})).json()
        assert state.metrics.tail_gaps.labels("lag_exceeds_ring")._value.get() == 1
    fetched = [e["id"] for e in page["entries"]]
    shown = [e["id"] for e in stream.entries()]
    # The range may also hold entries shown already (other partitions' bridged records
    # written meanwhile): the client drops those by id.
    assert [i for i in fetched if i not in set(shown)] == [
        r.id for r in sorted(missing, key=lambda r: (r.ts, r.id))]
    together = [*shown, *(i for i in fetched if i not in set(shown))]
    assert len(together) == len(set(together)) == 31
    assert set(together) == {r.id for r in [*lagging, live]}


async def test_lag_is_measured_and_exposed(
        tmp_path: Path, kafka_bootstrap: str, es_url: str, topic: str, index_prefix: str) -> None:
    group = unique("fwd")
    settings = settings_for(tmp_path, kafka_bootstrap, es_url, topic, index_prefix,
                            forwarder_group=group)
    async with served(settings) as (app, base):
        hub = app.state.logpipe.hub
        produce(kafka_bootstrap, topic, [record(i) for i in range(10)])
        await _wait(lambda: sum(o + 1 for o in hub.positions.values()) >= 10, "the hub")
        await asyncio.sleep(1.0)
        started = time.monotonic()
        # A reading is reused for 5 s: the one from before the records may come first.
        while (lag := await hub.measure_lag()) is None or hub.lag_records != 10:
            assert time.monotonic() - started < 30, f"lag never counted 10: {lag}"
            await asyncio.sleep(0.5)
        assert not lag.beyond_ring and lag.seconds >= 1.0
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            ready = (await client.get("/readyz")).json()
            metrics = (await client.get("/metrics")).text
        assert ready["details"]["forwarder_lag"]["records"] == 10
        assert ready["details"]["forwarder_lag"]["group"] == group
        assert "logpipe_api_forwarder_lag_records 10.0" in metrics
        assert "logpipe_api_forwarder_lag_seconds " in metrics
        started = time.monotonic()
        with running(forwarder_env(kafka_bootstrap, es_url, topic, index_prefix, group),
                     tmp_path / "forwarder.log"):
            while (lag := await hub.measure_lag()) is None or lag.seconds > 0:
                assert time.monotonic() - started < 90, "the forwarder did not catch up"
                await asyncio.sleep(0.5)
        assert hub.lag_records == 0
