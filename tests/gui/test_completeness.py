"""The Overview's Completeness panel in a real headless Chromium against the real API
and Elasticsearch, with ledger entries and records indexed directly
(tests/client/audit_seed.py): the verdict, the per-node table and the gap rows."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.client.audit_seed import seed_complete, seed_incomplete
from tests.client.harness import LiveApi
from tests.gui.conftest import shot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_complete_when_everything_arrived(page: Page, api: LiveApi) -> None:
    seed_complete(api)
    sign_in(page, api, view="overview")
    verdict = page.locator("#audit-verdict")
    expect(verdict).to_have_text(
        "Complete: all 14 entries the collectors read are in Elasticsearch.")
    expect(verdict).to_have_class("ok")
    expect(page.locator("#chart-audit p.muted")).to_have_text(
        "14 acknowledged by Kafka \u00b7 14 indexed \u00b7 forwarder lag 0 records")
    expect(page.locator("#audit-nodes tbody tr td")).to_have_text(
        ["node-1", "2", "14", "14", "0", "0", "0"])
    expect(page.locator("#audit-gaps")).to_have_count(0)
    page.locator("#chart-audit").scroll_into_view_if_needed()
    shot(page, "overview-complete")
    # the audit is per node, namespace, app and range only: the panel drops the level and
    # the words (the API refuses them) and still answers, while the charts narrow
    page.select_option("#overview-level", "error")
    page.fill("#overview-q", "nothing-matches-this")
    page.press("#overview-q", "Enter")
    expect(page.locator("#overview-status")).to_have_text("0 entries")
    expect(verdict).to_have_text(
        "Complete: all 14 entries the collectors read are in Elasticsearch.")
    expect(page.locator("#chart-audit .error")).to_have_count(0)


def test_not_complete_with_the_gap_row(page: Page, api: LiveApi) -> None:
    seed_incomplete(api)
    sign_in(page, api, view="overview")
    verdict = page.locator("#audit-verdict")
    expect(verdict).to_have_text(
        "Not complete: 2 missing, 0 in flight, 0 dead-lettered, 2,048 bytes never read.")
    expect(verdict).to_have_class("error")
    expect(page.locator("#audit-nodes tbody tr td")).to_have_text(
        ["node-1", "3", "19", "17", "0", "2", "2,048"])
    expect(page.locator("#audit-gaps thead th")).to_have_text(
        ["kind", "cause", "count", "bytes", "example"])
    expect(page.locator("#audit-gaps tbody tr td")).to_have_text(
        ["gap", "given_up", "1", "2,048", "rotate_wait_s deadline"])
    page.locator("#chart-audit").scroll_into_view_if_needed()
    shot(page, "overview-not-complete")
    # the namespace picker scopes the panel: hotel's entries are all there, its gap is not
    page.select_option("#overview-namespace", "hotel")
    expect(verdict).to_have_text(
        "Not complete: 0 missing, 0 in flight, 0 dead-lettered, 2,048 bytes never read.")
    expect(page.locator("#audit-nodes tbody tr td")).to_have_text(
        ["node-1", "1", "4", "4", "0", "0", "2,048"])
    # pay misses 2 entries of pay/ledger and has no gap
    page.select_option("#overview-namespace", "pay")
    expect(verdict).to_have_text(
        "Not complete: 2 missing, 0 in flight, 0 dead-lettered, 0 bytes never read.")
    expect(page.locator("#audit-gaps")).to_have_count(0)


def test_a_namespace_token_sees_its_own_completeness(page: Page, api: LiveApi) -> None:
    seed_incomplete(api)
    sign_in(page, api, who="hotel", view="overview")
    expect(page.locator("#audit-verdict")).to_have_text(
        "Not complete: 0 missing, 0 in flight, 0 dead-lettered, 2,048 bytes never read.")
    expect(page.locator("#audit-nodes tbody tr td")).to_have_text(
        ["node-1", "1", "4", "4", "0", "0", "2,048"])
    expect(page.locator("#audit-gaps tbody tr td")).to_have_text(
        ["gap", "given_up", "1", "2,048", "rotate_wait_s deadline"])
