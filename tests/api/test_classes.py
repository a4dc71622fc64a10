"""Class opening applications: completeness, lead time, documents, rosters, who approves,
amendments and their versions, scope and exports."""

from __future__ import annotations

import io
from datetime import timedelta

import openpyxl
import pytest
from sqlalchemy import func, select

from server.domain.access import Role
from server.extensions import db
from server.models import ClassDocument, TrainingClass
from server.services import auth
from server.services import clock as server_clock
from server.services import vouchers as voucher_service
from tests.factories import (
    LEVEL,
    OCCUPATION,
    class_body,
    login,
    make_id_number,
    make_org,
    make_staff,
    make_trainee,
    pdf_bytes,
    upload_documents,
)

APPROVE = {"approve": True}


def holder(region_code="140427", programme="puhui", categories=None):
    """A trainee holding an issued voucher for the standard occupation."""
    trainee = make_trainee(region_code, categories=categories)
    voucher = voucher_service.apply(auth.principal_of(trainee.user), voucher_service.ApplicationInput(
        occupation_code=OCCUPATION, level=LEVEL, programme=programme, region_code=region_code))
    if voucher.state == "applied":
        reviewer = make_staff(Role.BUREAU_REVIEWER, region_code=region_code)
        voucher_service.review(auth.principal_of(reviewer), voucher.id, True)
    return trainee


@pytest.fixture
def huguan(client, ctx):
    reviewer = make_staff(Role.BUREAU_REVIEWER)
    institution = make_staff(Role.INSTITUTION_OPERATOR, make_org(region_code="140427"))
    return {"reviewer": login(client, username=reviewer.username),
            "institution": login(client, username=institution.username)}


def _create(client, headers, body):
    response = client.post("/api/v1/classes", headers=headers, json=body)
    assert response.status_code == 201, response.json
    return response.json["id"]


def _start(days: int):
    return server_clock.today() + timedelta(days=days)


def _error(response) -> tuple[int, str]:
    return response.status_code, response.json["error"]["code"]


def test_an_incomplete_application_is_refused_naming_what_is_missing(client, huguan):
    body = class_body(_start(10), [holder().id_number])
    del body["teachers"], body["assessment_plan"]
    class_id = _create(client, huguan["institution"], body)
    response = client.post(f"/api/v1/classes/{class_id}/submit", headers=huguan["institution"])
    assert _error(response) == (422, "INCOMPLETE_APPLICATION")
    assert response.json["error"]["details"]["missing"] == [
        "teachers", "assessment_plan", "documents.teaching_plan", "documents.syllabus",
        "documents.course_schedule"]
    assert "授课教师" in response.json["error"]["message"]
    assert db.session.get(TrainingClass, class_id).state == "draft"


@pytest.mark.parametrize("region,programme,categories,lead", [
    ("140427", "puhui", None, 7),  # 001 三(一) 提前一周
    ("141121", "puhui", None, 7),  # 003 三(三)
    ("141121", "order", ["rural_migrant"], 15),  # 003 三(三) 订单式 15 日
    ("141124", "puhui", None, 3),
])
def test_the_regions_lead_time_is_enforced(client, ctx, region, programme, categories, lead):
    reviewer = make_staff(Role.BUREAU_REVIEWER, region_code=region)
    institution = make_staff(Role.INSTITUTION_OPERATOR, make_org(region_code=region))
    headers = login(client, username=institution.username)
    trainee = holder(region, programme, categories)
    late = class_body(_start(lead - 1), [trainee.id_number], region_code=region, programme=programme)
    class_id = _create(client, headers, late)
    upload_documents(client, headers, class_id)
    response = client.post(f"/api/v1/classes/{class_id}/submit", headers=headers)
    assert _error(response) == (422, "LATE_APPLICATION")
    assert response.json["error"]["details"]["lead_days"] == lead
    assert response.json["error"]["details"]["earliest_start"] == _start(lead).isoformat()
    # Moved to the earliest allowed day, it goes through.
    fixed = client.patch(f"/api/v1/classes/{class_id}/draft", headers=headers,
                         json={k: v for k, v in class_body(_start(lead), [trainee.id_number],
                                                           region_code=region).items()
                               if k in ("start_date", "end_date", "sessions")})
    assert fixed.status_code == 200, fixed.json
    assert client.post(f"/api/v1/classes/{class_id}/submit", headers=headers).status_code == 200
    assert reviewer  # the region's bureau exists to review it


def test_a_roster_with_an_invalid_id_number_is_refused_and_nothing_is_created(client, huguan):
    bad = make_id_number()[:-1] + ("0" if make_id_number()[-1] != "0" else "1")
    body = class_body(_start(10), [holder().id_number, bad])
    response = client.post("/api/v1/classes", headers=huguan["institution"], json=body)
    assert _error(response) == (422, "INVALID_ROSTER_ID_NUMBER")
    assert response.json["error"]["details"]["index"] == 1
    assert bad not in str(response.json)
    assert db.session.scalar(select(func.count()).select_from(TrainingClass)) == 0


def test_a_roster_entry_without_a_matching_voucher_is_refused_at_submission(client, huguan):
    no_voucher = make_trainee()
    class_id = _create(client, huguan["institution"], class_body(_start(10), [holder().id_number,
                                                                             no_voucher.id_number]))
    upload_documents(client, huguan["institution"], class_id)
    response = client.post(f"/api/v1/classes/{class_id}/submit", headers=huguan["institution"])
    assert _error(response) == (422, "ROSTER_WITHOUT_VOUCHER")
    entries = response.json["error"]["details"]["entries"]
    assert [e["index"] for e in entries] == [1] and "*" in entries[0]["id_number"]


@pytest.mark.parametrize("filename,data,status,code", [
    ("教学实施计划.pdf", b"\x89PNG\r\n\x1a\n" + b"\0" * 100, 422, "DOCUMENT_CONTENT_MISMATCH"),
    ("教学实施计划.exe", pdf_bytes(), 422, "DOCUMENT_UNSUPPORTED_EXTENSION"),
    ("教学实施计划.pdf", b"", 422, "DOCUMENT_EMPTY"),
    ("教学实施计划.pdf", b"%PDF-1.4\n" + b"0" * (10 * 1024 * 1024), 413, "DOCUMENT_TOO_LARGE"),
])
def test_a_document_that_is_not_what_it_claims_is_refused_and_not_kept(client, huguan, filename, data,
                                                                       status, code):
    class_id = _create(client, huguan["institution"], class_body(_start(10), [holder().id_number]))
    response = client.put(f"/api/v1/classes/{class_id}/documents/teaching_plan",
                          headers=huguan["institution"], query_string={"filename": filename}, data=data,
                          content_type="application/octet-stream")
    assert _error(response) == (status, code)
    assert db.session.scalar(select(func.count()).select_from(ClassDocument)) == 0


def test_an_unknown_document_kind_is_refused(client, huguan):
    class_id = _create(client, huguan["institution"], class_body(_start(10), [holder().id_number]))
    response = client.put(f"/api/v1/classes/{class_id}/documents/photos", headers=huguan["institution"],
                          query_string={"filename": "a.pdf"}, data=pdf_bytes())
    assert _error(response) == (422, "INVALID_DOCUMENT_KIND")


def test_documents_download_as_uploaded_for_the_bureau(client, huguan):
    class_id = _create(client, huguan["institution"], class_body(_start(10), [holder().id_number]))
    upload_documents(client, huguan["institution"], class_id)
    detail = client.get(f"/api/v1/classes/{class_id}", headers=huguan["reviewer"]).json
    plan = next(d for d in detail["documents"] if d["kind"] == "teaching_plan")
    response = client.get(f"/api/v1/classes/{class_id}/documents/{plan['id']}", headers=huguan["reviewer"])
    assert response.status_code == 200 and response.data == pdf_bytes()
    assert response.headers["Content-Type"] == "application/pdf"
    assert "filename*=UTF-8''" in response.headers["Content-Disposition"]


def _submitted(client, headers, roster, **kwargs) -> int:
    class_id = _create(client, headers, class_body(_start(10), roster, **kwargs))
    upload_documents(client, headers, class_id)
    response = client.post(f"/api/v1/classes/{class_id}/submit", headers=headers)
    assert response.status_code == 200, response.json
    return class_id


def test_rejection_needs_a_reason_and_the_class_can_be_refiled(client, huguan):
    class_id = _submitted(client, huguan["institution"], [holder().id_number])
    response = client.post(f"/api/v1/classes/{class_id}/review", headers=huguan["reviewer"],
                           json={"approve": False})
    assert _error(response) == (422, "REASON_REQUIRED")
    rejected = client.post(f"/api/v1/classes/{class_id}/review", headers=huguan["reviewer"],
                           json={"approve": False, "reason": "教学计划课时不足"})
    assert rejected.json["state"] == "rejected"
    again = client.post(f"/api/v1/classes/{class_id}/review", headers=huguan["reviewer"], json=APPROVE)
    assert _error(again) == (409, "NOTHING_TO_REVIEW")
    edited = client.patch(f"/api/v1/classes/{class_id}/draft", headers=huguan["institution"],
                          json={"assessment_plan": "理论 40% + 实操 60%"})
    assert edited.json["state"] == "draft" and edited.json["pending"]["number"] == 2
    versions = client.get(f"/api/v1/classes/{class_id}/versions", headers=huguan["institution"]).json["items"]
    assert [(v["number"], v["state"], v["reason"]) for v in versions] == [
        (1, "rejected", "教学计划课时不足"), (2, "draft", None)]


def test_an_approved_class_changes_only_through_a_reapproved_amendment(client, huguan):
    first, second = holder(), holder()
    class_id = _submitted(client, huguan["institution"], [first.id_number])
    client.post(f"/api/v1/classes/{class_id}/review", headers=huguan["reviewer"], json=APPROVE)
    amended = client.patch(f"/api/v1/classes/{class_id}/draft", headers=huguan["institution"],
                           json={"roster": [first.id_number, second.id_number], "name": "养老护理员初级二班"})
    assert amended.status_code == 200
    body = amended.json
    assert body["state"] == "approved" and body["name"] == "养老护理员初级培训班"  # v1 still in force
    assert body["current"]["number"] == 1 and body["pending"]["number"] == 2
    assert len(body["roster"]) == 1
    client.post(f"/api/v1/classes/{class_id}/submit", headers=huguan["institution"])
    locked = client.patch(f"/api/v1/classes/{class_id}/draft", headers=huguan["institution"],
                          json={"name": "再改"})
    assert _error(locked) == (409, "VERSION_UNDER_REVIEW")
    approved = client.post(f"/api/v1/classes/{class_id}/review", headers=huguan["reviewer"],
                           json=APPROVE).json
    assert approved["name"] == "养老护理员初级二班" and approved["current"]["number"] == 2
    assert len(approved["roster"]) == 2 and approved["pending"] is None
    versions = client.get(f"/api/v1/classes/{class_id}/versions", headers=huguan["reviewer"]).json["items"]
    assert [(v["number"], v["state"]) for v in versions] == [(1, "superseded"), (2, "approved")]


def test_order_type_openings_in_yangquan_need_the_city_bureau(client, ctx):
    """002 第六条: county applies, city approves order/project-type classes."""
    county_reviewer = make_staff(Role.BUREAU_REVIEWER, region_code="140302")
    city_reviewer = make_staff(Role.BUREAU_REVIEWER, region_code="140300")
    institution = make_staff(Role.INSTITUTION_OPERATOR, make_org(region_code="140302"))
    trainee = holder("140302", "order", ["rural_migrant"])
    headers = login(client, username=institution.username)
    class_id = _submitted(client, headers, [trainee.id_number], region_code="140302", programme="order")
    county = client.post(f"/api/v1/classes/{class_id}/review",
                         headers=login(client, username=county_reviewer.username), json=APPROVE)
    assert _error(county) == (403, "CITY_APPROVAL_REQUIRED")
    city = client.post(f"/api/v1/classes/{class_id}/review",
                       headers=login(client, username=city_reviewer.username), json=APPROVE)
    assert city.status_code == 200 and city.json["state"] == "approved"


def test_classes_are_scoped_to_their_institution_and_region(client, huguan):
    class_id = _create(client, huguan["institution"], class_body(_start(10), [holder().id_number]))
    other_institution = make_staff(Role.INSTITUTION_OPERATOR, make_org(region_code="140427"))
    other_region = make_staff(Role.BUREAU_REVIEWER, region_code="141124")
    for user in (other_institution, other_region):
        response = client.get(f"/api/v1/classes/{class_id}", headers=login(client, username=user.username))
        assert _error(response) == (404, "CLASS_NOT_FOUND")
    assert client.get("/api/v1/classes", headers=login(client, username=other_institution.username)
                      ).json["total"] == 0


def test_a_class_outside_the_institutions_city_is_refused(client, huguan):
    body = class_body(_start(10), [holder().id_number], region_code="141124")
    assert _error(client.post("/api/v1/classes", headers=huguan["institution"], json=body)) == (
        403, "CLASS_REGION_OUT_OF_AREA")


def test_the_institution_sees_its_roster_trainees_masked_once_the_class_is_approved(client, huguan):
    trainee = holder()
    assert client.get(f"/api/v1/trainees/{trainee.id}", headers=huguan["institution"]).status_code == 404
    class_id = _submitted(client, huguan["institution"], [trainee.id_number])
    client.post(f"/api/v1/classes/{class_id}/review", headers=huguan["reviewer"], json=APPROVE)
    seen = client.get(f"/api/v1/trainees/{trainee.id}", headers=huguan["institution"])
    assert seen.status_code == 200 and seen.json["id_number_masked"] is True
    detail = client.get(f"/api/v1/classes/{class_id}", headers=huguan["institution"]).json
    proposal = detail["current"]["proposal"]
    assert all("*" in n for n in proposal["roster"])
    assert all("*" in t["id_number"] for t in proposal["teachers"])
    full = client.get(f"/api/v1/classes/{class_id}", headers=huguan["reviewer"]).json["current"]["proposal"]
    assert full["roster"] == [trainee.id_number]


def test_bureau_exports_classes_with_chinese_headers(client, huguan):
    class_id = _submitted(client, huguan["institution"], [holder().id_number])
    client.post(f"/api/v1/classes/{class_id}/review", headers=huguan["reviewer"], json=APPROVE)
    csv_response = client.get("/api/v1/classes/export.csv", headers=huguan["reviewer"])
    assert csv_response.status_code == 200
    text = csv_response.data.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("班级编号,班级名称,状态,培训机构")
    assert "养老护理员初级培训班" in text and "已开班" in text
    xlsx = client.get("/api/v1/classes/export.xlsx", headers=huguan["reviewer"],
                      query_string={"state": "approved"})
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("班级编号", "班级名称", "状态") and rows[1][0] == class_id
    assert rows[1][-2:] == (1, 0)  # roster of one, nobody scanned yet
    assert client.get("/api/v1/classes/export.pdf", headers=huguan["reviewer"]).status_code == 404
