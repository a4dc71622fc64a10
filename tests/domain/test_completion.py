"""Completion filings (结业申请; 000 二(二)(3)): the lead time, what a filing must contain, who
may be left off the roster and why, the attended days of the roster, and that results wait for
approval (SPEC §3)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, time, timedelta

import pytest

from server.domain.attendance import CellStatus
from server.domain.classes import COMPLETION_DOCUMENT_LABELS, DocumentKind
from server.domain.completion import (
    ELEMENT_LABELS,
    MAX_REASON,
    OPEN_STATES,
    STATE_LABELS,
    Attendance,
    CompletionConflict,
    CompletionState,
    Filing,
    HalfDays,
    IncompleteCompletion,
    LateCompletion,
    attendance,
    check_filing,
    half_days,
    missing_elements,
    require_approved,
    require_lead_time,
)
from server.domain.errors import Conflict, ValidationFailed
from server.domain.policy import Sourced

C = CellStatus
END = date(2026, 3, 20)  # a Friday
THREE_DAYS = Sourced(3, "000 二(二)(3): 培训机构在结业前3天提交结业申请材料")
ALL_DOCUMENTS = {"completion_report": 11, "completion_review_form": 12}
BOUND = frozenset({101, 102, 103})


def filing(**changes) -> Filing:
    """A complete filing that leaves nobody off the roster; `changes` override single fields."""
    base = Filing(evaluator_id=20, assessment_plan="理论考试 60 分钟，实操考核 90 分钟，均百分制",
                  documents=dict(ALL_DOCUMENTS), exclusions={})
    return replace(base, **changes)


# --- states ---------------------------------------------------------------------------------


def test_every_state_has_a_label():
    assert set(STATE_LABELS) == set(CompletionState)
    assert all(label.strip() for label in STATE_LABELS.values())


def test_a_rejected_filing_does_not_block_a_new_one():
    assert frozenset({CompletionState.SUBMITTED, CompletionState.APPROVED}) == OPEN_STATES


# --- the lead time (000 二(二)(3): 结业前3天) -------------------------------------------------


@pytest.mark.parametrize(
    "today",
    [
        pytest.param(END - timedelta(days=3), id="the-last-allowed-day"),
        pytest.param(END - timedelta(days=4), id="a-day-early"),
        pytest.param(END - timedelta(days=30), id="a-month-early"),
    ],
)
def test_a_filing_by_the_lead_time_is_in_time(today):
    assert require_lead_time(END, today, THREE_DAYS) is None


@pytest.mark.parametrize(
    "today",
    [
        pytest.param(END - timedelta(days=2), id="one-day-late"),
        pytest.param(END - timedelta(days=1), id="the-day-before-the-end"),
        pytest.param(END, id="the-last-day"),
        pytest.param(END + timedelta(days=1), id="after-the-end"),
    ],
)
def test_a_filing_after_the_lead_time_is_late_naming_the_deadline_and_its_source(today):
    with pytest.raises(LateCompletion) as refused:
        require_lead_time(END, today, THREE_DAYS)
    assert isinstance(refused.value, ValidationFailed)
    assert refused.value.code == "LATE_COMPLETION"
    assert refused.value.details == {"lead_days": 3, "latest": "2026-03-17", "source": THREE_DAYS.source}
    assert "3" in refused.value.message and "2026-03-17" in refused.value.message


def test_with_no_lead_time_the_filing_may_come_on_the_last_day_but_not_after():
    none = Sourced(0, "product default")
    assert require_lead_time(END, END, none) is None
    with pytest.raises(LateCompletion) as refused:
        require_lead_time(END, END + timedelta(days=1), none)
    assert refused.value.details == {"lead_days": 0, "latest": "2026-03-20", "source": "product default"}


@pytest.mark.parametrize(
    ("end", "lead", "latest"),
    [
        pytest.param(date(2026, 3, 2), 3, date(2026, 2, 27), id="across-a-month"),
        pytest.param(date(2024, 3, 2), 3, date(2024, 2, 28), id="across-a-leap-february"),
        pytest.param(date(2026, 1, 1), 3, date(2025, 12, 29), id="across-a-year"),
        pytest.param(date(2026, 3, 20), 7, date(2026, 3, 13), id="a-week"),
    ],
)
def test_the_latest_day_counts_calendar_days_back_from_the_end(end, lead, latest):
    rule = Sourced(lead, "000 二(二)(3)")
    assert require_lead_time(end, latest, rule) is None
    with pytest.raises(LateCompletion) as refused:
        require_lead_time(end, latest + timedelta(days=1), rule)
    assert refused.value.details["latest"] == latest.isoformat()
    assert refused.value.details["lead_days"] == lead


# --- what a filing must contain (000 二(二)(3)(4)) --------------------------------------------


def test_the_elements_are_the_seed_s_documents_plan_and_evaluator_in_order():
    assert list(ELEMENT_LABELS) == ["documents.completion_report", "documents.completion_review_form",
                                    "assessment_plan", "evaluator"]
    assert ELEMENT_LABELS["documents.completion_report"] == "培训结业申请报告"
    assert ELEMENT_LABELS["documents.completion_review_form"] == "培训结业申请审核表"
    assert ELEMENT_LABELS["assessment_plan"] == "结业考核方案"
    assert ELEMENT_LABELS["evaluator"] == "评价机构"


def test_the_completion_documents_are_not_the_opening_documents():
    assert set(COMPLETION_DOCUMENT_LABELS) == {DocumentKind.COMPLETION_REPORT,
                                               DocumentKind.COMPLETION_REVIEW_FORM}


def test_a_complete_filing_lacks_nothing():
    assert missing_elements(filing()) == []


@pytest.mark.parametrize(
    ("changes", "missing"),
    [
        pytest.param({"documents": {"completion_review_form": 12}}, ["documents.completion_report"],
                     id="no-completion-report"),
        pytest.param({"documents": {"completion_report": 11}}, ["documents.completion_review_form"],
                     id="no-review-form"),
        pytest.param({"documents": {}}, ["documents.completion_report", "documents.completion_review_form"],
                     id="no-documents"),
        pytest.param({"documents": {"teaching_plan": 1, "syllabus": 2, "course_schedule": 3}},
                     ["documents.completion_report", "documents.completion_review_form"],
                     id="opening-documents-do-not-count"),
        pytest.param({"assessment_plan": ""}, ["assessment_plan"], id="plan-empty"),
        pytest.param({"assessment_plan": "  \n\t "}, ["assessment_plan"], id="plan-blank"),
        pytest.param({"evaluator_id": None}, ["evaluator"], id="no-evaluator"),
        pytest.param({"documents": {"completion_report": 11}, "evaluator_id": None},
                     ["documents.completion_review_form", "evaluator"], id="review-form-and-evaluator"),
        pytest.param({"assessment_plan": " ", "documents": {"completion_review_form": 12}},
                     ["documents.completion_report", "assessment_plan"], id="report-and-plan"),
        pytest.param({"documents": {}, "assessment_plan": "", "evaluator_id": None},
                     ["documents.completion_report", "documents.completion_review_form",
                      "assessment_plan", "evaluator"], id="everything"),
    ],
)
def test_each_missing_element_is_named_in_the_labels_order(changes, missing):
    assert missing_elements(filing(**changes)) == missing


def test_documents_keyed_by_the_enum_count_as_well():
    documents = {DocumentKind.COMPLETION_REPORT: 11, DocumentKind.COMPLETION_REVIEW_FORM: 12}
    assert missing_elements(filing(documents=documents)) == []


# --- check_filing ---------------------------------------------------------------------------


def test_a_complete_filing_leaving_nobody_off_has_no_exclusions():
    assert check_filing(filing(), BOUND) == {}


def test_an_incomplete_filing_is_refused_naming_what_is_missing():
    with pytest.raises(IncompleteCompletion) as refused:
        check_filing(filing(assessment_plan="", evaluator_id=None), BOUND)
    assert isinstance(refused.value, ValidationFailed)
    assert refused.value.code == "INCOMPLETE_COMPLETION"
    assert refused.value.details == {"missing": ["assessment_plan", "evaluator"]}
    assert "结业考核方案、评价机构" in refused.value.message


@pytest.mark.parametrize("element", list(ELEMENT_LABELS))
def test_every_element_alone_makes_a_filing_incomplete(element):
    changes = {
        "documents.completion_report": {"documents": {"completion_review_form": 12}},
        "documents.completion_review_form": {"documents": {"completion_report": 11}},
        "assessment_plan": {"assessment_plan": "   "},
        "evaluator": {"evaluator_id": None},
    }[element]
    with pytest.raises(IncompleteCompletion) as refused:
        check_filing(filing(**changes), BOUND)
    assert refused.value.details == {"missing": [element]}
    assert ELEMENT_LABELS[element] in refused.value.message


def test_missing_elements_are_named_before_the_exclusions_are_looked_at():
    with pytest.raises(IncompleteCompletion):
        check_filing(filing(evaluator_id=None, exclusions={999: ""}), BOUND)


def test_left_off_trainees_come_back_with_their_reasons_stripped():
    exclusions = {101: "  因病住院，未参加结业考核\n", 103: "\t中途退出培训 "}
    assert check_filing(filing(exclusions=exclusions), BOUND) == {
        101: "因病住院，未参加结业考核", 103: "中途退出培训"}


@pytest.mark.parametrize(
    ("exclusions", "unknown"),
    [
        pytest.param({999: "不在本班"}, [999], id="one-stranger"),
        pytest.param({104: "x", 101: "因病", 99: "y"}, [99, 104], id="strangers-sorted"),
    ],
)
def test_only_a_trainee_bound_to_the_class_may_be_left_off(exclusions, unknown):
    with pytest.raises(ValidationFailed) as refused:
        check_filing(filing(exclusions=exclusions), BOUND)
    assert refused.value.code == "NOT_IN_CLASS"
    assert refused.value.details == {"trainee_ids": unknown}


def test_a_stranger_is_named_before_a_missing_reason():
    with pytest.raises(ValidationFailed) as refused:
        check_filing(filing(exclusions={101: "", 999: ""}), BOUND)
    assert refused.value.code == "NOT_IN_CLASS"


@pytest.mark.parametrize(
    "reason",
    [
        pytest.param(None, id="none"),
        pytest.param("", id="empty"),
        pytest.param("   ", id="spaces"),
        pytest.param("\n\t ", id="whitespace"),
        pytest.param("x" * (MAX_REASON + 1), id="201-characters"),
        pytest.param("因" * 201, id="201-chinese-characters"),
        pytest.param("  " + "x" * 201 + "  ", id="201-characters-after-stripping"),
    ],
)
def test_leaving_a_trainee_off_needs_a_reason_of_at_most_200_characters(reason):
    with pytest.raises(ValidationFailed) as refused:
        check_filing(filing(exclusions={102: reason}), BOUND)
    assert refused.value.code == "REASON_REQUIRED"
    assert refused.value.details == {"trainee_id": 102}
    assert "200" in refused.value.message


def test_the_reason_limit_is_200():
    assert MAX_REASON == 200


@pytest.mark.parametrize(
    ("reason", "kept"),
    [
        pytest.param("x" * 200, "x" * 200, id="200-characters"),
        pytest.param("因" * 200, "因" * 200, id="200-chinese-characters"),
        pytest.param("  " + "y" * 200 + " \n", "y" * 200, id="200-after-stripping"),
        pytest.param("病", "病", id="one-character"),
    ],
)
def test_a_reason_of_up_to_200_characters_is_kept(reason, kept):
    assert check_filing(filing(exclusions={102: reason}), BOUND) == {102: kept}


@pytest.mark.parametrize(
    ("bound", "exclusions"),
    [
        pytest.param(BOUND, {101: "退出", 102: "退出", 103: "退出"}, id="everyone-left-off"),
        pytest.param(frozenset({101}), {101: "退出"}, id="the-only-trainee-left-off"),
        pytest.param(frozenset(), {}, id="no-bound-trainees"),
    ],
)
def test_at_least_one_trainee_must_stay_on_the_roster(bound, exclusions):
    with pytest.raises(ValidationFailed) as refused:
        check_filing(filing(exclusions=exclusions), bound)
    assert refused.value.code == "EMPTY_COMPLETION_ROSTER"


def test_leaving_off_all_but_one_is_allowed():
    assert check_filing(filing(exclusions={101: "退出", 102: "退出"}), BOUND) == {101: "退出", 102: "退出"}


def test_a_missing_reason_is_named_before_an_empty_roster():
    with pytest.raises(ValidationFailed) as refused:
        check_filing(filing(exclusions={101: "退出", 102: "退出", 103: " "}), BOUND)
    assert refused.value.code == "REASON_REQUIRED"


# --- attended days --------------------------------------------------------------------------

D1, D2, D3 = date(2026, 3, 16), date(2026, 3, 17), date(2026, 3, 18)


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        pytest.param([], Attendance(0, 0, 0, 0, 0), id="no-sessions"),
        pytest.param([(D1, C.PRESENT)], Attendance(1, 1, 1, 1, 0), id="one-present-session"),
        pytest.param([(D1, C.ABSENT)], Attendance(0, 1, 0, 1, 0), id="one-absent-session"),
        pytest.param([(D1, C.FLAGGED)], Attendance(0, 1, 0, 1, 1), id="one-flagged-session-pending"),
        pytest.param([(D1, C.PRESENT), (D1, C.PRESENT)], Attendance(1, 1, 2, 2, 0),
                     id="two-present-sessions-one-day"),
        pytest.param([(D1, C.PRESENT), (D1, C.FLAGGED)], Attendance(0, 1, 1, 2, 1),
                     id="afternoon-flagged-day-not-counted"),
        pytest.param([(D1, C.FLAGGED), (D1, C.PRESENT)], Attendance(0, 1, 1, 2, 1),
                     id="morning-flagged-day-not-counted"),
        pytest.param([(D1, C.PRESENT), (D1, C.ABSENT)], Attendance(0, 1, 1, 2, 0),
                     id="afternoon-absent-day-not-counted"),
        pytest.param([(D1, C.ABSENT), (D1, C.PRESENT)], Attendance(0, 1, 1, 2, 0),
                     id="morning-absent-day-not-counted"),
        pytest.param([(D1, C.PRESENT), (D1, C.PRESENT), (D1, C.REJECTED)], Attendance(0, 1, 2, 3, 0),
                     id="three-sessions-one-rejected"),
        pytest.param([(D1, C.PRESENT), (D1, C.INCOMPLETE)], Attendance(0, 1, 1, 2, 0),
                     id="missing-sign-out-day-not-counted"),
        pytest.param([(D1, C.PRESENT), (D1, C.UPCOMING)], Attendance(0, 1, 1, 2, 0),
                     id="session-still-to-come-day-not-counted"),
        pytest.param([(D1, C.PRESENT), (D1, C.PRESENT), (D2, C.PRESENT), (D2, C.FLAGGED),
                      (D3, C.ABSENT), (D3, C.ABSENT)], Attendance(1, 3, 3, 6, 1), id="three-days-mixed"),
        pytest.param([(D1, C.PRESENT), (D2, C.PRESENT), (D1, C.PRESENT), (D2, C.PRESENT)],
                     Attendance(2, 2, 4, 4, 0), id="days-interleaved"),
        pytest.param([(D2, C.FLAGGED), (D1, C.FLAGGED), (D2, C.FLAGGED)], Attendance(0, 2, 0, 3, 3),
                     id="all-flagged"),
        pytest.param([(D1, C.PRESENT), (D1, C.ABSENT), (D1, C.PRESENT)], Attendance(0, 1, 2, 3, 0),
                     id="a-bad-session-between-good-ones"),
    ],
)
def test_a_day_counts_only_when_every_session_of_it_is_present(cells, expected):
    assert attendance(cells) == expected


@pytest.mark.parametrize("status", [s for s in CellStatus if s is not C.PRESENT], ids=str)
def test_no_status_but_present_makes_a_day_count(status):
    result = attendance([(D1, C.PRESENT), (D1, status), (D2, C.PRESENT)])
    assert result.attended_days == 1
    assert result.planned_days == 2
    assert result.pending_sessions == (1 if status is C.FLAGGED else 0)


def test_attendance_accepts_any_iterable_once():
    cells = ((D1 + timedelta(days=n), C.PRESENT) for n in range(5))
    assert attendance(cells) == Attendance(5, 5, 5, 5, 0)


# --- results wait for approval --------------------------------------------------------------


def test_an_approved_filing_lets_results_be_recorded():
    assert require_approved(CompletionState.APPROVED) is None


@pytest.mark.parametrize(
    ("state", "shown"),
    [
        pytest.param(CompletionState.SUBMITTED, "submitted", id="submitted"),
        pytest.param(CompletionState.REJECTED, "rejected", id="rejected"),
        pytest.param(None, None, id="no-filing"),
    ],
)
def test_results_wait_until_the_filing_is_approved(state, shown):
    with pytest.raises(CompletionConflict) as refused:
        require_approved(state)
    assert isinstance(refused.value, Conflict)
    assert refused.value.code == "COMPLETION_NOT_APPROVED"
    assert refused.value.details == {"state": shown}
    assert "审核通过" in refused.value.message


def test_every_state_but_approved_is_refused():
    refused = []
    for state in CompletionState:
        try:
            require_approved(state)
        except CompletionConflict:
            refused.append(state)
    assert set(refused) == set(CompletionState) - {CompletionState.APPROVED}


# --- half days (subsidies count days in halves) ----------------------------------------------

AM, AM2, PM, EVENING = time(8, 30), time(10, 30), time(14, 0), time(19, 0)


@pytest.mark.parametrize(
    ("cells", "attended", "planned"),
    [
        pytest.param([], 0, 0, id="no-sessions"),
        pytest.param([(D1, AM, C.PRESENT), (D1, PM, C.PRESENT)], 2, 2, id="full-day"),
        pytest.param([(D1, AM, C.PRESENT), (D1, PM, C.ABSENT)], 1, 2, id="afternoon-missed-half-counts"),
        pytest.param([(D1, AM, C.FLAGGED), (D1, PM, C.PRESENT)], 1, 2, id="morning-pending-half-counts"),
        pytest.param([(D1, AM, C.PRESENT), (D1, AM2, C.ABSENT), (D1, PM, C.PRESENT)], 1, 2,
                     id="two-morning-sessions-one-missed"),
        pytest.param([(D1, PM, C.PRESENT), (D1, EVENING, C.PRESENT)], 1, 1,
                     id="afternoon-and-evening-one-half"),
        pytest.param([(D1, time(11, 59), C.PRESENT), (D1, time(12, 0), C.PRESENT)], 2, 2,
                     id="noon-starts-the-afternoon"),
        pytest.param([(D1, AM, C.PRESENT), (D2, AM, C.PRESENT), (D2, PM, C.REJECTED)], 2, 3, id="two-days"),
    ],
)
def test_a_half_day_counts_only_when_every_session_of_it_is_present(cells, attended, planned):
    assert half_days(cells) == HalfDays(attended, planned)
