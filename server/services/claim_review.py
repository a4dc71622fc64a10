"""Two-person review (两人以上经办审查签字), the public notice (公示) and its objections (异议):
SPEC §7; the rules are in domain/claims*.py. The second approval publishes the notice for at
least 5 working days; an open objection holds the claim until the bureau decides it; the notice
ends (公示期满) only once its last working day has passed with none open."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from server.domain import claims as rules
from server.domain.access import Principal
from server.domain.claims import ClaimAction, ClaimKind, ClaimState
from server.domain.claims_notice import (
    NOTICE_WORKING_DAYS,
    OBJECTION_LABELS,
    ObjectionAlreadyDecided,
    ObjectionState,
    check_end_notice,
    check_objection,
    check_objection_decision,
    notice_entry,
    open_notice,
)
from server.domain.claims_review import Approval, SameReviewer, check_approval, check_return
from server.domain.eligibility import PROGRAMME_LABELS
from server.domain.errors import Conflict, NotFound, ValidationFailed
from server.domain.subsidy_explain import ITEM_LABELS, days, yuan
from server.domain.workdays import NoticePeriod
from server.extensions import db
from server.models import (
    Claim,
    ClaimApproval,
    ClaimLine,
    ClaimObjection,
    Occupation,
    Organisation,
    TraineeProfile,
    TrainingClass,
)
from server.services import audit, clock
from server.services.claims import audit_event as audit_claim
from server.services.claims import current_lines, facts_of, move, rehash, visible_claim

NOTICE_STATES = (ClaimState.IN_NOTICE, ClaimState.OBJECTED)


def approvals_of(claim: Claim) -> list[ClaimApproval]:
    return list(db.session.scalars(select(ClaimApproval).where(
        ClaimApproval.claim_id == claim.id, ClaimApproval.version == claim.version)
        .order_by(ClaimApproval.step)))


def approve(principal: Principal, claim_id: int) -> Claim:
    """A bureau reviewer signs the claim's current version. The first signature moves it on to
    the second reviewer, who must be another person; the second publishes the notice. The two
    unique keys on approvals refuse a second signature by the same person, or a racing one."""
    claim = visible_claim(principal, claim_id)
    earlier = approvals_of(claim)
    step = check_approval(principal, facts_of(claim), [Approval(a.reviewer_id, a.digest) for a in earlier],
                          claim.digest)
    db.session.add(ClaimApproval(claim_id=claim.id, version=claim.version, step=step,
                                 reviewer_id=principal.user_id, digest=claim.digest, approved_at=clock.now()))
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise SameReviewer("该版本已由您或他人同时审核，请刷新后重试") from None
    move(claim, ClaimAction.APPROVE, **(_fresh_notice() if step == 2 else {}))
    audit_claim(principal, claim, "claim.approved", step=step)
    db.session.commit()
    return claim


def _fresh_notice() -> dict:
    """The claim's notice columns for a notice published today."""
    notice = open_notice(clock.today())
    return {"notice_published_on": clock.today(), "notice_first_day": notice.first_day,
            "notice_last_day": notice.last_day}


def return_claim(principal: Principal, claim_id: int, reason: str | None) -> Claim:
    """A reviewer (or finance at its re-review) returns the claim to the institution with a
    reason; every approval of the version is void, and objections still open are closed."""
    claim = visible_claim(principal, claim_id)
    end_notice_if_due(claim)  # a notice past its last day is finance's re-review, command run or not
    text = check_return(principal, facts_of(claim), reason)
    was = claim.state
    move(claim, ClaimAction.RETURN, returned_reason=text)
    if was is ClaimState.OBJECTED:
        db.session.execute(update(ClaimObjection).where(
            ClaimObjection.claim_id == claim.id, ClaimObjection.state == ObjectionState.OPEN)
            .values(state=ObjectionState.UPHELD, decided_by=principal.user_id, decided_at=clock.now(),
                    reason=f"申领已退回：{text}"))
    audit_claim(principal, claim, "claim.returned", reason=text)
    db.session.commit()
    return claim


def notice_of(claim: Claim) -> NoticePeriod | None:
    if claim.notice_first_day is None:
        return None
    return NoticePeriod(first_day=claim.notice_first_day, last_day=claim.notice_last_day,
                        working_days=NOTICE_WORKING_DAYS)


def end_due_notices(today: date | None = None) -> list[str]:
    """Claims whose notice has run its last working day with no objection open move on to
    finance (the scheduled `end-notices` command; disbursement runs it for its claim too)."""
    today = today or clock.today()
    ended = []
    for claim in db.session.scalars(select(Claim).where(Claim.state == ClaimState.IN_NOTICE,
                                                        Claim.notice_last_day < today)).all():
        if _end_notice(claim, today):
            ended.append(claim.number)
    db.session.commit()
    return ended


def _end_notice(claim: Claim, today: date) -> bool:
    try:
        check_end_notice(claim.state, notice_of(claim), today)
        move(claim, ClaimAction.END_NOTICE)
    except (rules.ClaimStateConflict, Conflict):
        return False
    audit_claim(None, claim, "claim.notice_ended")
    return True


def end_notice_if_due(claim: Claim) -> None:
    """Settle one claim's notice when its period is over (the caller commits)."""
    if claim.state is ClaimState.IN_NOTICE and claim.notice_last_day < clock.today():
        _end_notice(claim, clock.today())


# --- objections (异议) ------------------------------------------------------------------------


def _noticed_claim(number: str) -> Claim:
    claim = db.session.scalar(select(Claim).where(Claim.number == number, Claim.state.in_(NOTICE_STATES)))
    if claim is None:
        raise NotFound("公示中的补贴申领不存在", code="NOTICE_NOT_FOUND")
    return claim


def lodge_objection(number: str, text: str | None, contact: str | None) -> ClaimObjection:
    """Anyone may object to a claim while its notice runs; the claim is held until decided."""
    claim = _noticed_claim(number)
    body, reach = check_objection(notice_of(claim), clock.today(), text, contact,
                                  published_on=claim.notice_published_on)
    move(claim, ClaimAction.LODGE_OBJECTION)
    row = ClaimObjection(claim_id=claim.id, state=ObjectionState.OPEN, text=body, contact=reach,
                         lodged_at=clock.now(), removed_line_ids=[])
    db.session.add(row)
    db.session.flush()
    audit.record(None, "claim.objection_lodged", "claim", claim.id, region_code=claim.region_code,
                 after={"objection_id": row.id})
    db.session.commit()
    return row


def objections_of(principal: Principal, claim_id: int) -> list[ClaimObjection]:
    claim = visible_claim(principal, claim_id)
    return list(db.session.scalars(select(ClaimObjection).where(ClaimObjection.claim_id == claim.id)
                                   .order_by(ClaimObjection.id)))


def decide_objection(principal: Principal, objection_id: int, outcome: str, reason: str | None,
                     removed_line_ids: list[int]) -> ClaimObjection:
    """The bureau upholds an objection, removing the lines it names (the claim is recomputed as a
    new version, which goes back to the two reviewers and is noticed afresh after their second
    approval), or dismisses it. The claim stays held while others are open."""
    objection = db.session.get(ClaimObjection, objection_id)
    if objection is None:
        raise NotFound("异议不存在", code="OBJECTION_NOT_FOUND")
    claim = visible_claim(principal, objection.claim_id)
    # Decisions on one claim's objections (and objections lodged meanwhile) take turns on the
    # claim's row, so each counts the objections still open only after the others committed.
    db.session.refresh(claim, with_for_update=True)
    db.session.refresh(objection)
    if objection.state is not ObjectionState.OPEN:  # say so, not the state the claim has moved on to
        raise ObjectionAlreadyDecided(f"该异议已处理（{OBJECTION_LABELS[objection.state]}）",
                                      details={"state": str(objection.state)})
    action = (ClaimAction.UPHOLD_OBJECTION if outcome == ObjectionState.UPHELD
              else ClaimAction.DISMISS_OBJECTION)
    rules.authorise(principal, facts_of(claim), action)
    lines = current_lines(claim)
    decision = check_objection_decision(objection.state, outcome, reason, removed_line_ids,
                                        [ln.id for ln in lines if not ln.removed])
    if decision.outcome is ObjectionState.UPHELD and not any(
            ln.amount_fen > 0 for ln in lines if not ln.removed and ln.id not in decision.removed_line_ids):
        # Only zero lines left: a claim with nothing to pay cannot be disbursed; it is returned instead.
        raise ValidationFailed("核减后申领已无补贴金额，请改为退回申领", code="CLAIM_WOULD_BE_EMPTY")
    decided = db.session.execute(
        update(ClaimObjection)
        .where(ClaimObjection.id == objection.id, ClaimObjection.state == ObjectionState.OPEN)
        .values(state=decision.outcome, decided_by=principal.user_id, decided_at=clock.now(),
                reason=decision.reason, removed_line_ids=sorted(decision.removed_line_ids))
        .execution_options(synchronize_session=False)).rowcount
    if decided != 1:
        raise Conflict("该异议已被他人处理", code="OBJECTION_ALREADY_DECIDED")
    still_open = db.session.scalar(select(func.count()).select_from(ClaimObjection).where(
        ClaimObjection.claim_id == claim.id, ClaimObjection.state == ObjectionState.OPEN))
    values = {}
    if decision.outcome is ObjectionState.UPHELD:
        for line in lines:
            if line.id in decision.removed_line_ids:
                line.removed, line.removed_reason = True, decision.reason
        rehash(claim, claim.policy_region_code, claim.policy_effective_from, lines)
        values = {"version": claim.version + 1}
    # Changed by this decision or an earlier one of the round: the version has no signatures.
    changed = bool(values) or len(approvals_of(claim)) < 2
    move(claim, decision.action, objections_still_open=still_open, changed=changed, **values)
    audit_claim(principal, claim, f"claim.objection_{decision.outcome}", objection_id=objection.id,
                removed_line_ids=sorted(decision.removed_line_ids), reason=decision.reason)
    db.session.commit()
    db.session.refresh(objection)
    return objection


# --- the public notice (公示) -----------------------------------------------------------------


@dataclass(frozen=True)
class NoticeView:
    claim: Claim
    organisation: Organisation
    notice: NoticePeriod
    training_content: str
    entries: list  # domain.claims_notice.NoticeEntry


def public_notices(*, region_code: str | None = None, limit: int = 20, offset: int = 0
                   ) -> tuple[list[NoticeView], int]:
    """Claims now in their notice, newest first, with the persons masked: what anyone may read."""
    query = select(Claim).where(Claim.state.in_(NOTICE_STATES))
    if region_code:
        query = query.where(Claim.region_code.like(region_code.rstrip("0") + "%"))
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    claims = db.session.scalars(query.order_by(Claim.notice_first_day.desc(), Claim.id.desc())
                                .limit(limit).offset(offset)).all()
    return [_notice_view(c) for c in claims], total


def public_notice(number: str) -> NoticeView:
    return _notice_view(_noticed_claim(number))


def _training_content(claim: Claim) -> str:
    if claim.kind is ClaimKind.CERTIFICATE:
        return "技能评价（取证）补贴"
    klass = db.session.get(TrainingClass, claim.class_id)
    occupation = db.session.get(Occupation, klass.occupation_code)
    level = f"（{klass.level}）" if klass.level else ""
    return (f"{klass.name}：{occupation.name}{level}，{PROGRAMME_LABELS[klass.programme]}，"
            f"{klass.start_date.isoformat()} 至 {klass.end_date.isoformat()}")


def _notice_view(claim: Claim) -> NoticeView:
    org = db.session.get(Organisation, claim.organisation_id)
    rows = db.session.execute(
        select(ClaimLine, TraineeProfile).join(TraineeProfile, TraineeProfile.id == ClaimLine.trainee_id)
        .where(ClaimLine.claim_id == claim.id, ClaimLine.removed.is_(False), ClaimLine.amount_fen > 0)
        .order_by(ClaimLine.id)).tuples().all()
    content = _training_content(claim)
    entries = [notice_entry(organisation_name=org.name, person_name=profile.real_name,
                            id_number=profile.id_number, standard=_standard(line), amount_fen=line.amount_fen,
                            training_content=content) for line, profile in rows]
    return NoticeView(claim=claim, organisation=org, notice=notice_of(claim), training_content=content,
                      entries=entries)


def _standard(line: ClaimLine) -> str:
    """The standard as the notice states it: the item and its rate steps."""
    steps = "＋".join(f"{days(s['half_days'])}×{yuan(s['daily_rate_fen'])}"
                     for s in line.detail.get("steps", []))
    label = ITEM_LABELS.get(line.item, line.item)
    return f"{label}：{steps}" if steps else label
