"""Finance's re-review and payment (财政复核 · 拨付), the write-off it brings (核销), recoveries
of money found fraudulent (追回) and suspended institutions (暂停): SPEC §6, §7; 002 第十七条.

Paying is one transaction: the claim moves noticed → paid by a conditional UPDATE, the payment
and a ledger row per paid line are written, and every paid voucher moves trained → redeemed →
written_off. The ledger's unique keys and the vouchers' conditional UPDATEs make a second payment
of the same voucher, or a certificate level paid twice, fail as a whole."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from server.domain import claims as rules
from server.domain.access import Principal, Role, require_role
from server.domain.claims import ClaimAction, ClaimState
from server.domain.claims_payment import check_disbursement, check_recovery
from server.domain.errors import Conflict, NotFound
from server.domain.vouchers import VoucherAction, VoucherState
from server.extensions import db
from server.models import Certificate, Claim, Disbursement, Organisation, Recovery, SubsidyGrant, Voucher
from server.services import audit, clock
from server.services import vouchers as voucher_service
from server.services.claim_review import end_notice_if_due
from server.services.claims import audit_event, current_lines, facts_of, move, require_valid, visible_claim
from server.services.scope import region_in_scope

RECOVERY_ROLES = (Role.BUREAU_REVIEWER, Role.FINANCE, Role.ADMIN)
SUSPENSION_ROLES = (Role.BUREAU_SUPERVISOR, Role.ADMIN)


def disburse(principal: Principal, claim_id: int, amount_fen: int, paid_on: date, reference: str | None
             ) -> Disbursement:
    """Finance records the payment of a noticed claim: all of it or nothing."""
    require_role(principal, Role.FINANCE)
    claim = visible_claim(principal, claim_id)
    end_notice_if_due(claim)
    rules.authorise(principal, facts_of(claim), ClaimAction.DISBURSE)
    ref = check_disbursement(claim.state, amount_fen, claim.total_fen, paid_on, reference, clock.today())
    move(claim, ClaimAction.DISBURSE, paid_at=clock.now())
    payment = Disbursement(claim_id=claim.id, amount_fen=amount_fen, paid_on=paid_on, reference=ref,
                           recorded_by=principal.user_id, recorded_at=clock.now())
    db.session.add(payment)
    paid = [line for line in current_lines(claim) if not line.removed and line.amount_fen > 0]
    certs = {c.id: c for c in db.session.scalars(select(Certificate).where(
        Certificate.id.in_([ln.certificate_id for ln in paid if ln.certificate_id is not None])))}
    require_valid(list(certs.values()))  # revoked since filing (002 第十四条): return the claim instead
    for line in paid:
        cert = certs.get(line.certificate_id)
        db.session.add(SubsidyGrant(
            claim_id=claim.id, line_id=line.id, trainee_id=line.trainee_id, voucher_id=line.voucher_id,
            item=line.item, cert_kind=str(cert.kind) if cert else None,
            cert_level=cert.level if cert else None, amount_fen=line.amount_fen, year=claim.training_year,
            granted_at=clock.now()))
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("申领中有已拨付过的电子券或证书等级，不能重复拨付", code="ALREADY_PAID") from None
    for voucher_id in sorted({ln.voucher_id for ln in paid if ln.voucher_id is not None}):
        voucher = db.session.get(Voucher, voucher_id)
        if claim.stage == 2 and voucher.state is VoucherState.WRITTEN_OFF:
            continue  # startup's second stage (004 二(五)): the first stage wrote the voucher off
        voucher_service.advance(principal, voucher, VoucherAction.REDEEM)  # 兑现
        voucher_service.advance(principal, voucher, VoucherAction.WRITE_OFF)  # 核销
    audit_event(principal, claim, "claim.disbursed", amount_fen=amount_fen, paid_on=paid_on.isoformat(),
                reference=ref)
    db.session.commit()
    return payment


def payment_of(claim: Claim) -> Disbursement | None:
    return db.session.scalar(select(Disbursement).where(Disbursement.claim_id == claim.id))


def recovered_fen(claim: Claim) -> int:
    # int(): PostgreSQL sums a BIGINT column as NUMERIC, which the driver returns as a Decimal.
    return int(db.session.scalar(select(func.coalesce(func.sum(Recovery.amount_fen), 0))
                                 .where(Recovery.claim_id == claim.id)) or 0)


def recover(principal: Principal, claim_id: int, amount_fen: int, reason: str | None) -> Recovery:
    """Record money recovered from a paid claim (追回; 002 第十七条), never more than was paid."""
    require_role(principal, *RECOVERY_ROLES)
    claim = visible_claim(principal, claim_id)
    payment = payment_of(claim)
    if claim.state is not ClaimState.PAID or payment is None:
        raise rules.ClaimStateConflict("只有已拨付的补贴可以追回", code="CLAIM_NOT_PAID",
                                       details={"state": str(claim.state)})
    text = check_recovery(amount_fen, payment.amount_fen, recovered_fen(claim), reason)
    row = Recovery(claim_id=claim.id, amount_fen=amount_fen, reason=text, recorded_by=principal.user_id,
                   recorded_at=clock.now())
    db.session.add(row)
    audit_event(principal, claim, "claim.recovered", amount_fen=amount_fen, reason=text)
    db.session.commit()
    return row


def recoveries_of(claim: Claim) -> list[Recovery]:
    return list(db.session.scalars(select(Recovery).where(Recovery.claim_id == claim.id)
                                   .order_by(Recovery.id)))


# --- suspension (暂停; 002 第十七条) ---------------------------------------------------------


def _organisation_in_scope(principal: Principal, organisation_id: int) -> Organisation:
    org = db.session.get(Organisation, organisation_id)
    if org is None:
        raise NotFound("机构不存在", code="ORGANISATION_NOT_FOUND")
    region_in_scope(principal, org.region_code, "该机构不在本辖区")
    return org


def suspend(principal: Principal, organisation_id: int, reason: str | None) -> Organisation:
    """Suspend an institution found cheating: from today it may not open classes or file claims."""
    require_role(principal, *SUSPENSION_ROLES)
    org = _organisation_in_scope(principal, organisation_id)
    text = rules.required_text(reason, field="reason", label="暂停原因", max_length=200,
                               code="REASON_REQUIRED")
    org.suspended_from, org.suspended_reason = clock.today(), text
    audit.record(principal, "organisation.suspended", "organisation", org.id, region_code=org.region_code,
                 after={"reason": text, "from": org.suspended_from.isoformat()})
    db.session.commit()
    return org


def lift_suspension(principal: Principal, organisation_id: int) -> Organisation:
    require_role(principal, *SUSPENSION_ROLES)
    org = _organisation_in_scope(principal, organisation_id)
    org.suspended_from, org.suspended_reason = None, None
    audit.record(principal, "organisation.suspension_lifted", "organisation", org.id,
                 region_code=org.region_code)
    db.session.commit()
    return org
