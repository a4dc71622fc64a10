"""What a session's records add up to for one trainee (the cell of the attendance matrix), and
the supervisor's review of a flagged check-in (SPEC §4; 003 三(四)).

A session counts for a trainee when they checked in (and signed out, where the region asks),
every flag on those records has been accepted by a supervisor or there were none, and, in a
region that asks for it (Wenshui, 003 三(四)), the institution also recorded the e-voucher
sign-in. Elsewhere the e-voucher sign-in alone also counts: it is the alternative for a trainee
who does not consent to selfies. Whether the day is paid is decided from these cells by the money issue.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from server.domain.errors import Conflict, ValidationFailed


class CheckinKind(StrEnum):
    CHECK_IN = "check_in"  # 签到
    SIGN_OUT = "sign_out"  # 签退


class Review(StrEnum):
    NONE = "none"  # no flags, or not yet reviewed
    ACCEPTED = "accepted"  # 核实无误
    REJECTED = "rejected"  # 核实为虚假


class CellStatus(StrEnum):
    PRESENT = "present"  # 有效
    FLAGGED = "flagged"  # 存疑待核
    REJECTED = "rejected"  # 核实无效
    INCOMPLETE = "incomplete"  # 缺签退或缺电子券签到
    ABSENT = "absent"  # 缺勤
    UPCOMING = "upcoming"  # 未开始


CELL_LABELS = {
    CellStatus.PRESENT: "有效", CellStatus.FLAGGED: "存疑待核", CellStatus.REJECTED: "核实无效",
    CellStatus.INCOMPLETE: "不完整", CellStatus.ABSENT: "缺勤", CellStatus.UPCOMING: "未开始",
}


@dataclass(frozen=True)
class Record:
    """One check-in or sign-out as the rule needs it."""

    kind: CheckinKind
    flagged: bool
    review: Review


def cell(records: list[Record], *, voucher_signed: bool, signout_required: bool,
         voucher_signin_required: bool, session_over: bool, session_started: bool) -> CellStatus:
    """The status of one trainee in one session."""
    if any(r.review is Review.REJECTED for r in records):
        return CellStatus.REJECTED
    kinds = {r.kind for r in records}
    if CheckinKind.CHECK_IN not in kinds:
        # The institution's e-voucher sign-in is the non-face alternative to a selfie check-in,
        # except where the region asks for both (003 三(四)).
        if voucher_signed and not voucher_signin_required:
            return CellStatus.PRESENT
        if voucher_signed:
            return CellStatus.INCOMPLETE
        return CellStatus.ABSENT if session_started else CellStatus.UPCOMING
    if any(r.flagged and r.review is not Review.ACCEPTED for r in records):
        return CellStatus.FLAGGED
    missing_signout = signout_required and CheckinKind.SIGN_OUT not in kinds
    if (missing_signout and session_over) or (voucher_signin_required and not voucher_signed):
        return CellStatus.INCOMPLETE
    return CellStatus.PRESENT


def check_review(flagged: bool, current: Review, decision: Review, reason: str | None) -> str:
    """A supervisor accepts or rejects a flagged record, once, with a reason; the reason,
    stripped, is returned for the audit trail."""
    if not flagged:
        raise ValidationFailed("该记录没有疑点，无需核实", code="CHECKIN_NOT_FLAGGED")
    if decision is Review.NONE:
        raise ValidationFailed("请选择核实结论", code="INVALID_DECISION")
    if current is not Review.NONE:
        raise Conflict("该记录已核实", code="CHECKIN_ALREADY_REVIEWED", details={"review": str(current)})
    text = (reason or "").strip()
    if not text:
        raise ValidationFailed("请填写核实意见", code="REASON_REQUIRED")
    return text
