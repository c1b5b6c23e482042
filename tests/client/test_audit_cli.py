"""``logpipe audit`` as a real subprocess against a real Log API on the real
Elasticsearch, with the collectors' ledger entries and the records indexed directly
(as tests/log_api/test_audit.py does): the verdict line, exit code 3 when not complete,
the gap causes and streams in the tables, ``-o json``, and a namespace token's scope."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import orjson
import pytest

from tests.client.audit_seed import path_of, seed_complete, seed_incomplete
from tests.client.cli import LOGPIPE, ROOT, env
from tests.client.harness import LiveApi

pytestmark = pytest.mark.integration


def audit(api: LiveApi, args: list[str], who: str = "admin",
          tmp: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The real ``logpipe audit`` command, its output piped (not a terminal)."""
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith("LOGPIPE_") and k != "COLUMNS"}
    environ.update(env(api, who, tmp))
    return subprocess.run([LOGPIPE, "audit", *args], capture_output=True, text=True,
                          env=environ, cwd=ROOT, timeout=60)


VERDICT = re.compile(
    r"^(?P<since>\S+Z) \.\. (?P<until>\S+Z): (?P<verdict>complete|NOT complete) - "
    r"(?P<acked>[\d,]+) acknowledged by Kafka, (?P<indexed>[\d,]+) in Elasticsearch, "
    r"(?P<dead_lettered>[\d,]+) dead-lettered, (?P<in_flight>[\d,]+) in flight "
    r"\(forwarder lag (?P<lag>[\d,]+|unknown)\), (?P<missing>[\d,]+) missing, "
    r"(?P<gap_bytes>[\d,]+) bytes never read$")


def verdict(stdout: str) -> dict[str, str]:
    """The verdict line (the first) as its parts; it must be one line even when piped."""
    match = VERDICT.match(stdout.splitlines()[0])
    assert match, stdout
    return match.groupdict()


def table_rows(stdout: str, title: str) -> list[list[str]]:
    """The body rows of one rich table (after ``title``) as lists of cell texts."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == title)
    rows: list[list[str]] = []
    body = False
    for line in lines[start + 1:]:
        if line.startswith("\u2521"):  # the heavy rule under the header
            body = True
        elif line.startswith("\u2514"):  # the bottom edge
            return rows
        elif body and line.startswith("\u2502"):
            rows.append([cell.strip() for cell in line.strip("\u2502").split("\u2502")])
    raise AssertionError(f"table {title!r} not closed:\n{stdout}")


def test_complete_exits_0_with_a_complete_verdict(api: LiveApi) -> None:
    seed_complete(api)
    res = audit(api, ["--since", "1h"])
    assert res.returncode == 0, res.stderr
    line = verdict(res.stdout)
    assert {k: v for k, v in line.items() if k not in ("since", "until")} == {
        "verdict": "complete", "acked": "14", "indexed": "14", "dead_lettered": "0",
        "in_flight": "0", "lag": "0", "missing": "0", "gap_bytes": "0"}
    assert table_rows(res.stdout, "Per node") == [["node-1", "2", "14", "14", "0", "0", "0"]]
    # nothing differs: no gap table, no stream table unless --all
    assert "Gaps by cause" not in res.stdout and "Streams" not in res.stdout
    every = audit(api, ["--since", "1h", "--all"])
    assert every.returncode == 0, every.stderr
    assert table_rows(every.stdout, "Streams") == [
        ["node-1", "hotel", "booking", path_of("hotel", "booking"), "4", "4", "0", "0", ""],
        ["node-1", "pay", "checkout", path_of("pay", "checkout"), "10", "10", "0", "0", ""]]


def test_a_gap_and_a_missing_entry_exit_3_and_name_the_cause_and_the_stream(
        api: LiveApi) -> None:
    seed_incomplete(api)
    res = audit(api, ["--since", "1h"])
    assert res.returncode == 3, res.stderr
    line = verdict(res.stdout)
    assert {k: v for k, v in line.items() if k not in ("since", "until")} == {
        "verdict": "NOT complete", "acked": "19", "indexed": "17", "dead_lettered": "0",
        "in_flight": "0", "lag": "0", "missing": "2", "gap_bytes": "2,048"}
    assert table_rows(res.stdout, "Per node") == [["node-1", "3", "19", "17", "0", "2", "2,048"]]
    assert table_rows(res.stdout, "Gaps by cause") == [
        ["gap", "given_up", "1", "2,048", "rotate_wait_s deadline"]]
    # only the streams that differ: hotel/booking (the gap) and pay/ledger (2 missing)
    assert table_rows(res.stdout, "Streams with a difference") == [
        ["node-1", "hotel", "booking", path_of("hotel", "booking"), "4", "4", "0", "0",
         "given_up 2,048 B x1"],
        ["node-1", "pay", "ledger", path_of("pay", "ledger"), "5", "3", "0", "2", ""]]


def test_json_output_parses_and_has_the_same_numbers(api: LiveApi) -> None:
    seed_incomplete(api)
    table = audit(api, ["--since", "1h"])
    res = audit(api, ["--since", "1h", "-o", "json"])
    assert res.returncode == 3, res.stderr
    body = orjson.loads(res.stdout)
    line = verdict(table.stdout)
    for name in ("acked", "indexed", "dead_lettered", "in_flight", "missing", "gap_bytes"):
        assert body[name] == int(line[name].replace(",", "")), name
    assert (body["complete"], body["forwarder_lag"]) == (False, 0)
    assert (body["acked"], body["indexed"], body["missing"], body["gap_bytes"]) == (
        19, 17, 2, 2048)
    assert body["gaps"] == [{"cause": "given_up", "kind": "gap", "count": 1, "bytes": 2048,
                             "detail": "rotate_wait_s deadline"}]
    assert [(n["node"], n["streams"], n["acked"], n["indexed"], n["unaccounted"],
             n["gap_bytes"]) for n in body["nodes"]] == [("node-1", 3, 19, 17, 2, 2048)]
    files = {f["file"]: (f["acked"], f["indexed"], f["unaccounted"], f["from_offset"],
                         f["to_offset"]) for s in body["streams"] for f in s["files"]}
    assert files == {"fileA": (10, 10, 0, 0, 1000), "fileB": (5, 3, 2, 0, 500),
                     "fileC": (4, 4, 0, 0, 400)}
    assert [(s["namespace"], s["app"], s["path"]) for s in body["streams"]] == [
        ("hotel", "booking", path_of("hotel", "booking")),
        ("pay", "checkout", path_of("pay", "checkout")),
        ("pay", "ledger", path_of("pay", "ledger"))]


def test_a_namespace_token_sees_only_its_namespace(api: LiveApi) -> None:
    seed_incomplete(api)
    pay = audit(api, ["--since", "1h", "-o", "json"], who="pay")
    assert pay.returncode == 3, pay.stderr  # pay/ledger misses 2
    body = orjson.loads(pay.stdout)
    assert {s["namespace"] for s in body["streams"]} == {"pay"}
    assert (body["acked"], body["indexed"], body["missing"], body["gap_bytes"], body["gaps"]) \
        == (15, 13, 2, 0, [])
    hotel = audit(api, ["--since", "1h"], who="hotel")
    # hotel's own entries are all indexed, but its gap makes it not complete
    assert hotel.returncode == 3, hotel.stderr
    assert verdict(hotel.stdout)["acked"] == "4" and verdict(hotel.stdout)["gap_bytes"] == "2,048"
    assert table_rows(hotel.stdout, "Streams with a difference") == [
        ["node-1", "hotel", "booking", path_of("hotel", "booking"), "4", "4", "0", "0",
         "given_up 2,048 B x1"]]
    assert "pay" not in hotel.stdout
    # admin narrowed with -n: the same view as the pay token
    admin_pay = orjson.loads(audit(api, ["--since", "1h", "-n", "pay", "-o", "json"]).stdout)
    assert (admin_pay["acked"], admin_pay["indexed"], admin_pay["missing"]) == (15, 13, 2)
    # asking for another namespace is refused, with one error line and exit 1
    refused = audit(api, ["--since", "1h", "-n", "hotel"], who="pay")
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.startswith("error: "), refused.stderr
    assert "hotel" in refused.stderr
