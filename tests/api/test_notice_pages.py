"""The public notice pages (公示, 000 三(二); 001 三(三); 002 第十五条): GET /notice, GET /notice/<number>
and the plain HTML objection form, POST /notice/<number>/objection, all without sign-in.

The claim is put into notice on 2026-09-30, the Wednesday before National Day: its 5 working days
are 09-30, 10-08, 10-09, 10-10 (a Saturday make-up workday) and 10-12, so the page must say the
notice ends on 2026年10月12日. The browser test (tests/browser/test_claim_notice_page.py) reuses
`noticed`.
"""

from __future__ import annotations

import re
from datetime import datetime
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from server.extensions import db
from server.models import AuditEvent, Claim, ClaimObjection
from server.services.clock import CHINA
from tests.api.claim_world import finished_class

NATIONAL_DAY_EVE = datetime(2026, 9, 30, 9, 0, tzinfo=CHINA)  # a Wednesday; 10-01..10-07 are holidays
PERIOD = "公示期：2026年9月30日 至 2026年10月12日（5 个工作日，节假日顺延）"
OBJECTION = "学员1 最后一天下午不在培训现场，考勤存疑"
HTML = "text/html; charset=utf-8"


def put_in_notice(client, clock, w, when: datetime = NATIONAL_DAY_EVE) -> dict:
    """File the class's claim and have both reviewers sign it, the second at `when`."""
    filed = client.post(f"/api/v1/classes/{w.class_id}/claims", headers=w.headers.institution)
    assert filed.status_code == 201, filed.json
    claim_id = filed.json["id"]
    first = client.post(f"/api/v1/claims/{claim_id}/approve", headers=w.headers.reviewer)
    assert first.status_code == 200, first.json
    clock.set(when)
    second = client.post(f"/api/v1/claims/{claim_id}/approve", headers=w.reviewer2)
    assert second.status_code == 200 and second.json["state"] == "in_notice", second.json
    return second.json


@pytest.fixture
def noticed(client, ctx, clock):
    """The Lin-county class's claim in notice from 2026-09-30, the clock left then. `people` are
    the two trainees it pays (real name, full ID number), for asserting they never show."""
    w = finished_class(client, clock)
    claim = put_in_notice(client, clock, w)
    paid = {ln["trainee_id"] for ln in claim["lines"] if ln["amount_fen"] > 0 and not ln["removed"]}
    people = [(p.real_name, p.id_number) for p in w.people if p.id in paid]
    assert len(people) == 2
    return SimpleNamespace(w=w, claim=claim, number=claim["number"], people=people)


def _html(response, status: int) -> str:
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert response.headers["Content-Type"] == HTML
    assert response.headers["Cache-Control"] == "no-store"
    return response.text


def _text(html: str) -> str:
    """The page's words, tags dropped and white space squeezed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _code(html: str) -> str | None:
    found = re.search(r'id="verdict"[^>]*data-code="([A-Z_]+)"', html)
    return found and found[1]


def _never_unmasked(html: str, people, *, listed: bool = True) -> None:
    for real_name, id_number in people:
        assert id_number not in html and real_name not in html
        assert (f"{id_number[:4]}{'*' * 10}{id_number[-4:]}" in html) is listed


def _stored(number: str):
    claim = db.session.scalar(select(Claim).where(Claim.number == number))
    db.session.refresh(claim)
    objections = db.session.scalars(select(ClaimObjection).where(ClaimObjection.claim_id == claim.id)).all()
    return claim, objections


def _audit_count() -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent))


def _object(client, number: str, **form):
    return client.post(f"/notice/{number}/objection", data=form)  # form-encoded, as a browser sends


# --- GET /notice ---------------------------------------------------------------------------------


def test_the_list_shows_the_claim_its_period_across_national_day_and_a_link(client, noticed):
    html = _html(client.get("/notice"), 200)
    text = _text(html)
    assert noticed.number in text and noticed.claim["organisation_name"] in text
    assert "培训内容：" in text and "养老护理员" in text
    assert PERIOD in text  # 5 working days: 09-30, 10-08, 10-09, 10-10 (make-up Saturday), 10-12
    assert "剩余 5 个工作日" in text
    assert f"补贴合计：{noticed.claim['total_yuan']}（2 人）" in text
    assert f'href="/notice/{noticed.number}"' in html
    _never_unmasked(html, noticed.people, listed=False)  # the persons are on the claim's own page


def test_the_remaining_working_days_skip_the_holiday(client, noticed, clock):
    for when, shown in ((datetime(2026, 10, 5, 12, tzinfo=CHINA), "剩余 4 个工作日"),  # a holiday
                        (datetime(2026, 10, 10, 12, tzinfo=CHINA), "剩余 2 个工作日"),  # make-up Saturday
                        (datetime(2026, 10, 11, 12, tzinfo=CHINA), "剩余 1 个工作日"),  # Sunday
                        (datetime(2026, 10, 12, 23, tzinfo=CHINA), "剩余 1 个工作日"),  # still heard today
                        (datetime(2026, 10, 13, 8, tzinfo=CHINA), "公示期已满")):
        clock.set(when)
        assert shown in _text(_html(client.get("/notice"), 200)), when
        page = _html(client.get(f"/notice/{noticed.number}"), 200)
        assert shown in _text(page) and PERIOD in _text(page), when
    assert 'id="objection"' not in page and "公示期已满，不再受理异议" in page


def test_the_list_filters_by_region_and_pages(client, noticed):
    assert noticed.number in _html(client.get("/notice?region=141124"), 200)  # Lin county
    assert noticed.number in _html(client.get("/notice?region=140000"), 200)  # all of Shanxi
    huguan = _html(client.get("/notice?region=140427"), 200)
    assert noticed.number not in huguan and 'id="empty"' in huguan and "仅显示地区 140427" in huguan
    later = _html(client.get("/notice?page=2"), 200)
    assert noticed.number not in later and 'rel="prev"' in later
    for bad, code in (("/notice?region=lin%25", "INVALID_REGION"), ("/notice?page=0", "INVALID_PAGE"),
                      ("/notice?page=x", "INVALID_PAGE")):
        page = _html(client.get(bad), 422)
        assert _code(page) == code and noticed.number not in page


# --- GET /notice/<number> --------------------------------------------------------------------------


def test_the_notice_page_lists_masked_persons_the_standard_amounts_and_total(client, noticed):
    html = _html(client.get(f"/notice/{noticed.number}"), 200)
    text = _text(html)
    assert f"<title>补贴公示 {noticed.number}</title>" in html
    assert PERIOD in text and "剩余 5 个工作日" in text
    assert noticed.claim["organisation_name"] in text and "养老护理员" in text
    rows = re.findall(r"<tr><td><span class=\"name\">(.*?)</span><span class=\"id\">(.*?)</span></td>\s*"
                      r"<td>(.*?)</td><td class=\"amount\">(.*?)</td></tr>", html)
    # 004 二(一): 100 元/day; trainee 0 attended 5 days, trainee 1 four and a half.
    assert [(name, standard, amount) for name, _, standard, amount in rows] == [
        ("学**", "培训补贴：5天×100元", "500元"), ("学**", "培训补贴：4.5天×100元", "450元")]
    assert all(re.fullmatch(r"\d{4}\*{10}[\dX]{4}", id_number) for _, id_number, _, _ in rows)
    assert re.search(r'id="total">950元<', html) and noticed.claim["total_fen"] == 95000
    _never_unmasked(html, noticed.people)
    form = re.search(r'<form method="post" action="([^"]+)" id="objection">', html)
    assert form and form[1] == f"/notice/{noticed.number}/objection"
    assert re.search(r'<textarea[^>]*name="text"[^>]*required maxlength="500"', html)
    assert 'name="contact"' in html


def test_a_claim_not_in_notice_is_a_404_page(client, ctx, clock):
    w = finished_class(client, clock)
    filed = client.post(f"/api/v1/classes/{w.class_id}/claims", headers=w.headers.institution)
    number = filed.json["number"]
    for path in (f"/notice/{number}", "/notice/TX-NO-SUCH-CLAIM"):
        page = _html(client.get(path), 404)
        assert _code(page) == "NOTICE_NOT_FOUND" and "公示中的补贴申领不存在" in page
        assert 'id="persons"' not in page
    assert number not in _html(client.get("/notice"), 200)  # submitted, not yet public
    refused = _html(_object(client, number, text=OBJECTION), 404)
    assert _code(refused) == "NOTICE_NOT_FOUND"
    assert db.session.scalar(select(func.count()).select_from(ClaimObjection)) == 0


# --- POST /notice/<number>/objection --------------------------------------------------------------


def test_an_objection_through_the_form_is_received_and_holds_the_claim(client, noticed):
    audited = _audit_count()
    html = _html(_object(client, noticed.number, text=f"  {OBJECTION}  ", contact="13900000000"), 201)
    assert re.search(r'id="verdict"[^>]*>异议已受理<', html)
    claim, objections = _stored(noticed.number)
    assert claim.state == "objected"
    assert [(o.text, o.contact, o.state) for o in objections] == [(OBJECTION, "13900000000", "open")]
    assert f'id="receipt">{objections[0].id}<' in html
    assert _audit_count() == audited + 1
    # The public sees the claim held; the bureau's reviewer sees the objection to decide.
    page = _text(_html(client.get(f"/notice/{noticed.number}"), 200))
    assert "异议处理中" in page and PERIOD in page
    listed = client.get(f"/api/v1/claims/{claim.id}/objections", headers=noticed.w.headers.reviewer)
    assert [o["text"] for o in listed.json["items"]] == [OBJECTION]
    # Anyone else may still object while it is held; contact is optional.
    _html(_object(client, noticed.number, text="培训现场人数与花名册不符"), 201)
    claim, objections = _stored(noticed.number)
    assert claim.state == "objected" and [o.contact for o in objections] == ["13900000000", None]


def test_line_breaks_count_as_typed(client, noticed):
    """A browser allows 500 characters with a line break and sends it as CRLF."""
    text = "甲" * 250 + "\r\n" + "乙" * 249
    _html(_object(client, noticed.number, text=text), 201)
    _, objections = _stored(noticed.number)
    assert [len(o.text) for o in objections] == [500]


@pytest.mark.parametrize(("form", "status", "code", "message"), [
    ({"contact": "13900000000"}, 422, "OBJECTION_TEXT_REQUIRED", "请填写异议内容"),
    ({"text": "   \r\n  "}, 422, "OBJECTION_TEXT_REQUIRED", "请填写异议内容"),
    ({"text": "异" * 501}, 422, "TEXT_TOO_LONG", "异议内容不能超过 500 字"),
    ({"text": OBJECTION, "contact": "1" * 101}, 422, "TEXT_TOO_LONG", "联系方式不能超过 100 字"),
])
def test_a_refused_objection_is_a_page_that_keeps_the_text_and_changes_nothing(client, noticed, form, status,
                                                                               code, message):
    audited = _audit_count()
    html = _html(_object(client, noticed.number, **form), status)
    assert _code(html) == code and message in html
    assert 'id="objection"' in html  # the form again, with what was typed
    if form.get("text", "").strip():
        assert f">{form['text']}</textarea>" in html
    claim, objections = _stored(noticed.number)
    assert claim.state == "in_notice" and objections == [] and _audit_count() == audited


def test_after_the_notice_ends_an_objection_is_refused(client, noticed, clock):
    clock.set(datetime(2026, 10, 13, 8, tzinfo=CHINA))  # the day after its fifth working day
    html = _html(_object(client, noticed.number, text=OBJECTION), 409)
    assert _code(html) == "NOTICE_ENDED" and "公示期已结束，不再受理异议" in html
    assert 'id="objection"' not in html
    claim, objections = _stored(noticed.number)
    assert claim.state == "in_notice" and objections == []


def test_the_form_is_limited_to_ten_an_hour_per_address(client, noticed):
    for _ in range(10):
        _html(_object(client, noticed.number, text=""), 422)
    html = _html(_object(client, noticed.number, text=OBJECTION), 429)
    assert _code(html) == "RATE_LIMITED" and "操作过于频繁" in html
    assert f">{OBJECTION}</textarea>" in html  # kept, to send later
    claim, objections = _stored(noticed.number)
    assert claim.state == "in_notice" and objections == []
    # The pages themselves are still open to this address.
    _html(client.get(f"/notice/{noticed.number}"), 200)


def test_the_pages_are_limited_to_sixty_a_minute_per_address(client, noticed):
    for _ in range(60):
        assert client.get(f"/notice/{noticed.number}").status_code == 200
    html = _html(client.get(f"/notice/{noticed.number}"), 429)
    assert _code(html) == "RATE_LIMITED" and 'id="persons"' not in html
    for _ in range(60):
        assert client.get("/notice").status_code == 200
    assert _code(_html(client.get("/notice"), 429)) == "RATE_LIMITED"
