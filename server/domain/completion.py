"""Completion filings (结业申请; SPEC §3, 000 二(二)(3)).

The institution files before the class ends, by the region's lead time (000: 结业前3天): the
completion report (培训结业申请报告), the review form (培训结业申请审核表), the completion roster
(培训结业花名册) and the assessment plan (结业考核方案), naming the evaluation institution it has
applied to (000 二(二)(4)). The roster is every trainee whose voucher is bound to the class, with
the days each attended; the institution may leave a trainee off with a reason. Bureau staff
approve or reject with a reason; only after approval may the exam and evaluation be recorded,
and approval moves each roster trainee's voucher from bound to trained.

Attended days count what is recorded and accepted (不录不补, 002 第十五条): a day counts when
every session of it is present (attendance.CellStatus.PRESENT: checked in, every flag accepted
by a supervisor); a session still flagged counts only once a supervisor accepts it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, time, timedelta
from enum import StrEnum

from server.domain.attendance import CellStatus
from server.domain.classes import COMPLETION_DOCUMENT_LABELS
from server.domain.errors import Conflict, ValidationFailed
from server.domain.policy import Sourced


class CompletionState(StrEnum):
    SUBMITTED = "submitted"  # 待审批
    APPROVED = "approved"  # 已批准：可以考核评价
    REJECTED = "rejected"  # 未通过（可重新提交）


STATE_LABELS = {CompletionState.SUBMITTED: "待审批", CompletionState.APPROVED: "已批准",
                CompletionState.REJECTED: "未通过"}

# A class has at most one filing in these states (a partial unique index says so too).
OPEN_STATES = frozenset({CompletionState.SUBMITTED, CompletionState.APPROVED})

ELEMENT_LABELS = {
    **{f"documents.{kind}": label for kind, label in COMPLETION_DOCUMENT_LABELS.items()},
    "assessment_plan": "结业考核方案",
    "evaluator": "评价机构",
}

MAX_REASON = 200


class LateCompletion(ValidationFailed):
    code = "LATE_COMPLETION"
    message = "结业申请提交过晚"


class IncompleteCompletion(ValidationFailed):
    code = "INCOMPLETE_COMPLETION"
    message = "结业申请材料不全"


class CompletionConflict(Conflict):
    code = "COMPLETION_CONFLICT"
    message = "结业申请状态不允许此操作"


@dataclass(frozen=True)
class Filing:
    """What the institution files (the roster is derived, not typed)."""

    evaluator_id: int | None
    assessment_plan: str
    documents: dict[str, int]  # DocumentKind value -> document id
    exclusions: dict[int, str]  # trainee id -> why they are left off the roster


def require_lead_time(end_date: date, today: date, lead: Sourced) -> None:
    """The filing must reach the bureau `lead` days before the class ends."""
    days = int(lead.value)
    latest = end_date - timedelta(days=days)
    if today > latest:
        raise LateCompletion(f"结业申请须在结业前 {days} 天提交（最晚 {latest.isoformat()}）",
                             details={"lead_days": days, "latest": latest.isoformat(), "source": lead.source})


def missing_elements(filing: Filing) -> list[str]:
    present = {
        **{f"documents.{kind}": kind in filing.documents for kind in COMPLETION_DOCUMENT_LABELS},
        "assessment_plan": bool(filing.assessment_plan.strip()),
        "evaluator": filing.evaluator_id is not None,
    }
    return [element for element in ELEMENT_LABELS if not present[element]]


def check_filing(filing: Filing, bound_trainees: frozenset[int]) -> dict[int, str]:
    """Refuses an incomplete filing or a wrong exclusion; returns the exclusions, reasons stripped.
    At least one trainee must stay on the roster."""
    missing = missing_elements(filing)
    if missing:
        labels = "、".join(ELEMENT_LABELS[m] for m in missing)
        raise IncompleteCompletion(f"结业申请材料不全：缺少{labels}", details={"missing": missing})
    unknown = sorted(set(filing.exclusions) - bound_trainees)
    if unknown:
        raise ValidationFailed("未列入结业花名册的人员不是本班已验券学员", code="NOT_IN_CLASS",
                               details={"trainee_ids": unknown})
    reasons = {}
    for trainee_id, reason in filing.exclusions.items():
        text = (reason or "").strip()
        if not text or len(text) > MAX_REASON:
            raise ValidationFailed(f"请填写未列入结业花名册的原因（{MAX_REASON} 字以内）",
                                   code="REASON_REQUIRED", details={"trainee_id": trainee_id})
        reasons[trainee_id] = text
    if not bound_trainees - set(reasons):
        raise ValidationFailed("结业花名册中没有学员", code="EMPTY_COMPLETION_ROSTER")
    return reasons


@dataclass(frozen=True)
class Attendance:
    """One trainee's attendance over a class, as the completion roster shows it."""

    attended_days: int  # days on which every session was present
    planned_days: int  # days with sessions
    present_sessions: int
    total_sessions: int
    pending_sessions: int  # flagged, awaiting a supervisor: not counted until accepted


def attendance(cells: Iterable[tuple[date, CellStatus]]) -> Attendance:
    """Sum a trainee's session cells (day, status) into attended days."""
    days: dict[date, bool] = {}
    present = total = pending = 0
    for day, status in cells:
        total += 1
        present += status is CellStatus.PRESENT
        pending += status is CellStatus.FLAGGED
        days[day] = days.get(day, True) and status is CellStatus.PRESENT
    return Attendance(attended_days=sum(days.values()), planned_days=len(days), present_sessions=present,
                      total_sessions=total, pending_sessions=pending)


NOON = time(12, 0)


def half_of_day(starts: time) -> str:
    """"am" for a session that starts before noon, else "pm": subsidies count days in halves,
    morning and afternoon (003 五(二) deducts missing video by the half day)."""
    return "am" if starts < NOON else "pm"


@dataclass(frozen=True)
class HalfDays:
    attended: int  # half days on which every session was present
    planned: int  # half days with sessions


def half_days(cells: Iterable[tuple[date, time, CellStatus]]) -> HalfDays:
    """Sum a trainee's session cells (day, start, status) into attended half days: a half day
    counts when every session in it is present, as a day does in `attendance`."""
    halves: dict[tuple[date, str], bool] = {}
    for day, starts, status in cells:
        key = (day, half_of_day(starts))
        halves[key] = halves.get(key, True) and status is CellStatus.PRESENT
    return HalfDays(attended=sum(halves.values()), planned=len(halves))


def require_approved(state: CompletionState | None) -> None:
    """Exam results may be recorded only after the filing is approved (000 二(二)(3))."""
    if state is not CompletionState.APPROVED:
        raise CompletionConflict("结业申请经人社部门审核通过后方可录入考核评价结果",
                                 code="COMPLETION_NOT_APPROVED",
                                 details={"state": str(state) if state else None})
