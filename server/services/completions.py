"""Completion filings (结业申请) and their approval, which moves each roster trainee's voucher
from bound to trained (SPEC §3; the rules are in domain/completion.py)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from server.domain import completion as rules
from server.domain.access import OrgKind, Principal, Role, require_role
from server.domain.certificates import OrgFacts, check_evaluator
from server.domain.classes import COMPLETION_DOCUMENT_LABELS, ClassState
from server.domain.completion import CompletionConflict, CompletionState, Filing
from server.domain.errors import NotFound, ValidationFailed
from server.domain.vouchers import VoucherAction, VoucherState
from server.extensions import db
from server.models import (
    ClassDocument,
    CompletionEntry,
    CompletionFiling,
    Organisation,
    TraineeProfile,
    TrainingClass,
    Voucher,
)
from server.services import audit, clock, policies, supervision
from server.services import vouchers as voucher_service
from server.services.classes import check_decision, own_class, record_decision, visible_class


def org_facts(org: Organisation) -> OrgFacts:
    return OrgFacts(id=org.id, kind=org.kind, social_credit_code=org.social_credit_code)


def _evaluator(evaluator_id: int | None, klass: TrainingClass) -> Organisation | None:
    if evaluator_id is None:
        return None
    org = db.session.get(Organisation, evaluator_id)
    if org is None:
        raise ValidationFailed("评价机构不存在", code="UNKNOWN_EVALUATOR",
                               details={"evaluator_id": evaluator_id})
    check_evaluator(org_facts(org), org_facts(klass.institution))
    return org


def _check_documents(klass: TrainingClass, documents: dict[str, int]) -> None:
    known = {d.id: d.kind for d in db.session.scalars(
        select(ClassDocument).where(ClassDocument.class_id == klass.id,
                                    ClassDocument.kind.in_(list(COMPLETION_DOCUMENT_LABELS))))}
    wrong = {k: v for k, v in documents.items() if known.get(v) != k}
    if wrong:
        raise ValidationFailed("材料不属于本班或类型不符", code="UNKNOWN_DOCUMENT",
                               details={"documents": wrong})


def _in_training(klass: TrainingClass) -> list[tuple[TraineeProfile, Voucher]]:
    """The trainees whose vouchers are bound to the class and still in training."""
    return list(db.session.execute(
        select(TraineeProfile, Voucher).join(Voucher, Voucher.trainee_id == TraineeProfile.id)
        .where(Voucher.bound_class_id == klass.id, Voucher.state == VoucherState.BOUND)
        .order_by(TraineeProfile.id)).tuples())


def _attendance(klass: TrainingClass, trainee_ids: list[int]
                ) -> dict[int, tuple[rules.Attendance, rules.HalfDays]]:
    sessions = supervision.class_sessions(klass)
    cells = supervision.attendance_cells(klass, sessions, trainee_ids)
    return {t: (rules.attendance((s.day, cells[(t, s.id)][0]) for s in sessions),
                rules.half_days((s.day, s.starts, cells[(t, s.id)][0]) for s in sessions))
            for t in trainee_ids}


def _set_attendance(entry: CompletionEntry, figures: tuple[rules.Attendance, rules.HalfDays]) -> None:
    days, halves = figures
    entry.attended_days, entry.planned_days = days.attended_days, days.planned_days
    entry.present_sessions, entry.total_sessions = days.present_sessions, days.total_sessions
    entry.pending_sessions = days.pending_sessions
    entry.attended_half_days, entry.planned_half_days = halves.attended, halves.planned


def file(principal: Principal, class_id: int, filing: Filing) -> CompletionFiling:
    """The institution files the completion: on time, complete, an evaluator that did not train
    the batch, every bound trainee on the roster or left off with a reason."""
    klass = own_class(principal, class_id)
    if klass.state is not ClassState.APPROVED:
        raise CompletionConflict("班级未开班或已结业，不能申请结业", code="CLASS_NOT_OPEN",
                                 details={"state": str(klass.state)})
    rules.require_lead_time(klass.end_date, clock.today(),
                            policies.for_region(klass.region_code).completion.lead_days)
    _evaluator(filing.evaluator_id, klass)
    _check_documents(klass, filing.documents)
    trainees = _in_training(klass)
    reasons = rules.check_filing(filing, frozenset(p.id for p, _ in trainees))
    number = (db.session.scalar(select(func.max(CompletionFiling.number))
                                .where(CompletionFiling.class_id == klass.id)) or 0) + 1
    row = CompletionFiling(class_id=klass.id, number=number, state=CompletionState.SUBMITTED,
                           evaluator_id=filing.evaluator_id, assessment_plan=filing.assessment_plan.strip(),
                           documents={str(k): v for k, v in filing.documents.items()},
                           filed_by=principal.user_id, filed_at=clock.now())
    db.session.add(row)
    try:
        db.session.flush()  # the partial unique index: one open filing per class
    except IntegrityError:
        db.session.rollback()
        raise CompletionConflict("本班已有待审批或已批准的结业申请",
                                 code="COMPLETION_ALREADY_FILED") from None
    figures = _attendance(klass, [p.id for p, _ in trainees])
    for profile, voucher in trainees:
        entry = CompletionEntry(filing_id=row.id, trainee_id=profile.id, voucher_id=voucher.id,
                                on_roster=profile.id not in reasons, exclusion_reason=reasons.get(profile.id))
        _set_attendance(entry, figures[profile.id])
        db.session.add(entry)
    audit.record(principal, "completion.filed", "class", klass.id, region_code=klass.region_code,
                 after={"filing": number, "evaluator_id": filing.evaluator_id,
                        "roster_size": len(trainees) - len(reasons), "left_off": sorted(reasons)})
    db.session.commit()
    return row


def latest_filing(klass: TrainingClass) -> CompletionFiling | None:
    return db.session.scalar(select(CompletionFiling).where(CompletionFiling.class_id == klass.id)
                             .order_by(CompletionFiling.number.desc()).limit(1))


def open_filing(class_id: int) -> CompletionFiling | None:
    """The filing awaiting a decision or approved, if any."""
    return db.session.scalar(select(CompletionFiling).where(
        CompletionFiling.class_id == class_id, CompletionFiling.state.in_(rules.OPEN_STATES)))


def approved_filing(class_id: int) -> CompletionFiling:
    filing = open_filing(class_id)
    rules.require_approved(filing.state if filing else None)
    return filing


def entries(filing: CompletionFiling) -> list[tuple[CompletionEntry, TraineeProfile]]:
    return list(db.session.execute(
        select(CompletionEntry, TraineeProfile)
        .join(TraineeProfile, TraineeProfile.id == CompletionEntry.trainee_id)
        .where(CompletionEntry.filing_id == filing.id).order_by(TraineeProfile.id)).tuples())


def decide(principal: Principal, class_id: int, approve: bool, reason: str | None = None) -> CompletionFiling:
    """The bureau approves (roster vouchers move to trained, the class is finished) or rejects
    with a reason (the institution may file again)."""
    require_role(principal, *voucher_service.REVIEWERS)
    klass = visible_class(principal, class_id)
    filing = open_filing(klass.id)
    if filing is None or filing.state is not CompletionState.SUBMITTED:
        raise CompletionConflict("没有待审批的结业申请", code="NOTHING_TO_REVIEW")
    check_decision(principal, klass, approve, reason, "该类培训的结业由市级人社部门审核")
    decided = CompletionState.APPROVED if approve else CompletionState.REJECTED
    if not record_decision(CompletionFiling, filing.id, filing.state, decided, principal, reason):
        raise CompletionConflict("该结业申请已被他人审批", code="NOTHING_TO_REVIEW")
    if approve:
        _finish(principal, klass, filing)
    audit.record(principal, "completion.approved" if approve else "completion.rejected", "class", klass.id,
                 region_code=klass.region_code,
                 after={"filing": filing.number, **({} if approve else {"reason": reason.strip()})})
    db.session.commit()
    db.session.refresh(filing)
    return filing


def _finish(principal: Principal, klass: TrainingClass, filing: CompletionFiling) -> None:
    """Attendance as of the decision; each roster voucher bound → trained (a conditional UPDATE:
    one revoked meanwhile fails the whole approval); the class is finished."""
    rows = entries(filing)
    figures = _attendance(klass, [p.id for _, p in rows])
    for entry, profile in rows:
        _set_attendance(entry, figures[profile.id])
        if entry.on_roster:
            voucher = db.session.get(Voucher, entry.voucher_id)
            voucher_service.advance(principal, voucher, VoucherAction.COMPLETE,
                                    guard=(Voucher.bound_class_id == klass.id,))
    klass.state = ClassState.FINISHED


@dataclass(frozen=True)
class FilingView:
    klass: TrainingClass
    filing: CompletionFiling | None
    evaluator: Organisation | None
    rows: list[tuple[CompletionEntry, TraineeProfile]]


def view(principal: Principal, class_id: int) -> FilingView:
    """The latest filing of a class with its roster (404 when none has been filed)."""
    klass = visible_class(principal, class_id)
    filing = latest_filing(klass)
    if filing is None:
        raise NotFound("本班尚未提交结业申请", code="COMPLETION_NOT_FOUND")
    return FilingView(klass, filing, db.session.get(Organisation, filing.evaluator_id), entries(filing))


def evaluators(principal: Principal) -> list[Organisation]:
    """Evaluation institutions an institution may choose: in its city (000 二(二)(4): 在市人社局备案)."""
    require_role(principal, Role.INSTITUTION_OPERATOR)
    city = (principal.region_code or "")[:4]
    return list(db.session.scalars(select(Organisation).where(
        Organisation.kind == OrgKind.EVALUATION_INSTITUTION, Organisation.region_code.like(city + "%"))
        .order_by(Organisation.name)))
