"""E-vouchers: application, issue, review, revocation, expiry, the later transitions, the
signed token and its QR code, and the scoped lists (SPEC §2)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from server.adapters import qrcodes
from server.domain import vouchers as rules
from server.domain.access import Principal, Role, can_see_region, require_role
from server.domain.eligibility import (
    PROGRAMME_LABELS,
    Application,
    Category,
    HeldVoucher,
    ProgrammeType,
    decide,
    yearly_group,
)
from server.domain.errors import Forbidden, NotFound, ValidationFailed
from server.domain.regions import RegionLevel, level_of, prefix_of
from server.domain.vouchers import IN_TRAINING, VoucherAction, VoucherState
from server.extensions import db
from server.models import Occupation, Region, TraineeProfile, TrainingClass, Voucher
from server.services import audit, clock, policies
from server.services.accounts import visible_trainee
from server.services.scope import voucher_clause

REVIEWERS = (Role.BUREAU_REVIEWER, Role.ADMIN)
SERIAL_ATTEMPTS = 3


class NotEligible(ValidationFailed):
    code = "NOT_ELIGIBLE"
    message = "不符合申领条件"


@dataclass(frozen=True)
class ApplicationInput:
    occupation_code: str
    level: str
    programme: str
    region_code: str | None = None  # default: the county of the trainee's home region
    trainee_id: int | None = None  # bureau staff issuing on a trainee's behalf (兜底服务)


def summary(voucher: Voucher) -> dict:
    """What the audit trail keeps of a voucher (no personal data beyond the trainee's id)."""
    return {"serial": voucher.serial, "state": str(voucher.state), "trainee_id": voucher.trainee_id,
            "occupation_code": voucher.occupation_code, "level": voucher.level,
            "programme": str(voucher.programme), "region_code": voucher.region_code}


# --- applying -----------------------------------------------------------------------------


def _programme(value: str) -> ProgrammeType:
    try:
        return ProgrammeType(value)
    except ValueError:
        raise ValidationFailed("培训类型不正确", code="INVALID_PROGRAMME",
                               details={"allowed": [str(p) for p in ProgrammeType]}) from None


def occupation_and_level(code: str, level: str) -> Occupation:
    occupation = db.session.get(Occupation, code)
    if occupation is None:
        raise ValidationFailed("工种不存在", code="UNKNOWN_OCCUPATION", details={"occupation_code": code})
    if level not in occupation.levels:
        raise ValidationFailed("该工种没有这个等级", code="INVALID_LEVEL",
                               details={"level": level, "allowed": list(occupation.levels)})
    return occupation


def training_region(code: str) -> Region:
    """A county or city with a policy: where vouchers are issued and classes held."""
    region = db.session.get(Region, code) if isinstance(code, str) else None
    if region is None:
        raise ValidationFailed("行政区划不存在", code="UNKNOWN_REGION", details={"region_code": code})
    if level_of(code) not in (RegionLevel.CITY, RegionLevel.COUNTY):
        raise ValidationFailed("请选择市或县（区）", code="INVALID_REGION_LEVEL",
                               details={"region_code": code})
    policies.for_region(code)  # NO_REGION_POLICY when none applies
    return region


def _held(trainee_id: int) -> list[HeldVoucher]:
    rows = db.session.scalars(select(Voucher).where(Voucher.trainee_id == trainee_id))
    return [HeldVoucher(programme=v.programme, occupation_code=v.occupation_code, level=v.level,
                        year=v.year, state=str(v.state)) for v in rows]


def _decide(profile: TraineeProfile, application: Application) -> None:
    decision = decide(application, _held(profile.id))
    if not decision.eligible:
        refusals = [{"code": r.code, "message": r.message, "clause": r.clause} for r in decision.refusals]
        raise NotEligible("；".join(r.message for r in decision.refusals), details={"refusals": refusals})


def apply(principal: Principal, data: ApplicationInput) -> Voucher:
    """A trainee applies for themself; bureau staff apply and issue at once on a trainee's
    behalf (兜底服务, 004 五(二)). A region whose policy allows it issues eligible applications
    at once."""
    on_behalf = principal.role in REVIEWERS
    if on_behalf:
        if data.trainee_id is None:
            raise ValidationFailed("请选择参训人员", details={"field": "trainee_id"})
        profile = visible_trainee(principal, data.trainee_id)
    else:
        require_role(principal, Role.TRAINEE)
        profile = db.session.get(TraineeProfile, principal.trainee_id)
    programme = _programme(data.programme)
    occupation_and_level(data.occupation_code, data.level)
    region_code = data.region_code or profile.home_region_code[:6]
    training_region(region_code)
    if on_behalf and not can_see_region(principal, region_code):
        raise Forbidden("只能发放本辖区的电子券", details={"region_code": region_code})
    today = clock.today()
    application = Application(programme=programme, occupation_code=data.occupation_code,
                              level=data.level, year=today.year,
                              categories=frozenset(Category(c) for c in profile.categories))
    _decide(profile, application)

    for attempt in range(SERIAL_ATTEMPTS):
        voucher = Voucher(serial=rules.new_serial(region_code), trainee_id=profile.id,
                          occupation_code=data.occupation_code, level=data.level, programme=programme,
                          region_code=region_code, year=today.year, yearly_group=yearly_group(programme),
                          state=VoucherState.APPLIED, applied_by=principal.user_id, applied_at=clock.now(),
                          eligibility={"categories": list(profile.categories)})
        db.session.add(voucher)
        try:
            db.session.flush()
            break
        except IntegrityError:
            # A racing application took the last place (the partial unique indexes), or,
            # once in 2^50, the serial is taken: name the rule, or draw a new serial.
            db.session.rollback()
            _decide(profile, application)
            if attempt == SERIAL_ATTEMPTS - 1:
                raise
    audit.record(principal, "voucher.applied", "voucher", voucher.id, region_code=region_code,
                 after=summary(voucher))
    if on_behalf:
        _issue(principal, voucher)
    elif policies.for_region(region_code).vouchers.auto_issue.value:
        _issue(None, voucher)
    db.session.commit()
    return voucher


# --- moving along the state machine -------------------------------------------------------


def _move(actor: Principal | None, voucher: Voucher, action: VoucherAction, *,
          reason: str | None = None, guard=(), **values) -> Voucher:
    """One transition as a conditional UPDATE from the states `action` is legal in, so two
    racing requests cannot both move the voucher; the loser sees the state it lost to."""
    before = summary(voucher)
    target = rules.next_state(voucher.state, action, reason)
    legal_from = [state for (state, a) in rules.TRANSITIONS if a is action]
    moved = db.session.execute(
        update(Voucher)
        .where(Voucher.id == voucher.id, Voucher.state.in_(legal_from), *guard)
        .values(state=target, **({"reason": reason.strip()} if reason else {}), **values)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(voucher)
    if moved != 1:
        raise rules.IllegalVoucherTransition(details={"state": str(voucher.state), "action": str(action)})
    audit.record(actor, f"voucher.{action}", "voucher", voucher.id, region_code=voucher.region_code,
                 before=before, after={**summary(voucher), **({"reason": voucher.reason} if reason else {})})
    return voucher


def _issue(actor: Principal | None, voucher: Voucher) -> Voucher:
    days = int(policies.for_region(voucher.region_code).vouchers.valid_days.value)
    return _move(actor, voucher, VoucherAction.ISSUE, decided_at=clock.now(),
                 decided_by=actor.user_id if actor else None,
                 expires_on=clock.today() + timedelta(days=days))


def _reviewable(principal: Principal, voucher_id: int) -> Voucher:
    require_role(principal, *REVIEWERS)
    return visible_voucher(principal, voucher_id)


def review(principal: Principal, voucher_id: int, approve: bool, reason: str | None = None) -> Voucher:
    """The bureau issues or rejects an application (with a reason)."""
    voucher = _reviewable(principal, voucher_id)
    if approve:
        _issue(principal, voucher)
    else:
        _move(principal, voucher, VoucherAction.REJECT, reason=reason, decided_at=clock.now(),
              decided_by=principal.user_id)
    db.session.commit()
    return voucher


def revoke(principal: Principal, voucher_id: int, reason: str | None) -> Voucher:
    voucher = _reviewable(principal, voucher_id)
    _move(principal, voucher, VoucherAction.REVOKE, reason=reason, closed_at=clock.now(),
          closed_by=principal.user_id)
    db.session.commit()
    return voucher


def advance(actor: Principal | None, voucher: Voucher, action: VoucherAction, **values) -> Voucher:
    """The later transitions (complete, redeem, write off), for the completion and money
    services; the caller commits with its own records."""
    stamp = {VoucherAction.COMPLETE: "trained_at", VoucherAction.REDEEM: "redeemed_at",
             VoucherAction.WRITE_OFF: "written_off_at"}[action]
    return _move(actor, voucher, action, **{stamp: clock.now()}, **values)


def bind(actor: Principal, voucher: Voucher, class_id: int) -> Voucher:
    """Bind to a class at its first scan: only an issued, unexpired, unbound voucher moves."""
    return _move(actor, voucher, VoucherAction.BIND,
                 guard=(Voucher.bound_class_id.is_(None), Voucher.expires_on >= clock.today()),
                 bound_class_id=class_id, bound_at=clock.now(), bound_by=actor.user_id)


def expire_due(today: date | None = None) -> list[str]:
    """Expire issued vouchers past their last day (the scheduled `expire-vouchers` command).
    Bound vouchers do not expire: their class decides their fate."""
    today = today or clock.today()
    due = db.session.scalars(select(Voucher).where(Voucher.state == VoucherState.ISSUED,
                                                   Voucher.expires_on < today)).all()
    expired = []
    for voucher in due:
        try:
            _move(None, voucher, VoucherAction.EXPIRE, guard=(Voucher.expires_on < today,),
                  closed_at=clock.now())
            expired.append(voucher.serial)
        except rules.IllegalVoucherTransition:
            continue  # bound or revoked meanwhile
    db.session.commit()
    return expired


# --- reading ------------------------------------------------------------------------------


def visible_voucher(principal: Principal, voucher_id: int) -> Voucher:
    voucher = db.session.scalar(select(Voucher).where(Voucher.id == voucher_id,
                                                      voucher_clause(principal)))
    if voucher is None:
        raise NotFound("电子券不存在", code="VOUCHER_NOT_FOUND")
    return voucher


@dataclass(frozen=True)
class VoucherFilter:
    serial: str | None = None
    state: str | None = None
    occupation_code: str | None = None
    programme: str | None = None
    region_code: str | None = None
    institution_id: int | None = None  # of the class it is bound to
    trainee_id: int | None = None
    q: str | None = None  # trainee name


def _filtered(principal: Principal, f: VoucherFilter):
    stmt = select(Voucher).where(voucher_clause(principal))
    if f.serial:
        stmt = stmt.where(Voucher.serial.contains(f.serial.strip().upper(), autoescape=True))
    if f.state:
        stmt = stmt.where(Voucher.state == _state(f.state))
    if f.occupation_code:
        stmt = stmt.where(Voucher.occupation_code == f.occupation_code)
    if f.programme:
        stmt = stmt.where(Voucher.programme == _programme(f.programme))
    if f.region_code:
        stmt = stmt.where(Voucher.region_code.like(prefix_of(f.region_code) + "%"))
    if f.institution_id:
        stmt = stmt.where(Voucher.bound_class_id.in_(
            select(TrainingClass.id).where(TrainingClass.institution_id == f.institution_id)))
    if f.trainee_id:
        stmt = stmt.where(Voucher.trainee_id == f.trainee_id)
    if f.q:
        stmt = stmt.where(Voucher.trainee_id.in_(
            select(TraineeProfile.id).where(TraineeProfile.real_name.contains(f.q, autoescape=True))))
    return stmt


def _state(value: str) -> VoucherState:
    try:
        return VoucherState(value)
    except ValueError:
        raise ValidationFailed("电子券状态不正确", code="INVALID_STATE",
                               details={"allowed": [str(s) for s in VoucherState]}) from None


def list_vouchers(principal: Principal, f: VoucherFilter, *, limit: int = 50, offset: int = 0
                  ) -> tuple[list[Voucher], int]:
    stmt = _filtered(principal, f)
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = db.session.scalars(stmt.order_by(Voucher.id.desc()).limit(limit).offset(offset)).all()
    return list(rows), total


def iter_vouchers(principal: Principal, f: VoucherFilter) -> Iterator[Voucher]:
    """Every matching voucher, streamed in batches (exports). The filter is checked now, before
    the caller starts writing a file."""
    return iter(db.session.scalars(_filtered(principal, f).order_by(Voucher.id)
                                   .execution_options(yield_per=500)))


# --- token and QR -------------------------------------------------------------------------

# Trained too: the completion is approved days before the last session (000 二(二)(3)), and the
# institution's e-voucher sign-in at those sessions scans this QR (003 三(四)).
QR_STATES = frozenset({VoucherState.ISSUED}) | IN_TRAINING


def token(voucher: Voucher) -> str:
    """The signed token the QR carries: voucher id and expiry only, so the code stays small.
    Ed25519 signatures are deterministic, so the same voucher and key give the same token."""
    if voucher.state not in QR_STATES or voucher.expires_on is None:
        raise ValidationFailed("该电子券当前状态没有二维码", code="VOUCHER_HAS_NO_QR",
                               details={"state": str(voucher.state)})
    exp = int(clock.end_of_day(voucher.expires_on).timestamp())
    return current_app.extensions["keyring"].sign({"v": voucher.id, "exp": exp}, "voucher")


@lru_cache(maxsize=512)
def _render(text: str, media: str) -> bytes:
    return qrcodes.png(text) if media == "png" else qrcodes.svg(text)


def qr_etag(voucher: Voucher, media: str) -> str:
    """The image's ETag: the token's digest, so it changes when the key rotates. Cheap (a
    signature), so a conditional request is answered without rendering."""
    return hashlib.sha256(f"{media}:{token(voucher)}".encode()).hexdigest()[:32]


def qr_image(voucher: Voucher, media: str) -> bytes:
    return _render(token(voucher), media)


def programme_label(voucher: Voucher) -> str:
    return PROGRAMME_LABELS[voucher.programme]
