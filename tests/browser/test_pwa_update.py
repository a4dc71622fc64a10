"""The trainee app's service worker update, in real headless Chromium: when the server starts
serving a changed sw.js (a copy of pwa/ with a new VERSION and a marked shell, served through
the app's PWA_DIR setting), the open app shows "有新版本，点击更新"; tapping it activates the new
worker, which deletes the old cache, and the page reloads into the new shell."""

from __future__ import annotations

import re
import shutil

import pytest
from playwright.sync_api import expect

from server import PWA_DIR
from tests.browser.test_pwa_trainee import open_app, phone  # noqa: F401  (the phone fixture)

pytestmark = pytest.mark.browser

VERSION = re.compile(r'^const VERSION = "([^"]+)";$', re.M)
CACHES_JS = "() => caches.keys()"
WORKER_VERSION_JS = """() => new Promise((resolve) => {
  const channel = new MessageChannel();
  channel.port1.onmessage = (e) => resolve(e.data);
  navigator.serviceWorker.controller.postMessage({type: "VERSION"}, [channel.port2]);
})"""


@pytest.fixture
def new_version(app, tmp_path, monkeypatch):
    """Call it to make the server serve a new version of the app; returns that VERSION."""

    def publish() -> str:
        copy = tmp_path / "pwa"
        shutil.copytree(PWA_DIR, copy)
        sw = (copy / "sw.js").read_text(encoding="utf-8")
        old = VERSION.search(sw).group(1)
        new = f"{old}-next"
        (copy / "sw.js").write_text(VERSION.sub(f'const VERSION = "{new}";', sw), encoding="utf-8")
        shell = (copy / "index.html").read_text(encoding="utf-8")
        marked = shell.replace("<head>", f'<head>\n  <meta name="shell-version" content="{new}">')
        (copy / "index.html").write_text(marked, encoding="utf-8")
        monkeypatch.setitem(app.config, "PWA_DIR", copy)
        return new

    return publish


def test_a_new_service_worker_is_offered_and_tapping_the_prompt_loads_it(phone, live_server,  # noqa: F811
                                                                         new_version):
    open_app(phone, live_server, controlled=True)
    old = VERSION.search((PWA_DIR / "sw.js").read_text(encoding="utf-8")).group(1)
    assert phone.evaluate(CACHES_JS) == [f"skillvoucher-shell-{old}"]
    assert phone.evaluate(WORKER_VERSION_JS) == old
    banner = phone.locator("#update")
    expect(banner).to_be_hidden()

    new = new_version()
    phone.reload()  # a navigation makes the browser check /sw.js
    expect(banner).to_be_visible()
    expect(banner).to_have_text("有新版本，点击更新")
    assert banner.bounding_box()["height"] >= 48
    # Until the trainee taps, the old worker and its cache still serve the page.
    assert phone.evaluate(WORKER_VERSION_JS) == old
    assert phone.locator('meta[name="shell-version"]').count() == 0

    with phone.expect_navigation():
        banner.tap()
    expect(phone.locator('meta[name="shell-version"]')).to_have_attribute("content", new)
    phone.wait_for_function("() => navigator.serviceWorker.controller !== null")
    assert phone.evaluate(WORKER_VERSION_JS) == new
    assert phone.evaluate(CACHES_JS) == [f"skillvoucher-shell-{new}"]  # the old one deleted
    expect(banner).to_be_hidden()
    expect(phone.locator("#login-form")).to_be_visible()
