"""The web page in a real headless Chromium against the real API, Kafka and ES."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from elasticsearch import Elasticsearch
from playwright.sync_api import Page, Route, expect

from tests.client.harness import TOKENS, LiveApi, live_api, record, wait_for
from tests.client.proxy import CuttableProxy
from tests.conftest import free_port, unique
from tests.forwarder.util import forwarder_env, running
from tests.gui.conftest import shot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.integration]

LEVEL_COUNTS = {"info": 9, "warn": 4, "error": 3, "fatal": 1, "debug": 2}


def seed(api: LiveApi) -> None:
    now = time.time_ns()
    recs = []
    i = 0
    for level, n in LEVEL_COUNTS.items():
        for k in range(n):
            i += 1
            app = "checkout" if i % 3 else "ledger"
            recs.append(record("pay", app, level, f"{app} {level} message {k}",
                               ts_ns=now - (120 - i) * 10**9))
    recs += [record("hotel", "booking", "info", f"hotel secret {k}", ts_ns=now - k * 10**9)
             for k in range(5)]
    api.index(recs)


def test_sign_in_refuses_a_bad_token_and_keeps_it_in_the_session(page: Page,
                                                                  api: LiveApi) -> None:
    page.goto(api.url + "/")
    shot(page, "sign-in")
    page.fill("#token", "not-a-token")
    page.click("#signin-form button[type=submit]")
    expect(page.locator("#signin-error")).to_contain_text("not accepted")
    sign_in(page, api)
    stored = page.evaluate("[sessionStorage.getItem('logpipe.token'), "
                           "localStorage.length, document.cookie]")
    assert stored == ["tok-admin-0123456789", 0, ""]


def test_a_produced_record_appears_in_the_live_tail(page: Page, api: LiveApi) -> None:
    api.wait_live()
    seed(api)
    sign_in(page, api, view="tail")
    page.fill("#tail-backfill", "5")
    page.click("#tail-toggle")
    expect(page.locator("#tail-status")).to_have_text("live")
    expect(page.locator("#tail-lines .line")).to_have_count(5)
    api.produce([record("pay", "checkout", "error", "card declined live-7f3a")])
    line = page.locator("#tail-lines .line", has_text="card declined live-7f3a")
    expect(line).to_have_count(1)
    expect(line.locator(".lv")).to_have_class("lv lv-error")
    page.fill("#tail-q", "declined")
    page.press("#tail-q", "Enter")  # filters changed: the tail starts again
    expect(page.locator("#tail-lines .line mark", has_text="declined")).to_have_count(1)
    page.keyboard.press("Escape")
    page.keyboard.press("Space")
    expect(page.locator("#tail-status")).to_contain_text("paused")
    api.produce([record("pay", "checkout", "error", "declined while paused")])
    page.keyboard.press("Space")  # resume: continues after the last event, nothing lost
    expect(page.locator("#tail-lines .line", has_text="declined while paused")).to_have_count(1)
    shot(page, "live-tail")


def test_the_level_chart_shows_the_indexed_counts_and_drills_into_history(
        page: Page, api: LiveApi) -> None:
    seed(api)
    sign_in(page, api, view="overview")
    page.select_option("#overview-namespace", "pay")
    for level, n in LEVEL_COUNTS.items():
        row = page.locator(f"#levels-legend tr[data-level={level}] td.n").first
        expect(row).to_have_text(str(n))
    expect(page.locator("#levels-legend tr[data-level=trace] td.n").first).to_have_text("0")
    expect(page.locator("#levels-legend tr[data-level=info] td.n").nth(1)).to_have_text("47.4%")
    expect(page.locator("#chart-levels circle[data-level]")).to_have_count(5)
    expect(page.locator("#chart-apps rect[data-app=checkout]")).to_have_count(1)
    expect(page.locator("#chart-histogram g[data-start]").first).to_be_visible()
    shot(page, "overview")
    # The click lands on the ring (a ring's box centre is its hole, so dispatch the event).
    page.locator("#chart-levels circle[data-level=error]").dispatch_event("click")
    expect(page.locator("#view-history")).to_be_visible()
    expect(page.locator("#history-total")).to_have_text("3 matching entries, newest first")
    expect(page.locator("#history-rows .lv")).to_have_text(["ERROR"] * 3)
    page.click("#tab-overview")
    page.click("#chart-apps rect[data-app=ledger]")
    expect(page.locator("#history-app")).to_have_value("ledger")
    expect(page.locator("#history-total")).to_have_text("6 matching entries, newest first")
    page.click("#tab-overview")
    page.locator("#chart-histogram g[data-start]").first.dispatch_event("click")
    expect(page.locator("#history-range")).to_have_value("custom")
    expect(page.locator("#history-since")).to_be_visible()
    expect(page.locator("#history-total")).to_contain_text("matching entries")


def wait_held(page: Page, held: list[Route], what: str) -> None:
    """Until one request is held by a route handler (handlers run while Playwright
    waits, not in time.sleep); the test releases it when it chooses."""
    for _ in range(400):
        if held:
            break
        page.wait_for_timeout(50)
    assert len(held) == 1, what


def settle(page: Page) -> None:
    """A few turns of the page's event loop: a late answer is parsed and drawn (or not)."""
    page.evaluate("() => new Promise((r) => setTimeout(() => setTimeout(r, 200), 200))")


def test_an_older_answer_arriving_last_does_not_replace_the_overview_of_a_newer_filter(
        page: Page, api: LiveApi) -> None:
    """The overview of all namespaces is asked first and answered last (held here, as a
    slow Elasticsearch would): the charts keep the answer of the filter now chosen."""
    seed(api)
    held: list[Route] = []

    def levels(route: Route) -> None:
        if "namespace=pay" in route.request.url:
            route.continue_()
        else:
            held.append(route)

    page.route("**/api/v1/stats/levels?*", levels)
    sign_in(page, api, view="overview")
    wait_held(page, held, "the first overview's level request")
    page.select_option("#overview-namespace", "pay")
    info = page.locator("#levels-legend tr[data-level=info] td.n")
    expect(info.nth(0)).to_have_text("9")  # pay only: 9 of 19
    expect(info.nth(1)).to_have_text("47.4%")
    with page.expect_response(lambda r: "/stats/levels" in r.url and "pay" not in r.url):
        held[0].continue_()
    # let the page take the late answer (parse, the other requests' promises) and draw
    settle(page)
    expect(info.nth(0)).to_have_text("9")  # not 14 of 24 (all namespaces)
    expect(info.nth(1)).to_have_text("47.4%")
    expect(page.locator("#overview-status")).to_have_text("19 entries")


def test_an_older_picker_answer_arriving_last_keeps_the_apps_of_the_chosen_namespace(
        page: Page, api: LiveApi) -> None:
    """A range change reloads every picker (held here, as a slow answer); a namespace
    picked meanwhile narrows the app picker, and the late answer does not widen it."""
    seed(api)
    sign_in(page, api, view="overview")
    apps = page.locator("#overview-app option")
    expect(apps).to_have_count(4)  # all apps, booking, checkout, ledger
    held: list[Route] = []

    def fields(route: Route) -> None:
        if "field=namespace" in route.request.url:
            held.append(route)
        else:
            route.continue_()

    page.route("**/api/v1/fields?*", fields)
    page.select_option("#overview-range", "6h")
    wait_held(page, held, "the range change's picker request")
    page.select_option("#overview-namespace", "pay")
    expect(apps).to_have_text(["all apps", "checkout (13)", "ledger (6)"])
    with page.expect_response(lambda r: "/fields" in r.url and "field=namespace" in r.url):
        held[0].continue_()
    settle(page)
    expect(apps).to_have_text(["all apps", "checkout (13)", "ledger (6)"])  # no booking
    expect(page.locator("#overview-namespace")).to_have_value("pay")


def test_a_filter_narrows_the_history_and_a_row_shows_fields_and_context(
        page: Page, api: LiveApi) -> None:
    seed(api)
    sign_in(page, api, view="history")
    expect(page.locator("#history-total")).to_have_text("24 matching entries, newest first")
    page.select_option("#history-app", "ledger")
    expect(page.locator("#history-total")).to_contain_text("6 matching entries")
    page.select_option("#history-level", "min:warn")
    # ledger is every third record: one warn (#12) and one error (#15)
    expect(page.locator("#history-total")).to_contain_text("2 matching entries")
    for text in page.locator("#history-rows td.msg").all_inner_texts():
        assert text.startswith("ledger ") and " info " not in text and " debug " not in text
    page.locator("#history-rows tr").first.click()
    expect(page.locator("#detail")).to_be_visible()
    expect(page.locator("#detail-fields")).to_contain_text("namespace")
    expect(page.locator("#detail-context .line.self")).to_have_count(1)
    shot(page, "history")
    page.keyboard.press("Escape")
    expect(page.locator("#detail")).to_be_hidden()


def test_a_download_starts_and_an_export_finishes(page: Page, api: LiveApi) -> None:
    seed(api)
    sign_in(page, api, view="history")
    page.select_option("#history-namespace", "pay")
    page.select_option("#history-level", "error")
    expect(page.locator("#history-total")).to_contain_text("3 matching entries")
    page.select_option("#dl-format", "csv")
    with page.expect_download() as info:
        page.click("#dl-button")
    download = info.value
    assert download.suggested_filename.endswith(".csv")
    body = Path(download.path()).read_text().splitlines()
    assert body[0].startswith("ts,namespace,app") and len(body) == 4
    page.click("#export-button")
    link = page.locator("#exports a", has_text="Download file")
    expect(link).to_be_visible()
    expect(page.locator("#exports li").first).to_contain_text("3 entries")
    page.reload()  # the token's export jobs are listed by the API after a reload
    expect(page.locator("#exports a", has_text="Download file")).to_be_visible()
    # A job this page never started (another tab, or the CLI) shows up too, on top.
    with api.client("admin") as client:
        other = client.post("/exports", params={"format": "tar.gz", "namespace": "hotel"})
        assert other.status_code == 202, other.text
    page.reload()
    expect(page.locator("#exports li")).to_have_count(2)
    expect(page.locator("#exports li").first).to_contain_text("Export tar.gz")
    expect(page.locator("#exports li").first).to_contain_text("5 entries")
    shot(page, "history-export")


def test_a_namespace_token_never_shows_another_namespace(page: Page, api: LiveApi) -> None:
    api.wait_live()
    seed(api)
    sign_in(page, api, "pay", view="history")
    expect(page.locator("#history-total")).to_have_text("19 matching entries, newest first")
    assert "hotel" not in page.locator("#history-rows").inner_text()
    options = page.locator("#history-namespace option").all_inner_texts()
    assert not any("hotel" in o for o in options) and any("pay" in o for o in options)
    expect(page.locator("#whoami")).to_have_text("namespaces: pay")
    page.click("#tab-overview")
    expect(page.locator("#overview-status")).to_have_text("19 entries")
    page.click("#tab-tail")
    page.click("#tail-toggle")
    expect(page.locator("#tail-status")).to_have_text("live")
    api.produce([record("hotel", "booking", "info", "hotel live secret"),
                 record("pay", "checkout", "info", "pay live visible")])
    expect(page.locator("#tail-lines .line", has_text="pay live visible")).to_have_count(1)
    assert "hotel" not in page.locator("#tail-lines").inner_text()
    assert "secret" not in page.content()
    shot(page, "tenant-pay")


def test_the_live_tail_shows_a_note_when_entries_were_missed(
        page: Page, es: Elasticsearch, es_url: str, kafka_bootstrap: str, topic: str,
        index_prefix: str, tmp_path: Path) -> None:
    # A one-entry queue per client: a burst overflows it however fast the page reads.
    with live_api(es, es_url, kafka_bootstrap, topic, index_prefix, _mkdir(tmp_path / "small"),
                  free_port(), tail_queue_size=1) as small:
        small.wait_live()
        sign_in(page, small, view="tail")
        page.click("#tail-toggle")
        expect(page.locator("#tail-status")).to_have_text("live")
        small.produce(record("pay", "checkout", "info", f"burst {i}") for i in range(300))
        # The server says "missed" once per gap, before the next entry it sends; under
        # load a burst can open several gaps, so several notes, each where its gap is.
        # What they mean together: every entry is either shown or counted as missed.
        notes = page.locator("#tail-lines .note", has_text="entries missed")
        expect(notes.first).to_be_visible()

        def accounted() -> int:
            missed = sum(int(text.split("⚠ ", 1)[1].split(" ", 1)[0])
                         for text in notes.all_inner_texts())
            return missed + page.locator("#tail-lines .line", has_text="burst").count()

        deadline = time.monotonic() + 30
        while accounted() < 300 and time.monotonic() < deadline:
            page.wait_for_timeout(100)
        assert accounted() == 300
        shot(page, "live-tail-missed")
        page.click("#tail-toggle")  # pause: the stream closes before the server stops
        expect(page.locator("#tail-status")).to_contain_text("paused")


def test_the_live_tail_reconnects_and_resumes_without_gaps_or_repeats(
        page: Page, api: LiveApi) -> None:
    api.wait_live()
    proxy = CuttableProxy(int(api.url.rsplit(":", 1)[1]))
    try:
        via = LiveApi(proxy.url, api.settings, api.es, api.topic, api.prefix)
        sign_in(page, via, view="tail")
        page.fill("#tail-backfill", "0")
        page.click("#tail-toggle")
        expect(page.locator("#tail-status")).to_have_text("live")
        api.produce([record("pay", "checkout", "info", "before the drop")])
        expect(page.locator("#tail-lines .line")).to_have_count(1)
        proxy.cut()
        expect(page.locator("#tail-status")).to_contain_text("reconnecting")
        api.produce([record("pay", "checkout", "info", f"during the drop {i}") for i in range(3)])
        proxy.restore()
        expect(page.locator("#tail-lines .line")).to_have_count(4, timeout=30_000)
        api.produce([record("pay", "checkout", "info", "after the drop")])
        expect(page.locator("#tail-lines .line")).to_have_count(5)
        texts = [t.rsplit("] ", 1)[1] for t in page.locator("#tail-lines .line").all_inner_texts()]
        assert texts == ["before the drop", "during the drop 0", "during the drop 1",
                         "during the drop 2", "after the drop"]
        expect(page.locator("#tail-status")).to_have_text("live")
        page.click("#tail-toggle")
    finally:
        proxy.close()


def test_the_live_tail_fetches_a_gap_from_history(
        page: Page, es: Elasticsearch, es_url: str, kafka_bootstrap: str, topic: str,
        index_prefix: str, tmp_path: Path) -> None:
    # The API holds 5 records to bridge the forwarder's lag; 30 are not indexed yet.
    group = unique("fwd")
    with live_api(es, es_url, kafka_bootstrap, topic, index_prefix, _mkdir(tmp_path / "small"),
                  free_port(), handover_window=5, tail_handover_margin_s=0.5,
                  forwarder_group=group) as small:
        small.wait_live()
        lagging = small.produce(record("pay", "checkout", "info", f"lagging {i}",
                                       pod=f"p-{i % 3}") for i in range(30))
        wait_for(lambda: "logpipe_api_live_records_total 30.0" in httpx.get(
            small.url + "/metrics", timeout=5).text, "the API to read every record")
        sign_in(page, small, view="tail")
        page.fill("#tail-backfill", "100")
        page.click("#tail-toggle")
        expect(page.locator("#tail-status")).to_have_text("live")
        expect(page.locator("#tail-lines .note", has_text="not indexed yet")).to_have_count(1)
        expect(page.locator("#tail-lines .line")).to_have_count(5)
        with running(forwarder_env(kafka_bootstrap, es_url, topic, index_prefix, group),
                     tmp_path / "forwarder.log"):
            expect(page.locator("#tail-lines .note.gap", has_text="end of the gap")).to_have_count(
                1, timeout=90_000)
        expect(page.locator("#tail-lines .line")).to_have_count(30)
        texts = [t.rsplit("] ", 1)[1] for t in page.locator("#tail-lines .line").all_inner_texts()]
        assert sorted(texts) == sorted(r.message for r in lagging)
        shot(page, "live-tail-gap")
        page.click("#tail-toggle")  # pause: the stream closes before the server stops
        expect(page.locator("#tail-status")).to_contain_text("paused")


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


def test_follow_link_starts_the_live_tail_after_sign_in(page: Page, api: LiveApi) -> None:
    # The link `make up` prints: a new user sees live logs without finding the Start button.
    api.wait_live()
    page.goto(f"{api.url}/?follow")
    page.fill("#token", TOKENS["admin"])
    page.click("#signin-form button[type=submit]")
    expect(page.locator("#tail-status")).to_have_text("live")
    api.produce([record("pay", "checkout", "info", "followed at once")])
    expect(page.locator("#tail-lines .line", has_text="followed at once")).to_have_count(1)
    page.click("#tail-toggle")  # pause: the stream closes before the server stops
