"""``logpipe download``, ``logpipe export`` and ``logpipe stats`` against the real API."""

from __future__ import annotations

import csv
import gzip
import io
import time
from pathlib import Path

import orjson
import pytest

from logpipe.record import Record
from tests.client.cli import env, run
from tests.client.harness import LiveApi, record

pytestmark = pytest.mark.integration

COUNTS = {("pay", "checkout", "info"): 7, ("pay", "checkout", "error"): 2,
          ("pay", "ledger", "warn"): 3, ("hotel", "booking", "info"): 4}


def seed(api: LiveApi) -> None:
    now = time.time_ns()
    recs: list[Record] = []
    for (ns, app, level), n in COUNTS.items():
        recs += [record(ns, app, level, f"{app} {level} {i}",
                        ts_ns=now - (len(recs) + i + 1) * 1_000_000_000) for i in range(n)]
    api.index(recs)


def test_download_writes_the_file(api: LiveApi, tmp_path: Path) -> None:
    seed(api)
    # a path longer than a line: stderr is not a terminal here, and the path must stay
    # whole on one line for a script that reads it (rich would wrap it at 80 columns)
    out = tmp_path / ("a-long-directory-name-" * 4) / "pay.ndjson"
    out.parent.mkdir()
    res = run("download", ["-n", "pay", "--since", "1h", "-o", str(out)], env(api))
    assert res.exit_code == 0, res.stderr
    assert any(line.startswith("wrote ") and f" to {out} in " in line
               for line in res.stderr.splitlines()), res.stderr
    lines = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    assert len(lines) == 12 and {e["namespace"] for e in lines} == {"pay"}
    assert not out.with_name("pay.ndjson.part").exists()
    gz = tmp_path / "errors.csv.gz"
    res = run("download", ["-a", "checkout", "--level", "error", "-F", "csv", "-z",
                           "-o", str(gz)], env(api))
    assert res.exit_code == 0, res.stderr
    rows = list(csv.DictReader(io.StringIO(gzip.decompress(gz.read_bytes()).decode())))
    assert sorted(r["message"] for r in rows) == ["checkout error 0", "checkout error 1"]


def test_download_refused_namespace_leaves_no_file(api: LiveApi, tmp_path: Path) -> None:
    out = tmp_path / "x.ndjson"
    res = run("download", ["-n", "hotel", "-o", str(out)], env(api, "pay"))
    assert res.exit_code == 1 and "may not read namespace 'hotel'" in res.stderr
    assert not out.exists() and not list(tmp_path.glob("*.part"))


def test_export_create_wait_fetch_then_cancel(api: LiveApi, tmp_path: Path) -> None:
    seed(api)
    out = tmp_path / "ledger.ndjson.gz"
    res = run("export", ["create", "-a", "ledger", "--since", "1h", "--wait", "-o", str(out)],
              env(api))
    assert res.exit_code == 0, res.stderr
    job_id = res.stdout.split()[0]
    entries = [orjson.loads(x) for x in gzip.decompress(out.read_bytes()).splitlines()]
    assert sorted(e["message"] for e in entries) == [f"ledger warn {i}" for i in range(3)]
    status = run("export", ["status", job_id], env(api))
    assert "done  3/3 entries" in status.stdout
    other = run("export", ["status", job_id], env(api, "hotel"))
    assert other.exit_code == 1 and "no export" in other.stderr
    gone = run("export", ["cancel", job_id], env(api))
    assert gone.stdout.strip() == f"{job_id} deleted (it was done)"


def test_stats_tables_and_json_hold_the_indexed_counts(api: LiveApi) -> None:
    seed(api)
    res = run("stats", ["levels", "--since", "1h", "-o", "json"], env(api))
    body = orjson.loads(res.stdout)
    counts = {lv["level"]: lv["count"] for lv in body["levels"]}
    assert body["total"] == 16
    assert (counts["info"], counts["error"], counts["warn"]) == (11, 2, 3)
    table = run("stats", ["levels", "-n", "pay", "--by-app"], env(api))
    assert table.exit_code == 0, table.stderr
    row = next(x for x in table.stdout.splitlines() if x.startswith("│ info"))
    assert "│       7 │  58.3 │" in row  # 7 of pay's 12
    apps = run("stats", ["apps", "--top", "1"], env(api))
    assert "checkout" in apps.stdout and "(other apps)" in apps.stdout
    assert "│        9 │" in apps.stdout or "│       9 │" in apps.stdout
    hist = run("stats", ["histogram", "--since", "1h", "-i", "5m", "-o", "json"], env(api))
    assert sum(b["total"] for b in orjson.loads(hist.stdout)["buckets"]) == 16
    drawn = run("stats", ["histogram", "--since", "1h", "-i", "5m"], env(api))
    assert "█" in drawn.stdout and "Volume per 5m" in drawn.stdout


def test_export_list_shows_only_this_tokens_jobs_newest_first(api: LiveApi,
                                                              tmp_path: Path) -> None:
    seed(api)
    empty = run("export", ["list"], env(api, "pay"))
    ids = []
    for app in ("checkout", "ledger"):
        res = run("export", ["create", "-a", app, "--since", "1h", "--wait", "-o",
                             str(tmp_path / f"{app}.ndjson.gz")], env(api, "pay"))
        assert res.exit_code == 0, res.stderr
        ids.append(res.stdout.split()[0])
    hotel = run("export", ["create", "-n", "hotel", "--since", "1h"], env(api, "hotel"))
    text = run("export", ["list"], env(api, "pay"))
    as_json = run("export", ["list", "-o", "json"], env(api, "pay"))
    theirs = run("export", ["list"], env(api, "hotel"))
    assert empty.exit_code == 0 and empty.stdout == ""
    lines = text.stdout.splitlines()
    assert [x.split()[0] for x in lines] == ids[::-1]
    assert "done  3/3 entries  ndjson.gz" in lines[0] and "done  9/9 entries" in lines[1]
    jobs = [orjson.loads(x) for x in as_json.stdout.splitlines()]
    assert [j["id"] for j in jobs] == ids[::-1] and jobs[0]["written"] == 3
    assert [x.split()[0] for x in theirs.stdout.splitlines()] == [hotel.stdout.split()[0]]
