"""The collector bench's report (bench/collector.py): rates over the applications' lines,
ratios to the peers of the same corpus, and counts that differ from the corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.collector import Row, broker_cpu, short, table
from bench.corpus import Corpus
from stack.manager import Stack


def rows() -> list[Row]:
    return [Row("varied, CRI", "logpipe collector", 1000, 990, 2.0, 0.004, 90.0),
            Row("varied, CRI", "rsyslog imfile->omkafka", 1000, 1010, 4.0, 0.006, 30.0),
            Row("varied, CRI", "raw confluent-kafka (ceiling)", 1000, 1010, 1.0, 0.002, None,
                0.003),
            Row("uniform, Docker", "logpipe collector", 500, 500, 1.0, 0.001, 80.0)]


def test_table_rates_and_ratios_per_corpus() -> None:
    lines = table(rows(), {"varied, CRI": 4_000_000, "uniform, Docker": 1_000_000})
    body = lines.splitlines()
    assert body[0].startswith("| corpus | run | lines/s |") and body[1].startswith("| ---")
    assert body[2] == ("| varied, CRI | logpipe collector | 500 | 2.0 | 4.0 | 90 | 2.00 | "
                       "2.00x | 0.50x | — | — |")
    assert body[3].endswith("| 250 | 1.0 | 6.0 | 30 | 4.00 | 1.00x | 0.25x | — | — |")
    # the broker's 3 µs/line, and 0.002 + 0.003 CPU seconds over 1 s: 0.005 cores
    assert body[4].endswith("| 1,000 | 4.0 | 2.0 | — | 1.00 | 4.00x | 1.00x | 3.0 | 0.01 |")
    assert body[5].endswith("| — | — | — | — |")  # no peers, no ratios


def test_short_names_runs_whose_count_differs(tmp_path: Path) -> None:
    corpora = [Corpus("varied, CRI", "cri", tmp_path, 1000, 990, 995, 980, 1010, 4_000_000),
               Corpus("uniform, Docker", "docker", tmp_path, 500, 500, 500, 500, 500, 1_000_000)]
    assert short(rows(), corpora) == []
    changed = [*rows()[:3], rows()[3]._replace(sent=499)]
    assert short(changed, corpora) == [
        "uniform, Docker / logpipe collector: 499 messages in Kafka, expected 500"]


@pytest.mark.integration
def test_broker_cpu_of_the_local_stack_only(kafka_bootstrap: str) -> None:
    """The broker's CPU time, read from /proc for the local stack's broker; another
    bootstrap (a remote Kafka) has no column rather than a wrong one."""
    if Stack.from_env().settings.kafka_bootstrap != kafka_bootstrap:
        pytest.skip("the tests' Kafka is not the local stack's")
    first = broker_cpu(kafka_bootstrap)
    assert first is not None and first > 0
    later = broker_cpu(kafka_bootstrap)
    assert later is not None and later >= first
    assert broker_cpu("127.0.0.1:1") is None
