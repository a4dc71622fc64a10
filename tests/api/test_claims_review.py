"""Two-person review of a subsidy claim (两人以上经办审查签字) and its public notice (公示) through the
API: who may sign, the digest each signature records, returns and resubmission, the notice's
five PRC working days, and the public list anyone may read (SPEC §7).

A refusal is checked for what a user notices: the status, the error code, and that nothing
changed (`snapshot()`: no approval, no state or version moved, no audit event)."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select

from server.domain.access import Role
from server.domain.identity import mask_id_number
from server.extensions import db
from server.models import Claim, ClaimApproval
from server.services import claims as claim_service
from tests.api.claim_world import (
    HUGUAN,
    after_notice,
    approve,
    at,
    error,
    file_claim,
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
from tests.factories import make_staff, make_trainee


@pytest.fixture
def world(api, ctx, clock):
    return finished_class(api, clock)


def signatures(claim: dict) -> list[tuple[int, int, str]]:
    return [(a["step"], a["reviewer_id"], a["digest"]) for a in claim["approvals"]]


# --- two different reviewers ----------------------------------------------------------------


def test_two_different_reviewers_sign_the_digest_and_the_second_publishes_the_notice(api, world):
    w = world
    claim = file_claim(api, w)
    assert claim["state"] == "submitted" and claim["version"] == 1 and claim["approvals"] == []
    assert claim["notice"] is None and len(claim["digest"]) == 64

    first = approve(api, w.headers.reviewer, claim["id"])
    assert first["state"] == "first_approved" and first["notice"] is None
    assert signatures(first) == [(1, w.reviewer_id, claim["digest"])]
    # Not public yet: no notice to read and none to object to.
    assert error(api.get(f"/api/v1/public/notices/{claim['number']}")) == (404, "NOTICE_NOT_FOUND")
    assert api.get("/api/v1/public/notices").json["total"] == 0
    assert error(lodge(api, claim["number"])) == (404, "NOTICE_NOT_FOUND")

    before = snapshot()
    twice = api.post(f"/api/v1/claims/{claim['id']}/approve", headers=w.headers.reviewer)
    assert error(twice) == (409, "SAME_REVIEWER")
    assert snapshot() == before

    second = approve(api, w.reviewer2, claim["id"])
    assert second["state"] == "in_notice"
    # Each signature records the digest of what it approved: the claim's digest then and now.
    assert signatures(second) == [(1, w.reviewer_id, claim["digest"]), (2, w.reviewer2_id, claim["digest"])]
    assert second["digest"] == claim["digest"] and second["version"] == 1
    assert second["notice"]["published_on"] == w.day_after.isoformat()

    third = make_staff(Role.BUREAU_REVIEWER, region_code=w.region_code)
    before = snapshot()
    late = api.post(f"/api/v1/claims/{claim['id']}/approve", headers=headers_for(third))
    assert error(late) == (409, "CLAIM_STATE_CONFLICT")
    assert snapshot() == before


def test_only_reviewers_of_the_claim_s_region_approve(api, world):
    w = world
    claim = file_claim(api, w)
    outside = headers_for(make_staff(Role.BUREAU_REVIEWER, region_code=HUGUAN))
    trainee = headers_for(make_trainee(w.region_code).user)
    before = snapshot()
    # Out of scope, the claim is not found at all: neither shown nor signed.
    assert error(api.get(f"/api/v1/claims/{claim['id']}", headers=outside)) == (404, "CLAIM_NOT_FOUND")
    signed = api.post(f"/api/v1/claims/{claim['id']}/approve", headers=outside)
    assert error(signed) == (404, "CLAIM_NOT_FOUND")
    for headers in (w.headers.institution, w.finance, w.headers.supervisor, w.evaluator, trainee):
        refused = api.post(f"/api/v1/claims/{claim['id']}/approve", headers=headers)
        assert error(refused) == (403, "FORBIDDEN"), refused.json
    assert snapshot() == before
    # A reviewer of the city above the county may sign it.
    city = make_staff(Role.BUREAU_REVIEWER, region_code="141100")
    signed = approve(api, headers_for(city), claim["id"])
    assert signatures(signed) == [(1, city.id, claim["digest"])]


@pytest.mark.parametrize("both_read_first", [False, True])
def test_two_reviewers_signing_at_once_never_give_two_first_signatures(app, api, world, monkeypatch,
                                                                       both_read_first):
    """Serialised (SQLite's write lock, or PostgreSQL when one commits before the other reads),
    the second to arrive gives the second signature. When both have read the claim as submitted
    (held at a barrier after reading its signatures; on PostgreSQL only, SQLite's second writer
    cannot read before the first commits), the unique key on (claim, version, step) refuses the
    later insert: one signature, one SAME_REVIEWER."""
    import contextlib
    import threading

    from server.services import claim_review

    w = world
    claim = file_claim(api, w)
    db.session.commit()
    postgres = db.engine.dialect.name == "postgresql"
    if both_read_first:
        inside, real = threading.Barrier(2), claim_review.approvals_of

        def read_then_wait(row):
            found = real(row)
            with contextlib.suppress(threading.BrokenBarrierError):
                inside.wait(timeout=10 if postgres else 1)
            return found

        monkeypatch.setattr(claim_review, "approvals_of", read_then_wait)
    def approve_as(headers):
        return lambda client: client.post(f"/api/v1/claims/{claim['id']}/approve", headers=headers)

    results = race(app, approve_as(w.headers.reviewer), approve_as(w.reviewer2))
    db.session.expire_all()
    state = db.session.scalar(select(Claim.state))
    steps = db.session.execute(select(ClaimApproval.step, ClaimApproval.reviewer_id)
                               .order_by(ClaimApproval.step)).tuples().all()
    if sorted(results) == [(200, None), (200, None)]:
        assert not (both_read_first and postgres)
        assert state == "in_notice" and [s for s, _ in steps] == [1, 2]
        assert {r for _, r in steps} == {w.reviewer_id, w.reviewer2_id}
    else:
        assert sorted(results) == [(200, None), (409, "SAME_REVIEWER")], results
        assert state == "first_approved" and [s for s, _ in steps] == [1]


# --- returns and resubmission ---------------------------------------------------------------


def test_a_return_needs_a_reason_and_the_resubmitted_version_is_reviewed_afresh(api, world):
    w = world
    claim = file_claim(api, w)
    approve(api, w.headers.reviewer, claim["id"])
    url = f"/api/v1/claims/{claim['id']}/return"
    before = snapshot()
    for body in ({}, {"reason": None}, {"reason": "   "}):
        assert error(api.post(url, headers=w.reviewer2, json=body)) == (422, "REASON_REQUIRED")
    # Finance returns only at its re-review; the institution never.
    assert error(api.post(url, headers=w.finance, json={"reason": "材料不全"})) == (403, "FORBIDDEN")
    assert error(api.post(url, headers=w.headers.institution, json={"reason": "x"})) == (403, "FORBIDDEN")
    assert snapshot() == before

    returned = api.post(url, headers=w.reviewer2, json={"reason": "  学员1 的电子券存疑，请核实  "})
    assert returned.status_code == 200, returned.json
    assert returned.json["state"] == "returned"
    assert returned.json["returned_reason"] == "学员1 的电子券存疑，请核实"
    assert error(api.post(f"/api/v1/claims/{claim['id']}/approve", headers=w.reviewer2)) == (
        409, "CLAIM_STATE_CONFLICT")

    # The bureau revokes trainee 1's voucher; the resubmitted claim is recomputed without them.
    revoked = api.post(f"/api/v1/vouchers/{w.voucher_ids[1]}/revoke", headers=w.headers.reviewer,
                       json={"reason": "核实为他人代训"})
    assert revoked.status_code == 200, revoked.json
    assert error(api.post(f"/api/v1/claims/{claim['id']}/resubmit", headers=w.evaluator)) == (
        404, "CLAIM_NOT_FOUND")  # another organisation's claim
    resubmitted = api.post(f"/api/v1/claims/{claim['id']}/resubmit", headers=w.headers.institution)
    assert resubmitted.status_code == 200, resubmitted.json
    v2 = resubmitted.json
    assert v2["state"] == "submitted" and v2["version"] == 2 and v2["returned_reason"] is None
    assert v2["digest"] != claim["digest"] and v2["approvals"] == []
    lines = training_lines(v2)
    assert lines[w.trainee_ids[1]]["amount_fen"] == 0 and "NO_VOUCHER" in lines[w.trainee_ids[1]]["reasons"]
    assert v2["total_fen"] == 50000 == claim["total_fen"] - 45000

    # The first version's signature is void: reviewer 2 now signs first, and reviewer 1, who
    # signed version 1, may sign version 2, once.
    first = approve(api, w.reviewer2, claim["id"])
    assert first["state"] == "first_approved" and signatures(first) == [(1, w.reviewer2_id, v2["digest"])]
    assert error(api.post(f"/api/v1/claims/{claim['id']}/approve", headers=w.reviewer2)) == (
        409, "SAME_REVIEWER")
    second = approve(api, w.headers.reviewer, claim["id"])
    assert second["state"] == "in_notice"
    assert signatures(second) == [(1, w.reviewer2_id, v2["digest"]), (2, w.reviewer_id, v2["digest"])]
    kept = db.session.execute(select(ClaimApproval.version, ClaimApproval.step, ClaimApproval.digest)
                              .order_by(ClaimApproval.id)).tuples().all()
    assert kept == [(1, 1, claim["digest"]), (2, 1, v2["digest"]), (2, 2, v2["digest"])]


def test_a_submitted_claim_can_be_withdrawn_and_filed_again(api, world):
    w = world
    claim = file_claim(api, w)
    approve(api, w.headers.reviewer, claim["id"])
    withdrawn = api.post(f"/api/v1/claims/{claim['id']}/withdraw", headers=w.headers.institution)
    assert withdrawn.status_code == 200 and withdrawn.json["state"] == "withdrawn"
    again = file_claim(api, w)
    assert again["id"] != claim["id"] and again["total_fen"] == claim["total_fen"]
    approve(api, w.headers.reviewer, again["id"])
    assert approve(api, w.reviewer2, again["id"])["state"] == "in_notice"
    before = snapshot()
    refused = api.post(f"/api/v1/claims/{again['id']}/withdraw", headers=w.headers.institution)
    assert error(refused) == (409, "CLAIM_STATE_CONFLICT")  # public now: an objection, not a withdrawal
    assert snapshot() == before


def test_the_second_signature_is_refused_when_the_content_changed_since_the_first(api, world):
    """Through the API the content of a claim under review cannot change: its lines are frozen at
    filing, the evidence they rest on is locked while the claim is live (CLAIM_IN_PROGRESS), an
    objection needs the notice, and a resubmission is a new version whose signatures start
    afresh. So the change is made in the database, as a bug or a hand edit would make it, and
    the second reviewer is refused."""
    w = world
    claim = file_claim(api, w)
    approve(api, w.headers.reviewer, claim["id"])
    locked = api.post(f"/api/v1/classes/{w.class_id}/video-gaps", headers=w.headers.supervisor,
                      json={"day": w.end_date.isoformat(), "half": "am", "reason": "录像缺失"})
    assert error(locked) == (409, "CLAIM_IN_PROGRESS")
    assert error(lodge(api, claim["number"])) == (404, "NOTICE_NOT_FOUND")

    row = db.session.get(Claim, claim["id"])
    lines = claim_service.current_lines(row)
    paid = next(ln for ln in lines if ln.amount_fen)
    paid.amount_fen -= 10000
    claim_service.rehash(row, row.policy_region_code, row.policy_effective_from, lines)
    db.session.commit()
    changed = row.digest
    db.session.expunge_all()  # the requests share this session: let them load the claim afresh
    assert changed != claim["digest"]

    before = snapshot()
    refused = api.post(f"/api/v1/claims/{claim['id']}/approve", headers=w.reviewer2)
    assert error(refused) == (409, "CLAIM_CHANGED_SINCE_APPROVAL")
    assert refused.json["error"]["details"] == {"approved_digest": claim["digest"], "current_digest": changed}
    assert snapshot() == before
    # The way out is a return and a resubmission, signed afresh.
    returned = api.post(f"/api/v1/claims/{claim['id']}/return", headers=w.reviewer2,
                        json={"reason": "初审后内容变化"})
    assert returned.status_code == 200
    resubmitted = api.post(f"/api/v1/claims/{claim['id']}/resubmit", headers=w.headers.institution)
    assert resubmitted.json["digest"] == claim["digest"] and resubmitted.json["version"] == 2  # recomputed


# --- the public notice (公示) -----------------------------------------------------------------


def test_the_notice_runs_five_prc_working_days_across_national_day(api, world, clock):
    """Approved on Wednesday 30 September 2026: 1–7 October is the National Day holiday, Saturday
    10 October a make-up workday, so the working days are 9-30, 10-08, 10-09, 10-10 and 10-12."""
    w = world
    at(clock, date(2026, 9, 29))
    claim = file_claim(api, w)
    approve(api, w.headers.reviewer, claim["id"])
    at(clock, date(2026, 9, 30))
    noticed = approve(api, w.reviewer2, claim["id"])
    assert noticed["notice"] == {"published_on": "2026-09-30", "first_day": "2026-09-30",
                                 "last_day": "2026-10-12", "working_days": 5, "ended": False,
                                 "remaining_working_days": 5}

    at(clock, date(2026, 10, 5))  # a holiday inside the notice: the public may still object
    shown = get_claim(api, w.finance, claim["id"])["notice"]
    assert (shown["ended"], shown["remaining_working_days"]) == (False, 4)  # 10-08, 10-09, 10-10, 10-12
    objection = lodge(api, claim["number"], "学员1 国庆前已离开培训班")
    assert objection.status_code == 201, objection.json
    dismissed = api.post(f"/api/v1/objections/{objection.json['id']}/decision", headers=w.headers.reviewer,
                         json={"outcome": "dismissed", "reason": "核实签到与视频，学员在场"})
    assert dismissed.status_code == 200, dismissed.json
    assert get_claim(api, w.finance, claim["id"])["notice"]["last_day"] == "2026-10-12"  # not restarted

    at(clock, date(2026, 10, 10))  # the Saturday make-up workday counts
    assert get_claim(api, w.finance, claim["id"])["notice"]["remaining_working_days"] == 2
    at(clock, date(2026, 10, 12))  # the last day: objections heard, no payment yet
    shown = get_claim(api, w.finance, claim["id"])
    assert shown["notice"]["remaining_working_days"] == 1 and not shown["notice"]["ended"]
    assert error(pay(api, w, claim)) == (409, "CLAIM_STATE_CONFLICT")

    at(clock, date(2026, 10, 13))
    before = snapshot()
    late = lodge(api, claim["number"], "迟到的异议")
    assert error(late) == (409, "NOTICE_ENDED")
    assert late.json["error"]["details"] == {"last_day": "2026-10-12"}
    assert snapshot() == before
    assert get_claim(api, w.finance, claim["id"])["notice"]["ended"] is True
    paid = pay(api, w, claim)
    assert paid.status_code == 201 and paid.json["state"] == "paid", paid.json


def test_a_notice_published_on_a_rest_day_starts_on_the_next_working_day(api, world, clock):
    w = world  # the clock is Sunday 15 March 2026, the day after the class
    noticed = noticed_claim(api, w)
    assert noticed["notice"]["published_on"] == "2026-03-15"
    assert (noticed["notice"]["first_day"], noticed["notice"]["last_day"]) == ("2026-03-16", "2026-03-20")
    # Readable, and open to objections, from the day it is published.
    assert lodge(api, noticed["number"]).status_code == 201


def test_the_public_notice_needs_no_sign_in_and_masks_every_person(api, world):
    w = world
    assert api.get("/api/v1/public/notices").json == {"items": [], "total": 0}
    claim = noticed_claim(api, w)
    listed = api.get("/api/v1/public/notices")
    assert listed.status_code == 200 and listed.headers["Cache-Control"] == "no-store"
    assert listed.json["total"] == 1
    [notice] = listed.json["items"]
    assert notice["number"] == claim["number"] and notice["state"] == "in_notice"
    assert notice["total_fen"] == 95000 and notice["notice"]["last_day"] == claim["notice"]["last_day"]
    assert "养老护理员" in notice["training_content"] and "普惠制培训" in notice["training_content"]
    # Trainee 2, left off the roster, is paid nothing and not listed; the others masked.
    entries = sorted(notice["entries"], key=lambda e: -e["amount_fen"])
    assert [(e["person_name"], e["id_number"], e["amount_fen"]) for e in entries] == [
        ("学**", mask_id_number(w.id_numbers[0]), 50000), ("学**", mask_id_number(w.id_numbers[1]), 45000)]
    assert [e["standard"].split("：", 1)[1] for e in entries] == ["5天×100元", "4.5天×100元"]
    assert {e["organisation_name"] for e in entries} == {notice["organisation_name"]}
    body = listed.get_data(as_text=True)
    for number, name in zip(w.id_numbers, w.names, strict=True):
        assert number not in body and name not in body
    assert not re.search(r"\d{17}[\dX]", body)

    one = api.get(f"/api/v1/public/notices/{claim['number']}")
    assert one.status_code == 200 and one.headers["Cache-Control"] == "no-store"
    assert one.json == notice
    assert api.get("/api/v1/public/notices", query_string={"region": "141100"}).json["total"] == 1
    assert api.get("/api/v1/public/notices", query_string={"region": HUGUAN}).json["total"] == 0
    assert error(api.get("/api/v1/public/notices/BT00000000000000")) == (404, "NOTICE_NOT_FOUND")


def test_the_notice_ends_by_the_scheduled_command_and_leaves_the_public_list(api, world, clock, app):
    w = world
    claim = noticed_claim(api, w)
    after_notice(clock, claim)
    result = app.test_cli_runner().invoke(args=["end-notices"])
    assert result.exit_code == 0, result.output
    shown = get_claim(api, w.finance, claim["id"])
    assert shown["state"] == "noticed" and shown["notice"]["ended"] is True
    assert api.get("/api/v1/public/notices").json["total"] == 0
