"""The public notice of a subsidy claim (公示) and the objections lodged against it (异议).

The second approval publishes the claim for at least 5 working days, listing the unit, the
persons, the standard, the amount and the training content (000 三(二); 001 三(三); 002 第十五条).
Anyone may object while it runs, signed in or not; an open objection holds the claim (公示结果无
异议后…报同级财政部门复审, 000 三(二)) until the bureau upholds it, removing the lines it names so
the claim is recomputed and noticed afresh, or dismisses it. The notice ends only once its last
working day has passed with no objection open. Persons are shown masked (identity.py), as
every public page shows them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from server.domain.claims import ClaimAction, ClaimState, next_state, optional_text, required_text
from server.domain.errors import Conflict, ValidationFailed
from server.domain.identity import mask_id_number, mask_name
from server.domain.workdays import NoticePeriod, notice_period

NOTICE_WORKING_DAYS = 5  # 000 三(二); 001 三(三); 002 第十五条: 公示时间不少于5个工作日
MAX_OBJECTION = 500
MAX_CONTACT = 100
MAX_REASON = 200


def open_notice(published_on: date, working_days: int = NOTICE_WORKING_DAYS) -> NoticePeriod:
    """The notice period of a claim published on `published_on`; a region may notice longer,
    never shorter (a shorter one is a policy-file error)."""
    if working_days < NOTICE_WORKING_DAYS:
        raise ValueError(f"a claim is noticed for at least {NOTICE_WORKING_DAYS} working days")
    return notice_period(published_on, working_days)


class NoticeNotEnded(Conflict):
    code = "NOTICE_NOT_ENDED"
    message = "公示期尚未结束"


def check_end_notice(state: ClaimState, notice: NoticePeriod, today: date) -> None:
    """Refuses to end the notice while an objection is open (CLAIM_STATE_CONFLICT: the claim is
    异议处理中) or before its last working day has passed (NOTICE_NOT_ENDED)."""
    next_state(state, ClaimAction.END_NOTICE)
    if not notice.ended(today):
        raise NoticeNotEnded(
            f"公示期至 {notice.last_day.isoformat()} 结束，尚余 {notice.remaining(today)} 个工作日",
            details={"last_day": notice.last_day.isoformat(), "remaining": notice.remaining(today)},
        )


@dataclass(frozen=True)
class NoticeEntry:
    """One line of the public notice; the person's name and ID number are masked."""

    organisation_name: str  # 单位名称
    person_name: str  # 张*
    id_number: str  # 1427**********123X
    standard: str  # 补贴标准, as the policy states it
    amount_fen: int  # 补贴金额
    training_content: str  # 培训内容: occupation, level, programme


def notice_entry(*, organisation_name: str, person_name: str, id_number: str, standard: str,
                 amount_fen: int, training_content: str) -> NoticeEntry:
    return NoticeEntry(organisation_name=organisation_name, person_name=mask_name(person_name) or "",
                       id_number=mask_id_number(id_number) or "", standard=standard,
                       amount_fen=amount_fen, training_content=training_content)


# --- objections (异议) ------------------------------------------------------------------------


class ObjectionState(StrEnum):
    OPEN = "open"  # 待处理
    UPHELD = "upheld"  # 异议成立
    DISMISSED = "dismissed"  # 异议不成立


OBJECTION_LABELS = {ObjectionState.OPEN: "待处理", ObjectionState.UPHELD: "异议成立",
                    ObjectionState.DISMISSED: "异议不成立"}


class NoticeNotStarted(Conflict):
    code = "NOTICE_NOT_STARTED"
    message = "公示尚未开始"


class NoticeEnded(Conflict):
    code = "NOTICE_ENDED"
    message = "公示期已结束，不再受理异议"


def check_objection(notice: NoticePeriod, today: date, text: str | None,
                    contact: str | None, *, published_on: date | None = None) -> tuple[str, str | None]:
    """(text, contact) stripped, for an objection lodged `today`; refuses one outside the notice
    (NOTICE_NOT_STARTED, NOTICE_ENDED), without text (OBJECTION_TEXT_REQUIRED) or with text or
    contact too long (TEXT_TOO_LONG). The contact is optional: an objection may be anonymous.
    A notice published on a rest day is heard from that day: the public can read it already,
    though its working days are counted from the next working day."""
    opens = min(published_on or notice.first_day, notice.first_day)
    if today < opens:
        raise NoticeNotStarted(f"公示自 {opens.isoformat()} 开始", details={"first_day": opens.isoformat()})
    if notice.ended(today):
        raise NoticeEnded(details={"last_day": notice.last_day.isoformat()})
    body = required_text(text, field="text", label="异议内容", max_length=MAX_OBJECTION,
                         code="OBJECTION_TEXT_REQUIRED")
    return body, optional_text(contact, field="contact", label="联系方式", max_length=MAX_CONTACT)


@dataclass(frozen=True)
class ObjectionDecision:
    outcome: ObjectionState  # UPHELD or DISMISSED
    action: ClaimAction  # what the decision does to the claim (claims.next_state)
    reason: str
    removed_line_ids: frozenset[int]  # the claim lines the upheld objection removes


DECISION_ACTIONS = {ObjectionState.UPHELD: ClaimAction.UPHOLD_OBJECTION,
                    ObjectionState.DISMISSED: ClaimAction.DISMISS_OBJECTION}


class ObjectionAlreadyDecided(Conflict):
    code = "OBJECTION_ALREADY_DECIDED"
    message = "该异议已处理"


def check_objection_decision(objection_state: ObjectionState, outcome: ObjectionState, reason: str | None,
                             removed_line_ids: Iterable[int] = (),
                             claim_line_ids: Iterable[int] = ()) -> ObjectionDecision:
    """The bureau's decision on an open objection. Upholding names the claim lines it removes (at
    least one, not every one: a claim with nothing left is returned instead) and why; dismissing
    gives why and removes nothing. `claim_line_ids` are the claim's current lines."""
    if objection_state != ObjectionState.OPEN:
        raise ObjectionAlreadyDecided(f"该异议已处理（{OBJECTION_LABELS[objection_state]}）",
                                      details={"state": str(objection_state)})
    if outcome not in DECISION_ACTIONS:
        raise ValidationFailed("请选择异议成立或不成立", code="INVALID_DECISION",
                               details={"outcome": str(outcome)})
    text = required_text(reason, field="reason", label="处理理由", max_length=MAX_REASON,
                         code="REASON_REQUIRED")
    removed, lines = frozenset(removed_line_ids), frozenset(claim_line_ids)
    if outcome == ObjectionState.DISMISSED:
        if removed:
            raise ValidationFailed("异议不成立时不核减申领明细", code="LINES_REMOVED_ON_DISMISSAL",
                                   details={"line_ids": sorted(removed)})
    elif not removed:
        raise ValidationFailed("异议成立须列明核减的申领明细", code="NO_LINES_REMOVED")
    elif unknown := removed - lines:
        raise ValidationFailed("核减的明细不在本申领中", code="NOT_IN_CLAIM",
                               details={"line_ids": sorted(unknown)})
    elif removed == lines:
        raise ValidationFailed("核减全部明细后申领为空，请改为退回申领", code="CLAIM_WOULD_BE_EMPTY")
    return ObjectionDecision(outcome=ObjectionState(outcome), action=DECISION_ACTIONS[outcome], reason=text,
                             removed_line_ids=removed)
