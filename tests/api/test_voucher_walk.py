"""The closed loop up to the first minute of a class, through the HTTP API on demo data:
apply → approve → open class → approve class → scan → bound (issue 3's acceptance walk)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from server.domain.eligibility import SIX_GROUPS
from server.extensions import db
from server.models import TraineeProfile, User
from server.services import clock as server_clock
from server.services.demo import STAFF_PASSWORD, TRAINEE_PASSWORD, load_demo
from tests.factories import LEVEL, OCCUPATION, class_body, login, upload_documents


@pytest.fixture
def demo(ctx):
    load_demo()


def _eligible_trainee(mobile_prefix: str) -> TraineeProfile:
    """A demo trainee of the region whose categories admit them to 普惠制 training."""
    profiles = db.session.scalars(select(TraineeProfile).join(User)
                                  .where(User.mobile.like(mobile_prefix + "%")).order_by(User.mobile))
    return next(p for p in profiles if set(p.categories) & {str(c) for c in SIX_GROUPS})


@pytest.mark.parametrize("slug,region,prefix",
                         [("linxian", "141124", "13905"), ("wenshui", "141121", "13904")])
def test_apply_approve_open_approve_scan_bind(client, demo, slug, region, prefix):
    trainee = _eligible_trainee(prefix)
    as_trainee = login(client, mobile=trainee.user.mobile, password=TRAINEE_PASSWORD)
    as_reviewer = login(client, username=f"{slug}.reviewer1", password=STAFF_PASSWORD)
    as_institution = login(client, username=f"{slug}.inst1", password=STAFF_PASSWORD)

    # 1. The trainee applies; this region's policy wants a reviewer.
    applied = client.post("/api/v1/vouchers", headers=as_trainee,
                          json={"occupation_code": OCCUPATION, "level": LEVEL, "programme": "puhui"})
    assert applied.status_code == 201, applied.json
    voucher = applied.json
    assert voucher["state"] == "applied" and voucher["region_code"] == region
    assert voucher["serial"].startswith(region + "-")
    assert "*" in voucher["trainee"]["id_number"]  # the trainee sees their own number masked

    # 2. The bureau sees it waiting and approves: issued, with an expiry.
    waiting = client.get("/api/v1/vouchers", headers=as_reviewer, query_string={"state": "applied"}).json
    assert [v["id"] for v in waiting["items"]] == [voucher["id"]]
    issued = client.post(f"/api/v1/vouchers/{voucher['id']}/review", headers=as_reviewer,
                         json={"approve": True})
    assert issued.status_code == 200 and issued.json["state"] == "issued"
    assert issued.json["expires_on"] is not None

    # 3. The institution files the opening with the trainee on its roster, and its documents.
    start = server_clock.today() + timedelta(days=20)
    created = client.post("/api/v1/classes", headers=as_institution,
                          json=class_body(start, [trainee.id_number], region_code=region))
    assert created.status_code == 201, created.json
    klass = created.json
    assert klass["state"] == "draft"
    assert klass["pending"]["missing"] == ["documents.teaching_plan", "documents.syllabus",
                                           "documents.course_schedule"]
    upload_documents(client, as_institution, klass["id"])
    submitted = client.post(f"/api/v1/classes/{klass['id']}/submit", headers=as_institution)
    assert submitted.status_code == 200, submitted.json
    assert submitted.json["state"] == "submitted" and submitted.json["pending"]["missing"] == []

    # 4. The bureau sees the application to review and approves it: the class is open.
    pending = client.get("/api/v1/classes", headers=as_reviewer, query_string={"pending_review": "true"}).json
    assert [c["id"] for c in pending["items"]] == [klass["id"]]
    approved = client.post(f"/api/v1/classes/{klass['id']}/review", headers=as_reviewer,
                           json={"approve": True})
    assert approved.status_code == 200, approved.json
    assert approved.json["state"] == "approved" and approved.json["current"]["number"] == 1
    assert approved.json["roster"][0]["scanned"] is False

    # 5. At class start the institution scans the trainee's QR token: bound.
    token = client.get(f"/api/v1/vouchers/{voucher['id']}/token", headers=as_trainee).json["token"]
    scanned = client.post(f"/api/v1/classes/{klass['id']}/scans", headers=as_institution,
                          json={"token": token, "request_id": "scan-0001", "device_id": "phone-1"})
    assert scanned.status_code == 200, scanned.json
    assert scanned.json["outcome"] == "BOUND" and scanned.json["voucher"]["state"] == "bound"

    # 6. Everyone sees it bound.
    mine = client.get(f"/api/v1/vouchers/{voucher['id']}", headers=as_trainee).json
    assert mine["state"] == "bound" and mine["bound_class_id"] == klass["id"]
    detail = client.get(f"/api/v1/classes/{klass['id']}", headers=as_institution).json
    assert detail["roster"][0]["scanned"] is True and detail["scanned"] == 1
    log = client.get(f"/api/v1/classes/{klass['id']}/scans", headers=as_reviewer).json["items"]
    assert [(e["outcome"], e["device_id"]) for e in log] == [("BOUND", "phone-1")]


def test_huguan_issues_eligible_applications_at_once(client, demo):
    """001 三(一): institutions organise trainees to collect their vouchers; no review step."""
    trainee = _eligible_trainee("13902")
    as_trainee = login(client, mobile=trainee.user.mobile, password=TRAINEE_PASSWORD)
    response = client.post("/api/v1/vouchers", headers=as_trainee,
                           json={"occupation_code": OCCUPATION, "level": LEVEL, "programme": "puhui"})
    assert response.status_code == 201, response.json
    assert response.json["state"] == "issued"
