"""Finished classes ready for their subsidy claim, and the steps of a claim through the API.

`finished_class()` by default is Lin county (普惠制 100 元/day, ≤ 1,000; 004 二(一)), five days of
two sessions, three trainees scanned in. Trainee 0 attends every session, trainee 1 all but the
last afternoon, trainee 2 is left off the completion roster; both on it pass. The clock is left
the day after the class ends. Its keywords make other classes: another region, programme, number
of trainees or days, who attends, who is left off; where the region asks for the e-voucher
sign-in beside the trainee's own (Wenshui, 003 三(四)) the institution scans every attending
trainee's voucher at every session, as it would at the door.

Staff and trainees get their access tokens straight from the token issuer: signing in through
the API costs an argon2 verification each, and the sign-in itself is tested elsewhere.
`Api` wraps the test client for tests that run inside the test's application context: there a
request shares the test's database session, so `Api` ends the request's transaction afterwards
as the application context's teardown would (what a refused request left unflushed or
uncommitted is dropped, as in production)."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta
from types import SimpleNamespace

from flask import current_app
from sqlalchemy import func, select

from server.adapters import access_tokens
from server.domain.access import OrgKind, Role
from server.extensions import db
from server.models import (
    AuditEvent,
    Claim,
    ClaimApproval,
    ClaimLine,
    ClaimObjection,
    ClassSession,
    Disbursement,
    Organisation,
    Recovery,
    SubsidyGrant,
    TrainingClass,
    Voucher,
)
from server.services import auth, policies
from server.services import clock as clock_service
from server.services import vouchers as voucher_service
from tests.api.checkin_world import FILED_AT, SITE, at_start, check_in, offset
from tests.factories import (
    OCCUPATION,
    class_body,
    docx_bytes,
    make_org,
    make_staff,
    make_trainee,
    pdf_bytes,
    upload_documents,
)

LIN, HUGUAN, WENSHUI = "141124", "140427", "141121"
START = FILED_AT.date() + timedelta(days=8)  # past every region's lead time but Wenshui's order-type


# --- signing in and calling -------------------------------------------------------------------


def headers_for(user) -> dict:
    """An access token for `user`, as a sign-in would give it."""
    token = access_tokens.issue(current_app.config["SECRET_KEY"], user_id=user.id, role=str(user.role),
                                minutes=60, version=user.token_version)
    return {"Authorization": f"Bearer {token}"}


class Api:
    """The test client, ending each request's transaction as the request's teardown would."""

    def __init__(self, client):
        self.raw = client

    def _call(self, method: str, *args, **kwargs):
        response = getattr(self.raw, method)(*args, **kwargs)
        db.session.rollback()
        return response

    def get(self, *args, **kwargs):
        return self._call("get", *args, **kwargs)

    def post(self, *args, **kwargs):
        return self._call("post", *args, **kwargs)

    def put(self, *args, **kwargs):
        return self._call("put", *args, **kwargs)

    def delete(self, *args, **kwargs):
        return self._call("delete", *args, **kwargs)


def at(clock, day: date, hour: int = 9) -> None:
    """Set the clock to `hour` o'clock, China time, on `day`."""
    clock.set(datetime.combine(day, datetime.min.time(), tzinfo=clock_service.CHINA) + timedelta(hours=hour))


def error(response) -> tuple[int, str | None]:
    return response.status_code, (response.json or {}).get("error", {}).get("code")


# --- the class --------------------------------------------------------------------------------


def open_class(client, clock, *, region_code: str = LIN, programme: str = "puhui", trainees: int = 3,
               days: int = 5, names: list[str] | None = None, categories: list[str] | None = None):
    """File, approve and scan a class starting on START; the clock is left at FILED_AT."""
    clock.set(FILED_AT)
    reviewer = make_staff(Role.BUREAU_REVIEWER, region_code=region_code)
    supervisor = make_staff(Role.BUREAU_SUPERVISOR, reviewer.organisation, region_code=region_code)
    institution_org = make_org(region_code=region_code)
    institution = make_staff(Role.INSTITUTION_OPERATOR, institution_org)
    names = names or [f"学员{n}" for n in range(trainees)]
    people = [make_trainee(region_code, real_name=name, categories=categories) for name in names]
    vouchers = []
    for person in people:
        voucher = voucher_service.apply(auth.principal_of(person.user), voucher_service.ApplicationInput(
            occupation_code=OCCUPATION, level="初级", programme=programme, region_code=region_code))
        if voucher.state == "applied":
            voucher_service.review(auth.principal_of(reviewer), voucher.id, True)
        vouchers.append(voucher.id)
    headers = SimpleNamespace(reviewer=headers_for(reviewer), supervisor=headers_for(supervisor),
                              institution=headers_for(institution),
                              trainees=[headers_for(p.user) for p in people])
    body = class_body(START, [p.id_number for p in people], region_code=region_code, days=days,
                      programme=programme)
    body["site"] = {"address": "县职教中心", "latitude": SITE[0], "longitude": SITE[1], "radius_m": 200,
                    "datum": "wgs84"}
    created = client.post("/api/v1/classes", headers=headers.institution, json=body)
    assert created.status_code == 201, created.json
    class_id = created.json["id"]
    upload_documents(client, headers.institution, class_id)
    assert client.post(f"/api/v1/classes/{class_id}/submit", headers=headers.institution).status_code == 200
    approved = client.post(f"/api/v1/classes/{class_id}/review", headers=headers.reviewer,
                           json={"approve": True})
    assert approved.status_code == 200, approved.json
    for voucher_id in vouchers:
        scanned = client.post(f"/api/v1/classes/{class_id}/scans", headers=headers.institution,
                              json={"token": voucher_service.token(db.session.get(Voucher, voucher_id))})
        assert scanned.status_code == 200, scanned.json
    for trainee_headers in headers.trainees:
        assert client.put("/api/v1/me/face-consent", headers=trainee_headers,
                          json={"give": True}).status_code == 200
    sessions = db.session.scalars(select(ClassSession).where(ClassSession.class_id == class_id)
                                  .order_by(ClassSession.day, ClassSession.starts)).all()
    return SimpleNamespace(class_id=class_id, region_code=region_code, programme=programme,
                           sessions=list(sessions), session_ids=[s.id for s in sessions], people=people,
                           trainee_ids=[p.id for p in people], id_numbers=[p.id_number for p in people],
                           names=names, voucher_ids=vouchers, headers=headers,
                           institution_id=institution_org.id, reviewer_id=reviewer.id,
                           supervisor_id=supervisor.id)


def lin_default_attendance(n: int, index: int, sessions: int) -> bool:
    """Trainee 0 comes to every session, trainee 1 misses the last one; the others never come."""
    return n == 0 or (n == 1 and index != sessions - 1)


def finished_class(client, clock, *, region_code: str = LIN, programme: str = "puhui", trainees: int = 3,
                   days: int = 5, attends=lin_default_attendance, excluded: tuple[int, ...] = (2,),
                   names: list[str] | None = None, categories: list[str] | None = None):
    """A class run to the end with its completion approved (three days before its end) and the
    results of everyone on the completion roster recorded as passes; the clock the day after."""
    w = open_class(client, clock, region_code=region_code, programme=programme, trainees=trainees,
                   days=days, names=names, categories=categories)
    klass = db.session.get(TrainingClass, w.class_id)
    klass.institution.social_credit_code = f"52{region_code}MJ0000001X"
    end_date = klass.end_date
    db.session.commit()
    reviewer2 = make_staff(Role.BUREAU_REVIEWER, region_code=region_code)
    w.reviewer2_id = reviewer2.id
    w.reviewer2 = headers_for(reviewer2)
    finance_org = make_org(OrgKind.FINANCE_BUREAU, region_code=region_code, name="县财政局")
    finance = make_staff(Role.FINANCE, finance_org)
    w.finance, w.finance_id = headers_for(finance), finance.id
    centre = make_org(OrgKind.EVALUATION_INSTITUTION, region_code=region_code, name="县职业技能评价中心")
    w.evaluator = headers_for(make_staff(Role.EVALUATOR, centre))
    w.evaluator_id = centre.id
    w.excluded = excluded
    dual = bool(policies.for_region(region_code).checkins.voucher_signin_required.value)
    tokens = [voucher_service.token(db.session.get(Voucher, v)) for v in w.voucher_ids] if dual else []
    filing_day = end_date - timedelta(days=3)  # 结业前3天 (000 二(二)(3); the product's default)
    filed = False
    count = len(w.sessions)
    for index, session in enumerate(w.sessions):
        if not filed and session.day > filing_day:
            _file_and_approve_completion(client, clock, w, filing_day)
            filed = True
        at_start(clock, session)
        for n, trainee_headers in enumerate(w.headers.trainees):
            if not attends(n, index, count):
                continue
            made = check_in(client, trainee_headers, session.id, position=offset(5 + 4 * n, 37 * n),
                            seed=1000 + 100 * n + index, device=f"phone-{n}")
            assert made.status_code == 201, made.json
            if dual:  # 003 三(四): the e-voucher sign-in as well as the trainee's own
                signed = client.post(f"/api/v1/sessions/{session.id}/voucher-signins",
                                     headers=w.headers.institution,
                                     json={"token": tokens[n], "device_id": "door-scanner"})
                assert signed.status_code == 201, signed.json
    if not filed:
        _file_and_approve_completion(client, clock, w, filing_day)
    on_roster = [t for n, t in enumerate(w.trainee_ids) if n not in excluded]
    results = client.post(f"/api/v1/classes/{w.class_id}/results", headers=w.evaluator, json={"results": [
        {"trainee_id": t, "theory_score": 85 - 5 * n, "practice_score": 90 - 5 * n}
        for n, t in enumerate(on_roster)]})
    assert results.status_code == 201, results.json
    w.end_date = end_date
    w.day_after = end_date + timedelta(days=1)
    at(clock, w.day_after)
    return w


def _file_and_approve_completion(client, clock, w, day) -> None:
    at(clock, day, 18)
    documents = {}
    for kind, build, name in (("completion_report", pdf_bytes, "report.pdf"),
                              ("completion_review_form", docx_bytes, "form.docx")):
        uploaded = client.put(f"/api/v1/classes/{w.class_id}/documents/{kind}", headers=w.headers.institution,
                              query_string={"filename": name}, data=build(),
                              content_type="application/octet-stream")
        assert uploaded.status_code == 201, uploaded.json
        documents[kind] = uploaded.json["id"]
    filed = client.post(f"/api/v1/classes/{w.class_id}/completion", headers=w.headers.institution, json={
        "evaluator_id": w.evaluator_id, "assessment_plan": "理论笔试 60 分钟，实操考核 90 分钟",
        "documents": documents,
        "exclusions": [{"trainee_id": w.trainee_ids[n], "reason": "因病中途退出培训"} for n in w.excluded]})
    assert filed.status_code == 201, filed.json
    approved = client.post(f"/api/v1/classes/{w.class_id}/completion/review", headers=w.headers.reviewer,
                           json={"approve": True})
    assert approved.status_code == 200, approved.json


# --- the claim's steps ------------------------------------------------------------------------


def file_claim(client, w) -> dict:
    filed = client.post(f"/api/v1/classes/{w.class_id}/claims", headers=w.headers.institution)
    assert filed.status_code == 201, filed.json
    return filed.json


def approve(client, headers, claim_id: int) -> dict:
    approved = client.post(f"/api/v1/claims/{claim_id}/approve", headers=headers)
    assert approved.status_code == 200, approved.json
    return approved.json


def noticed_claim(client, w) -> dict:
    """File the class's claim and have both reviewers approve it today: its notice is running."""
    claim = file_claim(client, w)
    approve(client, w.headers.reviewer, claim["id"])
    return approve(client, w.reviewer2, claim["id"])


def after_notice(clock, claim: dict) -> date:
    """Move the clock to the day after the claim's notice ends; returns that day."""
    day = date.fromisoformat(claim["notice"]["last_day"]) + timedelta(days=1)
    at(clock, day)
    return day


def pay(client, w, claim: dict, *, reference: str = "LX-2026-001"):
    return client.post(f"/api/v1/claims/{claim['id']}/disbursement", headers=w.finance,
                       json={"amount_fen": claim["total_fen"], "paid_on": clock_service.today().isoformat(),
                             "reference": reference})


def lodge(client, number: str, text: str | None = "该学员未参加培训", **extra):
    return client.post(f"/api/v1/public/notices/{number}/objections",
                       json={"text": text, "contact": "13900000000"} | extra)


def get_claim(client, headers, claim_id: int) -> dict:
    shown = client.get(f"/api/v1/claims/{claim_id}", headers=headers)
    assert shown.status_code == 200, shown.json
    return shown.json


def training_lines(claim: dict) -> dict[int, dict]:
    return {ln["trainee_id"]: ln for ln in claim["lines"] if ln["item"] == "training"}


# --- what the database holds ------------------------------------------------------------------


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def snapshot() -> dict:
    """Everything a claim request could change, as committed: claims and their lines, approvals,
    objections, payments, the paid ledger, recoveries, vouchers, suspensions and the audit log."""
    db.session.rollback()

    def rows(*columns, order):
        return [tuple(r) for r in db.session.execute(select(*columns).order_by(order)).all()]

    return {
        "claims": rows(Claim.id, Claim.state, Claim.version, Claim.digest, Claim.total_fen,
                       Claim.notice_first_day, Claim.notice_last_day, Claim.paid_at, Claim.returned_reason,
                       order=Claim.id),
        "lines": rows(ClaimLine.id, ClaimLine.claim_id, ClaimLine.amount_fen, ClaimLine.removed,
                      order=ClaimLine.id),
        "approvals": rows(ClaimApproval.id, ClaimApproval.version, ClaimApproval.reviewer_id,
                          order=ClaimApproval.id),
        "objections": rows(ClaimObjection.id, ClaimObjection.state, ClaimObjection.removed_line_ids,
                           order=ClaimObjection.id),
        "disbursements": rows(Disbursement.id, Disbursement.amount_fen, order=Disbursement.id),
        "grants": rows(SubsidyGrant.id, SubsidyGrant.voucher_id, SubsidyGrant.item, order=SubsidyGrant.id),
        "recoveries": rows(Recovery.id, Recovery.amount_fen, order=Recovery.id),
        "vouchers": rows(Voucher.id, Voucher.state, Voucher.redeemed_at, Voucher.written_off_at,
                         order=Voucher.id),
        "suspensions": rows(Organisation.id, Organisation.suspended_from, order=Organisation.id),
        "audit": db.session.scalar(select(func.count()).select_from(AuditEvent)),
    }


def race(app, *posts) -> list[tuple]:
    """Send the requests at the same moment from threads of their own (each a test client with
    its own application context, so its own session): `posts` are functions of a client that
    return its response. The (status, error code) of each, in order; an exception is reported as
    ("error", repr) for the caller's assertion to show."""
    barrier, results = threading.Barrier(len(posts)), [None] * len(posts)

    def run(index: int) -> None:
        client = app.test_client()
        try:
            barrier.wait(timeout=30)
            response = posts[index](client)
            results[index] = (response.status_code, (response.get_json() or {}).get("error", {}).get("code"))
        except Exception as exc:  # reported by the caller's assertion
            results[index] = ("error", repr(exc))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(posts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a racing request hung"
    return results
