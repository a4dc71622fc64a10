"""What the claim screens show, gathered in one place: a claim with its lines and the persons
on them, its approvals, objections, payment and recoveries (each from the service that owns it)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from server.domain.access import Principal
from server.extensions import db
from server.models import (
    Claim,
    ClaimApproval,
    ClaimLine,
    ClaimObjection,
    Disbursement,
    Organisation,
    Recovery,
    TraineeProfile,
    User,
)
from server.services import claim_review, claims, disbursements


def people(trainee_ids) -> dict[int, TraineeProfile]:
    ids = sorted(set(trainee_ids))
    return {p.id: p for p in db.session.scalars(select(TraineeProfile).where(TraineeProfile.id.in_(ids)))}


def organisations(claim_rows: list[Claim]) -> dict[int, Organisation]:
    ids = sorted({c.organisation_id for c in claim_rows})
    return {o.id: o for o in db.session.scalars(select(Organisation).where(Organisation.id.in_(ids)))}


@dataclass(frozen=True)
class ClaimView:
    claim: Claim
    organisation: Organisation
    lines: list[tuple[ClaimLine, TraineeProfile | None]]
    approvals: list[tuple[ClaimApproval, str]]  # with the reviewer's name
    objections: list[ClaimObjection]
    payment: Disbursement | None
    recoveries: list[Recovery]
    recovered_fen: int


def view(principal: Principal, claim: Claim) -> ClaimView:
    lines = claims.current_lines(claim)
    persons = people(ln.trainee_id for ln in lines)
    approvals = claim_review.approvals_of(claim)
    names = dict(db.session.execute(select(User.id, User.display_name).where(
        User.id.in_([a.reviewer_id for a in approvals]))).tuples().all())
    return ClaimView(
        claim=claim, organisation=db.session.get(Organisation, claim.organisation_id),
        lines=[(ln, persons.get(ln.trainee_id)) for ln in lines],
        approvals=[(a, names.get(a.reviewer_id, "")) for a in approvals],
        objections=claim_review.objections_of(principal, claim.id), payment=disbursements.payment_of(claim),
        recoveries=disbursements.recoveries_of(claim), recovered_fen=disbursements.recovered_fen(claim))
