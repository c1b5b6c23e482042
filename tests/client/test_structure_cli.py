"""``logpipe logs --field/--trace`` and ``logpipe stats patterns`` against the real API:
structured lines printed as message + key=value, raw with -o raw (issue 14)."""

from __future__ import annotations

import time

import orjson
import pytest

from tests.client.cli import env, run
from tests.client.harness import LiveApi, record

pytestmark = pytest.mark.integration
RID = "f64e4cbc89ffb287"
CART = orjson.dumps({"event": "coupon rejected", "level": "info", "user": "bo",
                     "sku": "SKU-7788", "note": "two words", "request_id": RID}).decode()


def seed(api: LiveApi) -> None:
    now = time.time_ns()
    s = 1_000_000_000
    api.index([
        record("pay", "mail", "info", f'level=info msg="receipt sent" request_id={RID}',
               ts_ns=now - 30 * s),
        record("pay", "cart", "info", CART, ts_ns=now - 50 * s),
        record("pay", "payments", "info", orjson.dumps(
            {"msg": "charge ok", "x-request-id": RID}).decode(), ts_ns=now - 40 * s),
        record("pay", "cart", "info", orjson.dumps(
            {"event": "coupon rejected", "user": "al"}).decode(), ts_ns=now - 20 * s),
        record("hotel", "booking", "info", orjson.dumps(
            {"msg": "guest in", "user": "bo", "request_id": RID}).decode(), ts_ns=now - 45 * s),
        *(record("pay", "cart", "warn", f"slow query {i} took {i * 3}ms", ts_ns=now - (10 - i) * s)
          for i in range(5)),
    ])


def test_field_filter_text_and_raw(api: LiveApi) -> None:
    seed(api)
    raw = run("logs", ["--field", "user=bo", "-o", "raw"], env(api, "pay"))
    assert raw.exit_code == 0, raw.stderr
    assert raw.stdout.splitlines() == [CART]  # as written; hotel's bo is not this token's
    text = run("logs", ["--field", "user=bo", "--no-prefix"], env(api, "pay"))
    assert text.stdout == (f'INFO  coupon rejected user=bo sku=SKU-7788 note="two words" '
                           f"request_id={RID}\n")
    two = run("logs", ["--field", "user=bo", "--field", "user=al", "-o", "json"],
              env(api, "pay"))
    assert [orjson.loads(x)["fields"]["user"] for x in two.stdout.splitlines()] == ["bo", "al"]
    dl = run("download", ["--field", "user=bo", "-F", "text", "-o", "-"], env(api, "pay"))
    assert dl.exit_code == 0 and dl.stdout == CART + "\n"  # downloads hold the raw line
    bad = run("logs", ["--field", "user"], env(api, "pay"))
    assert bad.exit_code == 1 and "name=value" in bad.stderr


def test_trace_lists_every_app_of_the_token_in_time_order(api: LiveApi) -> None:
    seed(api)
    pay = run("logs", ["--trace", RID, "-o", "json"], env(api, "pay"))
    assert pay.exit_code == 0, pay.stderr
    assert [orjson.loads(x)["app"] for x in pay.stdout.splitlines()] == [
        "cart", "payments", "mail"]
    admin = run("logs", ["--trace", RID, "-o", "json"], env(api))
    assert [orjson.loads(x)["app"] for x in admin.stdout.splitlines()] == [
        "cart", "booking", "payments", "mail"]


def test_stats_patterns(api: LiveApi) -> None:
    seed(api)
    res = run("stats", ["patterns", "--since", "1h", "-o", "json"], env(api, "pay"))
    assert res.exit_code == 0, res.stderr
    body = orjson.loads(res.stdout)
    assert body["total"] == 9 == sum(p["count"] for p in body["patterns"])
    top = body["patterns"][0]
    assert (top["pattern"], top["count"], top["level"]) == ("slow query <*> took <*>", 5, "warn")
    assert top["new"] is True
    assert "guest in" not in res.stdout
    table = run("stats", ["patterns", "--since", "1h", "--top", "1", "-a", "cart"],
                {**env(api, "pay"), "COLUMNS": "200"})
    assert table.exit_code == 0, table.stderr
    assert "slow query <*> took <*>" in table.stdout and "NEW" in table.stdout
    assert "(1 more)" in table.stdout  # cart's other pattern: coupon rejected
    levels = run("stats", ["levels", "--since", "1h", "--field", "user=bo", "-o", "json"],
                 env(api, "pay"))
    assert orjson.loads(levels.stdout)["total"] == 1
