"""Subsidy claims (补贴申领): the facts the subsidy engine computes from, the institution's
preview, filing, resubmission and withdrawal, employment evidence and recorded video gaps
(SPEC §6, §7). Amounts come from domain/subsidy.py; the workflow rules from domain/claims*.py.
Review, notice and payment are in services/claim_review.py and services/disbursements.py."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import date, datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from server.domain import claims as rules
from server.domain import completion as completion_rules
from server.domain import subsidy, subsidy_lines, subsidy_policy
from server.domain.access import Principal, Role, require_role
from server.domain.certificates import CertificateRevoked, CertificateState
from server.domain.claims import ClaimAction, ClaimFacts, ClaimKind, ClaimState
from server.domain.claims_review import claim_digest
from server.domain.classes import ClassState
from server.domain.eligibility import ProgrammeType
from server.domain.errors import Conflict, NotFound, ValidationFailed
from server.domain.vouchers import VoucherState
from server.extensions import db
from server.models import (
    AssessmentResult,
    Certificate,
    Claim,
    ClaimLine,
    EmploymentEvidence,
    Organisation,
    RosterEntry,
    SubsidyGrant,
    TrainingClass,
    VideoGap,
    Voucher,
)
from server.services import audit, clock, completions, policies, supervision
from server.services.classes import own_class
from server.services.scope import region_clause

# --- the facts of a class ---------------------------------------------------------------------


SECOND_STAGE = "startup_second_stage"  # the engine's item for 004 二(五)'s remaining 20 %


def _class_hours(sessions) -> int:
    """课时 of the timetable, as whole hours of scheduled sessions (the enterprise minimum: 002)."""
    minutes = sum((datetime.combine(s.day, s.ends) - datetime.combine(s.day, s.starts)).seconds // 60
                  for s in sessions)
    return minutes // 60


def training_facts(klass: TrainingClass, stage: int = 1
                   ) -> tuple[subsidy.ClassFacts, list[subsidy.TraineeFacts]]:
    """Everything the engine needs about a class whose completion was approved, read now: the
    completion roster, attendance in half days from the check-ins as they stand (不录不补), the
    vouchers (无券不补), results, employment evidence, video gaps and earlier payments."""
    filing = completions.approved_filing(klass.id)
    entries = completions.entries(filing)
    trainee_ids = [entry.trainee_id for entry, _ in entries]
    sessions = supervision.class_sessions(klass)
    cells = supervision.attendance_cells(klass, sessions, trainee_ids)
    vouchers = {v.id: v for v in db.session.scalars(
        select(Voucher).where(Voucher.id.in_([entry.voucher_id for entry, _ in entries])))}
    passed = dict(db.session.execute(select(AssessmentResult.trainee_id, AssessmentResult.passed)
                                     .where(AssessmentResult.class_id == klass.id)).tuples().all())
    evidence = {e.trainee_id: e for e in db.session.scalars(
        select(EmploymentEvidence).where(EmploymentEvidence.class_id == klass.id))}
    licence_by = _licence_deadline(klass)
    # 004 五(三): a training subsidy of the same yearly group already paid through another voucher.
    paid_elsewhere = set(db.session.execute(
        select(Voucher.trainee_id, Voucher.yearly_group)
        .join(SubsidyGrant, SubsidyGrant.voucher_id == Voucher.id)
        .where(Voucher.trainee_id.in_(trainee_ids), Voucher.bound_class_id != klass.id,
               SubsidyGrant.item == "training", Voucher.yearly_group.is_not(None))).tuples())
    facts = subsidy.ClassFacts(
        programme=klass.programme, occupation_code=klass.occupation_code, level=klass.level,
        start_date=klass.start_date, end_date=klass.end_date,
        planned_half_days=len({(s.day, completion_rules.half_of_day(s.starts)) for s in sessions}),
        class_hours=_class_hours(sessions),
        approved_roster_size=db.session.scalar(select(func.count()).select_from(RosterEntry)
                                               .where(RosterEntry.class_id == klass.id)) or 0,
        video_gap_half_days=db.session.scalar(select(func.count()).select_from(VideoGap)
                                              .where(VideoGap.class_id == klass.id)) or 0)
    trainees = []
    for entry, _profile in entries:
        voucher = vouchers.get(entry.voucher_id)
        proof = evidence.get(entry.trainee_id)
        halves = completion_rules.half_days((s.day, s.starts, cells[(entry.trainee_id, s.id)][0])
                                            for s in sessions)
        trainees.append(subsidy.TraineeFacts(
            trainee_id=entry.trainee_id, voucher_id=voucher.id if voucher else None,
            voucher_state=_payable_state(voucher, stage), on_roster=entry.on_roster,
            attended_half_days=halves.attended, passed=passed.get(entry.trainee_id),
            employed=proof is not None and proof.proof_type != "business_licence",
            business_licence=bool(licence_by and proof and proof.proof_type == "business_licence"
                                  and proof.contract_start and proof.contract_start <= licence_by),
            categories=frozenset((voucher.eligibility or {}).get("categories", []) if voucher else ()),
            already_subsidised_this_year=bool(voucher and (entry.trainee_id, voucher.yearly_group)
                                              in paid_elsewhere)))
    return facts, trainees


def _licence_deadline(klass: TrainingClass) -> date | None:
    """The last day a business licence counts for the startup second stage (004 二(五): within
    six months of the end, as the region's policy says)."""
    if klass.programme is not ProgrammeType.STARTUP:
        return None
    version = subsidy_policy.subsidy_version(policies.for_region(klass.region_code), klass.start_date)
    stages = version.rule_for(klass.programme).stages
    return subsidy_lines.add_months(klass.end_date, stages.licence_within_months.value) if stages else None


def _payable_state(voucher: Voucher | None, stage: int) -> str | None:
    """The voucher's state as the engine judges it. The startup second stage (004 二(五)) pays a
    voucher its first stage already redeemed and wrote off: for that claim it counts as trained."""
    if voucher is None:
        return None
    if stage == 2 and voucher.state is VoucherState.WRITTEN_OFF:
        return str(VoucherState.TRAINED)
    return str(voucher.state)


def compute_for_class(klass: TrainingClass, stage: int = 1) -> subsidy.Computation:
    """The class's computation; a claim's stage keeps only its own lines: the startup second
    stage's in stage 2, everything else in stage 1."""
    facts, trainees = training_facts(klass, stage)
    result = subsidy.compute_training(policies.for_region(klass.region_code), facts, trainees)
    lines = tuple(line for line in result.lines if (line.item == SECOND_STAGE) == (stage == 2))
    return replace(result, lines=lines, total_fen=sum(line.amount_fen for line in lines))


def preview(principal: Principal, class_id: int, stage: int = 1) -> subsidy.Computation:
    """The breakdown the institution sees before it files (nothing is stored)."""
    klass = own_class(principal, class_id)
    _require_finished(klass)
    _check_stage(klass, stage)
    return compute_for_class(klass, stage)


# --- filing -----------------------------------------------------------------------------------


def _require_finished(klass: TrainingClass) -> None:
    if klass.state is not ClassState.FINISHED:
        raise rules.ClaimStateConflict("班级结业申请经审核通过后方可申领培训补贴",
                                       code="COMPLETION_NOT_APPROVED", details={"state": str(klass.state)})


def suspensions(org: Organisation) -> list[tuple[date, date | None]]:
    return [(org.suspended_from, None)] if org.suspended_from else []


def _version(policy_region: str, effective_from: date, lines: list[ClaimLine]) -> dict:
    """What the reviewers sign (domain/claims_review.claim_digest): every line with its amount
    and reasons, whether an objection removed it, the total and the policy version."""
    return {
        "lines": [{"trainee_id": ln.trainee_id, "voucher_id": ln.voucher_id,
                   "certificate_id": ln.certificate_id, "item": ln.item, "half_days": ln.half_days,
                   "amount_fen": ln.amount_fen,
                   "reasons": list(ln.reasons), "removed": bool(ln.removed)} for ln in lines],
        "totals": {"total_fen": sum(ln.amount_fen for ln in lines if not ln.removed)},
        "policy_version": {"region_code": policy_region, "effective_from": effective_from.isoformat()},
    }


def _line_rows(claim: Claim, computation: subsidy.Computation, vouchers: dict[int, int | None]
               ) -> list[ClaimLine]:
    return [ClaimLine(claim_id=claim.id, trainee_id=line.trainee_id, voucher_id=vouchers.get(line.trainee_id),
                      certificate_id=line.certificate_id, item=line.item, half_days=line.half_days,
                      gross_fen=line.gross_fen, cap_fen=line.cap_fen, amount_fen=line.amount_fen,
                      reasons=[str(r) for r in line.reasons],
                      detail={"steps": [{"half_days": s.half_days, "daily_rate_fen": s.daily_rate_fen,
                                         "amount_fen": s.amount_fen} for s in line.steps],
                              "adjustments": [{"reason": str(a.reason), "amount_fen": a.amount_fen,
                                               "note": a.note} for a in line.adjustments]},
                      explanation=line.explain(), removed=False)
            for line in computation.lines]


def freeze(claim: Claim, computation: subsidy.Computation, vouchers: dict[int, int | None]) -> None:
    """Write `computation` as the claim's current lines, total, policy version and digest."""
    db.session.execute(delete(ClaimLine).where(ClaimLine.claim_id == claim.id))
    lines = _line_rows(claim, computation, vouchers)
    db.session.add_all(lines)
    rehash(claim, computation.region_code, computation.policy_effective_from, lines)
    claim.basis = computation.basis
    claim.explanation = computation.explain()


def rehash(claim: Claim, policy_region: str, effective_from: date, lines: list[ClaimLine]) -> None:
    """Total and digest of the claim's lines as they now stand."""
    version = _version(policy_region, effective_from, lines)
    claim.total_fen = version["totals"]["total_fen"]
    claim.digest = claim_digest(version)
    claim.policy_region_code, claim.policy_effective_from = policy_region, effective_from


def current_lines(claim: Claim) -> list[ClaimLine]:
    return list(db.session.scalars(select(ClaimLine).where(ClaimLine.claim_id == claim.id)
                                   .order_by(ClaimLine.id)))


def _number(region_code: str, year: int) -> str:
    return f"BT{region_code[:6]}{year}{secrets.token_hex(4).upper()}"


def _check_stage(klass: TrainingClass, stage: int) -> None:
    """Stage 2 is startup training's second payment (004 二(五)), after the first was paid."""
    if stage == 1:
        return
    if stage != 2 or klass.programme is not ProgrammeType.STARTUP:
        raise ValidationFailed("只有创业培训分两期申领补贴", code="INVALID_STAGE", details={"stage": stage})
    first = db.session.scalar(select(Claim.state).where(Claim.class_id == klass.id, Claim.stage == 1,
                                                        Claim.state != ClaimState.WITHDRAWN))
    if first is not ClaimState.PAID:
        raise rules.ClaimStateConflict("首期补贴拨付后方可申领二期补贴", code="FIRST_STAGE_NOT_PAID",
                                       details={"first_stage": str(first) if first else None})


def file_training_claim(principal: Principal, class_id: int, stage: int = 1) -> Claim:
    """The institution files the training-subsidy claim of a finished class (or the second stage
    of a startup class): recomputed and frozen now, with the policy version used; one live claim
    per class and stage (a unique index); a claim with nothing to pay is refused."""
    klass = own_class(principal, class_id)
    org = db.session.get(Organisation, principal.organisation_id)
    today = clock.today()
    rules.check_filing(ClaimKind.TRAINING, org.kind, completion_approved=klass.state is ClassState.FINISHED,
                       day=today, suspensions=suspensions(org))
    _check_stage(klass, stage)
    policy = policies.for_region(klass.region_code)
    window = subsidy.claim_deadline(policy, klass.end_date)
    window.check(today)
    computation = compute_for_class(klass, stage)
    _require_something_to_pay(computation)
    claim = Claim(number=_number(klass.region_code, window.statistical_year), kind=ClaimKind.TRAINING,
                  state=ClaimState.SUBMITTED, organisation_id=org.id, region_code=klass.region_code,
                  class_id=klass.id, stage=stage, training_year=window.statistical_year, version=1,
                  digest="", total_fen=0, policy_region_code=computation.region_code,
                  policy_effective_from=computation.policy_effective_from, basis={}, explanation=[],
                  filed_by=principal.user_id, filed_at=clock.now(), updated_at=clock.now())
    db.session.add(claim)
    try:
        db.session.flush()  # uq_claims_live_class_stage: one live claim per class and stage
    except IntegrityError:
        db.session.rollback()
        raise Conflict("本班已申领培训补贴", code="CLAIM_ALREADY_FILED") from None
    freeze(claim, computation, _bound_vouchers(klass))
    audit_event(principal, claim, "claim.filed")
    db.session.commit()
    return claim


def _require_something_to_pay(computation: subsidy.Computation) -> None:
    """A claim of 0 元 could be reviewed and noticed but never paid: say why instead."""
    if computation.total_fen <= 0:
        reasons = sorted({str(r) for line in computation.lines for r in line.reasons})
        raise ValidationFailed("按规定核算无可申领的补贴金额", code="NOTHING_TO_CLAIM",
                               details={"reasons": reasons})


def _bound_vouchers(klass: TrainingClass) -> dict[int, int | None]:
    return dict(db.session.execute(select(Voucher.trainee_id, Voucher.id)
                                   .where(Voucher.bound_class_id == klass.id)).tuples().all())


def file_certificate_claim(principal: Principal, certificate_ids: list[int]) -> Claim:
    """An evaluation institution (or an enterprise or school) files the certificate subsidy
    (技能评价补贴) for certificates it issued: each person once per kind and level."""
    require_role(principal, Role.EVALUATOR, Role.INSTITUTION_OPERATOR)
    org = db.session.get(Organisation, principal.organisation_id)
    today = clock.today()
    rules.check_filing(ClaimKind.CERTIFICATE, org.kind, completion_approved=True, day=today,
                       suspensions=suspensions(org))
    ids = sorted(set(certificate_ids))
    if not ids:
        raise ValidationFailed("请选择要申领补贴的证书", code="NO_CERTIFICATES")
    certs = list(db.session.scalars(select(Certificate).where(Certificate.id.in_(ids),
                                                              Certificate.issuer_id == org.id)))
    if len(certs) != len(ids):
        raise ValidationFailed("证书不存在或不是本单位颁发", code="UNKNOWN_CERTIFICATE",
                               details={"certificate_ids": sorted(set(ids) - {c.id for c in certs})})
    require_valid(certs)
    policy = policies.for_region(org.region_code)
    computation = subsidy.compute_certificates(policy, _certificate_facts(certs), today)
    claim = Claim(number=_number(org.region_code, today.year), kind=ClaimKind.CERTIFICATE,
                  state=ClaimState.SUBMITTED, organisation_id=org.id, region_code=org.region_code,
                  class_id=None, stage=1, training_year=today.year, version=1, digest="", total_fen=0,
                  policy_region_code=computation.region_code,
                  policy_effective_from=computation.policy_effective_from, basis={}, explanation=[],
                  filed_by=principal.user_id, filed_at=clock.now(), updated_at=clock.now())
    db.session.add(claim)
    db.session.flush()
    freeze(claim, computation, {})
    audit_event(principal, claim, "claim.filed")
    db.session.commit()
    return claim


def audit_event(principal: Principal | None, claim: Claim, action: str, **extra) -> None:
    audit.record(principal, action, "claim", claim.id, region_code=claim.region_code,
                 after={"number": claim.number, "state": str(claim.state), "version": claim.version,
                        "total_fen": claim.total_fen, "digest": claim.digest, **extra})


def facts_of(claim: Claim) -> ClaimFacts:
    return ClaimFacts(state=claim.state, organisation_id=claim.organisation_id, region_code=claim.region_code)


def move(claim: Claim, action: ClaimAction, *, objections_still_open: int = 0, changed: bool = False,
         **values) -> None:
    """One transition as a conditional UPDATE from the state and version the claim was read in,
    so two racing requests cannot both move it; the loser is told the state it lost to. An
    objection may arrive while another holds the claim: that one moves from either notice state."""
    target = rules.next_state(claim.state, action, objections_still_open=objections_still_open,
                              changed=changed)
    sources = ([ClaimState.IN_NOTICE, ClaimState.OBJECTED] if action is ClaimAction.LODGE_OBJECTION
               else [claim.state])
    moved = db.session.execute(
        update(Claim).where(Claim.id == claim.id, Claim.state.in_(sources), Claim.version == claim.version)
        .values(state=target, updated_at=clock.now(), **values)
        .execution_options(synchronize_session=False)).rowcount
    db.session.refresh(claim)
    if moved != 1:
        raise rules.ClaimStateConflict("该补贴申领已被他人处理，请刷新后重试",
                                       details={"state": str(claim.state)})


def resubmit(principal: Principal, claim_id: int) -> Claim:
    """The institution files a returned claim again: recomputed from the facts as they now
    stand, a new version that both reviewers must approve afresh."""
    claim = own_claim(principal, claim_id)
    rules.authorise(principal, facts_of(claim), ClaimAction.RESUBMIT)
    claimant = db.session.get(Organisation, claim.organisation_id)
    rules.require_not_suspended(clock.today(), suspensions(claimant))
    if claim.kind is ClaimKind.TRAINING:
        klass = db.session.get(TrainingClass, claim.class_id)
        computation = compute_for_class(klass, claim.stage)
        vouchers = _bound_vouchers(klass)
    else:
        computation, vouchers = _recompute_certificates(claim), {}
    _require_something_to_pay(computation)
    move(claim, ClaimAction.RESUBMIT, version=claim.version + 1, returned_reason=None)
    freeze(claim, computation, vouchers)
    audit_event(principal, claim, "claim.resubmitted")
    db.session.commit()
    return claim


def require_valid(certs: list[Certificate]) -> None:
    """A revoked certificate (an evaluation found fraudulent, 002 第十四条) earns no subsidy."""
    revoked = sorted(c.id for c in certs if c.state is not CertificateState.VALID)
    if revoked:
        raise CertificateRevoked("证书已作废，不能申领补贴；请撤回后仅就有效证书重新申领",
                                 details={"certificate_ids": revoked})


def _recompute_certificates(claim: Claim) -> subsidy.Computation:
    ids = [ln.certificate_id for ln in current_lines(claim) if ln.certificate_id is not None]
    certs = list(db.session.scalars(select(Certificate).where(Certificate.id.in_(ids))))
    require_valid(certs)
    return subsidy.compute_certificates(policies.for_region(claim.region_code), _certificate_facts(certs),
                                        clock.today())


def _certificate_facts(certs: list[Certificate]) -> list[subsidy.CertificateFacts]:
    """The certificates as the engine sees them, each marked when the person was already paid
    for its kind and level (001, 002 第九条, 004 三: once per level)."""
    granted = set(db.session.execute(
        select(SubsidyGrant.trainee_id, SubsidyGrant.cert_kind, SubsidyGrant.cert_level)
        .where(SubsidyGrant.item == "certificate",
               SubsidyGrant.trainee_id.in_([c.trainee_id for c in certs]))).tuples())
    return [subsidy.CertificateFacts(
                trainee_id=c.trainee_id, certificate_id=c.id, kind=str(c.kind), level=c.level,
                already_subsidised=(c.trainee_id, str(c.kind), c.level) in granted)
            for c in certs]


def withdraw(principal: Principal, claim_id: int) -> Claim:
    claim = own_claim(principal, claim_id)
    rules.authorise(principal, facts_of(claim), ClaimAction.WITHDRAW)
    move(claim, ClaimAction.WITHDRAW)
    audit_event(principal, claim, "claim.withdrawn")
    db.session.commit()
    return claim


# --- finding claims ---------------------------------------------------------------------------


def _visible_clause(principal: Principal):
    if principal.is_region_wide:
        return region_clause(principal, Claim.region_code)
    if principal.role in (Role.INSTITUTION_OPERATOR, Role.EVALUATOR) and principal.organisation_id:
        return Claim.organisation_id == principal.organisation_id
    return Claim.id.is_(None)


def visible_claim(principal: Principal, claim_id: int) -> Claim:
    claim = db.session.scalar(select(Claim).where(Claim.id == claim_id, _visible_clause(principal)))
    if claim is None:
        raise NotFound("补贴申领不存在", code="CLAIM_NOT_FOUND")
    return claim


def own_claim(principal: Principal, claim_id: int) -> Claim:
    require_role(principal, Role.INSTITUTION_OPERATOR, Role.EVALUATOR)
    return visible_claim(principal, claim_id)


@dataclass(frozen=True)
class ClaimFilter:
    state: str | None = None
    kind: str | None = None
    class_id: int | None = None


def list_claims(principal: Principal, f: ClaimFilter, *, limit: int = 50, offset: int = 0
                ) -> tuple[list[Claim], int]:
    query = select(Claim).where(_visible_clause(principal))
    if f.state:
        query = query.where(Claim.state == _enum(ClaimState, f.state, "INVALID_STATE"))
    if f.kind:
        query = query.where(Claim.kind == _enum(ClaimKind, f.kind, "INVALID_KIND"))
    if f.class_id is not None:
        query = query.where(Claim.class_id == f.class_id)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.session.scalars(query.order_by(Claim.id.desc()).limit(limit).offset(offset)).all()
    return list(rows), total


def _enum(enum_cls, value: str, code: str):
    try:
        return enum_cls(value)
    except ValueError:
        raise ValidationFailed("筛选条件不正确", code=code,
                               details={"allowed": [str(v) for v in enum_cls]}) from None
