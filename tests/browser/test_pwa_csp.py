"""The trainee app runs under its Content-Security-Policy with nothing refused, in real headless
Chromium: every HTML response of the app carries the policy; a whole journey (sign-in, home,
the voucher's QR, sign-out) reports no `securitypolicyviolation` and no console error; and the
policy really is enforced (an injected inline script is refused and reported)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from server import PWA_CSP
from tests.browser.test_pwa_trainee import (  # noqa: F401  (fixtures)
    decoded_qr,
    open_voucher,
    phone,
    sign_in_with_password,
    trainee,
)

pytestmark = pytest.mark.browser

VIOLATIONS_JS = "() => window.__csp"
INJECT_INLINE_JS = """() => {
  const s = document.createElement("script");
  s.textContent = "window.__inline = true";
  document.head.append(s);
  const el = document.createElement("div");
  el.setAttribute("style", "color: red");
  document.body.append(el);
}"""


def test_the_app_runs_a_whole_journey_without_a_csp_violation(phone, trainee):  # noqa: F811
    html = []
    phone.on("response", lambda r: r.request.resource_type == "document" and html.append(r))
    sign_in_with_password(phone, trainee)
    open_voucher(phone, trainee)
    assert decoded_qr(phone) == [trainee.token["token"]]
    phone.reload()  # the shell again, from the service worker this time
    expect(phone.locator(".voucher-full")).to_have_attribute("data-state", "shown")
    phone.locator("button.back").tap()
    phone.locator("#logout").tap()
    expect(phone.locator("#login-form")).to_be_visible()

    assert html, "no document response seen"
    for response in html:
        assert response.headers.get("content-security-policy") == PWA_CSP, response.url
    assert any(r.from_service_worker for r in html)  # the cached shell keeps its policy
    assert phone.evaluate(VIOLATIONS_JS) == []
    assert phone.console_errors == []


def test_the_policy_is_enforced_inline_script_and_style_are_refused(phone, live_server):  # noqa: F811
    phone.goto(live_server + "/")
    expect(phone.locator("#login-form")).to_be_visible()
    phone.evaluate(INJECT_INLINE_JS)
    phone.wait_for_function("() => window.__csp.length >= 2")
    assert phone.evaluate("() => window.__inline") is None
    directives = {v["directive"] for v in phone.evaluate(VIOLATIONS_JS)}
    assert {"script-src-elem", "style-src-attr"} <= directives, directives
