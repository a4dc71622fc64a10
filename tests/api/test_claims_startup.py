"""Startup training's staged payment through the API (004 二(五), Lin): 180 元 a day capped at
1,800; 80 % once the class's pass rate reaches 80 %, the other 20 % when at least 20 % of those who
passed hold a business licence within six months of the end — a second claim, filed after the
first is paid, paying the vouchers the first one wrote off."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from server.extensions import db
from server.models import SubsidyGrant, Voucher
from tests.api.claim_world import (
    after_notice,
    approve,
    error,
    finished_class,
    pay,
    snapshot,
)
from tests.factories import pdf_bytes


@pytest.fixture
def startup(api, ctx, clock):
    """Trainee 0 at all 10 sessions (5 days), trainee 1 all but the last afternoon (4.5 days),
    trainee 2 left off the roster; both on it pass."""
    return finished_class(api, clock, programme="startup", categories=["entrepreneur"])


def claim_stage(api, w, stage: int):
    return api.post(f"/api/v1/classes/{w.class_id}/claims", headers=w.headers.institution,
                    query_string={"stage": stage})


def through_notice(api, w, clock, claim: dict) -> dict:
    approve(api, w.headers.reviewer, claim["id"])
    noticed = approve(api, w.reviewer2, claim["id"])
    after_notice(clock, noticed)
    paid = pay(api, w, noticed)
    assert paid.status_code == 201, paid.json
    return paid.json


def amounts(claim: dict) -> dict[tuple[int, str], int]:
    return {(ln["trainee_id"], ln["item"]): ln["amount_fen"] for ln in claim["lines"] if ln["amount_fen"]}


def test_the_first_stage_pays_80_percent_and_the_second_20_percent_once_licences_are_held(
        api, startup, clock):
    w = startup
    t0, t1 = w.trainee_ids[0], w.trainee_ids[1]
    early = claim_stage(api, w, 2)
    assert error(early) == (409, "FIRST_STAGE_NOT_PAID")

    first = claim_stage(api, w, 1)
    assert first.status_code == 201, first.json
    # 5 days × 180 = 900 元 → 80 % = 720 元; 4.5 days × 180 = 810 元 → 80 % = 648 元.
    assert amounts(first.json) == {(t0, "startup_first_stage"): 72000, (t1, "startup_first_stage"): 64800}
    through_notice(api, w, clock, first.json)
    vouchers = {v.trainee_id: v.state for v in db.session.scalars(select(Voucher))}
    assert vouchers[t0] == vouchers[t1] == "written_off"

    # No licence yet: the second stage has nothing to pay, and filing it says so.
    before = snapshot()
    assert error(claim_stage(api, w, 2)) == (422, "NOTHING_TO_CLAIM")
    assert snapshot() == before

    uploaded = api.put(f"/api/v1/classes/{w.class_id}/documents/employment_proof",
                       headers=w.headers.institution, query_string={"filename": "licence.pdf"},
                       data=pdf_bytes(), content_type="application/octet-stream")
    assert uploaded.status_code == 201, uploaded.json
    licence = {"employer": "临县碛口农家乐", "social_credit_code": "92141124MA0K654321",
               "contract_start": (w.day_after + timedelta(days=40)).isoformat(), "contract_months": None,
               "proof_type": "business_licence", "has_payroll": False, "document_id": uploaded.json["id"]}
    recorded = api.put(f"/api/v1/classes/{w.class_id}/employment/{t0}", headers=w.headers.institution,
                       json=licence)
    assert recorded.status_code == 200, recorded.json
    contract = api.put(f"/api/v1/classes/{w.class_id}/employment/{t1}", headers=w.headers.institution,
                       json=licence | {"proof_type": "contract", "contract_months": 12})
    assert error(contract) == (422, "EMPLOYMENT_NOT_REQUIRED")  # startup counts licences only

    # 1 licence among 2 who passed = 50 % ≥ 20 %: the remaining 20 % for both: 180 元 and 162 元.
    second = claim_stage(api, w, 2)
    assert second.status_code == 201, second.json
    assert amounts(second.json) == {(t0, "startup_second_stage"): 18000, (t1, "startup_second_stage"): 16200}
    assert error(claim_stage(api, w, 2)) == (409, "CLAIM_ALREADY_FILED")
    # Returned and filed again, the second stage is recomputed as the second stage.
    returned = api.post(f"/api/v1/claims/{second.json['id']}/return", headers=w.headers.reviewer,
                        json={"reason": "营业执照复印件不清晰"})
    assert returned.status_code == 200, returned.json
    again = api.post(f"/api/v1/claims/{second.json['id']}/resubmit", headers=w.headers.institution)
    assert again.status_code == 200, again.json
    assert amounts(again.json) == amounts(second.json) and again.json["version"] == 2
    through_notice(api, w, clock, second.json)
    grants = sorted(db.session.execute(select(SubsidyGrant.trainee_id, SubsidyGrant.item,
                                              SubsidyGrant.amount_fen)).tuples().all())
    assert grants == sorted([(t0, "startup_first_stage", 72000), (t1, "startup_first_stage", 64800),
                             (t0, "startup_second_stage", 18000), (t1, "startup_second_stage", 16200)])
    # 900 + 810 元 in all: each voucher paid its whole standard, once per stage.
    assert sum(amount for *_, amount in grants) == 90000 + 81000


def test_only_startup_training_has_a_second_stage(api, ctx, clock):
    w = finished_class(api, clock)  # 普惠制
    assert error(claim_stage(api, w, 2)) == (422, "INVALID_STAGE")
    assert error(api.post(f"/api/v1/classes/{w.class_id}/claims", headers=w.headers.institution,
                          query_string={"stage": 3})) == (422, "VALIDATION_FAILED")
