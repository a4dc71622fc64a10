"""Subsidy claims through the API, from filing to write-off: the computed breakdown, two-person
review, the public notice with an objection, finance's payment writing the vouchers off."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from server.extensions import db
from server.models import Claim, SubsidyGrant, Voucher
from tests.api.claim_world import finished_class


@pytest.fixture
def world(client, ctx, clock):
    return finished_class(client, clock)


def test_a_claim_from_filing_to_write_off(client, world, clock):
    w = world
    preview = client.get(f"/api/v1/classes/{w.class_id}/claim-preview", headers=w.headers.institution)
    assert preview.status_code == 200, preview.json
    training = {ln["trainee_id"]: ln for ln in preview.json["lines"] if ln["item"] == "training"}
    # 004 二(一): 普惠制 100 元/day. Trainee 0: 10 half days = 5 days × 100 = 500 元;
    # trainee 1 missed one afternoon: 9 half days = 4.5 days × 100 = 450 元.
    assert training[w.trainee_ids[0]]["amount_fen"] == 50000
    assert training[w.trainee_ids[1]]["amount_fen"] == 45000
    assert training[w.trainee_ids[2]]["amount_fen"] == 0
    assert "NOT_ON_ROSTER" in training[w.trainee_ids[2]]["reasons"]

    filed = client.post(f"/api/v1/classes/{w.class_id}/claims", headers=w.headers.institution)
    assert filed.status_code == 201, filed.json
    claim = filed.json
    assert claim["state"] == "submitted" and claim["total_fen"] == preview.json["total_fen"]
    again = client.post(f"/api/v1/classes/{w.class_id}/claims", headers=w.headers.institution)
    assert again.status_code == 409 and again.json["error"]["code"] == "CLAIM_ALREADY_FILED"

    first = client.post(f"/api/v1/claims/{claim['id']}/approve", headers=w.headers.reviewer)
    assert first.status_code == 200 and first.json["state"] == "first_approved", first.json
    twice = client.post(f"/api/v1/claims/{claim['id']}/approve", headers=w.headers.reviewer)
    assert twice.status_code == 409 and twice.json["error"]["code"] == "SAME_REVIEWER"
    second = client.post(f"/api/v1/claims/{claim['id']}/approve", headers=w.reviewer2)
    assert second.status_code == 200 and second.json["state"] == "in_notice", second.json
    notice = second.json["notice"]
    assert notice["working_days"] == 5

    public = client.get(f"/api/v1/public/notices/{claim['number']}")
    assert public.status_code == 200, public.json
    names = {e["person_name"] for e in public.json["entries"]}
    assert names == {"学**"} and all("*" in e["id_number"] for e in public.json["entries"])

    objection = client.post(f"/api/v1/public/notices/{claim['number']}/objections",
                            json={"text": "学员1 最后一天下午不在培训现场", "contact": "13900000000"})
    assert objection.status_code == 201, objection.json
    held = client.post(f"/api/v1/claims/{claim['id']}/disbursement", headers=w.finance,
                       json={"amount_fen": claim["total_fen"], "paid_on": str(clock_today(clock)),
                             "reference": "LX-2026-001"})
    assert held.status_code == 409, held.json
    dismissed = client.post(f"/api/v1/objections/{objection.json['id']}/decision", headers=w.headers.reviewer,
                            json={"outcome": "dismissed", "reason": "核实考勤记录与视频，学员在场"})
    assert dismissed.status_code == 200, dismissed.json
    assert client.get(f"/api/v1/claims/{claim['id']}", headers=w.finance).json["state"] == "in_notice"

    clock.advance(days=10)
    paid = client.post(f"/api/v1/claims/{claim['id']}/disbursement", headers=w.finance,
                       json={"amount_fen": claim["total_fen"], "paid_on": str(clock_today(clock)),
                             "reference": "LX-2026-001"})
    assert paid.status_code == 201, paid.json
    assert paid.json["state"] == "paid" and paid.json["disbursement"]["reference"] == "LX-2026-001"
    states = {v.trainee_id: v.state for v in db.session.scalars(select(Voucher))}
    assert states[w.trainee_ids[0]] == "written_off" and states[w.trainee_ids[1]] == "written_off"
    assert states[w.trainee_ids[2]] == "bound"
    assert db.session.scalar(select(Claim.state)) == "paid"
    assert len(db.session.scalars(select(SubsidyGrant)).all()) >= 2
    twice = client.post(f"/api/v1/claims/{claim['id']}/disbursement", headers=w.finance,
                        json={"amount_fen": claim["total_fen"], "paid_on": str(clock_today(clock)),
                              "reference": "LX-2026-001"})
    assert twice.status_code == 409


def clock_today(clock):
    from server.services import clock as service
    return service.today() - timedelta(days=0)
