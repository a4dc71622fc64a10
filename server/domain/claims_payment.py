"""Finance's re-review and disbursement of a noticed claim (财政复核 · 拨付), and recovery (追回).

Finance pays exactly the total frozen when the notice ended: the amount the bureau approved and
the public saw (000 三(二): 公示结果无异议后…报同级财政部门复审，并完成资金拨付手续), recorded with the
payment voucher number (拨付凭证号) and the day it was paid. Money paid for persons or classes
later found in breach is recovered by the bureau that paid it, never more than was paid
(002 第十七条: 已经发放的补贴由原发放人社部门负责追回; 000 四(三)2; 003 六).
"""

from __future__ import annotations

from datetime import date

from server.domain.claims import ClaimAction, ClaimState, next_state, required_text
from server.domain.errors import ValidationFailed
from server.domain.subsidy_explain import yuan

MAX_REFERENCE = 64
MAX_REASON = 200


def _positive_fen(amount_fen: int, field: str) -> int:
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen <= 0:
        raise ValidationFailed("金额应为大于 0 的整数（单位：分）", code="INVALID_AMOUNT",
                               details={"field": field})
    return amount_fen


def check_disbursement(state: ClaimState, amount_fen: int, claim_total_fen: int, paid_on: date,
                       reference: str | None, today: date) -> str:
    """The payment reference, stripped, for recording a disbursement; refuses one from any state
    but noticed (CLAIM_STATE_CONFLICT), an amount that is not positive integer fen
    (INVALID_AMOUNT) or not the claim's total (AMOUNT_MISMATCH), a payment day in the future
    (PAID_ON_IN_FUTURE), and a missing (REFERENCE_REQUIRED) or over-long (TEXT_TOO_LONG) reference."""
    next_state(state, ClaimAction.DISBURSE)
    _positive_fen(amount_fen, "amount_fen")
    if amount_fen != claim_total_fen:
        raise ValidationFailed(f"拨付金额 {yuan(amount_fen)} 与申领核定总额 {yuan(claim_total_fen)} 不一致",
                               code="AMOUNT_MISMATCH",
                               details={"amount_fen": amount_fen, "claim_total_fen": claim_total_fen})
    if paid_on > today:
        raise ValidationFailed("拨付日期不能晚于今天", code="PAID_ON_IN_FUTURE",
                               details={"paid_on": paid_on.isoformat()})
    return required_text(reference, field="reference", label="拨付凭证号", max_length=MAX_REFERENCE,
                         code="REFERENCE_REQUIRED")


def check_recovery(amount_fen: int, paid_fen: int, already_recovered_fen: int, reason: str | None) -> str:
    """The reason, stripped, for recovering `amount_fen` of a paid claim; refuses an amount that
    is not positive integer fen (INVALID_AMOUNT), more than is still unrecovered
    (RECOVERY_EXCEEDS_PAID), and a missing (REASON_REQUIRED) or over-long (TEXT_TOO_LONG) reason."""
    _positive_fen(amount_fen, "amount_fen")
    recoverable = paid_fen - already_recovered_fen
    if amount_fen > recoverable:
        raise ValidationFailed(f"追回金额 {yuan(amount_fen)} 超过可追回的 {yuan(max(recoverable, 0))}",
                               code="RECOVERY_EXCEEDS_PAID",
                               details={"amount_fen": amount_fen, "paid_fen": paid_fen,
                                        "already_recovered_fen": already_recovered_fen})
    return required_text(reason, field="reason", label="追回原因", max_length=MAX_REASON,
                         code="REASON_REQUIRED")
