"""Scanning vouchers at class start (验券): verify the token, check the voucher against the
class, bind it once, and log every attempt (SPEC §2; 001 三(一))."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from server.adapters.signing import TokenRejected
from server.domain import classes as class_rules
from server.domain import vouchers as rules
from server.domain.access import Principal, Role, require_role
from server.domain.errors import DomainError, NotFound
from server.extensions import db
from server.models import TrainingClass, Voucher, VoucherScan
from server.services import classes, clock
from server.services import vouchers as voucher_service

BOUND = "BOUND"


@dataclass(frozen=True)
class ScanResult:
    status: int
    body: dict
    replayed: bool = False


def _previous(principal: Principal, request_id: str) -> VoucherScan | None:
    return db.session.scalar(select(VoucherScan).where(VoucherScan.operator_id == principal.user_id,
                                                       VoucherScan.request_id == request_id))


def verified_voucher_id(token: str) -> int:
    """The voucher a scanned token names, once its signature, key, type and expiry check out."""
    if len(token) > rules.MAX_TOKEN_LENGTH:
        raise rules.token_refusal("too_long")
    try:
        claims = current_app.extensions["keyring"].verify(token, "voucher", max_length=rules.MAX_TOKEN_LENGTH,
                                                          now=clock.now().timestamp())
    except TokenRejected as exc:
        raise rules.token_refusal(exc.reason) from None
    return rules.voucher_id_from_claims(claims)


def _bind(principal: Principal, class_id: int, token: str) -> Voucher:
    """Everything that must hold for a binding, failing closed: any doubt is a refusal."""
    klass = classes.own_class(principal, class_id)
    today = clock.today()
    if not class_rules.can_scan(klass.state, klass.end_date, today):
        raise class_rules.ClassNotOpen(details={"state": str(klass.state)})
    voucher_id = verified_voucher_id(token)
    try:
        return _bind_voucher(principal, klass, voucher_id, today)
    except DomainError as refusal:
        refusal.voucher_id = voucher_id  # the log shows which voucher was tried
        raise


def _bind_voucher(principal: Principal, klass: TrainingClass, voucher_id: int, today) -> Voucher:
    # The token proves who issued it, not what became of the voucher: the server's own
    # record decides, and a voucher it does not know is refused.
    voucher = db.session.get(Voucher, voucher_id)
    if voucher is None:
        raise NotFound("系统中没有这张电子券", code="VOUCHER_NOT_FOUND")
    facts = _facts(voucher)
    target = rules.ClassFacts(id=klass.id, region_code=klass.region_code,
                              occupation_code=klass.occupation_code, level=klass.level,
                              programme=str(klass.programme))
    rules.check_scan(facts, target, classes.on_roster(klass.id, voucher.id), today)
    try:
        voucher_service.bind(principal, voucher, klass.id)
    except rules.IllegalVoucherTransition:
        # Another scan won the race: name what it did (bound elsewhere, revoked, …).
        rules.check_scan(_facts(voucher), target, True, today)
        raise
    return voucher


def _facts(voucher: Voucher) -> rules.VoucherFacts:
    return rules.VoucherFacts(state=voucher.state, region_code=voucher.region_code,
                              occupation_code=voucher.occupation_code, level=voucher.level,
                              programme=str(voucher.programme), expires_on=voucher.expires_on,
                              bound_class_id=voucher.bound_class_id)


def scan(principal: Principal, class_id: int, token: str, *, request_id: str | None,
         device_id: str | None, render_error: Callable[[DomainError], tuple[int, dict]],
         render_voucher: Callable[[Voucher], dict]) -> ScanResult:
    """Bind the scanned voucher to the class, or refuse; either way the attempt is logged.
    A retried request (same operator and request id) gets its first outcome back."""
    require_role(principal, Role.INSTITUTION_OPERATOR)
    request_id = request_id or secrets.token_hex(16)
    previous = _previous(principal, request_id)
    if previous is not None:
        return ScanResult(previous.status, previous.response, replayed=True)
    log = VoucherScan(operator_id=principal.user_id, institution_id=principal.organisation_id,
                      request_id=request_id, device_id=device_id, class_id=class_id,
                      token_sha256=hashlib.sha256(token.encode("utf-8", "replace")).hexdigest())
    try:
        voucher = _bind(principal, class_id, token)
        log.voucher_id, log.outcome, log.status = voucher.id, BOUND, 200
        log.response = render_voucher(voucher)
    except DomainError as refusal:
        db.session.rollback()  # nothing of a refused scan is kept but its log line
        log.voucher_id = getattr(refusal, "voucher_id", None)
        log.status, log.response = render_error(refusal)
        log.outcome = refusal.code
    log.created_at = clock.now()
    db.session.add(log)
    result = ScanResult(log.status, log.response)  # read before commit expires the row
    try:
        db.session.commit()
    except IntegrityError:
        # The same request raced itself (a double tap): the first one's outcome stands.
        db.session.rollback()
        previous = _previous(principal, request_id)
        return ScanResult(previous.status, previous.response, replayed=True)
    return result


def recent_scans(principal: Principal, class_id: int, limit: int = 100) -> list[VoucherScan]:
    """A class's scan log, newest first, for its institution and the bureau."""
    klass: TrainingClass = classes.visible_class(principal, class_id)
    return list(db.session.scalars(select(VoucherScan).where(VoucherScan.class_id == klass.id)
                                   .order_by(VoucherScan.id.desc()).limit(limit)))
