"""Browser tests: the Flask app on a real HTTP server, driven by headless Chromium (Playwright).

Chromium is Debian's package (/usr/bin/chromium, installed by `make browser`); Playwright's own
browser download is never used. A missing browser fails the tests: it is never a skip.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="session")
def live_server(app):
    """The session app served over HTTP on a free port; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` to install Debian's chromium "
                    "(the browser tests never use `playwright install`)", pytrace=False)
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()


@pytest.fixture
def page(browser):
    """A page in a fresh browser context: empty localStorage and HTTP cache, online. Service
    workers are blocked: "/" is the trainee app, whose worker would otherwise answer some of the
    page's requests while the context is set offline (Playwright's offline mode misses them);
    the app's own tests (test_pwa_*) make their contexts themselves."""
    context = browser.new_context(service_workers="block")
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()
