"""The demo's money loop (SPEC §6, §7), in Lin county: `linxian.inst2` ran two 普惠制 classes in
the weeks before the demo was loaded, each through the real services under a clock held in the
past (vouchers applied and issued, the opening filed and approved, vouchers scanned at class
start, an e-voucher sign-in at every session, the completion filed and approved, results
recorded by `linxian.eval`):

- 第二期 has a subsidy claim approved by both reviewers whose public notice has run its 5 working
  days: `linxian.finance` can record the payment, which writes its vouchers off;
- 第三期 ended a few days ago with nothing claimed: `linxian.inst2` can preview and file its claim.

Trainees 11-20 of Lin take part (five per class); trainees 1-10 stay untouched. Idempotent: a
class that exists (by institution and name) is left as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import select

from server.domain.completion import Filing
from server.domain.eligibility import SIX_GROUPS
from server.domain.errors import DomainError
from server.domain.policy import approver_can_decide
from server.domain.vouchers import VoucherState
from server.extensions import db
from server.models import ClassSession, Organisation, TraineeProfile, TrainingClass, User, Voucher
from server.services import certificates as certificate_service
from server.services import checkins as checkin_service
from server.services import claim_review, claims, clock, completions, policies, scans
from server.services import classes as class_service
from server.services import vouchers as voucher_service
from server.services.auth import principal_of
from server.services.demo import CLASS_COURSE, class_fields, docx_document, opening_documents, pdf_document

REGION_SLUG = "linxian"


@dataclass(frozen=True)
class PastClass:
    name: str
    trainees: range  # demo trainee numbers (1-based)
    starts_days_ago: int
    claim: bool  # file the claim and have both reviewers approve it


PAST_CLASSES = (
    PastClass("养老护理员初级培训班（第二期）", range(11, 16), 40, claim=True),
    PastClass("养老护理员初级培训班（第三期）", range(16, 21), 12, claim=False),
)


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=clock.CHINA)


def load(region, trainees: list, home_code: str) -> int:
    """Create the past classes that are missing; returns how many were created. `region` and
    `trainees` are the demo module's (see demo.load_demo)."""
    staff = {u.username.split(".", 1)[1]: principal_of(u) for u in db.session.scalars(select(User).where(
        User.username.like(f"{REGION_SLUG}.%")))}
    operator = staff["inst2"]
    created = 0
    for past in PAST_CLASSES:
        exists = db.session.scalar(select(TrainingClass.id).where(
            TrainingClass.institution_id == operator.organisation_id, TrainingClass.name == past.name))
        if exists is not None:
            continue
        people = [_person(trainees[n - 1]) for n in past.trainees]
        people = [p for p in people if p is not None and SIX_GROUPS & set(p.categories)]
        if people:
            _run(past, region, staff, people, home_code)
            created += 1
    return created


def _person(spec) -> TraineeProfile | None:
    profile = db.session.scalar(select(TraineeProfile).where(TraineeProfile.id_number == spec.id_number))
    return profile if profile is not None and profile.user.mobile == spec.mobile else None


def _run(past: PastClass, region, staff: dict, people: list[TraineeProfile], home_code: str) -> None:
    reviewer, operator = staff["reviewer1"], staff["inst2"]
    today = clock.today()
    filed_on = today - timedelta(days=past.starts_days_ago)
    with clock.held_at(_at(filed_on, 9)):
        vouchers = [_issued_voucher(p, region.code, reviewer) for p in people]
        vouchers = [v for v in vouchers if v is not None]
        if not vouchers:
            return
        policy = policies.for_region(region.code).class_opening
        start = filed_on + timedelta(days=int(policy.lead_days_for(CLASS_COURSE.programme).value) + 1)
        fields = {**class_fields(region, start, [v.trainee.id_number for v in vouchers], home_code),
                  "name": past.name}
        header = class_service.ClassHeader(
            occupation_code=CLASS_COURSE.occupation_code, level=CLASS_COURSE.level,
            programme=str(CLASS_COURSE.programme), region_code=region.code)
        klass = class_service.create(operator, header, fields)
        for kind, (filename, data) in opening_documents(fields).items():
            class_service.upload_document(operator, klass.id, str(kind), filename, data)
        class_service.submit(operator, klass.id)
        if not approver_can_decide(reviewer.region_code, klass.region_code,
                                   policy.approval_level(klass.programme)):
            return
        class_service.decide(reviewer, klass.id, approve=True)
    sessions = list(db.session.scalars(select(ClassSession).where(ClassSession.class_id == klass.id)
                                       .order_by(ClassSession.day, ClassSession.starts)))
    with clock.held_at(_at(start, 8, 10)):
        for voucher in vouchers:
            scans.scan(operator, klass.id, voucher_service.token(voucher),
                       request_id=f"demo-{voucher.serial}", device_id="demo-scanner",
                       render_error=lambda error: (422, {"code": error.code}),
                       render_voucher=lambda v: {"serial": v.serial})
    end = klass.end_date
    for session in sessions:
        if session.day > end - timedelta(days=3) and not _completion_filed(klass):
            _file_completion(klass, staff, end - timedelta(days=3))
        with clock.held_at(_at(session.day, session.starts.hour, session.starts.minute)):
            for voucher in vouchers:  # the e-voucher sign-in: the non-face alternative (demo: no selfies)
                checkin_service.voucher_signin(operator, session.id, voucher_service.token(voucher),
                                               "demo-scanner")
    with clock.held_at(_at(end, 17, 30)):
        rows = [certificate_service.ResultInput(trainee_id=v.trainee_id, theory_score=80 + n % 15,
                                                practice_score=78 + n % 17) for n, v in enumerate(vouchers)]
        certificate_service.record_results(staff["eval"], klass.id, rows)
    if not past.claim:
        return
    claimed = end + timedelta(days=2)
    with clock.held_at(_at(claimed, 9)):
        claim = claims.file_training_claim(operator, klass.id)
    try:
        with clock.held_at(_at(claimed + timedelta(days=1), 10)):
            claim_review.approve(reviewer, claim.id)
        with clock.held_at(_at(claimed + timedelta(days=1), 15)):
            claim_review.approve(staff["reviewer2"], claim.id)
    except DomainError:
        db.session.rollback()  # e.g. a holiday calendar without the year: the claim waits for review
    claim_review.end_due_notices()


def _completion_filed(klass: TrainingClass) -> bool:
    return completions.open_filing(klass.id) is not None


def _file_completion(klass: TrainingClass, staff: dict, day: date) -> None:
    operator = staff["inst2"]
    evaluator = db.session.get(Organisation, staff["eval"].organisation_id)
    with clock.held_at(_at(day, 18)):
        report = class_service.upload_document(
            operator, klass.id, "completion_report", "培训结业申请报告.pdf",
            pdf_document("Completion report: elderly care worker, junior"))
        form = class_service.upload_document(
            operator, klass.id, "completion_review_form", "培训结业申请审核表.docx",
            docx_document([f"{klass.name}结业申请审核表"]))
        completions.file(operator, klass.id, Filing(
            evaluator_id=evaluator.id, assessment_plan="理论笔试 60 分钟，实操考核 90 分钟",
            documents={"completion_report": report.id, "completion_review_form": form.id}, exclusions={}))
        completions.decide(staff["reviewer1"], klass.id, approve=True)


def _issued_voucher(profile: TraineeProfile, region_code: str, reviewer) -> Voucher | None:
    existing = db.session.scalar(select(Voucher).where(
        Voucher.trainee_id == profile.id, Voucher.occupation_code == CLASS_COURSE.occupation_code))
    if existing is not None:
        return existing if existing.state is VoucherState.ISSUED else None
    try:
        voucher = voucher_service.apply(principal_of(profile.user), voucher_service.ApplicationInput(
            occupation_code=CLASS_COURSE.occupation_code, level=CLASS_COURSE.level,
            programme=str(CLASS_COURSE.programme), region_code=region_code))
    except DomainError:
        db.session.rollback()
        return None
    if voucher.state is VoucherState.APPLIED:
        voucher = voucher_service.review(reviewer, voucher.id, True)
    return voucher
