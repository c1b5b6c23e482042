"""The janitor deletes only daily indices older than the limit (and nothing in dry-run),
once from the command and pass after pass on its timer."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from elasticsearch import Elasticsearch
from typer.testing import CliRunner

from forwarder.cli import app
from forwarder.janitor import Janitor
from tests.kube.fixtures import wait_for

pytestmark = pytest.mark.integration


def test_janitor_deletes_only_expired_daily_indices(
    es_url: str, es: Elasticsearch, index_prefix: str,
) -> None:
    today = datetime.now(UTC).date()

    def daily(days_ago: int) -> str:
        return f"{index_prefix}-{(today - timedelta(days=days_ago)).strftime('%Y.%m.%d')}"

    keep = [daily(0), daily(3), daily(7), f"{index_prefix}-archive"]
    doomed = [daily(8), daily(40)]
    for name in keep + doomed:
        es.indices.create(index=name, settings={"number_of_replicas": 0})

    def existing() -> set[str]:
        return set(es.indices.get(index=f"{index_prefix}-*").body)

    runner = CliRunner()
    args = ["--es-url", es_url, "--index-prefix", index_prefix, "janitor", "--days", "7"]
    dry = runner.invoke(app, [*args, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert existing() == set(keep + doomed)
    assert f"{daily(8)}\twould delete" in dry.output
    assert f"{daily(7)}\tkept" in dry.output

    real = runner.invoke(app, args)
    assert real.exit_code == 0, real.output
    assert existing() == set(keep)
    assert f"{daily(40)}\tdeleted" in real.output

    off = runner.invoke(app, ["--es-url", es_url, "--index-prefix", index_prefix, "janitor"])
    assert off.exit_code == 2 and "retention is off" in off.output


def test_janitor_timer_runs_pass_after_pass_until_stopped(
    es_url: str, es: Elasticsearch, index_prefix: str,
) -> None:
    today = datetime.now(UTC).date()

    def daily(days_ago: int) -> str:
        return f"{index_prefix}-{(today - timedelta(days=days_ago)).strftime('%Y.%m.%d')}"

    def existing() -> set[str]:
        return set(es.indices.get(index=f"{index_prefix}-*").body)

    for name in (daily(0), daily(10)):
        es.indices.create(index=name, settings={"number_of_replicas": 0})
    client = Elasticsearch(es_url)
    stop = threading.Event()
    thread = Janitor(client, index_prefix, days=7, dry_run=False).start_thread(0.2, stop)
    try:
        wait_for(lambda: existing() == {daily(0)}, "the first pass")
        # An index that expires later is deleted by a later pass of the same thread.
        es.indices.create(index=daily(20), settings={"number_of_replicas": 0})
        wait_for(lambda: existing() == {daily(0)}, "a later pass")
        assert thread.is_alive()
    finally:
        stop.set()
        thread.join(timeout=30)
        client.close()
    assert not thread.is_alive()
    assert existing() == {daily(0)}
