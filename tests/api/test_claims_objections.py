"""Objections to a public notice (公示异议) through the API: anyone may lodge one while the notice
runs; an open one holds the claim (finance cannot pay); the bureau dismisses it or upholds it,
removing the lines it names, so the claim is recomputed, its version bumped and its notice run
afresh (SPEC §7; 000 三(二)).

The Lin class of claim_world: trainee 0 is paid 500 元, trainee 1 450 元, trainee 2 (left off the
roster) nothing; the claim is noticed on Sunday 15 March 2026, its notice runs 16–20 March."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from server.domain.access import Role
from server.domain.identity import mask_id_number
from server.extensions import db
from server.models import ClaimObjection, SubsidyGrant, Voucher
from tests.api.claim_world import (
    HUGUAN,
    after_notice,
    approve,
    at,
    count,
    error,
    finished_class,
    get_claim,
    headers_for,
    lodge,
    noticed_claim,
    pay,
    race,
    snapshot,
    training_lines,
)
from tests.factories import make_staff


@pytest.fixture
def world(api, ctx, clock):
    w = finished_class(api, clock)
    w.claim = noticed_claim(api, w)
    w.lines = {t: ln["id"] for t, ln in training_lines(w.claim).items()}
    return w


def decide(api, headers, objection_id: int, outcome: str, reason: str | None = "已核实", lines=()):
    return api.post(f"/api/v1/objections/{objection_id}/decision", headers=headers,
                    json={"outcome": outcome, "reason": reason, "removed_line_ids": list(lines)})


def lodged(api, number: str, text: str = "学员1 多次未到培训现场") -> int:
    response = lodge(api, number, text)
    assert response.status_code == 201, response.json
    return response.json["id"]


def test_an_open_objection_holds_the_claim_and_a_dismissal_returns_it_to_the_notice(api, world, clock):
    w, claim = world, world.claim
    response = lodge(api, claim["number"], "  学员1 多次未到培训现场  ", contact=None)
    assert response.status_code == 201 and response.headers["Cache-Control"] == "no-store"
    assert response.json["message"] == "异议已受理，人社部门将核实处理"
    objection_id = response.json["id"]
    held = get_claim(api, w.headers.institution, claim["id"])
    assert held["state"] == "objected"
    assert [(o["state"], o["text"], o["contact"]) for o in held["objections"]] == [
        ("open", "学员1 多次未到培训现场", None)]
    public = api.get(f"/api/v1/public/notices/{claim['number']}").json
    assert public["state"] == "objected" and len(public["entries"]) == 2  # still shown while held

    after_notice(clock, claim)  # the notice's days have passed, but the objection is open
    outside = headers_for(make_staff(Role.BUREAU_REVIEWER, region_code=HUGUAN))
    before = snapshot()
    assert error(pay(api, w, claim)) == (409, "CLAIM_STATE_CONFLICT")
    assert snapshot() == before

    for headers in (w.headers.institution, w.finance, w.headers.supervisor):
        assert error(decide(api, headers, objection_id, "dismissed")) == (403, "FORBIDDEN")
    assert error(decide(api, outside, objection_id, "dismissed")) == (404, "CLAIM_NOT_FOUND")
    assert error(decide(api, w.headers.reviewer, 999999, "dismissed")) == (404, "OBJECTION_NOT_FOUND")
    for outcome, reason, lines, code in (("dismissed", "  ", (), "REASON_REQUIRED"),
                                         ("dismissed", "不成立", (w.lines[w.trainee_ids[1]],),
                                          "LINES_REMOVED_ON_DISMISSAL"),
                                         ("maybe", "不确定", (), "INVALID_DECISION")):
        refused = decide(api, w.headers.reviewer, objection_id, outcome, reason, lines)
        assert error(refused) == (422, code), refused.json
    assert snapshot() == before

    dismissed = decide(api, w.headers.reviewer, objection_id, "dismissed", "核实考勤记录与视频，学员在场")
    assert dismissed.status_code == 200, dismissed.json
    assert dismissed.json["state"] == "dismissed" and dismissed.json["removed_line_ids"] == []
    shown = get_claim(api, w.finance, claim["id"])
    assert shown["state"] == "in_notice" and shown["version"] == 1 and shown["digest"] == claim["digest"]
    assert shown["notice"] == {**claim["notice"], "ended": True, "remaining_working_days": 0}

    before = snapshot()
    twice = decide(api, w.headers.reviewer, objection_id, "upheld", "再议", (w.lines[w.trainee_ids[1]],))
    assert error(twice) == (409, "OBJECTION_ALREADY_DECIDED"), twice.json
    assert snapshot() == before
    paid = pay(api, w, claim)
    assert paid.status_code == 201 and paid.json["total_fen"] == 95000, paid.json


def test_an_upheld_objection_removes_its_lines_and_the_notice_starts_again(api, world, clock):
    w, claim = world, world.claim
    removed = w.lines[w.trainee_ids[1]]
    at(clock, date(2026, 3, 18))  # Wednesday, inside the notice
    objection_id = lodged(api, claim["number"])
    before = snapshot()
    for lines, code in (((), "NO_LINES_REMOVED"), ((999999,), "NOT_IN_CLAIM"),
                        (tuple(w.lines.values()), "CLAIM_WOULD_BE_EMPTY"),
                        # Removing everyone paid leaves only trainee 2's zero line: nothing to pay.
                        ((w.lines[w.trainee_ids[0]], removed), "CLAIM_WOULD_BE_EMPTY")):
        refused = decide(api, w.headers.reviewer, objection_id, "upheld", "核实属实", lines)
        assert error(refused) == (422, code), refused.json
    assert snapshot() == before

    upheld = decide(api, w.headers.reviewer, objection_id, "upheld", "核实：学员1 多次由他人代签", (removed,))
    assert upheld.status_code == 200, upheld.json
    assert upheld.json["state"] == "upheld" and upheld.json["removed_line_ids"] == [removed]
    shown = get_claim(api, w.finance, claim["id"])
    # A changed claim is a version no reviewer signed: back to the two reviewers, off the notice.
    assert shown["state"] == "submitted" and shown["version"] == 2 and shown["digest"] != claim["digest"]
    assert shown["approvals"] == []
    assert shown["total_fen"] == 95000 - 45000  # trainee 1's 4.5 days × 100 元 are off
    line = training_lines(shown)[w.trainee_ids[1]]
    assert line["removed"] is True and line["removed_reason"] == "核实：学员1 多次由他人代签"
    assert line["amount_fen"] == 45000  # kept for the record, not paid
    assert error(api.get(f"/api/v1/public/notices/{claim['number']}")) == (404, "NOTICE_NOT_FOUND")
    assert error(pay(api, w, shown)) == (409, "CLAIM_STATE_CONFLICT")
    # Both reviewers sign the new version; the second signature publishes a fresh notice:
    # 19, 20, 23, 24, 25 March.
    at(clock, date(2026, 3, 19))
    assert approve(api, w.headers.reviewer, claim["id"])["state"] == "first_approved"
    shown = approve(api, w.reviewer2, claim["id"])
    assert [a["digest"] for a in shown["approvals"]] == [shown["digest"]] * 2
    assert (shown["notice"]["published_on"], shown["notice"]["first_day"], shown["notice"]["last_day"]) == (
        "2026-03-19", "2026-03-19", "2026-03-25")
    public = api.get(f"/api/v1/public/notices/{claim['number']}").json
    assert public["total_fen"] == 50000
    assert [e["id_number"] for e in public["entries"]] == [mask_id_number(w.id_numbers[0])]
    assert mask_id_number(w.id_numbers[1]) not in str(public)

    at(clock, date(2026, 3, 21))  # when the first notice would have ended
    assert error(pay(api, w, shown)) == (409, "CLAIM_STATE_CONFLICT")
    after_notice(clock, shown)
    stale = api.post(f"/api/v1/claims/{claim['id']}/disbursement", headers=w.finance,
                     json={"amount_fen": 95000, "paid_on": "2026-03-26", "reference": "LX-2026-002"})
    assert error(stale) == (422, "AMOUNT_MISMATCH")
    paid = pay(api, w, shown)
    assert paid.status_code == 201 and paid.json["disbursement"]["amount_fen"] == 50000, paid.json
    states = dict(db.session.execute(select(Voucher.trainee_id, Voucher.state)).tuples().all())
    assert states == {w.trainee_ids[0]: "written_off", w.trainee_ids[1]: "trained",
                      w.trainee_ids[2]: "bound"}
    assert db.session.scalars(select(SubsidyGrant.trainee_id)).all() == [w.trainee_ids[0]]


def test_the_claim_stays_held_until_every_objection_is_decided(api, world, clock):
    w, claim = world, world.claim
    first = lodged(api, claim["number"], "学员0 不是本地户籍")
    second = lodged(api, claim["number"], "学员1 未参加最后一天培训")
    assert get_claim(api, w.finance, claim["id"])["state"] == "objected"
    dismissed = decide(api, w.headers.reviewer, first, "dismissed", "户籍不影响普惠制培训资格")
    assert dismissed.status_code == 200
    assert get_claim(api, w.finance, claim["id"])["state"] == "objected"  # the second is still open
    after_notice(clock, claim)
    before = snapshot()
    assert error(pay(api, w, claim)) == (409, "CLAIM_STATE_CONFLICT")
    again = decide(api, w.headers.reviewer, first, "dismissed", "再次")
    assert error(again) == (409, "OBJECTION_ALREADY_DECIDED")
    assert snapshot() == before
    upheld = decide(api, w.reviewer2, second, "upheld", "最后一天下午缺勤属实，核减",
                    (w.lines[w.trainee_ids[1]],))
    assert upheld.status_code == 200, upheld.json
    shown = get_claim(api, w.finance, claim["id"])
    # The uphold changed the claim: back to review, not to the notice.
    assert shown["state"] == "submitted" and shown["version"] == 2 and shown["total_fen"] == 50000
    assert [o["state"] for o in shown["objections"]] == ["dismissed", "upheld"]


def test_a_dismissal_after_an_uphold_still_sends_the_changed_claim_back_to_review(api, world):
    w, claim = world, world.claim
    first = lodged(api, claim["number"], "学员1 未参加最后一天培训")
    second = lodged(api, claim["number"], "学员0 不是本地户籍")
    assert decide(api, w.headers.reviewer, first, "upheld", "缺勤属实，核减",
                  (w.lines[w.trainee_ids[1]],)).status_code == 200
    assert get_claim(api, w.finance, claim["id"])["state"] == "objected"  # the second is still open
    assert decide(api, w.headers.reviewer, second, "dismissed", "户籍不影响资格").status_code == 200
    shown = get_claim(api, w.finance, claim["id"])
    assert shown["state"] == "submitted" and shown["version"] == 2


def test_an_objection_needs_its_text(api, world):
    claim = world.claim
    before = snapshot()
    for body in ({"text": None}, {"text": "   "}, {}):
        refused = api.post(f"/api/v1/public/notices/{claim['number']}/objections", json=body)
        assert error(refused) == (422, "OBJECTION_TEXT_REQUIRED"), refused.json
    assert error(lodge(api, claim["number"], "异" * 501)) == (422, "TEXT_TOO_LONG")
    assert error(lodge(api, "BT00000000000000", "没有这个公示")) == (404, "NOTICE_NOT_FOUND")
    assert snapshot() == before


def test_objections_are_limited_to_ten_an_hour_from_one_address(api, world):
    number = world.claim["number"]
    statuses = [lodge(api, number, f"第{n}条异议").status_code for n in range(11)]
    assert statuses == [201] * 10 + [429]
    assert error(lodge(api, number, "再来一条")) == (429, "RATE_LIMITED")
    elsewhere = api.post(f"/api/v1/public/notices/{number}/objections", json={"text": "另一个人的异议"},
                         environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert elsewhere.status_code == 201
    assert count(ClaimObjection) == 11


def test_returning_a_held_claim_closes_its_open_objections(api, world):
    w, claim = world, world.claim
    objection_id = lodged(api, claim["number"], "该班学员均为挂名")
    returned = api.post(f"/api/v1/claims/{claim['id']}/return", headers=w.headers.reviewer,
                        json={"reason": "异议属实，整班重新核查"})
    assert returned.status_code == 200 and returned.json["state"] == "returned", returned.json
    [objection] = returned.json["objections"]
    assert objection["id"] == objection_id and objection["state"] == "upheld"
    assert objection["reason"] == "申领已退回：异议属实，整班重新核查"
    assert api.get("/api/v1/public/notices").json["total"] == 0


def test_the_last_two_objections_decided_at_once_release_the_claim(app, api, world, monkeypatch):
    """Two reviewers dismiss the claim's two objections at the same moment, both having read the
    claim (held at a barrier just after; on PostgreSQL only, SQLite's second writer cannot read
    before the first commits). Each must not count the other's objection as still open once it
    is decided, or the claim would stay held with nothing left to decide."""
    import contextlib
    import threading

    from server.services import claim_review

    w, claim = world, world.claim
    objections = [lodged(api, claim["number"], "学员0 未到场"), lodged(api, claim["number"], "学员1 未到场")]
    db.session.commit()
    postgres = db.engine.dialect.name == "postgresql"
    inside, seen, real = threading.Barrier(2), threading.local(), claim_review.visible_claim

    def read_then_wait(principal, claim_id):
        found = real(principal, claim_id)
        if not getattr(seen, "waited", False):
            seen.waited = True
            with contextlib.suppress(threading.BrokenBarrierError):
                inside.wait(timeout=10 if postgres else 1)
        return found

    monkeypatch.setattr(claim_review, "visible_claim", read_then_wait)
    def dismiss(index: int, headers):
        return lambda client: client.post(
            f"/api/v1/objections/{objections[index]}/decision", headers=headers,
            json={"outcome": "dismissed", "reason": "核实不属实"})

    results = race(app, dismiss(0, w.headers.reviewer), dismiss(1, w.reviewer2))
    monkeypatch.undo()
    assert results == [(200, None), (200, None)], results
    shown = get_claim(api, w.finance, claim["id"])
    assert [o["state"] for o in shown["objections"]] == ["dismissed", "dismissed"]
    assert shown["state"] == "in_notice"
