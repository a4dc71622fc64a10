"""What a claim's amounts rest on besides the check-ins, through the API: the trainees' employment
proof for an order-type class (就业证明; Huguan 001 二(六) with the provincial rule as 003 四(三)
quotes it: a contract of six months or more with the first and the latest payroll), and the half
days the bureau finds without video (影像资料缺失; Wenshui 003 五(二))."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from server.domain.access import Role
from server.extensions import db
from server.models import ClassDocument, EmploymentEvidence, VideoGap
from tests.api.claim_world import (
    HUGUAN,
    LIN,
    WENSHUI,
    count,
    error,
    file_claim,
    finished_class,
    headers_for,
    snapshot,
    training_lines,
)
from tests.factories import make_staff, make_trainee, pdf_bytes


def everyone(n: int, index: int, sessions: int) -> bool:
    return True


def preview(api, w) -> dict:
    response = api.get(f"/api/v1/classes/{w.class_id}/claim-preview", headers=w.headers.institution)
    assert response.status_code == 200, response.json
    return response.json


# --- employment evidence (Huguan, order-type) -----------------------------------------------


@pytest.fixture
def order(api, ctx, clock):
    """Huguan 订单式: five trainees, three days of two sessions, everyone at every session."""
    w = finished_class(api, clock, region_code=HUGUAN, programme="order", trainees=5, days=3,
                       attends=everyone, excluded=())
    uploaded = api.put(f"/api/v1/classes/{w.class_id}/documents/employment_proof",
                       headers=w.headers.institution, query_string={"filename": "proof.pdf"},
                       data=pdf_bytes(), content_type="application/octet-stream")
    assert uploaded.status_code == 201, uploaded.json
    w.proof_id = uploaded.json["id"]
    return w


def contract(w, **changes) -> dict:
    return {"employer": "壶关县康养服务有限公司", "social_credit_code": "91140427ma0k123456",
            "contract_start": w.day_after.isoformat(), "contract_months": 12, "proof_type": "contract",
            "has_payroll": True, "document_id": w.proof_id} | changes


def record(api, w, n: int, body: dict | None = None, headers=None):
    return api.put(f"/api/v1/classes/{w.class_id}/employment/{w.trainee_ids[n]}",
                   headers=headers or w.headers.institution, json=body or contract(w))


def test_below_80_percent_employed_only_the_employed_are_paid_from_80_everyone(api, order):
    w = order
    # 001 二(六): 150 元 a day for the first 10 days; three days each = 3 × 150 = 450 元.
    per_person = 3 * 15000
    nobody = preview(api, w)
    assert nobody["basis"]["employed"] == 0 and nobody["basis"]["branch"] == "employed_only"
    assert nobody["total_fen"] == 0
    assert all("NOT_EMPLOYED" in ln["reasons"] for ln in nobody["lines"])

    for n in range(3):
        recorded = record(api, w, n)
        assert recorded.status_code == 200, recorded.json
    assert recorded.json["social_credit_code"] == "91140427MA0K123456"
    three = preview(api, w)
    # 3 of 5 employed = 60 % < 80 %: pay only the employed (001 二(六) 按照实际就业人数).
    assert (three["basis"]["employed"], three["basis"]["trained"], three["basis"]["branch"]) == (
        3, 5, "employed_only")
    lines = training_lines(three)
    assert [lines[t]["amount_fen"] for t in w.trainee_ids] == [per_person] * 3 + [0, 0]
    assert all("NOT_EMPLOYED" in lines[t]["reasons"] for t in w.trainee_ids[3:])
    assert three["total_fen"] == 3 * per_person == 135000

    assert record(api, w, 3).status_code == 200
    four = preview(api, w)
    # 4 of 5 = 80 %, the threshold met at equality: everyone trained is paid in full.
    assert (four["basis"]["employed"], four["basis"]["branch"]) == (4, "full")
    assert [training_lines(four)[t]["amount_fen"] for t in w.trainee_ids] == [per_person] * 5
    assert four["total_fen"] == 5 * per_person == 225000

    claim = file_claim(api, w)
    assert claim["total_fen"] == 225000 and claim["basis"]["employment_rate_numerator"] == 4
    listed = api.get(f"/api/v1/classes/{w.class_id}/employment", headers=w.headers.reviewer)
    assert sorted(e["trainee_id"] for e in listed.json["items"]) == sorted(w.trainee_ids[:4])
    before = snapshot()
    late = record(api, w, 4)
    assert error(late) == (409, "CLAIM_IN_PROGRESS")  # the evidence is frozen with the claim
    assert snapshot() == before and count(EmploymentEvidence) == 4


def test_evidence_that_does_not_meet_the_region_s_rule_is_refused_with_its_code(api, order):
    w = order
    report = db.session.scalar(select(ClassDocument.id).where(ClassDocument.class_id == w.class_id,
                                                              ClassDocument.kind == "completion_report"))
    future = (w.day_after + timedelta(days=1)).isoformat()
    stranger = make_trainee(HUGUAN)
    cases = [
        (contract(w, contract_months=5), 422, "EVIDENCE_CONTRACT_TOO_SHORT"),
        (contract(w, has_payroll=False), 422, "EVIDENCE_PAYROLL_REQUIRED"),
        (contract(w, contract_months=None), 422, "EVIDENCE_CONTRACT_INCOMPLETE"),
        (contract(w, contract_start=future), 422, "EVIDENCE_CONTRACT_NOT_STARTED"),
        (contract(w, proof_type="wage"), 422, "EVIDENCE_PROOF_NOT_ACCEPTED"),
        (contract(w, social_credit_code="91140427MA0K12345O"), 422, "EVIDENCE_SOCIAL_CREDIT_CODE_INVALID"),
        (contract(w, employer="  "), 422, "EVIDENCE_EMPLOYER_REQUIRED"),
        (contract(w, document_id=report), 422, "UNKNOWN_DOCUMENT"),
        (contract(w, document_id=999999), 422, "UNKNOWN_DOCUMENT"),
    ]
    before = snapshot()
    for body, status, code in cases:
        refused = record(api, w, 0, body)
        assert error(refused) == (status, code), (body, refused.json)
    short = record(api, w, 0, contract(w, contract_months=5))
    assert short.json["error"]["details"]["minimum_months"] == 6
    outsider = api.put(f"/api/v1/classes/{w.class_id}/employment/{stranger.id}",
                       headers=w.headers.institution, json=contract(w))
    assert error(outsider) == (404, "NOT_IN_CLASS")
    assert error(record(api, w, 0, headers=w.headers.reviewer)) == (403, "FORBIDDEN")
    assert snapshot() == before and count(EmploymentEvidence) == 0
    assert preview(api, w)["basis"]["employed"] == 0

    # A business licence proves self-employment (003 四(三)); a second record replaces the first.
    licence = contract(w, proof_type="business_licence", contract_start=None, contract_months=None,
                       has_payroll=False, employer="壶关县某某家政服务部")
    assert record(api, w, 0, licence).status_code == 200
    assert record(api, w, 0).status_code == 200
    [row] = db.session.scalars(select(EmploymentEvidence)).all()
    assert (row.proof_type, row.contract_months) == ("contract", 12)


# --- video gaps (Wenshui) -------------------------------------------------------------------


@pytest.fixture
def wenshui(api, ctx, clock):
    """Wenshui 普惠制 (100 元/day): two trainees, three days, both signing in at every session
    themselves and by e-voucher (003 三(四) 双签到), both on the roster and passing."""
    return finished_class(api, clock, region_code=WENSHUI, trainees=2, days=3, attends=everyone, excluded=())


def gap(api, w, day, half="am", reason="监控录像缺失", headers=None):
    return api.post(f"/api/v1/classes/{w.class_id}/video-gaps", headers=headers or w.headers.supervisor,
                    json={"day": day.isoformat(), "half": half, "reason": reason})


def test_each_missing_half_day_of_video_deducts_half_a_training_day(api, wenshui):
    w = wenshui
    first, second = w.sessions[0].day, w.sessions[2].day
    full = preview(api, w)
    # Six half days attended = 3 days × 100 元 = 300 元 each; both passed, so no pass-rate cut.
    assert [ln["amount_fen"] for ln in full["lines"]] == [30000, 30000]
    assert full["basis"]["pass_rate_reduction"] == 0

    recorded = gap(api, w, first, "am", "上午教室摄像头故障，无影像")
    assert recorded.status_code == 201, recorded.json
    assert (recorded.json["day"], recorded.json["half"]) == (first.isoformat(), "am")
    one = preview(api, w)
    # 003 五(二): half a day off for the missing half day: 2.5 days × 100 元 = 250 元.
    for line in one["lines"]:
        assert line["gross_fen"] == 30000 and line["half_days"] == 5 and line["amount_fen"] == 25000
        assert line["reasons"] == ["VIDEO_GAP"]
        assert [(a["reason"], a["amount_fen"]) for a in line["adjustments"]] == [("VIDEO_GAP", -5000)]
    assert one["basis"]["video_gap_half_days"] == 1 and one["total_fen"] == 50000

    outside = headers_for(make_staff(Role.BUREAU_SUPERVISOR, region_code=LIN))
    before = snapshot()
    for response, expected in (
            (gap(api, w, first, "am"), (409, "VIDEO_GAP_EXISTS")),
            (gap(api, w, first - timedelta(days=1)), (422, "DAY_OUTSIDE_CLASS")),
            (gap(api, w, first, "xx"), (422, "INVALID_HALF_DAY")),
            (gap(api, w, first, "pm", "  "), (422, "REASON_REQUIRED")),
            (gap(api, w, first, "pm", headers=w.headers.institution), (403, "FORBIDDEN")),
            (gap(api, w, first, "pm", headers=outside), (404, "CLASS_NOT_FOUND"))):
        assert error(response) == expected, response.json
    assert snapshot() == before and count(VideoGap) == 1

    # A whole day without video (both halves of the second day) takes a full day more.
    assert gap(api, w, second, "am").status_code == 201
    assert gap(api, w, second, "pm", headers=w.headers.reviewer).status_code == 201
    claim = file_claim(api, w)
    # 6 − 3 half days = 1.5 days × 100 元 = 150 元 each.
    assert [ln["amount_fen"] for ln in claim["lines"]] == [15000, 15000] and claim["total_fen"] == 30000
    assert all(ln["half_days"] == 3 for ln in claim["lines"])
    listed = api.get(f"/api/v1/classes/{w.class_id}/video-gaps", headers=w.headers.institution)
    assert [(g["day"], g["half"]) for g in listed.json["items"]] == [
        (first.isoformat(), "am"), (second.isoformat(), "am"), (second.isoformat(), "pm")]
    assert error(gap(api, w, w.sessions[2].day - timedelta(days=1), "pm")) == (409, "CLAIM_IN_PROGRESS")
