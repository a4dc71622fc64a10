"""The public notice of a claim (公示, at least 5 working days; 000 三(二), 001 三(三), 002 第十五条) and
objections to it: when they are heard, what they must say, and how the bureau decides them."""

from __future__ import annotations

from datetime import date

import pytest

from server.domain.claims import ClaimAction, ClaimState, ClaimStateConflict, next_state
from server.domain.claims_notice import (
    MAX_CONTACT,
    MAX_OBJECTION,
    NOTICE_WORKING_DAYS,
    NoticeEnded,
    NoticeEntry,
    NoticeNotEnded,
    NoticeNotStarted,
    ObjectionAlreadyDecided,
    ObjectionDecision,
    ObjectionState,
    check_end_notice,
    check_objection,
    check_objection_decision,
    notice_entry,
    open_notice,
)
from server.domain.errors import Conflict, ValidationFailed
from server.domain.workdays import NoticePeriod

D = date
OS = ObjectionState
# Published on Saturday 28 September 2024: from the make-up Sunday 29 September through 10 October,
# the National Day week in between.
NOTICE = open_notice(D(2024, 9, 28))


# --- the notice period ---------------------------------------------------------------------------


def test_a_claim_is_noticed_for_five_working_days():
    assert NOTICE_WORKING_DAYS == 5
    assert NoticePeriod(first_day=D(2024, 9, 29), last_day=D(2024, 10, 10), working_days=5) == NOTICE


def test_a_region_may_notice_longer_never_shorter():
    assert open_notice(D(2024, 9, 28), 7).last_day == D(2024, 10, 12)
    with pytest.raises(ValueError):
        open_notice(D(2024, 9, 28), 4)


def test_the_notice_ends_once_its_last_day_has_passed():
    check_end_notice(ClaimState.IN_NOTICE, NOTICE, D(2024, 10, 11))


@pytest.mark.parametrize(("today", "remaining"), [(D(2024, 10, 3), 3), (D(2024, 10, 10), 1)], ids=str)
def test_the_notice_cannot_end_early(today, remaining):
    with pytest.raises(NoticeNotEnded) as refused:
        check_end_notice(ClaimState.IN_NOTICE, NOTICE, today)
    assert isinstance(refused.value, Conflict)
    assert refused.value.code == "NOTICE_NOT_ENDED"
    assert refused.value.details == {"last_day": "2024-10-10", "remaining": remaining}
    assert "2024-10-10" in refused.value.message


def test_an_open_objection_holds_the_claim_past_the_period():
    with pytest.raises(ClaimStateConflict) as refused:
        check_end_notice(ClaimState.OBJECTED, NOTICE, D(2024, 10, 21))
    assert "异议处理中" in refused.value.message


def test_a_notice_entry_masks_the_person():
    entry = notice_entry(organisation_name="壶关县某职业培训学校", person_name="欧阳娜娜",
                         id_number="14042719900101123X", standard="前10天每人每天150元，之后每人每天100元",
                         amount_fen=150_000, training_content="中式烹调师（初级）订单式培训")
    assert entry == NoticeEntry(organisation_name="壶关县某职业培训学校", person_name="欧***",
                                id_number="1404**********123X",
                                standard="前10天每人每天150元，之后每人每天100元", amount_fen=150_000,
                                training_content="中式烹调师（初级）订单式培训")


# --- lodging an objection ------------------------------------------------------------------------


@pytest.mark.parametrize("today", [D(2024, 9, 29), D(2024, 10, 3), D(2024, 10, 10)], ids=str)
def test_an_objection_is_heard_on_any_day_of_the_notice(today):
    """The first day, a holiday inside the period, and the last day."""
    assert check_objection(NOTICE, today, "  张三未实际参加培训  ", " 138 0000 0000 ") == (
        "张三未实际参加培训", "138 0000 0000")


def test_before_the_notice_began():
    with pytest.raises(NoticeNotStarted) as refused:
        check_objection(NOTICE, D(2024, 9, 28), "异议", None)  # published that Saturday, runs from Sunday
    assert refused.value.code == "NOTICE_NOT_STARTED"
    assert refused.value.details == {"first_day": "2024-09-29"}


def test_a_notice_published_on_a_rest_day_hears_objections_from_that_day():
    """Published Saturday 2024-09-28: its working days count from Sunday (a make-up workday),
    but the public reads it, and may object, on the Saturday."""
    saturday = D(2024, 9, 28)
    assert check_objection(NOTICE, saturday, "异议", None, published_on=saturday) == ("异议", None)
    with pytest.raises(NoticeNotStarted):
        check_objection(NOTICE, D(2024, 9, 27), "异议", None, published_on=D(2024, 9, 28))


def test_after_the_notice_ended():
    with pytest.raises(NoticeEnded) as refused:
        check_objection(NOTICE, D(2024, 10, 11), "异议", None)
    assert isinstance(refused.value, Conflict)
    assert refused.value.code == "NOTICE_ENDED"
    assert refused.value.details == {"last_day": "2024-10-10"}


@pytest.mark.parametrize("text", [None, "", " \n "])
def test_an_objection_says_what_is_wrong(text):
    with pytest.raises(ValidationFailed) as refused:
        check_objection(NOTICE, D(2024, 10, 8), text, None)
    assert refused.value.code == "OBJECTION_TEXT_REQUIRED"


def test_an_objection_is_bounded():
    assert MAX_OBJECTION == 500
    assert check_objection(NOTICE, D(2024, 10, 8), "异" * 500, None) == ("异" * 500, None)
    with pytest.raises(ValidationFailed) as refused:
        check_objection(NOTICE, D(2024, 10, 8), "异" * 501, None)
    assert refused.value.code == "TEXT_TOO_LONG"
    assert refused.value.details == {"field": "text", "max_length": 500}


@pytest.mark.parametrize("contact", [None, "", "   "])
def test_an_objection_may_be_anonymous(contact):
    assert check_objection(NOTICE, D(2024, 10, 8), "异议", contact) == ("异议", None)


def test_the_contact_is_bounded():
    assert check_objection(NOTICE, D(2024, 10, 8), "异议", "1" * MAX_CONTACT)[1] == "1" * MAX_CONTACT
    with pytest.raises(ValidationFailed) as refused:
        check_objection(NOTICE, D(2024, 10, 8), "异议", "1" * (MAX_CONTACT + 1))
    assert refused.value.code == "TEXT_TOO_LONG"
    assert refused.value.details["field"] == "contact"


# --- deciding an objection -----------------------------------------------------------------------

LINES = [11, 12, 13]


def test_upholding_removes_the_named_lines():
    decision = check_objection_decision(OS.OPEN, OS.UPHELD, " 经核查张三未参训 ", [12], LINES)
    assert decision == ObjectionDecision(outcome=OS.UPHELD, action=ClaimAction.UPHOLD_OBJECTION,
                                         reason="经核查张三未参训", removed_line_ids=frozenset({12}))
    # The claim changed: back to the two reviewers (claims.next_state).
    assert next_state(ClaimState.OBJECTED, decision.action, changed=True) is ClaimState.SUBMITTED


def test_dismissing_removes_nothing():
    decision = check_objection_decision(OS.OPEN, OS.DISMISSED, "经电话回访，该学员全程参训", (), LINES)
    assert decision == ObjectionDecision(outcome=OS.DISMISSED, action=ClaimAction.DISMISS_OBJECTION,
                                         reason="经电话回访，该学员全程参训", removed_line_ids=frozenset())
    assert next_state(ClaimState.OBJECTED, decision.action, objections_still_open=1) is ClaimState.OBJECTED


@pytest.mark.parametrize("state", [OS.UPHELD, OS.DISMISSED])
def test_an_objection_is_decided_once(state):
    with pytest.raises(ObjectionAlreadyDecided) as refused:
        check_objection_decision(state, OS.DISMISSED, "理由", (), LINES)
    assert refused.value.code == "OBJECTION_ALREADY_DECIDED"
    assert refused.value.details == {"state": str(state)}


def test_the_outcome_is_upheld_or_dismissed():
    with pytest.raises(ValidationFailed) as refused:
        check_objection_decision(OS.OPEN, OS.OPEN, "理由", (), LINES)
    assert refused.value.code == "INVALID_DECISION"


@pytest.mark.parametrize("outcome", [OS.UPHELD, OS.DISMISSED])
@pytest.mark.parametrize("reason", [None, "", "  "])
def test_a_decision_gives_its_reason(outcome, reason):
    with pytest.raises(ValidationFailed) as refused:
        check_objection_decision(OS.OPEN, outcome, reason, [12], LINES)
    assert refused.value.code == "REASON_REQUIRED"


def test_a_decision_reason_is_bounded():
    with pytest.raises(ValidationFailed) as refused:
        check_objection_decision(OS.OPEN, OS.DISMISSED, "理" * 201, (), LINES)
    assert refused.value.code == "TEXT_TOO_LONG"


@pytest.mark.parametrize(("removed", "code"), [
    ([], "NO_LINES_REMOVED"),
    ([12, 99], "NOT_IN_CLAIM"),
    (LINES, "CLAIM_WOULD_BE_EMPTY"),
], ids=["none", "unknown", "all"])
def test_upholding_names_some_of_the_claims_lines(removed, code):
    with pytest.raises(ValidationFailed) as refused:
        check_objection_decision(OS.OPEN, OS.UPHELD, "理由", removed, LINES)
    assert refused.value.code == code
    if code == "NOT_IN_CLAIM":
        assert refused.value.details == {"line_ids": [99]}


def test_dismissing_cannot_remove_lines():
    with pytest.raises(ValidationFailed) as refused:
        check_objection_decision(OS.OPEN, OS.DISMISSED, "理由", [12], LINES)
    assert refused.value.code == "LINES_REMOVED_ON_DISMISSAL"
    assert refused.value.details == {"line_ids": [12]}
