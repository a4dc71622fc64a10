"""The e-voucher state machine (电子券闭环: 申请 → 发券 → 培训 → 兑现 → 核销; 001 二(七), 002 第十一条).

`TRANSITIONS` is the whole rulebook and the test oracle: a (state, action) pair that is not in
it is refused with `IllegalVoucherTransition`. Each action happens at most once per voucher
because no state is reachable again after it (the table has no cycles); the services enforce
the same thing in the database with a conditional `UPDATE … WHERE state = <from>`.

Serial numbers carry the region code and a random part from `secrets` (never `random`),
with a check character so a mistyped serial is caught before it reaches the database. Storing
vouchers, signing their tokens and the services that move them arrive with the voucher issue.
"""

from __future__ import annotations

import secrets
from enum import StrEnum

from server.domain.errors import DomainError, ValidationFailed
from server.domain.regions import validate_code


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
# 140427-7KQ4M2X9HD3. Crockford base 32 leaves out I, L, O and U, which are misread on paper.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RANDOM_LENGTH = 10  # 50 bits: collisions are left to the unique constraint to refuse


def _check_character(body: str) -> str:
    """Luhn mod N: catches every single mistyped character and most adjacent swaps."""
    n, total, factor = len(_ALPHABET), 0, 2
    for char in reversed(body):
        addend = factor * _ALPHABET.index(char)
        total += addend // n + addend % n
        factor = 1 if factor == 2 else 2
    return _ALPHABET[-total % n]


def new_serial(region_code: str) -> str:
    validate_code(region_code)
    body = "".join(secrets.choice(_ALPHABET) for _ in range(_RANDOM_LENGTH))
    return f"{region_code}-{body}{_check_character(body)}"


def parse_serial(raw: str) -> tuple[str, str]:
    """(region code, serial) for a well-formed serial, normalising case and the letters
    people confuse (O→0, I/L→1); refuses anything else with INVALID_SERIAL."""
    text = (raw or "").strip().upper().translate(str.maketrans("OIL", "011"))
    region, _, body = text.partition("-")
    ok = (
        region.isascii() and region.isdigit() and len(region) in (6, 9)
        and len(body) == _RANDOM_LENGTH + 1 and all(c in _ALPHABET for c in body)
        and _check_character(body[:-1]) == body[-1]
    )
    if not ok:
        raise ValidationFailed("电子券编号不正确", code="INVALID_SERIAL",
                               details={"serial": (raw or "")[:40]})
    return region, f"{region}-{body}"
