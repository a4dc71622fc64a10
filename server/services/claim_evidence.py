"""What a claim's amounts rest on besides the check-ins: the trainees' employment proof for
order/project-type classes (就业证明: 000 三(一); 003 四(三)) and the half days the bureau found
without usable video (影像资料缺失: 003 五(二)). Both are frozen once a claim is filed."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from server.domain import claims as rules
from server.domain import subsidy
from server.domain.access import Principal, Role, require_role
from server.domain.claims import ClaimState
from server.domain.classes import DocumentKind
from server.domain.eligibility import ProgrammeType
from server.domain.errors import Conflict, NotFound, ValidationFailed
from server.extensions import db
from server.models import Claim, ClassDocument, EmploymentEvidence, TrainingClass, VideoGap, Voucher
from server.services import audit, clock, policies
from server.services.classes import own_class, visible_class

# Programme types whose subsidy depends on the trainees finding work (000 三(一); 003 四(三)).
EMPLOYMENT_PROGRAMMES = frozenset({ProgrammeType.ORDER, ProgrammeType.PROJECT})


def record_employment(principal: Principal, class_id: int, trainee_id: int,
                      evidence: subsidy.EmploymentEvidence, document_id: int) -> EmploymentEvidence:
    """The institution records a trainee's employment proof (order/project-type classes),
    checked against the region's rule; it replaces an earlier one until a claim is filed."""
    klass = own_class(principal, class_id)
    startup = klass.programme is ProgrammeType.STARTUP
    if startup and evidence.proof_type != "business_licence":
        raise ValidationFailed("创业培训只登记营业执照（004 二(五)）", code="EMPLOYMENT_NOT_REQUIRED")
    if not startup and klass.programme not in EMPLOYMENT_PROGRAMMES:
        raise ValidationFailed("只有订单式、项目制培训需要就业证明，创业培训登记营业执照",
                               code="EMPLOYMENT_NOT_REQUIRED")
    if not db.session.scalar(select(Voucher.id).where(Voucher.bound_class_id == klass.id,
                                                      Voucher.trainee_id == trainee_id)):
        raise NotFound("该学员不是本班学员", code="NOT_IN_CLASS")
    document = db.session.get(ClassDocument, document_id)
    if (document is None or document.class_id != klass.id
            or document.kind is not DocumentKind.EMPLOYMENT_PROOF):
        raise ValidationFailed("请先上传本班的就业证明材料", code="UNKNOWN_DOCUMENT",
                               details={"document_id": document_id})
    # A startup class's licences count for its second stage, claimed after the first is paid.
    _require_no_live_claim(klass, stage=2 if startup else 1)
    subsidy.check_employment_evidence(policies.for_region(klass.region_code), evidence, clock.today())
    row = db.session.scalar(select(EmploymentEvidence).where(EmploymentEvidence.class_id == klass.id,
                                                             EmploymentEvidence.trainee_id == trainee_id))
    if row is None:
        row = EmploymentEvidence(class_id=klass.id, trainee_id=trainee_id)
        db.session.add(row)
    row.employer = evidence.employer.strip()
    row.social_credit_code = evidence.social_credit_code.strip().upper()
    row.contract_start, row.contract_months = evidence.contract_start, evidence.contract_months
    row.proof_type, row.has_payroll, row.document_id = evidence.proof_type, evidence.has_payroll, document.id
    row.recorded_by, row.recorded_at = principal.user_id, clock.now()
    audit.record(principal, "class.employment_recorded", "class", klass.id, region_code=klass.region_code,
                 after={"trainee_id": trainee_id, "employer": row.employer, "proof_type": row.proof_type,
                        "document_id": document.id})
    db.session.commit()
    return row


def _require_no_live_claim(klass: TrainingClass, stage: int = 1) -> None:
    """What a claim was computed from stays as it was while the claim is live."""
    live = db.session.scalar(select(Claim.state).where(
        Claim.class_id == klass.id, Claim.stage == stage,
        Claim.state.not_in([ClaimState.RETURNED, ClaimState.WITHDRAWN])))
    if live is not None:
        raise Conflict("本班补贴已申领，申领退回后方可修改", code="CLAIM_IN_PROGRESS",
                       details={"state": str(live)})


def employment_of(principal: Principal, class_id: int) -> list[EmploymentEvidence]:
    klass = visible_class(principal, class_id)
    return list(db.session.scalars(select(EmploymentEvidence).where(EmploymentEvidence.class_id == klass.id)
                                   .order_by(EmploymentEvidence.trainee_id)))


VIDEO_GAP_ROLES = (Role.BUREAU_SUPERVISOR, Role.BUREAU_REVIEWER, Role.ADMIN)


def record_video_gap(principal: Principal, class_id: int, day: date, half: str, reason: str | None
                     ) -> VideoGap:
    """The bureau records half a day of a class without usable video (003 五(二)): the subsidy
    deducts it where the region's policy says so. Once per class, day and half (a unique key)."""
    require_role(principal, *VIDEO_GAP_ROLES)
    klass = visible_class(principal, class_id)
    if half not in ("am", "pm"):
        raise ValidationFailed("请选择上午或下午", code="INVALID_HALF_DAY")
    if not klass.start_date <= day <= klass.end_date:
        raise ValidationFailed("日期不在培训期内", code="DAY_OUTSIDE_CLASS")
    text = rules.required_text(reason, field="reason", label="缺失情况", max_length=200,
                               code="REASON_REQUIRED")
    _require_no_live_claim(klass)
    row = VideoGap(class_id=klass.id, day=day, half=half, reason=text, recorded_by=principal.user_id,
                   recorded_at=clock.now())
    db.session.add(row)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("该半天的影像缺失已登记", code="VIDEO_GAP_EXISTS") from None
    audit.record(principal, "class.video_gap_recorded", "class", klass.id, region_code=klass.region_code,
                 after={"day": day.isoformat(), "half": half, "reason": text})
    db.session.commit()
    return row


def video_gaps(principal: Principal, class_id: int) -> list[VideoGap]:
    klass = visible_class(principal, class_id)
    return list(db.session.scalars(select(VideoGap).where(VideoGap.class_id == klass.id)
                                   .order_by(VideoGap.day, VideoGap.half)))
