"""The trainee app (pwa/, served at "/") in real headless Chromium, on an emulated cheap phone
(360×740, touch, zh-CN): signing in with a password or an SMS code, the home screen, and the
voucher's full-screen QR — online, then offline from the service worker and the token the page
kept. Each journey ends on what the server stored or accepts: the decoded QR verifies against
the live JWKS as the voucher's own token, the phone's refresh token is a live one in the
database, the SMS code was consumed.

The live server and the test thread share one SQLite database: every database read here is in
its own app context, which ends (and releases SQLite's lock) before the browser goes on.
"""

from __future__ import annotations

import hashlib
import io
from types import SimpleNamespace

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import expect
from sqlalchemy import select

from server.adapters.signing import verify_with_jwks
from server.extensions import db
from server.models import RefreshToken
from server.models.auth import OneTimeCode
from tests.factories import LEVEL, OCCUPATION, PASSWORD, make_trainee

pytestmark = pytest.mark.browser

HUGUAN = "140427"  # issues eligible applications at once
PHONE = {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 2, "is_mobile": True,
         "has_touch": True, "locale": "zh-CN", "timezone_id": "Asia/Shanghai"}
REFRESH_KEY = "skillvoucher.refresh"
OVERFLOW_JS = "() => [document.scrollingElement.scrollWidth, window.innerWidth]"
# Every CSP violation the page reports, from the first script on (see `phone`).
CSP_LISTENER = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) =>
  window.__csp.push({directive: e.violatedDirective, blocked: e.blockedURI, sample: e.sample}));
"""


@pytest.fixture
def phone(browser):
    """A page in a fresh phone-like context (its own storage and service workers), recording
    console errors and CSP violations."""
    context = browser.new_context(**PHONE)
    context.set_default_timeout(10_000)
    context.add_init_script(CSP_LISTENER)
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
    page.on("pageerror", lambda e: page.console_errors.append(str(e)))
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def trainee(app, live_server, browser):
    """A demo-like Huguan trainee with a password and an issued voucher (applied for through
    the live server's API, outside the phone's context)."""
    with app.app_context():
        profile = make_trainee(region_code=HUGUAN, real_name="李春花")
        found = SimpleNamespace(mobile=profile.user.mobile, user_id=profile.user.id, name="李春花")
    request = browser.new_context().request
    api = live_server + "/api/v1"
    signed_in = request.post(f"{api}/auth/login", data={"mobile": found.mobile, "password": PASSWORD})
    assert signed_in.status == 200, signed_in.text()
    headers = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}
    applied = request.post(f"{api}/vouchers", headers=headers,
                           data={"occupation_code": OCCUPATION, "level": LEVEL, "programme": "puhui"})
    assert applied.status == 201, applied.text()
    found.voucher = applied.json()
    assert found.voucher["state"] == "issued"
    found.token = request.get(f"{api}/vouchers/{found.voucher['id']}/token", headers=headers).json()
    found.base = live_server
    # Sign this helper out, so the phone's sign-in is the trainee's only live one.
    out = request.post(f"{api}/auth/logout", headers=headers,
                       data={"refresh_token": signed_in.json()["refresh_token"]})
    assert out.status == 204, out.text()
    request.dispose()
    return found


# --- helpers ------------------------------------------------------------------------------------

def open_app(page, base: str, *, controlled: bool = False) -> None:
    """Open the app and wait until its service worker is installed and active (the shell is
    precached). The first page stays uncontrolled (no clients.claim); `controlled` reloads once so
    that the worker serves the page."""
    response = page.goto(base + "/")
    assert response is not None and response.ok
    page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
    if controlled:
        page.reload()
        page.wait_for_function("() => navigator.serviceWorker.controller !== null")


def sign_in_with_password(page, t) -> None:
    open_app(page, t.base)
    expect(page.locator("#login-form")).to_be_visible()
    page.locator("#mobile").fill(t.mobile)
    page.locator("#password").fill(PASSWORD)
    page.locator("#login-submit").tap()
    expect(page.locator(".home")).to_have_attribute("data-loaded", "true")


def voucher_card(page, t):
    return page.locator(f'li.voucher[data-voucher-id="{t.voucher["id"]}"]')


def open_voucher(page, t) -> None:
    voucher_card(page, t).locator("button.show-voucher").tap()
    expect(page.locator(".voucher-full")).to_have_attribute("data-state", "shown")


def decoded_qr(page) -> list[str]:
    shot = page.locator("#voucher-qr").screenshot()
    codes = zxingcpp.read_barcodes(Image.open(io.BytesIO(shot)), formats=zxingcpp.BarcodeFormat.QRCode)
    return [code.text for code in codes]


def accepted_voucher_id(page, base: str, token: str) -> int:
    """The server's word on a scanned token: verified against the live JWKS as a voucher token."""
    jwks = page.request.get(base + "/.well-known/jwks.json").json()
    return verify_with_jwks(token, jwks, "voucher")["v"]


def refresh_rows(app, user_id: int) -> list[RefreshToken]:
    with app.app_context():
        rows = list(db.session.scalars(select(RefreshToken).where(RefreshToken.user_id == user_id)))
        db.session.expunge_all()
        return rows


def no_overflow(page) -> None:
    scroll_width, inner_width = page.evaluate(OVERFLOW_JS)
    assert scroll_width <= inner_width, (page.url, scroll_width, inner_width)


# --- 1. password sign-in, the voucher, its QR ----------------------------------------------------

def test_password_sign_in_shows_the_voucher_whose_qr_the_server_accepts(phone, trainee, app):
    sign_in_with_password(phone, trainee)
    card = voucher_card(phone, trainee)
    expect(card).to_contain_text("已发券")
    expect(card).to_contain_text(trainee.voucher["serial"])
    expect(card).to_contain_text("养老护理员")
    expect(phone.locator("#sessions")).to_contain_text("今天没有课")
    expect(phone.locator("#certificates")).to_contain_text("还没有证书")
    no_overflow(phone)
    tap = card.locator("button.show-voucher").bounding_box()
    assert tap["height"] >= 48 and tap["width"] >= 200, tap

    open_voucher(phone, trainee)
    box = phone.locator("#voucher-qr").bounding_box()
    assert box["width"] >= 280 and abs(box["width"] - box["height"]) <= 2, box  # most of the screen
    no_overflow(phone)
    assert decoded_qr(phone) == [trainee.token["token"]]
    assert accepted_voucher_id(phone, trainee.base, trainee.token["token"]) == trainee.voucher["id"]

    # The refresh token the phone keeps is this sign-in's, live in the database; the access
    # token is in memory only, in no storage.
    stored = phone.evaluate("(key) => localStorage.getItem(key)", REFRESH_KEY)
    assert stored
    rows = refresh_rows(app, trainee.user_id)
    live = [r for r in rows if r.used_at is None and r.revoked_at is None]
    assert [r.token_hash for r in live] == [hashlib.sha256(stored.encode()).hexdigest()]
    storage = phone.evaluate("() => JSON.stringify({...localStorage, ...sessionStorage})")
    assert "eyJ" not in storage.replace(trainee.token["token"], "")  # no JWT but the voucher's own
    assert phone.console_errors == []


# --- 2. offline: the shell from the service worker, the QR from the kept token --------------------

def test_offline_the_shell_loads_and_the_voucher_qr_still_shows(phone, trainee, app):
    sign_in_with_password(phone, trainee)
    open_voucher(phone, trainee)
    online_qr = decoded_qr(phone)
    assert online_qr == [trainee.token["token"]]

    phone.context.set_offline(True)
    assert phone.evaluate("() => fetch('/api/v1/vouchers').then(() => 'up', () => 'down')") == "down"
    response = phone.reload()
    assert response is not None and response.from_service_worker
    expect(phone.locator(".voucher-full")).to_have_attribute("data-state", "shown")
    expect(phone.locator(".voucher-full")).to_contain_text("保存在本机")
    expect(phone.locator(".voucher-full")).to_contain_text(trainee.voucher["serial"])
    assert decoded_qr(phone) == online_qr

    # Home offline: the last list seen, said to be so; the voucher opens from the phone again.
    phone.locator("button.back").tap()
    expect(phone.locator(".home")).to_have_attribute("data-loaded", "true")
    expect(voucher_card(phone, trainee)).to_contain_text("已发券")
    expect(phone.locator("#vouchers")).to_contain_text("网络不可用")
    phone.goto(trainee.base + "/#/home")  # a cold start of the installed app, still offline
    expect(voucher_card(phone, trainee)).to_be_visible()
    open_voucher(phone, trainee)
    assert decoded_qr(phone) == online_qr

    phone.context.set_offline(False)
    assert accepted_voucher_id(phone, trainee.base, online_qr[0]) == trainee.voucher["id"]
    # Offline, nothing reached the server: the one sign-in's refresh token is still unused.
    rows = refresh_rows(app, trainee.user_id)
    assert len([r for r in rows if r.used_at is None and r.revoked_at is None]) == 1


# --- 3. SMS-code sign-in -----------------------------------------------------------------------

def test_sign_in_with_an_sms_code(phone, trainee, sms_outbox, app):
    open_app(phone, trainee.base)
    phone.locator("#tab-sms").tap()
    expect(phone.locator("#password")).to_be_hidden()
    phone.locator("#mobile").fill(trainee.mobile)
    phone.locator("#send-code").tap()
    expect(phone.locator(".login .status")).to_contain_text("验证码已发送")
    expect(phone.locator("#send-code")).to_be_disabled()  # one code a minute
    assert [mobile for mobile, _ in sms_outbox] == [trainee.mobile]
    code = sms_outbox[-1][1]

    phone.locator("#sms-code").fill("000000" if code != "000000" else "111111")
    phone.locator("#login-submit").tap()
    expect(phone.locator(".login .status")).to_contain_text("验证码不正确")
    phone.locator("#sms-code").fill(code)
    phone.locator("#login-submit").tap()
    expect(phone.locator(".home")).to_have_attribute("data-loaded", "true")
    expect(voucher_card(phone, trainee)).to_contain_text("已发券")

    with app.app_context():
        otp = db.session.scalars(select(OneTimeCode).where(OneTimeCode.mobile == trainee.mobile)).one()
        assert otp.used_at is not None
        db.session.rollback()
    stored = phone.evaluate("(key) => localStorage.getItem(key)", REFRESH_KEY)
    hashes = {r.token_hash for r in refresh_rows(app, trainee.user_id)}
    assert hashlib.sha256(stored.encode()).hexdigest() in hashes


def test_a_wrong_password_is_refused_in_chinese_and_nothing_is_kept(phone, trainee):
    open_app(phone, trainee.base)
    phone.locator("#mobile").fill(trainee.mobile)
    phone.locator("#password").fill("not-the-password")
    phone.locator("#login-submit").tap()
    expect(phone.locator(".login .status")).to_contain_text("手机号或密码不正确")
    assert phone.evaluate("(key) => localStorage.getItem(key)", REFRESH_KEY) is None


def test_signing_out_revokes_the_refresh_token_and_forgets_the_voucher(phone, trainee, app):
    sign_in_with_password(phone, trainee)
    open_voucher(phone, trainee)
    phone.locator("button.back").tap()
    phone.locator("#logout").tap()
    expect(phone.locator("#login-form")).to_be_visible()
    left = phone.evaluate("() => Object.keys(localStorage).filter((k) => k !== 'skillvoucher.jwks')")
    assert left == []
    rows = refresh_rows(app, trainee.user_id)
    assert [r for r in rows if r.used_at is None and r.revoked_at is None] == []


def test_a_reload_online_refreshes_the_sign_in_once(phone, trainee, app):
    sign_in_with_password(phone, trainee)
    before = phone.evaluate("(key) => localStorage.getItem(key)", REFRESH_KEY)
    phone.reload()
    expect(phone.locator(".home")).to_have_attribute("data-loaded", "true")
    expect(voucher_card(phone, trainee)).to_contain_text("已发券")
    after = phone.evaluate("(key) => localStorage.getItem(key)", REFRESH_KEY)
    assert after and after != before  # rotated: three parallel requests, one refresh
    by_hash = {r.token_hash: r for r in refresh_rows(app, trainee.user_id)}
    assert by_hash[hashlib.sha256(before.encode()).hexdigest()].used_at is not None
    new = by_hash[hashlib.sha256(after.encode()).hexdigest()]
    assert new.used_at is None and new.revoked_at is None


CACHED_URLS_JS = """async () => {
  const urls = [];
  for (const name of await caches.keys()) {
    for (const request of await (await caches.open(name)).keys()) urls.push(new URL(request.url).pathname);
  }
  return urls;
}"""
TAMPER_JS = """(id) => {
  const key = `skillvoucher.voucher-token.${id}`;
  const kept = JSON.parse(localStorage.getItem(key));
  const [h, p, s] = kept.token.split(".");
  kept.token = [h, p, (s[0] === "A" ? "B" : "A") + s.slice(1)].join(".");
  localStorage.setItem(key, JSON.stringify(kept));
}"""


def test_the_service_worker_caches_the_shell_and_never_the_api(phone, trainee):
    sign_in_with_password(phone, trainee)
    open_voucher(phone, trainee)
    cached = phone.evaluate(CACHED_URLS_JS)
    assert "/" in cached and "/pwa/js/app.js" in cached
    assert [url for url in cached if url.startswith("/api/") or "jwks" in url] == []


def test_offline_a_tampered_kept_token_is_not_shown(phone, trainee):
    """The kept token is checked against the cached keys (voucher-verify.js) before it is drawn."""
    sign_in_with_password(phone, trainee)
    open_voucher(phone, trainee)
    phone.evaluate(TAMPER_JS, trainee.voucher["id"])
    phone.context.set_offline(True)
    phone.reload()
    screen = phone.locator(".voucher-full")
    expect(screen).to_have_attribute("data-state", "invalid")
    expect(screen).to_contain_text("二维码校验未通过")
    assert phone.evaluate("() => document.getElementById('voucher-qr').width") == 300  # never drawn


def test_offline_an_expired_kept_token_is_dropped(phone, trainee):
    sign_in_with_password(phone, trainee)
    open_voucher(phone, trainee)
    phone.evaluate("""(id) => {
      const key = `skillvoucher.voucher-token.${id}`;
      const kept = JSON.parse(localStorage.getItem(key));
      kept.expiresAt = new Date(Date.now() - 1000).toISOString();
      localStorage.setItem(key, JSON.stringify(kept));
    }""", trainee.voucher["id"])
    phone.context.set_offline(True)
    phone.reload()
    screen = phone.locator(".voucher-full")
    expect(screen).to_have_attribute("data-state", "error")
    expect(screen).to_contain_text("网络不可用")
    assert phone.evaluate("(id) => localStorage.getItem(`skillvoucher.voucher-token.${id}`)",
                          trainee.voucher["id"]) is None
