"""Structured logs on the page, in a real headless Chromium against the real API and
Elasticsearch: JSON/logfmt lines shown as message + field chips, a chip click filters,
a request id opens every app's lines in time order, the Overview's top patterns per app
drill into History, and a namespace token never sees another namespace's structure.

The records are indexed with the forwarder's own document function (``es_source``
derives fields, ids and patterns with ``logpipe.structured``), and the live-tail test
produces raw records to Kafka, where the API's hub derives the same."""

from __future__ import annotations

import json
import re
import time
from urllib.parse import unquote

import pytest
from playwright.sync_api import Locator, Page, expect

from logpipe.record import Record
from logpipe.structured import derive
from tests.client.harness import LiveApi, record
from tests.gui.conftest import shot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.integration]

REQ = "f64e4cbc89ffb287"
HOTEL_REQ = "9d1c0ffee0ddba11"


def jline(**kv: object) -> str:
    return json.dumps(kv)


def seed(api: LiveApi) -> dict[str, list[Record]]:
    """Three pay apps share request REQ (gateway logfmt, checkout and ledger JSON), more
    JSON lines of checkout make one dominant pattern, a plain line, and hotel lines with
    their own secrets and the same request id (a tenant must not be led to them)."""
    now = time.time_ns()

    def at(seconds_ago: int) -> int:
        return now - seconds_ago * 10**9

    request = [
        record("pay", "gateway", "info",
               f'ts=2026-12-02T06:00:00Z level=info msg="request received" path=/cart/pay '
               f"request_id={REQ} user=bo", ts_ns=at(50)),
        record("pay", "checkout", "warn",
               jline(msg="coupon rejected", level="warn", user="bo", sku="SKU-7788",
                     request_id=REQ), ts_ns=at(40)),
        record("pay", "ledger", "error",
               jline(message="payment declined", level="error", reason="card expired",
                     user="bo", request_id=REQ), ts_ns=at(30)),
    ]
    coupons = [record("pay", "checkout", "info",
                      jline(msg="coupon rejected", level="info", user=f"u{k}",
                            sku=f"SKU-{1000 + k}"), ts_ns=at(200 - k))
               for k in range(6)]
    plain = [record("pay", "checkout", "info", "plain text line 42", ts_ns=at(100))]
    hotel = [record("hotel", "booking", "info",
                    jline(msg="room held", guest="hotel-secret-guest", request_id=HOTEL_REQ),
                    ts_ns=at(45)),
             record("hotel", "booking", "info",
                    jline(msg="hotel secret pattern", guest="x", request_id=REQ), ts_ns=at(35))]
    api.index(request + coupons + plain + hotel)
    return {"request": request, "coupons": coupons, "plain": plain, "hotel": hotel}


def row_of(page: Page, text: str) -> Locator:
    return page.locator("#history-rows tr", has_text=text)


def test_a_json_line_shows_chips_and_a_chip_click_filters_to_exactly_its_lines(
        page: Page, api: LiveApi) -> None:
    seed(api)
    sign_in(page, api, view="history")
    page.select_option("#history-namespace", "pay")
    expect(page.locator("#history-total")).to_have_text("10 matching entries, newest first")
    declined = row_of(page, "payment declined")
    expect(declined).to_have_count(1)
    # The message, its fields as chips (not the message key again), the id as a link.
    expect(declined.locator(".msgtext")).to_have_text("payment declined")
    expect(declined.locator(".chip")).to_have_text(
        ["level=error", "reason=card expired", "user=bo"])
    expect(declined.locator(".idlink")).to_have_text([f"request_id={REQ}"])
    # The raw line on a per-line toggle, and a view-wide switch.
    raw = declined.locator(".raw-text")
    expect(raw).to_be_hidden()
    declined.locator(".rawtoggle").click()
    expect(raw).to_be_visible()
    expect(raw).to_contain_text('"message": "payment declined"')
    expect(page.locator("#detail")).to_be_hidden()  # the toggle is not a row click
    declined.locator(".rawtoggle").click()
    expect(raw).to_be_hidden()
    page.check("#history-raw")
    expect(row_of(page, "coupon rejected").first.locator(".raw-text")).to_be_visible()
    expect(row_of(page, "coupon rejected").first.locator(".chip").first).to_be_hidden()
    page.uncheck("#history-raw")
    # A plain line stays plain text.
    expect(row_of(page, "plain text line 42").locator(".chip, .rawtoggle")).to_have_count(0)
    shot(page, "structured-history")

    # A chip click: the filter is in the bar, in the URL, and finds that line and only it.
    row_of(page, "coupon rejected").locator(".chip", has_text="sku=SKU-7788").click()
    expect(page.locator("#history-extra .fchip")).to_have_text(["field.sku=SKU-7788×"])
    expect(page.locator("#history-total")).to_have_text("1 matching entries, newest first")
    expect(page.locator("#history-rows tr")).to_have_count(1)
    expect(row_of(page, "coupon rejected").locator(".chip", has_text="user=bo")).to_have_count(1)
    expect(page.locator("#detail")).to_be_hidden()
    assert "field.sku=SKU-7788" in unquote(page.url)
    # A second chip of another field narrows further (names AND), the same name widens (OR).
    row_of(page, "coupon rejected").locator(".chip", has_text="user=bo").click()
    expect(page.locator("#history-extra .fchip")).to_have_count(2)
    expect(page.locator("#history-total")).to_have_text("1 matching entries, newest first")
    # A reload keeps the filters (the URL's hash), the token stays out of the URL.
    page.reload()
    expect(page.locator("#history-extra .fchip")).to_have_count(2)
    expect(page.locator("#history-total")).to_have_text("1 matching entries, newest first")
    assert "tok-" not in page.url
    # Removing both: back to every pay line; user=bo alone finds bo's three lines.
    page.locator("#history-extra .fchip", has_text="sku").locator("button").click()
    expect(page.locator("#history-total")).to_have_text("3 matching entries, newest first")
    sources = page.locator("#history-rows td.src").all_inner_texts()
    assert sorted(sources) == ["pay/checkout-7d9f8-abcde/checkout",
                               "pay/gateway-7d9f8-abcde/gateway", "pay/ledger-7d9f8-abcde/ledger"]
    page.locator("#history-extra .fchip button").click()
    expect(page.locator("#history-extra .fchip")).to_have_count(0)
    expect(page.locator("#history-total")).to_have_text("10 matching entries, newest first")
    assert "field." not in unquote(page.url)
    # The entry's details list the fields as chips too, and the ids as links.
    row_of(page, "payment declined").locator("td.c-time").click()
    expect(page.locator("#detail")).to_be_visible()
    expect(page.locator("#detail-fields tr[data-key=request_id] .idlink")).to_have_text(REQ)
    page.locator("#detail-fields tr[data-key=fields] .chip", has_text="reason=card expired").click()
    expect(page.locator("#history-extra .fchip")).to_have_text(["field.reason=card expired×"])
    expect(page.locator("#history-total")).to_have_text("1 matching entries, newest first")
    # Typed into the field box: name=value is exact, a bare name means "has the field".
    page.locator("#history-extra .fchip button").click()
    # (A chip is a button: Enter on it filters too, rather than opening the row.)
    expect(page.locator("#history-total")).to_have_text("10 matching entries, newest first")
    row_of(page, "payment declined").locator(".chip", has_text="level=error").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#history-extra .fchip")).to_have_text(["field.level=error×"])
    expect(page.locator("#history-total")).to_have_text("1 matching entries, newest first")
    page.locator("#history-extra .fchip button").click()
    page.fill("#history-field", "sku")
    page.press("#history-field", "Enter")
    expect(page.locator("#history-extra .fchip")).to_have_text(["has sku×"])
    expect(page.locator("#history-total")).to_have_text("7 matching entries, newest first")
    page.fill("#history-field", "user=u3")
    page.press("#history-field", "Enter")
    expect(page.locator("#history-total")).to_have_text("1 matching entries, newest first")
    expect(page.locator("#history-rows .chip", has_text="sku=SKU-1003")).to_have_count(1)


def test_a_request_id_link_shows_every_apps_lines_in_time_order(page: Page, api: LiveApi) -> None:
    data = seed(api)
    sign_in(page, api, view="history")
    page.select_option("#history-app", "checkout")  # the link clears this: every app
    expect(page.locator("#history-total")).to_have_text("8 matching entries, newest first")
    row_of(page, "coupon rejected").locator(".idlink").click()
    expect(page.locator("#history-extra .fchip")).to_have_text([f"trace={REQ}×"])
    expect(page.locator("#history-app")).to_have_value("")
    expect(page.locator("#history-total")).to_have_text("4 matching entries, oldest first")
    # Oldest first: gateway, checkout, hotel's line (admin reads every namespace), ledger.
    sources = [t.split("/")[0] + "/" + t.split("/")[-1]
               for t in page.locator("#history-rows td.src").all_inner_texts()]
    assert sources == ["pay/gateway", "pay/checkout", "hotel/booking", "pay/ledger"]
    times = page.locator("#history-rows td.c-time").evaluate_all(
        "tds => tds.map(td => td.title)")
    assert times == sorted(times)
    expected = [data["request"][0].ts, data["request"][1].ts, data["hotel"][1].ts,
                data["request"][2].ts]
    assert [t[:23] for t in times] == [t[:23] for t in expected]
    assert f"trace={REQ}" in unquote(page.url)
    shot(page, "structured-trace")


def test_a_trace_link_in_the_live_tail_opens_history(page: Page, api: LiveApi) -> None:
    api.wait_live()
    seed(api)
    sign_in(page, api, view="tail")
    page.fill("#tail-backfill", "0")
    page.click("#tail-toggle")
    expect(page.locator("#tail-status")).to_have_text("live")
    # Raw records to Kafka: the API's hub derives the structure, as the forwarder does.
    api.produce([record("pay", "checkout", "info",
                        jline(msg="basket priced", user="live-bo", total=42, request_id=REQ))])
    line = page.locator("#tail-lines .line", has_text="basket priced")
    expect(line.locator(".chip")).to_have_text(["user=live-bo", "total=42"])
    expect(line.locator(".raw-text")).to_be_hidden()
    page.check("#tail-raw")
    expect(line.locator(".raw-text")).to_contain_text('"msg": "basket priced"')
    page.uncheck("#tail-raw")
    # A chip in the tail filters the tail: it starts again with field.user=live-bo.
    line.locator(".chip", has_text="user=live-bo").click()
    expect(page.locator("#tail-extra .fchip")).to_have_text(["field.user=live-bo×"])
    expect(page.locator("#tail-status")).to_have_text("live")
    api.produce([record("pay", "checkout", "info", jline(msg="basket priced", user="al")),
                 record("pay", "checkout", "info", jline(msg="basket emptied", user="live-bo"))])
    expect(page.locator("#tail-lines .line", has_text="basket emptied")).to_have_count(1)
    expect(page.locator("#tail-lines .line .chip", has_text="user=al")).to_have_count(0)
    shot(page, "structured-tail")
    page.locator("#tail-lines .line", has_text="basket priced").locator(".idlink").first.click()
    expect(page.locator("#view-history")).to_be_visible()
    expect(page.locator("#history-extra .fchip")).to_have_text([f"trace={REQ}×"])
    # The four indexed lines of the request (the live one is not indexed: no forwarder).
    expect(page.locator("#history-total")).to_have_text("4 matching entries, oldest first")
    page.click("#tab-tail")
    page.click("#tail-toggle")  # pause: the stream closes before the server stops
    expect(page.locator("#tail-status")).to_contain_text("paused")


def test_the_overview_lists_top_patterns_per_app_and_a_click_filters_history(
        page: Page, api: LiveApi) -> None:
    data = seed(api)
    sign_in(page, api, view="overview")
    page.select_option("#overview-namespace", "pay")
    table = page.locator("#patterns-table")
    # The first table (every namespace, drawn before the choice) lists hotel's booking
    # app too, with checkout's same rows: wait for the pay table before reading it.
    expect(table.locator("tr[data-app=booking]")).to_have_count(0)
    checkout = table.locator("tr[data-app=checkout]")
    # checkout: "coupon rejected" 7 times (6 + the request's), then the plain line.
    expect(checkout).to_have_count(2)
    coupon_id = derive(data["coupons"][0].message).pattern_id
    top = checkout.first
    expect(top).to_have_attribute("data-pattern", coupon_id)
    expect(top.locator("td.ptext")).to_contain_text("coupon rejected")
    expect(top.locator("td.n")).to_have_text("7 · 87.5%")
    expect(top.locator(".lv")).to_have_text("info")  # 6 info, 1 warn
    expect(top.locator("td.t").first).to_have_attribute("title", re.compile(r"^\d{4}-"))
    expect(top.locator(".badge.new")).to_have_count(1)  # nothing in the day before the range
    expect(checkout.nth(1).locator("td.ptext")).to_contain_text("plain text line <*>")
    for app in ("gateway", "ledger"):
        expect(table.locator(f"tr[data-app={app}]")).to_have_count(1)
    expect(table).not_to_contain_text("hotel")
    shot(page, "structured-patterns")
    top.click()
    expect(page.locator("#view-history")).to_be_visible()
    chip = page.locator("#history-extra .fchip")
    expect(chip).to_have_text(["pattern: coupon rejected×"])
    expect(chip).to_have_attribute("data-value", coupon_id)
    assert f"pattern={coupon_id}" in unquote(page.url)
    expect(page.locator("#history-app")).to_have_value("checkout")
    expect(page.locator("#history-total")).to_have_text("7 matching entries, newest first")
    expect(page.locator("#history-rows .msgtext")).to_have_text(["coupon rejected"] * 7)


def test_a_namespace_token_never_sees_another_namespaces_fields_patterns_or_trace_lines(
        page: Page, api: LiveApi) -> None:
    seed(api)
    sign_in(page, api, "pay", view="history")
    expect(page.locator("#history-total")).to_have_text("10 matching entries, newest first")
    row_of(page, "payment declined").locator(".idlink").click()
    # The same request id is on a hotel line: this token's trace is pay's three lines.
    expect(page.locator("#history-total")).to_have_text("3 matching entries, oldest first")
    assert "hotel" not in page.locator("#history-rows").inner_text()
    expect(page.locator("#history-rows td.src")).to_have_text(
        ["pay/gateway-7d9f8-abcde/gateway", "pay/checkout-7d9f8-abcde/checkout",
         "pay/ledger-7d9f8-abcde/ledger"])
    # A hotel field value or request id typed into the URL finds nothing.
    for query in ("field.guest=hotel-secret-guest", f"trace={HOTEL_REQ}"):
        page.goto(f"{api.url}/#history?{query}&since=1h")
        page.reload()
        expect(page.locator("#history-more")).to_have_text(
            "nothing matches these filters in this range")
    # The field box's suggestions come from /fields under the bar's filters: this
    # token's values only.
    page.locator("#history-extra .fchip button").click()
    expect(page.locator("#history-total")).to_have_text("10 matching entries, newest first")
    page.click("#history-field")
    options = page.locator("#history-field-list option")
    expect(options.first).to_be_attached()
    values = options.evaluate_all("os => os.map(o => o.value)")
    assert "user=bo" in values and "reason=card expired" in values
    assert not any("hotel" in v for v in values), values
    page.click("#tab-overview")
    expect(page.locator("#overview-status")).to_have_text("10 entries")
    expect(page.locator("#patterns-table tr[data-app]").first).to_be_visible()
    text = page.locator("#patterns-table").inner_text()
    assert "room held" not in text and "hotel" not in text
    with api.client("pay") as client:  # what the page was given, straight from the API
        fields = client.get("/fields", params={"field": "field.*", "since": "1h"}).json()
        patterns = client.get("/patterns", params={"since": "1h"}).json()
    assert "hotel-secret-guest" not in json.dumps(fields)
    assert "room held" not in json.dumps(patterns) and "hotel" not in json.dumps(patterns)
    content = page.content()
    assert "hotel-secret-guest" not in content and "room held" not in content
    assert "hotel secret" not in content
    shot(page, "structured-tenant-pay")
