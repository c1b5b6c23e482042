"""No request the page makes carries a token in its URL: sign-in,
search, a download, an export file and the live tail, watched in a real Chromium."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, Request, expect

from tests.client.harness import TOKENS, LiveApi
from tests.gui.conftest import sign_in
from tests.gui.test_page import seed

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_no_request_carries_a_token_in_its_url(page: Page, api: LiveApi) -> None:
    urls: list[str] = []
    authorized: list[str] = []

    def seen(request: Request) -> None:
        urls.append(request.url)
        if request.headers.get("authorization"):
            authorized.append(request.url)

    page.on("request", seen)
    api.wait_live()
    seed(api)
    sign_in(page, api, view="history")
    page.select_option("#history-namespace", "pay")
    page.select_option("#history-level", "error")
    expect(page.locator("#history-total")).to_contain_text("3 matching entries")
    page.select_option("#dl-format", "csv")
    with page.expect_download() as info:
        page.click("#dl-button")
    urls.append(info.value.url)  # a download may bypass the page's request events
    body = Path(info.value.path()).read_text().splitlines()
    assert body[0].startswith("ts,namespace,app") and len(body) == 4
    page.click("#export-button")
    link = page.locator("#exports a", has_text="Download file")
    expect(link).to_be_visible()
    with page.expect_download() as exported:
        link.click()
    urls.append(exported.value.url)
    assert Path(exported.value.path()).read_bytes()[:2] == b"\x1f\x8b"  # gzip
    page.click("#tab-tail")
    page.fill("#tail-backfill", "5")
    page.click("#tail-toggle")
    expect(page.locator("#tail-status")).to_have_text("live")

    token = TOKENS["admin"]
    assert urls, "no requests seen"
    leaks = [u for u in urls if token in u or "access_token" in u]
    assert not leaks, leaks
    # The file links went by ticket; the API calls and the tail by header.
    files = [u for u in urls if "/download?" in u or u.split("?")[0].endswith("/file")]
    assert len({u for u in files}) == 2 and all("ticket=" in u for u in files), files
    assert any("/api/v1/tail" in u for u in authorized)
    assert any("/api/v1/search" in u for u in authorized)
