"""Browser fixtures: Debian's headless Chromium driven by Playwright, against a real
Log API (tests.client.harness) over the real Kafka and Elasticsearch. Screenshots of
each view land in artifacts/screenshots/."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from tests.client.harness import TOKENS, LiveApi, live_api
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ROOT / "artifacts" / "screenshots"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

# One budget for every wait on the page: the page's own default (locators, clicks) and
# expect(), which keeps Playwright's 5 s unless told, whatever the page's default is.
UI_TIMEOUT_MS = 20_000
expect.set_options(timeout=UI_TIMEOUT_MS)


def _chromium() -> Path:
    if not CHROMIUM.exists() and shutil.which("apt-get"):
        subprocess.run(["bash", str(ROOT / "tools" / "install-chromium.sh")], check=False,
                       timeout=900)
    if not CHROMIUM.exists():
        message = "no /usr/bin/chromium; run tools/install-chromium.sh"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


# Package scope, not session: Playwright's sync API keeps an asyncio loop running on the
# main thread while it lives, which breaks every later asyncio test in the same run.
@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    b = playwright.chromium.launch(executable_path=str(_chromium()), args=ARGS)
    yield b
    b.close()


@pytest.fixture
def api(es: Elasticsearch, es_url: str, kafka_bootstrap: str, topic: str, index_prefix: str,
        tmp_path: Path) -> Iterator[LiveApi]:
    with live_api(es, es_url, kafka_bootstrap, topic, index_prefix, tmp_path,
                  free_port()) as running:
        yield running


@pytest.fixture
def page(browser: Browser, api: LiveApi) -> Iterator[Page]:
    """Depends on ``api`` so the browser closes its streams before the server stops."""
    context = browser.new_context(viewport={"width": 1366, "height": 768}, accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(UI_TIMEOUT_MS)
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def sign_in(page: Page, api: LiveApi, who: str = "admin", view: str = "") -> None:
    page.goto(f"{api.url}/" + (f"#{view}" if view else ""))
    page.fill("#token", TOKENS[who])
    page.click("#signin-form button[type=submit]")
    page.wait_for_selector("#tabs:not([hidden])")


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))
