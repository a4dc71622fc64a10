"""The e-voucher state machine (电子券闭环: 申请 → 发券 → 培训 → 兑现 → 核销; 001 二(七), 002 第十一条).

`TRANSITIONS` is the whole rulebook and the test oracle: a (state, action) pair that is not in
it is refused with `IllegalVoucherTransition`. Each action happens at most once per voucher
because no state is reachable again after it (the table has no cycles); the services enforce
the same thing in the database with a conditional `UPDATE … WHERE state = <from>`.

Serial numbers carry the region code and a random part with a check character (serials.py),
so a mistyped serial is caught before it reaches the database. The scan
rules name every reason a voucher cannot be bound to a class.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from server.domain import serials
from server.domain.errors import DomainError, ValidationFailed
from server.domain.regions import is_within, validate_code


class VoucherState(StrEnum):
    APPLIED = "applied"  # 已申请
    ISSUED = "issued"  # 已发券
    BOUND = "bound"  # 已验券（绑定开班）
    TRAINED = "trained"  # 已结业
    REDEEMED = "redeemed"  # 已兑现（列入补贴申领）
    WRITTEN_OFF = "written_off"  # 已核销
    REJECTED = "rejected"  # 未通过
    REVOKED = "revoked"  # 已作废
    EXPIRED = "expired"  # 已过期


class VoucherAction(StrEnum):
    ISSUE = "issue"  # bureau approves the application (or issues on a trainee's behalf)
    REJECT = "reject"  # bureau refuses the application, with a reason
    BIND = "bind"  # the institution scans it at class start (验券)
    COMPLETE = "complete"  # the completion roster is approved (结业)
    REDEEM = "redeem"  # a subsidy line of an approved claim (兑现)
    WRITE_OFF = "write_off"  # the money is paid (核销)
    REVOKE = "revoke"  # bureau cancels it, with a reason
    EXPIRE = "expire"  # the scheduled command, past the expiry date


S, A = VoucherState, VoucherAction

TRANSITIONS: dict[tuple[VoucherState, VoucherAction], VoucherState] = {
    (S.APPLIED, A.ISSUE): S.ISSUED,
    (S.APPLIED, A.REJECT): S.REJECTED,
    (S.ISSUED, A.BIND): S.BOUND,
    (S.ISSUED, A.REVOKE): S.REVOKED,
    (S.ISSUED, A.EXPIRE): S.EXPIRED,
    # A bound voucher can still be revoked (fraud found during training, 002 第十七条), but
    # it no longer expires: the class it is bound to decides its fate.
    (S.BOUND, A.COMPLETE): S.TRAINED,
    (S.BOUND, A.REVOKE): S.REVOKED,
    (S.TRAINED, A.REDEEM): S.REDEEMED,
    (S.TRAINED, A.REVOKE): S.REVOKED,
    (S.REDEEMED, A.WRITE_OFF): S.WRITTEN_OFF,
}

# A voucher whose class still runs: bound, or trained once the completion filing is approved,
# which happens days before the last session (000 二(二)(3): 结业前3天), and those days still count.
IN_TRAINING = frozenset({S.BOUND, S.TRAINED})

# Actions that must say why (shown to the trainee and kept in the audit trail).
REASON_REQUIRED = frozenset({A.REJECT, A.REVOKE})

FINAL_STATES = frozenset(s for s in VoucherState if not any(f == s for f, _ in TRANSITIONS))


class IllegalVoucherTransition(DomainError):
    code = "ILLEGAL_VOUCHER_TRANSITION"
    message = "电子券当前状态不允许此操作"


class ReasonRequired(ValidationFailed):
    code = "REASON_REQUIRED"
    message = "请填写原因"


def next_state(state: VoucherState, action: VoucherAction, reason: str | None = None) -> VoucherState:
    """The state after `action`, or a refusal naming the state and action."""
    target = TRANSITIONS.get((state, action))
    if target is None:
        raise IllegalVoucherTransition(details={"state": str(state), "action": str(action)})
    if action in REASON_REQUIRED and not (reason and reason.strip()):
        raise ReasonRequired(details={"action": str(action)})
    return target


def allowed_actions(state: VoucherState) -> list[VoucherAction]:
    return [action for (from_state, action) in TRANSITIONS if from_state == state]


# Serial numbers: <region code>-<10 random characters><check character>, e.g.
# 140427-7KQ4M2X9HD3 (domain/serials.py).
_RANDOM_LENGTH = 10  # 50 bits: collisions are left to the unique constraint to refuse


def new_serial(region_code: str) -> str:
    validate_code(region_code)
    return f"{region_code}-{serials.new_body(_RANDOM_LENGTH)}"


def parse_serial(raw: str) -> tuple[str, str]:
    """(region code, serial) for a well-formed serial, normalising case and the letters
    people confuse (O→0, I/L→1); refuses anything else with INVALID_SERIAL."""
    region, _, body = serials.normalised(raw).partition("-")
    ok = (region.isascii() and region.isdigit() and len(region) in (6, 9)
          and serials.is_valid_body(body, _RANDOM_LENGTH))
    if not ok:
        raise ValidationFailed("电子券编号不正确", code="INVALID_SERIAL",
                               details={"serial": (raw or "")[:40]})
    return region, f"{region}-{body}"


# --- scanning at class start (验券) -------------------------------------------------------


class VoucherTokenRejected(ValidationFailed):
    """The scanned text is not a valid voucher token; the code names why."""

    code = "TOKEN_INVALID"
    message = "电子券二维码无效"


# `{subject}` is 电子券 for vouchers and 证书 for certificates (the same key ring signs both).
TOKEN_REFUSALS = {
    "malformed": ("TOKEN_MALFORMED", "无法识别的二维码"),
    "too_long": ("TOKEN_TOO_LONG", "二维码内容过长，不是{subject}"),
    "wrong_algorithm": ("TOKEN_WRONG_ALGORITHM", "{subject}签名算法不正确"),
    "wrong_type": ("TOKEN_WRONG_TYPE", "这不是{subject}二维码"),
    "unknown_key": ("TOKEN_UNKNOWN_KEY", "{subject}签名密钥未知"),
    "expired": ("TOKEN_EXPIRED", "{subject}二维码已过期"),
    "invalid_claims": ("TOKEN_INVALID_CLAIMS", "{subject}二维码内容不完整"),
    "bad_signature": ("TOKEN_BAD_SIGNATURE", "{subject}签名校验失败，二维码可能被篡改"),
}

MAX_TOKEN_LENGTH = 1024  # a voucher token is ~200 characters; anything far longer is not one


def token_refusal(reason: str, subject: str = "电子券") -> VoucherTokenRejected:
    code, message = TOKEN_REFUSALS.get(reason, TOKEN_REFUSALS["malformed"])
    return VoucherTokenRejected(message.format(subject=subject), code=code)


def voucher_id_from_claims(claims: dict) -> int:
    """The voucher id a verified token names (claim `v`, kept short for a small QR)."""
    value = claims.get("v")
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise token_refusal("invalid_claims")
    return value


class ScanRefused(DomainError):
    """The voucher cannot be bound to this class. 409 for the voucher's state, 422 for a
    mismatch (see api/errors.py)."""


class VoucherUnavailable(ScanRefused):
    code = "VOUCHER_UNAVAILABLE"
    message = "电子券当前状态不能验券"


class VoucherMismatch(ScanRefused):
    code = "VOUCHER_MISMATCH"
    message = "电子券与班级不符"


@dataclass(frozen=True)
class VoucherFacts:
    state: VoucherState
    region_code: str
    occupation_code: str
    level: str
    programme: str
    expires_on: date
    bound_class_id: int | None


@dataclass(frozen=True)
class ClassFacts:
    id: int
    region_code: str
    occupation_code: str
    level: str
    programme: str


def check_scan(voucher: VoucherFacts, klass: ClassFacts, on_roster: bool, today: date) -> None:
    """Why this voucher cannot be bound to this class, if it cannot (the class being open is
    checked by the caller, before the token is looked at). The binding itself is a conditional
    UPDATE; this only names the refusal."""
    state = voucher.state
    if state is VoucherState.BOUND or state in (VoucherState.TRAINED, VoucherState.REDEEMED,
                                                VoucherState.WRITTEN_OFF):
        same = voucher.bound_class_id == klass.id
        raise VoucherUnavailable("该电子券已在本班验券" if same else "该电子券已绑定其他班级",
                                 code="VOUCHER_ALREADY_BOUND", details={"same_class": same})
    if state is VoucherState.REVOKED:
        raise VoucherUnavailable("该电子券已作废", code="VOUCHER_REVOKED")
    if state is VoucherState.EXPIRED or (state is VoucherState.ISSUED and voucher.expires_on < today):
        raise VoucherUnavailable("该电子券已过期", code="VOUCHER_EXPIRED")
    if state is not VoucherState.ISSUED:
        raise VoucherUnavailable("该电子券尚未发放", code="VOUCHER_NOT_ISSUED",
                                 details={"state": str(state)})
    if not is_within(klass.region_code, voucher.region_code):
        raise VoucherMismatch("该电子券不是本地区发放的", code="VOUCHER_OTHER_REGION")
    mismatched = [name for name in ("occupation_code", "level", "programme")
                  if getattr(voucher, name) != getattr(klass, name)]
    if mismatched:
        raise VoucherMismatch("电子券的工种、等级或培训类型与班级不符", code="VOUCHER_CLASS_MISMATCH",
                              details={"fields": mismatched})
    if not on_roster:
        raise VoucherMismatch("该学员不在本班学员名册中", code="NOT_ON_ROSTER")
