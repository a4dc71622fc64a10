"""The public certificate page, GET /verify/<number>, in real headless Chromium.

A certificate is issued through the API exactly as in the walk (tests/api/test_completion_certificates.py,
whose `world` fixture and helpers are reused): the test client and the live server serve the same
session app and database. The page is then opened as a member of the public does, from the QR's
link `<base>/verify/<number>#<token>`: the server's record (valid or revoked, holder masked) and
the in-page check of the token after '#' (the `#qr-check` verdict, "ok" or the refusal reason).

On SQLite every transaction but a read-only one begins IMMEDIATE (server/__init__.py): while the
test thread's session (the walk's `ctx`, which the test client's requests share) has one open, the
live server cannot answer. So `issued` ends it and closes the session once the certificates are
issued, and everything after that (the revocation too) goes through the live server.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import date
from types import SimpleNamespace

import pytest
from playwright.sync_api import expect

from server.domain.certificates import CertificateKind, new_number
from server.extensions import db
from tests.api import test_completion_certificates as walk

pytestmark = pytest.mark.browser

# The walk's fixture (Huguan, trainees 学员0..2, an evaluation centre), reused as is.
world = walk.world

HOLDER, OCCUPATION, LEVEL, ISSUER = "学**", "养老护理员", "初级", "壶关县职业技能评价中心"
REASON = "评价机构伪造试卷，取消评价结果"
PHONE = {"width": 360, "height": 740}

FIELDS_JS = """() => Object.fromEntries([...document.querySelectorAll("dl dt")].map(
  (dt) => [dt.textContent.trim(), dt.nextElementSibling.textContent.trim()]))"""
OVERFLOW_JS = "() => [document.scrollingElement.scrollWidth, window.innerWidth]"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


@pytest.fixture
def issued(client, world, live_server):
    """Both trainees on the roster pass; the evaluator issues their skill certificates. Trainee 0's
    is `cert`, with its QR link on the live server (`url`) and token; trainee 1's is `other`."""
    w = world
    walk.file_and_approve(client, w)
    rows = walk.passing(w)
    rows[1] = {**rows[1], "theory_score": 80, "practice_score": 75}  # trainee 1 passes too
    recorded = walk.record(client, w, rows)
    assert recorded.status_code == 201, recorded.json
    made = walk.issue(client, w)
    assert made.status_code == 201, made.json
    by_holder = {c["holder"]["id"]: c for c in made.json["items"]}
    cert, other = by_holder[w.trainee_ids[0]], by_holder[w.trainee_ids[1]]
    assert cert["number"] != other["number"]
    local = "http://localhost"
    assert cert["verify_url"].startswith(f"{local}/verify/{cert['number']}#")
    url = live_server + cert["verify_url"][len(local):]
    holder = w.people[0]
    found = SimpleNamespace(cert=cert, other=other, url=url, token=url.split("#", 1)[1], base=live_server,
                            reviewer=dict(w.headers.reviewer), real_name=holder.real_name,
                            id_number=holder.id_number)
    # Release SQLite's write lock (see the module's docstring); from here on the ORM objects of
    # `world` are detached and must not be touched.
    db.session.commit()
    db.session.close()
    return found


def revoke(page, issued) -> None:
    """The bureau's reviewer revokes trainee 0's certificate, through the live server's API."""
    revoked = page.request.post(f"{issued.base}/api/v1/certificates/{issued.cert['id']}/revoke",
                                headers=issued.reviewer, data={"reason": REASON})
    assert revoked.status == 200, revoked.text()
    assert revoked.json()["state"] == "revoked"


def _page_url(base: str, number: str, token: str | None = None) -> str:
    return f"{base}/verify/{number}" + (f"#{token}" if token else "")


def _open(page, url: str, status: int = 200):
    response = page.goto(url)
    assert response is not None and response.status == status, (url, response and response.status)
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    return response


def _fields(page) -> dict[str, str]:
    return page.evaluate(FIELDS_JS)


def _no_horizontal_overflow(page) -> None:
    scroll_width, inner_width = page.evaluate(OVERFLOW_JS)
    assert scroll_width <= inner_width, (page.url, scroll_width, inner_width)


# --- 1. the QR's link to a valid certificate --------------------------------------------------


def test_the_qr_link_shows_a_valid_certificate_and_its_signature_checks(page, issued):
    _open(page, issued.url)
    verdict = page.locator("#verdict")
    expect(verdict).to_have_text("证书有效")
    expect(verdict).to_have_attribute("data-state", "valid")
    expect(page.locator("#qr-check")).to_have_attribute("data-result", "ok")
    expect(page.locator("#qr-check")).to_contain_text("二维码签名有效")
    assert _fields(page) == {
        "证书编号": issued.cert["number"], "证书类别": "职业技能等级证书", "持证人": HOLDER,
        "职业（工种）": OCCUPATION, "等级": LEVEL, "发证机构": ISSUER,
        "发证日期": issued.cert["issued_on"]}
    assert page.get_by_text(HOLDER, exact=True).is_visible()
    assert page.title() == f"证书查验 {issued.cert['number']}"
    # The holder's full name and ID number never reach the public page.
    html = page.content()
    assert issued.real_name not in html and issued.id_number not in html


# --- 2. a token whose claims were altered -----------------------------------------------------


def test_a_token_with_its_level_altered_fails_the_signature_check(page, issued):
    header, payload, signature = issued.token.split(".")
    claims = json.loads(_unb64(payload))
    assert claims["c"] == issued.cert["number"] and claims["l"] == LEVEL
    claims["l"] = "高级"
    altered = f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"
    _open(page, _page_url(issued.base, issued.cert["number"], altered))
    qr = page.locator("#qr-check")
    expect(qr).to_have_attribute("data-result", "bad_signature")
    expect(qr).to_contain_text("二维码签名校验失败")
    # The record shown is the server's, not the altered token's.
    assert _fields(page)["等级"] == LEVEL


# --- 3. a genuine token under another certificate's number ------------------------------------


def test_this_token_under_another_certificate_s_number_is_number_mismatch(page, issued):
    _open(page, _page_url(issued.base, issued.other["number"], issued.token))
    expect(page.locator("#verdict")).to_have_text("证书有效")  # the other certificate is valid
    assert _fields(page)["证书编号"] == issued.other["number"]
    qr = page.locator("#qr-check")
    expect(qr).to_have_attribute("data-result", "number_mismatch")
    expect(qr).to_contain_text("二维码签名校验失败")


# --- 4. revocation shows at once --------------------------------------------------------------


def test_after_revocation_a_reload_shows_the_certificate_void_with_its_reason(page, issued):
    _open(page, issued.url)
    expect(page.locator("#verdict")).to_have_text("证书有效")
    expect(page.locator("#qr-check")).to_have_attribute("data-result", "ok")

    revoke(page, issued)

    response = page.reload()
    assert response is not None and response.status == 200
    assert response.headers["cache-control"] == "no-store"
    assert not response.from_service_worker
    verdict = page.locator("#verdict")
    expect(verdict).to_have_text("证书已作废")
    expect(verdict).to_have_attribute("data-state", "revoked")
    expect(page.locator("#revoked-reason")).to_have_text(REASON)
    fields = _fields(page)
    assert fields["作废原因"] == REASON and re.fullmatch(r"\d{4}-\d{2}-\d{2}", fields["作废日期"])
    assert fields["持证人"] == HOLDER


def test_leaving_and_coming_back_after_revocation_shows_no_stale_page(page, issued):
    """History navigation, not only a reload: the no-store page is fetched again."""
    _open(page, issued.url)
    expect(page.locator("#verdict")).to_have_text("证书有效")
    _open(page, _page_url(issued.base, issued.other["number"]))
    revoke(page, issued)
    page.go_back()
    expect(page.locator("#verdict")).to_have_text("证书已作废")
    expect(page.locator("#revoked-reason")).to_have_text(REASON)


# --- 5. unknown and malformed numbers; the search form ----------------------------------------


def test_an_unknown_number_is_not_found_and_a_malformed_one_is_refused(page, issued):
    unknown = new_number(CertificateKind.SKILL_LEVEL, "140427", date(2026, 3, 1))
    for number, status, text, code in (
            (unknown, 404, "证书不存在", "CERTIFICATE_NOT_FOUND"),
            ("S14042726-NOTANUMBER", 422, "证书编号格式不正确", "INVALID_CERTIFICATE_NUMBER")):
        _open(page, _page_url(issued.base, number, issued.token), status)
        verdict = page.locator("#verdict")
        expect(verdict).to_have_text(text)
        expect(verdict).to_have_attribute("data-code", code)
        body = page.locator("body").inner_text()
        assert "Traceback" not in body and "Internal Server Error" not in body
        assert page.locator("dl").count() == 0 and page.locator("#qr-check").count() == 0
        assert issued.cert["number"] not in page.content()


def test_the_search_form_opens_the_typed_number(page, issued):
    unknown = new_number(CertificateKind.SKILL_LEVEL, "140427", date(2026, 3, 1))
    _open(page, _page_url(issued.base, unknown), 404)
    box = page.get_by_label("证书编号")
    box.fill(f"  {issued.cert['number']}  ")  # pasted with spaces around it
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="查验").click()
    assert navigation.value.status == 200
    assert page.url == _page_url(issued.base, issued.cert["number"])
    expect(page.locator("#verdict")).to_have_text("证书有效")
    assert _fields(page)["持证人"] == HOLDER

    # And from a certificate's page to a number no one holds, by pressing Enter.
    page.get_by_label("证书编号").fill(unknown)
    with page.expect_navigation() as navigation:
        page.get_by_label("证书编号").press("Enter")
    assert navigation.value.status == 404
    assert page.url == _page_url(issued.base, unknown)
    expect(page.locator("#verdict")).to_have_text("证书不存在")


# --- 6. a phone ---------------------------------------------------------------------------------


def test_the_page_fits_a_phone_screen(page, issued):
    page.set_viewport_size(PHONE)
    _open(page, issued.url)
    expect(page.locator("#qr-check")).to_have_attribute("data-result", "ok")
    _no_horizontal_overflow(page)
    for selector in ("#verdict", "dl", "#qr-check", "form"):
        box = page.locator(selector).bounding_box()
        assert box is not None, selector
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (selector, box)

    # A failed QR check, the longest verdict line.
    _open(page, _page_url(issued.base, issued.other["number"], issued.token))
    expect(page.locator("#qr-check")).to_have_attribute("data-result", "number_mismatch")
    _no_horizontal_overflow(page)

    # Revoked, with its reason and date.
    revoke(page, issued)
    _open(page, _page_url(issued.base, issued.cert["number"]))
    expect(page.locator("#verdict")).to_have_text("证书已作废")
    _no_horizontal_overflow(page)

    # The error pages.
    _open(page, _page_url(issued.base, "S14042726-NOTANUMBER"), 422)
    _no_horizontal_overflow(page)
