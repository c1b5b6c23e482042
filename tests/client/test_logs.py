"""``logpipe logs`` against the real Log API, Kafka and Elasticsearch."""

from __future__ import annotations

import os
import pty
import subprocess
import time
from pathlib import Path

import orjson
import pytest
from elasticsearch import Elasticsearch

from tests.client.cli import LOGPIPE, env, run
from tests.client.harness import LiveApi, live_api, record
from tests.conftest import free_port

pytestmark = pytest.mark.integration


def seed(api: LiveApi) -> None:
    now = time.time_ns()
    recs = []
    for i in range(6):
        recs.append(record("pay", "checkout", "info", f"pay checkout line {i}",
                           ts_ns=now - (60 - i) * 1_000_000_000))
    recs.append(record("pay", "ledger", "error", "ledger failed: disk full",
                       pod="ledger-0", ts_ns=now - 30_000_000_000))
    recs.append(record("pay", "ledger", "warn", "ledger slow commit", pod="ledger-1",
                       ts_ns=now - 20_000_000_000))
    recs.append(record("hotel", "booking", "info", "hotel booking line",
                       ts_ns=now - 10_000_000_000))
    # Older than an hour: outside --since 1h.
    recs.append(record("pay", "checkout", "info", "pay old line",
                       ts_ns=now - 2 * 3600 * 1_000_000_000))
    api.index(recs)


def test_namespace_since_prints_exactly_those_lines_in_time_order(api: LiveApi) -> None:
    seed(api)
    res = run("logs", ["--since", "1h", "-n", "pay", "-o", "raw"], env(api))
    assert res.exit_code == 0, res.stderr
    assert res.stdout.splitlines() == [
        *(f"pay checkout line {i}" for i in range(6)),
        "ledger failed: disk full", "ledger slow commit"]


def test_text_format_has_prefix_and_level_without_colour_when_piped(api: LiveApi) -> None:
    seed(api)
    res = run("logs", ["-n", "pay", "-a", "ledger", "--level", "error"], env(api))
    assert res.exit_code == 0, res.stderr
    assert res.stdout == "[pay/ledger-0/ledger] ERROR ledger failed: disk full\n"
    forced = run("logs", ["-n", "pay", "-a", "ledger", "--level", "error", "--color", "always"],
                 env(api))
    assert "\x1b[31mERROR" in forced.stdout


def test_tail_pod_regex_grep_exclude_and_json(api: LiveApi) -> None:
    seed(api)
    res = run("logs", ["--tail", "2", "-n", "pay", "-a", "checkout", "-o", "raw"], env(api))
    assert res.stdout.splitlines() == ["pay checkout line 4", "pay checkout line 5"]
    res = run("logs", ["--pod", "^ledger-[01]$", "--level", "warn+", "-o", "raw"], env(api))
    assert res.stdout.splitlines() == ["ledger failed: disk full", "ledger slow commit"]
    res = run("logs", ["--grep", "line [0-2]$", "--exclude", "line 1", "-o", "raw"], env(api))
    assert res.stdout.splitlines() == ["pay checkout line 0", "pay checkout line 2"]
    res = run("logs", ["-n", "hotel", "-o", "json", "--timestamps"], env(api))
    (line,) = res.stdout.splitlines()
    entry = orjson.loads(line)
    assert entry["namespace"] == "hotel" and entry["message"] == "hotel booking line"


def test_timestamps_prefix_each_line(api: LiveApi) -> None:
    seed(api)
    res = run("logs", ["-n", "hotel", "-o", "raw", "--timestamps"], env(api))
    ts, message = res.stdout.strip().split(" ", 1)
    assert message == "hotel booking line"
    assert ts == next(r.ts for r in api.indexed if r.namespace == "hotel")


def test_errors_say_what_to_do(api: LiveApi) -> None:
    seed(api)
    res = run("logs", ["-n", "hotel"], env(api, "pay"))
    assert res.exit_code == 1
    assert "may not read namespace 'hotel'" in res.stderr and "Ask the API's operator" in res.stderr
    res = run("logs", ["-n", "pay"], {**env(api), "LOGPIPE_TOKEN": "wrong"})
    assert res.exit_code == 1 and "refused the token" in res.stderr
    res = run("logs", ["--since", "yesterday"], env(api))
    assert res.exit_code == 1 and "since='yesterday' is not a time" in res.stderr
    res = run("logs", ["--level", "loud"], env(api))
    assert res.exit_code == 1 and "'loud' is not one of" in res.stderr


def test_pay_token_sees_only_pay(api: LiveApi) -> None:
    seed(api)
    res = run("logs", ["--since", "1h", "-o", "json"], env(api, "pay"))
    namespaces = {orjson.loads(line)["namespace"] for line in res.stdout.splitlines()}
    assert namespaces == {"pay"}


def test_colour_on_a_terminal_and_none_when_piped(api: LiveApi) -> None:
    seed(api)
    args = [LOGPIPE, "logs", "-n", "pay", "-a", "ledger", "--level", "error"]
    full_env = {**os.environ, **env(api)}
    full_env.pop("NO_COLOR", None)
    master, slave = pty.openpty()
    try:
        done = subprocess.run(args, stdout=slave, stderr=subprocess.PIPE, env=full_env,
                              timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        on_tty = os.read(master, 65536).decode()
    finally:
        os.close(master)
        os.close(slave)
    assert "\x1b[31mERROR" in on_tty and "\x1b[" in on_tty.split("ERROR")[0]
    piped = subprocess.run(args, capture_output=True, env=full_env, timeout=60, check=False)
    assert piped.stdout.decode() == "[pay/ledger-0/ledger] ERROR ledger failed: disk full\n"


def test_a_server_cap_is_said_on_stderr_never_silent(
        es: Elasticsearch, es_url: str, kafka_bootstrap: str, topic: str, index_prefix: str,
        tmp_path: Path) -> None:
    with live_api(es, es_url, kafka_bootstrap, topic, index_prefix, tmp_path, free_port(),
                  download_max_entries=3) as capped:
        seed(capped)
        res = run("logs", ["--since", "1h", "-n", "pay", "-o", "raw"], env(capped))
    assert res.exit_code == 0, res.stderr
    assert res.stdout.splitlines() == [f"pay checkout line {i}" for i in range(3)]
    assert "stopped at the cap of 3 entries" in res.stderr


def test_pod_regex_is_applied_by_the_server_so_tail_holds_n_matching(api: LiveApi) -> None:
    now = time.time_ns()
    # More pods than the client resolves to names: the server's pod_regex must filter, and
    # the newest entries are of other pods, so a client-side filter would print fewer.
    recs = [record("pay", "ledger", "info", f"ledger {i}", pod=f"ledger-{i}",
                   ts_ns=now - (400 - i) * 1_000_000_000) for i in range(150)]
    recs += [record("pay", "checkout", "info", f"checkout {i}", pod=f"checkout-{i % 3}",
                    ts_ns=now - (200 - i) * 1_000_000_000) for i in range(150)]
    api.index(recs)
    res = run("logs", ["--pod", "^ledger-", "--tail", "3", "-o", "raw"], env(api))
    assert res.exit_code == 0, res.stderr
    assert res.stdout.splitlines() == ["ledger 147", "ledger 148", "ledger 149"]
    few = run("logs", ["--pod", "^checkout-[12]$", "--since", "1h", "-o", "raw"], env(api))
    assert few.stdout.splitlines() == [f"checkout {i}" for i in range(150) if i % 3]
    bad = run("logs", ["--pod", "(?<=x)y"], env(api))
    assert bad.exit_code == 1 and "pod_regex" in bad.stderr
