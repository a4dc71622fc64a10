"""Assessment results, certificates, their public verification and revocation, PDFs and the
certificate rate per class (SPEC §8; the rules are in domain/certificates.py)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from server.adapters import certificate_pdf
from server.adapters.signing import TokenRejected
from server.domain import certificates as rules
from server.domain.access import Principal, Role, require_role
from server.domain.certificates import (
    KIND_LABELS,
    CertificateExists,
    CertificateKind,
    CertificateNotFound,
    CertificateState,
)
from server.domain.completion import CompletionState
from server.domain.eligibility import PROGRAMME_LABELS
from server.domain.errors import Conflict, Forbidden, NotFound, ValidationFailed
from server.domain.identity import mask_id_number
from server.domain.vouchers import ReasonRequired, token_refusal
from server.extensions import db
from server.models import (
    AssessmentResult,
    Certificate,
    CompletionEntry,
    CompletionFiling,
    Occupation,
    Organisation,
    TraineeProfile,
    TrainingClass,
)
from server.services import audit, clock, policies
from server.services.classes import visible_class
from server.services.completions import approved_filing, org_facts
from server.services.scope import certificate_clause, class_clause

REVOKERS = (Role.BUREAU_REVIEWER, Role.BUREAU_SUPERVISOR, Role.ADMIN)

# --- assessment results ---------------------------------------------------------------------


@dataclass(frozen=True)
class ResultInput:
    trainee_id: int
    theory_score: object
    practice_score: object
    level: str | None = None  # the class's level when not given


def _evaluating(principal: Principal, class_id: int) -> tuple[TrainingClass, CompletionFiling]:
    """The class and its approved filing, for the evaluator the filing names; the evaluator must
    not have trained the batch (002 第十四条)."""
    require_role(principal, Role.EVALUATOR)
    klass = db.session.get(TrainingClass, class_id)
    if klass is None:
        raise NotFound("班级不存在", code="CLASS_NOT_FOUND")
    evaluator = db.session.get(Organisation, principal.organisation_id)
    rules.check_evaluator(org_facts(evaluator), org_facts(klass.institution))
    filing = approved_filing(klass.id)
    if filing.evaluator_id != principal.organisation_id:
        raise Forbidden("本班结业申请未选择贵机构进行评价", code="NOT_CLASS_EVALUATOR")
    return klass, filing


def _roster_ids(filing: CompletionFiling) -> set[int]:
    return set(db.session.scalars(select(CompletionEntry.trainee_id).where(
        CompletionEntry.filing_id == filing.id, CompletionEntry.on_roster.is_(True))))


def record_results(principal: Principal, class_id: int, rows: list[ResultInput]) -> list[AssessmentResult]:
    """The evaluator records theory and practice scores for trainees on the completion roster;
    the whole batch or nothing."""
    klass, filing = _evaluating(principal, class_id)
    if not rows:
        raise ValidationFailed("请至少录入一名学员的成绩", code="NO_RESULTS")
    roster = _roster_ids(filing)
    ids = [row.trainee_id for row in rows]
    if len(set(ids)) != len(ids):
        raise ValidationFailed("同一学员的成绩重复录入", code="DUPLICATE_RESULT")
    outside = sorted(set(ids) - roster)
    if outside:
        raise ValidationFailed("该学员不在结业花名册中", code="NOT_ON_COMPLETION_ROSTER",
                               details={"trainee_ids": outside})
    levels = klass.occupation.levels
    made = []
    for index, row in enumerate(rows):
        theory = rules.score(row.theory_score, f"results.{index}.theory_score")
        practice = rules.score(row.practice_score, f"results.{index}.practice_score")
        level = row.level or klass.level
        if level not in levels:
            raise ValidationFailed("评价等级不是该职业（工种）的等级", code="INVALID_LEVEL",
                                   details={"index": index, "allowed": levels})
        made.append(AssessmentResult(class_id=klass.id, filing_id=filing.id, trainee_id=row.trainee_id,
                                     evaluator_id=principal.organisation_id, theory_score=theory,
                                     practice_score=practice, passed=rules.passed(theory, practice),
                                     level=level, recorded_by=principal.user_id, recorded_at=clock.now()))
    db.session.add_all(made)
    try:
        db.session.flush()  # one result per trainee and class (unique constraint)
    except IntegrityError:
        db.session.rollback()
        raise Conflict("该学员的考核结果已录入", code="RESULT_EXISTS") from None
    audit.record(principal, "assessment.recorded", "class", klass.id, region_code=klass.region_code,
                 after={"trainees": ids, "passed": sum(r.passed for r in made)})
    db.session.commit()
    return made


def results(principal: Principal, class_id: int
            ) -> tuple[TrainingClass, list[tuple[AssessmentResult, TraineeProfile]]]:
    """A class's results, for its institution, its evaluator and the bureau."""
    klass = visible_class(principal, class_id)
    return klass, list(db.session.execute(
        select(AssessmentResult, TraineeProfile)
        .join(TraineeProfile, TraineeProfile.id == AssessmentResult.trainee_id)
        .where(AssessmentResult.class_id == klass.id).order_by(TraineeProfile.id)).tuples())


# --- issuing --------------------------------------------------------------------------------


def _kind(value: str) -> CertificateKind:
    try:
        return CertificateKind(value)
    except ValueError:
        raise ValidationFailed("证书类别不正确", code="INVALID_CERTIFICATE_KIND",
                               details={"allowed": [str(k) for k in CertificateKind]}) from None


def issue(principal: Principal, class_id: int, kind_value: str, trainee_ids: list[int] | None = None
          ) -> list[Certificate]:
    """Certificates of `kind` for the trainees who passed (all who lack one when no ids are
    given). Skill certificates come from the class's evaluator, the 培训合格证书 from its
    institution (002 第十二条). All or nothing."""
    kind = _kind(kind_value)
    require_role(principal, Role.EVALUATOR, Role.INSTITUTION_OPERATOR)
    klass = visible_class(principal, class_id)
    filing = approved_filing(klass.id)
    issuer_is_trainer = principal.role is Role.INSTITUTION_OPERATOR
    issuer_id = klass.institution_id if issuer_is_trainer else filing.evaluator_id
    if principal.organisation_id != issuer_id:
        raise Forbidden("只有本班的评价机构或培训机构可以发证", code="NOT_CLASS_ISSUER")
    passed = {r.trainee_id: r for r in db.session.scalars(select(AssessmentResult).where(
        AssessmentResult.class_id == klass.id, AssessmentResult.passed.is_(True)))}
    valid_of_kind = (Certificate.kind == kind, Certificate.state == CertificateState.VALID)
    held = set(db.session.scalars(select(Certificate.trainee_id).where(Certificate.class_id == klass.id,
                                                                       *valid_of_kind)))
    if trainee_ids is None:
        wanted = [t for t in sorted(passed) if t not in held]
    else:
        wanted = list(dict.fromkeys(trainee_ids))
    if not wanted:
        raise ValidationFailed("没有可发证的学员（须考核合格且尚未发放该类证书）", code="NOTHING_TO_ISSUE")
    for trainee_id in wanted:
        rules.check_issue(kind, issuer_is_trainer=issuer_is_trainer, has_passed=trainee_id in passed)
    levels = {t: rules.level_for(kind, passed[t].level) for t in wanted}
    # The friendly refusal; the partial unique index is what holds under a race.
    clash = sorted(t for t, level in db.session.execute(
        select(Certificate.trainee_id, Certificate.level).where(
            Certificate.trainee_id.in_(wanted), Certificate.occupation_code == klass.occupation_code,
            *valid_of_kind)) if level == levels[t])
    if clash:
        raise CertificateExists(details={"trainee_ids": clash})
    issuer = db.session.get(Organisation, issuer_id)
    profiles = {p.id: p for p in db.session.scalars(
        select(TraineeProfile).where(TraineeProfile.id.in_(wanted)))}
    today, issued_at = clock.today(), int(clock.now().timestamp())
    made = []
    for trainee_id in wanted:
        number = rules.new_number(kind, klass.region_code, today)
        facts = rules.CertificateFacts(number=number, kind=kind, holder_name=profiles[trainee_id].real_name,
                                       occupation=klass.occupation.name, level=levels[trainee_id],
                                       issuer=issuer.name, issued_on=today)
        token = current_app.extensions["keyring"].sign(rules.claims(facts, issued_at), rules.TOKEN_TYPE)
        made.append(Certificate(number=number, kind=kind, trainee_id=trainee_id, class_id=klass.id,
                                result_id=passed[trainee_id].id, issuer_id=issuer.id,
                                region_code=klass.region_code, occupation_code=klass.occupation_code,
                                level=levels[trainee_id], issued_on=today, token=token,
                                state=CertificateState.VALID, issued_by=principal.user_id,
                                issued_at=clock.now()))
    db.session.add_all(made)
    try:
        db.session.flush()  # the partial unique index: one valid certificate per kind and level
    except IntegrityError:
        db.session.rollback()
        raise CertificateExists() from None
    for cert in made:
        audit.record(principal, "certificate.issued", "certificate", cert.id, region_code=klass.region_code,
                     after={"number": cert.number, "kind": str(kind), "trainee_id": cert.trainee_id,
                            "level": cert.level})
    db.session.commit()
    return made


# --- finding --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CertificateView:
    certificate: Certificate
    holder: TraineeProfile
    klass: TrainingClass
    issuer: Organisation
    occupation: Occupation


def _views(stmt) -> list[CertificateView]:
    return [CertificateView(*row) for row in db.session.execute(
        stmt.join(TraineeProfile, TraineeProfile.id == Certificate.trainee_id)
        .join(TrainingClass, TrainingClass.id == Certificate.class_id)
        .join(Organisation, Organisation.id == Certificate.issuer_id)
        .join(Occupation, Occupation.code == Certificate.occupation_code)).tuples()]


def _select():
    return select(Certificate, TraineeProfile, TrainingClass, Organisation, Occupation)


def views_of(certificates: list[Certificate]) -> list[CertificateView]:
    """Just-issued certificates with their holder, class, issuer and occupation (one query)."""
    return _views(_select().where(Certificate.id.in_([c.id for c in certificates])).order_by(Certificate.id))


def visible_certificate(principal: Principal, certificate_id: int) -> CertificateView:
    found = _views(_select().where(Certificate.id == certificate_id, certificate_clause(principal)))
    if not found:
        raise CertificateNotFound()
    return found[0]


@dataclass(frozen=True)
class CertificateFilter:
    class_id: int | None = None
    kind: str | None = None
    state: str | None = None
    number: str | None = None


def list_certificates(principal: Principal, f: CertificateFilter, *, limit: int = 50, offset: int = 0
                      ) -> tuple[list[CertificateView], int]:
    stmt = select(Certificate.id).where(certificate_clause(principal))
    if f.class_id:
        stmt = stmt.where(Certificate.class_id == f.class_id)
    if f.kind:
        stmt = stmt.where(Certificate.kind == _kind(f.kind))
    if f.state:
        try:
            stmt = stmt.where(Certificate.state == CertificateState(f.state))
        except ValueError:
            raise ValidationFailed("证书状态不正确", code="INVALID_STATE",
                                   details={"allowed": [str(s) for s in CertificateState]}) from None
    if f.number:
        stmt = stmt.where(Certificate.number == rules.parse_number(f.number))
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    ids = stmt.order_by(Certificate.id.desc()).limit(limit).offset(offset)
    return _views(_select().where(Certificate.id.in_(ids)).order_by(Certificate.id.desc())), total


# --- revocation -----------------------------------------------------------------------------


def revoke(principal: Principal, certificate_id: int, reason: str | None) -> CertificateView:
    """A certificate found fraudulent is declared void (002 第十四条: 宣布证书作废) with a reason;
    verification shows it at once (nothing caches a verdict)."""
    require_role(principal, *REVOKERS)
    view = visible_certificate(principal, certificate_id)
    text = (reason or "").strip()
    if not text or len(text) > 200:
        raise ReasonRequired(details={"action": "revoke"})
    moved = db.session.execute(
        update(Certificate)
        .where(Certificate.id == certificate_id, Certificate.state == CertificateState.VALID)
        .values(state=CertificateState.REVOKED, revoked_reason=text, revoked_by=principal.user_id,
                revoked_at=clock.now()).execution_options(synchronize_session=False)).rowcount
    if moved != 1:
        raise rules.CertificateRevoked("证书已作废", code="CERTIFICATE_ALREADY_REVOKED")
    audit.record(principal, "certificate.revoked", "certificate", certificate_id,
                 region_code=view.certificate.region_code,
                 before={"state": "valid"}, after={"state": "revoked", "reason": text})
    db.session.commit()
    db.session.refresh(view.certificate)
    return view


# --- public verification --------------------------------------------------------------------


def verify_number(raw: str) -> CertificateView:
    """Anyone may look a certificate up by its number: a malformed number is refused before any
    lookup, an unknown one is not found."""
    number = rules.parse_number(raw)
    found = _views(_select().where(Certificate.number == number))
    if not found:
        raise CertificateNotFound(details={"number": number})
    return found[0]


def verify_token(token: str) -> CertificateView:
    """A scanned token checked online: the signature (as offline), then the record, whose state
    is what counts (a revoked certificate's token still verifies offline)."""
    try:
        raw = current_app.extensions["keyring"].verify(
            token, rules.TOKEN_TYPE, max_length=rules.MAX_TOKEN_LENGTH, require_exp=False)
    except TokenRejected as exc:
        raise token_refusal(exc.reason, "证书") from None
    return verify_number(rules.read_claims(raw).number)


def verify_url(base_url: str, cert: Certificate) -> str:
    """What the printed QR holds: the public page, with the token after '#' (never sent to the
    server by a browser; an offline checker reads it)."""
    return f"{base_url.rstrip('/')}/verify/{cert.number}#{cert.token}"


# --- the PDF --------------------------------------------------------------------------------


def pdf(view: CertificateView, base_url: str) -> bytes:
    cert, klass = view.certificate, view.klass
    details: tuple[tuple[str, str], ...] = ()
    if cert.kind is CertificateKind.TRAINING_QUALIFICATION:  # 002 第十二条: 如实记载机构名称、培训项目、时间
        details = (("培训机构", klass.institution.name),
                   ("培训项目", f"{klass.name}（{PROGRAMME_LABELS[klass.programme]}）"),
                   ("培训时间", f"{klass.start_date.isoformat()} 至 {klass.end_date.isoformat()}"))
    sheet = certificate_pdf.CertificateSheet(
        title=KIND_LABELS[cert.kind], number=cert.number, holder_name=view.holder.real_name,
        holder_id_number=mask_id_number(view.holder.id_number), occupation=view.occupation.name,
        level=cert.level or None, issuer=view.issuer.name, issued_on=cert.issued_on,
        verify_url=verify_url(base_url, cert), details=details,
        revoked_reason=cert.revoked_reason if cert.state is CertificateState.REVOKED else None)
    return certificate_pdf.render(sheet)


# --- certificate rate (取证率) ---------------------------------------------------------------


@dataclass(frozen=True)
class TargetFigure:
    name: str
    target_percent: int
    source: str
    certified: int
    rate_percent: float | None
    met: bool | None


@dataclass(frozen=True)
class ClassRate:
    klass: TrainingClass
    roster: int  # trainees on the approved completion roster
    certified: int  # of them, holding a valid certificate from this class (any kind but 培训合格证书)
    rate_percent: float | None
    targets: list[TargetFigure]


def _holdings(class_ids: Iterable[int]) -> dict[int, list[tuple[int, CertificateKind, str]]]:
    out: dict[int, list[tuple[int, CertificateKind, str]]] = {}
    for class_id, trainee_id, kind, level in db.session.execute(
            select(Certificate.class_id, Certificate.trainee_id, Certificate.kind, Certificate.level)
            .where(Certificate.class_id.in_(list(class_ids)), Certificate.state == CertificateState.VALID)):
        out.setdefault(class_id, []).append((trainee_id, kind, level))
    return out


def certificate_rates(principal: Principal, *, region_code: str | None = None, limit: int = 100,
                      offset: int = 0) -> tuple[list[ClassRate], int]:
    """Per finished class in my area: roster, certified, rate, and each target of the region's
    policy that applies (004: order-type ≥ 50 % at 初级; 吕梁山护工 90 %)."""
    # Counted in a subquery: grouping by the class would clash with its eager-loaded joins.
    rosters = (select(CompletionFiling.class_id, func.count(CompletionEntry.id).label("size"))
               .join(CompletionEntry, CompletionEntry.filing_id == CompletionFiling.id)
               .where(CompletionFiling.state == CompletionState.APPROVED, CompletionEntry.on_roster.is_(True))
               .group_by(CompletionFiling.class_id).subquery())
    stmt = (select(TrainingClass, rosters.c.size).join(rosters, rosters.c.class_id == TrainingClass.id)
            .where(class_clause(principal)))
    if region_code:
        stmt = stmt.where(TrainingClass.region_code.like(region_code.rstrip("0") + "%"))
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = db.session.execute(stmt.order_by(TrainingClass.id.desc()).limit(limit).offset(offset)
                              ).tuples().all()
    holdings = _holdings(k.id for k, _ in rows)
    out = []
    for klass, roster in rows:
        held = holdings.get(klass.id, [])
        certified = len({t for t, kind, _ in held if kind is not CertificateKind.TRAINING_QUALIFICATION})
        figures = []
        for target in policies.for_region(klass.region_code).certificate_targets:
            if not target.applies_to(klass.programme, klass.occupation_code):
                continue
            count = len({t for t, kind, level in held if target.counts(kind, level)})
            # Compared unrounded: 49.95 % is not "50%以上".
            met = None if roster == 0 else count * 100 >= target.percent.value * roster
            figures.append(TargetFigure(name=target.name, target_percent=int(target.percent.value),
                                        source=target.percent.source, certified=count,
                                        rate_percent=rules.rate_percent(count, roster), met=met))
        out.append(ClassRate(klass, roster, certified, rules.rate_percent(certified, roster), figures))
    return out, total
