"""The public notice pages, /notice and /notice/<number>, in real headless Chromium on a phone.

The claim is put into notice through the API exactly as in tests/api/test_notice_pages.py (whose
`noticed` fixture is reused), on 2026-09-30, the Wednesday before National Day: its 5 working days
are 09-30, 10-08, 10-09, 10-10 (a Saturday make-up workday) and 10-12. A member of the public opens
the list, follows the link to the claim, reads the masked table and the period, and objects
through the plain HTML form; the test then reads what the server stored.

As in test_certificate_verify_page.py: on SQLite the test thread's open transaction would keep the
live server waiting, so `on_show` commits and closes the session before the browser starts, and
the database is read again only once the browser is done.
"""

from __future__ import annotations

from types import SimpleNamespace
from urllib.parse import parse_qs

import pytest
from PIL import Image
from playwright.sync_api import expect
from sqlalchemy import select

from server.extensions import db
from server.models import Claim, ClaimObjection
from tests.api import test_notice_pages as api

pytestmark = pytest.mark.browser

noticed = api.noticed

PHONE = {"width": 360, "height": 740}
OBJECTION = "学员1 最后一天下午不在培训现场，\n考勤记录存疑，请核实。"
CONTACT = "13900000000"
ROWS_JS = """() => [...document.querySelectorAll("#persons tbody tr")].map(
  (tr) => [...tr.querySelectorAll("td")].map((td) => td.innerText.trim()))"""


@pytest.fixture
def on_show(noticed, live_server):
    """The claim in notice, served by the live server; the test thread's session released."""
    found = SimpleNamespace(base=live_server, number=noticed.number, people=noticed.people,
                            organisation=noticed.claim["organisation_name"],
                            total=noticed.claim["total_yuan"])
    db.session.commit()
    db.session.close()
    return found


def _open(page, url: str, status: int = 200):
    response = page.goto(url)
    assert response is not None and response.status == status, (url, response and response.status)
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    return response


def _fits_the_phone(page, shot) -> None:
    """Nothing to scroll sideways at 360 px, and the full-page screenshot is 360 px wide."""
    scroll_width = page.evaluate("() => document.scrollingElement.scrollWidth")
    assert scroll_width <= PHONE["width"], (page.url, scroll_width)
    page.screenshot(path=str(shot), full_page=True)
    with Image.open(shot) as image:
        assert image.width == PHONE["width"], (page.url, image.size)


def _tap_target_ok(locator) -> None:
    box = locator.bounding_box()
    assert box is not None and box["height"] >= 44 and box["width"] >= 44, box


def test_a_person_on_a_phone_reads_the_notice_and_objects(page, on_show, tmp_path):
    page.set_viewport_size(PHONE)

    # The list: the period counts working days across the National Day holiday.
    _open(page, f"{on_show.base}/notice")
    card = page.locator("#notices a.card", has_text=on_show.number)
    expect(card).to_have_count(1)
    expect(card.locator(".period")).to_have_text(api.PERIOD)
    expect(card.locator(".remaining")).to_have_text("剩余 5 个工作日")
    expect(card.locator(".org")).to_have_text(on_show.organisation)
    expect(card.locator(".total")).to_have_text(f"补贴合计：{on_show.total}（2 人）")
    _tap_target_ok(card)
    _fits_the_phone(page, tmp_path / "list.png")

    # Its link to the claim's own notice.
    with page.expect_navigation() as navigation:
        card.click()
    assert navigation.value.status == 200
    assert navigation.value.headers["cache-control"] == "no-store"
    assert page.url == f"{on_show.base}/notice/{on_show.number}"
    expect(page.locator("#period")).to_have_text(api.PERIOD)
    expect(page.locator("#remaining")).to_have_text("剩余 5 个工作日")
    expect(page.locator("#state")).to_have_text("公示中")
    rows = page.evaluate(ROWS_JS)
    masked = [f"{n[:4]}{'*' * 10}{n[-4:]}" for _, n in on_show.people]
    assert rows == [[f"学**\n{masked[0]}", "培训补贴：5天×100元", "500元"],
                    [f"学**\n{masked[1]}", "培训补贴：4.5天×100元", "450元"]]
    expect(page.locator("#total")).to_have_text(on_show.total)
    html = page.content()
    for real_name, id_number in on_show.people:
        assert real_name not in html and id_number not in html
    _tap_target_ok(page.get_by_role("button", name="提交异议"))
    _fits_the_phone(page, tmp_path / "notice.png")

    # The objection, through the plain form.
    page.get_by_label("异议内容").fill(OBJECTION)
    page.get_by_label("联系方式").fill(CONTACT)
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="提交异议").click()
    response = navigation.value
    assert response.status == 201 and response.headers["cache-control"] == "no-store"
    sent = response.request
    assert sent.method == "POST" and sent.url == f"{on_show.base}/notice/{on_show.number}/objection"
    assert sent.headers["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qs(sent.post_data) == {"text": [OBJECTION.replace("\n", "\r\n")], "contact": [CONTACT]}
    expect(page.locator("#verdict")).to_have_text("异议已受理")
    _fits_the_phone(page, tmp_path / "receipt.png")

    # Back on the notice, the claim is shown held.
    page.get_by_role("link", name="返回该项公示").click()
    expect(page.locator("#state")).to_have_attribute("data-state", "objected")
    expect(page.locator("#state")).to_have_text("异议处理中")
    expect(page.locator("#period")).to_have_text(api.PERIOD)

    claim = db.session.scalar(select(Claim).where(Claim.number == on_show.number))
    objections = db.session.scalars(select(ClaimObjection)).all()
    assert claim.state == "objected"
    assert [(o.claim_id, o.text, o.contact, o.state) for o in objections] == [
        (claim.id, OBJECTION, CONTACT, "open")]
    db.session.close()


def test_an_empty_objection_is_not_sent(page, on_show):
    """The browser's own check (required) stops it; had it been sent, the server refuses it too."""
    page.set_viewport_size(PHONE)
    _open(page, f"{on_show.base}/notice/{on_show.number}")
    sent = []
    page.on("request", lambda request: sent.append(request) if request.method == "POST" else None)
    page.get_by_role("button", name="提交异议").click()
    assert page.locator("#objection-text").evaluate("(box) => box.validity.valueMissing")
    assert page.url == f"{on_show.base}/notice/{on_show.number}" and sent == []

    assert db.session.scalars(select(ClaimObjection)).all() == []
    assert db.session.scalar(select(Claim.state).where(Claim.number == on_show.number)) == "in_notice"
    db.session.close()


def test_an_unknown_claim_is_a_page_that_fits_the_phone(page, on_show, tmp_path):
    page.set_viewport_size(PHONE)
    _open(page, f"{on_show.base}/notice/BT0000000000000NOPE", 404)
    expect(page.locator("#verdict")).to_have_attribute("data-code", "NOTICE_NOT_FOUND")
    expect(page.locator("#verdict")).to_have_text("公示中的补贴申领不存在")
    _fits_the_phone(page, tmp_path / "missing.png")
