"""Filing a training-subsidy claim (补贴申领) through the API: the preview is what gets frozen, and
every refusal — an unfinished class, another institution's class, a claim past the region's
deadline, a suspended institution (002 第十七条) — changes nothing."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from server.domain.access import Role
from server.extensions import db
from server.models import Claim, TrainingClass
from tests.api.claim_world import (
    HUGUAN,
    LIN,
    START,
    at,
    count,
    error,
    file_claim,
    finished_class,
    headers_for,
    open_class,
    race,
    snapshot,
)
from tests.factories import class_body, make_org, make_staff


@pytest.fixture
def world(api, ctx, clock):
    return finished_class(api, clock)


def claims_url(w) -> str:
    return f"/api/v1/classes/{w.class_id}/claims"


def frozen(lines) -> list[tuple]:
    return sorted((ln["trainee_id"], ln["item"], ln["half_days"], ln["amount_fen"], tuple(ln["reasons"]),
                   ln["explanation"]) for ln in lines)


def test_the_preview_is_what_the_filing_freezes(api, world):
    w = world
    preview = api.get(f"/api/v1/classes/{w.class_id}/claim-preview", headers=w.headers.institution)
    assert preview.status_code == 200, preview.json
    assert count(Claim) == 0  # a preview stores nothing
    assert preview.json["region_code"] == LIN and preview.json["programme"] == "puhui"
    claim = file_claim(api, w)
    assert frozen(claim["lines"]) == frozen(preview.json["lines"])
    assert claim["total_fen"] == preview.json["total_fen"] == 95000
    assert claim["basis"] == preview.json["basis"] and claim["explanation"] == preview.json["explanation"]
    assert (claim["policy_region_code"], claim["policy_effective_from"]) == (
        preview.json["region_code"], preview.json["policy_effective_from"])
    assert claim["training_year"] == 2026 and claim["number"].startswith("BT1411242026")
    assert {ln["voucher_id"] for ln in claim["lines"]} == set(w.voucher_ids)


def test_only_the_class_s_own_institution_previews_or_files(api, world):
    w = world
    stranger = headers_for(make_staff(Role.INSTITUTION_OPERATOR, make_org(region_code=LIN)))
    before = snapshot()
    preview = f"/api/v1/classes/{w.class_id}/claim-preview"
    assert error(api.get(preview, headers=stranger)) == (404, "CLASS_NOT_FOUND")
    assert error(api.get(preview, headers=w.headers.reviewer)) == (403, "FORBIDDEN")
    assert error(api.post(claims_url(w), headers=stranger)) == (404, "CLASS_NOT_FOUND")
    for headers in (w.headers.reviewer, w.finance, w.evaluator):
        assert error(api.post(claims_url(w), headers=headers)) == (403, "FORBIDDEN")
    assert error(api.post("/api/v1/classes/999999/claims", headers=w.headers.institution)) == (
        404, "CLASS_NOT_FOUND")
    assert snapshot() == before


def test_a_class_whose_completion_is_not_approved_cannot_claim(api, ctx, clock):
    w = open_class(api, clock, region_code=LIN)
    at(clock, START + timedelta(days=10))
    before = snapshot()
    for response in (api.get(f"/api/v1/classes/{w.class_id}/claim-preview", headers=w.headers.institution),
                     api.post(claims_url(w), headers=w.headers.institution)):
        assert error(response) == (409, "COMPLETION_NOT_APPROVED"), response.json
    assert snapshot() == before


def test_a_claim_after_the_region_s_deadline_is_refused(api, world, clock):
    """Lin settles quarterly and takes every claim until 31 March of the next year (004 四)."""
    w = world
    at(clock, date(2027, 4, 1))
    before = snapshot()
    late = api.post(claims_url(w), headers=w.headers.institution)
    assert error(late) == (422, "CLAIM_DEADLINE_PASSED")
    assert late.json["error"]["details"]["last_day"] == "2027-03-31"
    assert late.json["error"]["details"]["statistical_year"] == 2026
    assert snapshot() == before
    at(clock, date(2027, 3, 31), hour=23)  # the last day itself is on time
    assert file_claim(api, w)["training_year"] == 2026


def test_racing_filings_give_one_claim(app, api, world):
    w = world
    db.session.commit()
    def file(client):
        return client.post(claims_url(w), headers=w.headers.institution)

    results = race(app, file, file)
    assert sorted(results, key=str) == [(201, None), (409, "CLAIM_ALREADY_FILED")], results
    db.session.expire_all()
    assert count(Claim) == 1


# --- suspension (暂停; 002 第十七条) ---------------------------------------------------------


def test_a_suspended_institution_can_neither_open_a_class_nor_claim_until_lifted(api, world):
    w = world
    url = f"/api/v1/organisations/{w.institution_id}/suspension"
    outside = headers_for(make_staff(Role.BUREAU_SUPERVISOR, region_code=HUGUAN))
    before = snapshot()
    blank = api.post(url, headers=w.headers.supervisor, json={"reason": "  "})
    assert error(blank) == (422, "REASON_REQUIRED")
    assert error(api.post(url, headers=outside, json={"reason": "虚假培训"})) == (403, "FORBIDDEN")
    for headers in (w.headers.reviewer, w.headers.institution, w.finance):
        assert error(api.post(url, headers=headers, json={"reason": "虚假培训"})) == (403, "FORBIDDEN")
    assert error(api.post("/api/v1/organisations/999999/suspension", headers=w.headers.supervisor,
                          json={"reason": "虚假培训"})) == (404, "ORGANISATION_NOT_FOUND")
    assert snapshot() == before

    suspended = api.post(url, headers=w.headers.supervisor, json={"reason": "抽查发现代签到，整改"})
    assert suspended.status_code == 200, suspended.json
    assert suspended.json == {"organisation_id": w.institution_id, "suspended_from": w.day_after.isoformat(),
                              "suspended_reason": "抽查发现代签到，整改"}
    body = class_body(w.day_after + timedelta(days=8), w.id_numbers, region_code=LIN)
    before = snapshot()
    classes_before = count(TrainingClass)
    for response in (api.post(claims_url(w), headers=w.headers.institution),
                     api.post("/api/v1/classes", headers=w.headers.institution, json=body)):
        assert error(response) == (409, "INSTITUTION_SUSPENDED"), response.json
        assert response.json["error"]["details"]["suspended_from"] == w.day_after.isoformat()
    assert snapshot() == before and count(TrainingClass) == classes_before

    assert error(api.delete(url, headers=outside)) == (403, "FORBIDDEN")
    lifted = api.delete(url, headers=w.headers.supervisor)
    assert lifted.status_code == 200 and lifted.json["suspended_from"] is None
    assert file_claim(api, w)["state"] == "submitted"
    created = api.post("/api/v1/classes", headers=w.headers.institution, json=body)
    assert created.status_code == 201, created.json
    assert db.session.scalars(select(Claim.organisation_id)).all() == [w.institution_id]


def test_claims_are_listed_within_each_user_s_scope(api, world):
    w = world
    claim = file_claim(api, w)
    stranger = headers_for(make_staff(Role.INSTITUTION_OPERATOR, make_org(region_code=LIN)))
    city = headers_for(make_staff(Role.BUREAU_REVIEWER, region_code="141100"))
    outside = headers_for(make_staff(Role.BUREAU_REVIEWER, region_code=HUGUAN))

    def listed(headers, **query) -> list[int]:
        response = api.get("/api/v1/claims", headers=headers, query_string=query)
        assert response.status_code == 200, response.json
        assert response.json["total"] == len(response.json["items"])
        return [c["id"] for c in response.json["items"]]

    for headers in (w.headers.institution, w.headers.reviewer, w.finance, city):
        assert listed(headers) == [claim["id"]]
    for headers in (stranger, outside, w.evaluator):
        assert listed(headers) == []
    reviewer = w.headers.reviewer
    assert listed(reviewer, state="submitted", kind="training", class_id=w.class_id) == [claim["id"]]
    assert listed(reviewer, state="paid") == [] and listed(reviewer, kind="certificate") == []
    lost = api.get("/api/v1/claims", headers=reviewer, query_string={"state": "lost"})
    assert error(lost) == (422, "INVALID_STATE")
    trainee = headers_for(w.people[0].user)
    assert error(api.get("/api/v1/claims", headers=trainee)) == (403, "FORBIDDEN")


def test_a_suspended_institution_cannot_resubmit_a_returned_claim(api, world):
    w = world
    claim = file_claim(api, w)
    returned = api.post(f"/api/v1/claims/{claim['id']}/return", headers=w.headers.reviewer,
                        json={"reason": "考勤材料不全"})
    assert returned.status_code == 200, returned.json
    suspended = api.post(f"/api/v1/organisations/{w.institution_id}/suspension", headers=w.headers.supervisor,
                         json={"reason": "抽查发现代签到，整改"})
    assert suspended.status_code == 200, suspended.json
    before = snapshot()
    refused = api.post(f"/api/v1/claims/{claim['id']}/resubmit", headers=w.headers.institution)
    assert error(refused) == (409, "INSTITUTION_SUSPENDED"), refused.json
    assert snapshot() == before
