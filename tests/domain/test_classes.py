"""Class opening applications: what a proposal must get right, which elements it must have,
the lead time, and when vouchers may be scanned (SPEC §3)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, time, timedelta

import pytest

from server.domain.classes import (
    DOCUMENT_LABELS,
    ELEMENT_LABELS,
    ClassState,
    IncompleteApplication,
    InvalidRoster,
    InvalidSite,
    InvalidTeacher,
    InvalidTimetable,
    LateApplication,
    Proposal,
    Session,
    SessionKind,
    Site,
    Teacher,
    can_scan,
    check_proposal,
    missing_elements,
    require_complete,
    require_lead_time,
)
from server.domain.errors import ValidationFailed
from server.domain.identity import check_character
from server.domain.policy import Sourced

START, END = date(2026, 3, 2), date(2026, 3, 6)  # Monday to Friday


def id_number(sequence: int, birth: str = "19900101", area: str = "140427") -> str:
    """A valid GB 11643 number (the check character computed, never copied)."""
    first17 = f"{area}{birth}{sequence:03d}"
    return first17 + check_character(first17)


def wrong_check(number: str) -> str:
    """The same number with a check character that does not match."""
    return number[:17] + ("0" if number[17] != "0" else "1")


# Sequence 007 of this area and birth date has the check character X.
WITH_X = id_number(7)
assert WITH_X.endswith("X")


def session(day: date = START, starts: str = "08:30", ends: str = "11:30",
            kind: SessionKind = SessionKind.THEORY) -> Session:
    return Session(day, time.fromisoformat(starts), time.fromisoformat(ends), kind)


SITE = Site(address="壶关县龙泉镇职业技能培训中心", latitude=36.11, longitude=113.21, radius_m=200)
TEACHER = Teacher(name="王建国", id_number=id_number(101, "19750612"), certificate_no="TC-2020-0381")
ALL_DOCUMENTS = {str(kind): n for n, kind in enumerate(DOCUMENT_LABELS, start=1)}


def proposal(**changes) -> Proposal:
    """A complete and valid opening application; `changes` override single fields."""
    days = [START + timedelta(days=n) for n in range((END - START).days + 1)]
    base = Proposal(
        name="2026年第一期中式烹调师（初级）培训班",
        start_date=START,
        end_date=END,
        sessions=tuple(s for d in days for s in (session(d, "08:30", "11:30"),
                                                 session(d, "14:00", "17:00", SessionKind.PRACTICE))),
        site=SITE,
        teachers=(TEACHER,),
        documents=dict(ALL_DOCUMENTS),
        assessment_plan="理论考试与实操考核，合格者颁发培训合格证书",
        roster=(id_number(1), id_number(2), id_number(3)),
    )
    return replace(base, **changes)


def refusal(exc_type, p: Proposal):
    with pytest.raises(exc_type) as refused:
        check_proposal(p)
    return refused.value


# --- a valid proposal -----------------------------------------------------------------------


def test_a_valid_proposal_is_accepted_unchanged():
    p = proposal()
    assert check_proposal(p) == p


def test_roster_id_numbers_are_normalised_lower_case_x_to_upper_case():
    checked = check_proposal(proposal(roster=(WITH_X.lower(), f"  {id_number(2)} ")))
    assert checked.roster == (WITH_X, id_number(2))


def test_a_draft_may_lack_elements():
    """check_proposal refuses what is wrong, not what is missing."""
    bare = Proposal(name="中式烹调师培训班", start_date=START, end_date=END)
    assert check_proposal(bare) == bare


# --- the name -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["", "班", "  班  ", "班" * 65], ids=["empty", "one-char", "one-char-padded",
                                                                     "65-chars"])
def test_a_class_name_must_have_2_to_64_characters(name):
    refused = refusal(ValidationFailed, proposal(name=name))
    assert refused.code == "VALIDATION_FAILED"
    assert refused.details == {"field": "name"}
    assert "班级名称" in refused.message


@pytest.mark.parametrize("name", ["烹饪", "班" * 64], ids=["2-chars", "64-chars"])
def test_class_names_at_the_limits_are_accepted(name):
    assert check_proposal(proposal(name=name)).name == name


# --- the timetable --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "details", "says"),
    [
        pytest.param({"end_date": START - timedelta(days=1), "sessions": ()}, {"field": "end_date"},
                     "结束日期早于开始日期", id="end-before-start"),
        pytest.param({"end_date": START + timedelta(days=366)}, {"field": "end_date"}, "一年",
                     id="367-days"),
        pytest.param({"end_date": START + timedelta(days=1000)}, {"field": "end_date"}, "一年",
                     id="1001-days"),
        pytest.param({"sessions": (session(START), session(START - timedelta(days=1)))},
                     {"field": "sessions", "index": 1}, "不在培训起止日期内", id="session-before-start"),
        pytest.param({"sessions": (session(END + timedelta(days=1)),)},
                     {"field": "sessions", "index": 0}, "不在培训起止日期内", id="session-after-end"),
        pytest.param({"sessions": (session(START), session(START + timedelta(days=1), "09:00", "09:00"))},
                     {"field": "sessions", "index": 1}, "应晚于开始时间",
                     id="session-ends-as-it-starts"),
        pytest.param({"sessions": (session(START, "14:00", "11:00"),)},
                     {"field": "sessions", "index": 0}, "应晚于开始时间",
                     id="session-ends-before-start"),
        pytest.param({"sessions": (session(START, "10:00", "12:00"), session(START, "08:30", "11:30"))},
                     {"field": "sessions", "index": 0}, "重叠", id="overlap-filed-out-of-order"),
        pytest.param({"sessions": (session(START, "08:30", "11:30"), session(START, "11:29", "12:00"))},
                     {"field": "sessions", "index": 1}, "重叠", id="overlap-by-a-minute"),
        pytest.param({"sessions": (session(START, "08:00", "17:00"), session(START, "09:00", "10:00"))},
                     {"field": "sessions", "index": 1}, "重叠", id="session-inside-another"),
        pytest.param({"sessions": (session(START), session(START))},
                     {"field": "sessions", "index": 1}, "重叠", id="same-session-twice"),
        pytest.param({"sessions": (session(START, "08:00", "17:00"), session(START, "09:00", "10:00"),
                                   session(START, "13:00", "14:00"))},
                     {"field": "sessions", "index": 1}, "重叠", id="long-session-covers-two"),
    ],
)
def test_a_wrong_timetable_is_refused_naming_the_session(changes, details, says):
    refused = refusal(InvalidTimetable, proposal(**changes))
    assert refused.code == "INVALID_TIMETABLE"
    assert refused.details == details
    assert says in refused.message


def test_a_year_long_class_is_accepted():
    checked = check_proposal(proposal(end_date=START + timedelta(days=365)))
    assert (checked.end_date - checked.start_date).days + 1 == 366


def test_a_one_day_class_is_accepted():
    p = proposal(end_date=START, sessions=(session(START),))
    assert check_proposal(p) == p


@pytest.mark.parametrize(
    "sessions",
    [
        pytest.param((session(START, "08:30", "11:30"), session(START, "11:30", "12:00")), id="adjacent"),
        pytest.param((session(START, "11:30", "12:00"), session(START, "08:30", "11:30")),
                     id="adjacent-filed-out-of-order"),
        pytest.param((session(START, "08:30", "11:30"), session(START + timedelta(days=1), "08:30", "11:30")),
                     id="same-hours-next-day"),
        pytest.param((session(START, "00:00", "23:59"),), id="whole-day"),
        pytest.param((session(START), session(END)), id="first-and-last-day"),
    ],
)
def test_sessions_that_do_not_overlap_are_accepted(sessions):
    assert check_proposal(proposal(sessions=sessions)).sessions == sessions


def _many_sessions(count: int) -> tuple[Session, ...]:
    hours = [("08:00", "09:00"), ("09:00", "10:00"), ("10:00", "11:00"), ("14:00", "15:00")]
    return tuple(session(START + timedelta(days=n // 4), *hours[n % 4]) for n in range(count))


def test_400_sessions_are_accepted():
    p = proposal(end_date=START + timedelta(days=100), sessions=_many_sessions(400))
    assert len(check_proposal(p).sessions) == 400


def test_401_sessions_are_too_many():
    refused = refusal(InvalidTimetable, proposal(end_date=START + timedelta(days=101),
                                                 sessions=_many_sessions(401)))
    assert refused.code == "INVALID_TIMETABLE"
    assert refused.details == {"field": "sessions"}
    assert "400" in refused.message


# --- the site -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("site", "field", "says"),
    [
        pytest.param(replace(SITE, latitude=113.21, longitude=36.11), "site.latitude", "填反",
                     id="latitude-and-longitude-swapped"),
        pytest.param(replace(SITE, latitude=48.85, longitude=2.35), "site.latitude", "中国境内",
                     id="paris"),
        pytest.param(replace(SITE, latitude=-36.11), "site.latitude", "中国境内", id="southern-hemisphere"),
        pytest.param(replace(SITE, latitude=0.0, longitude=0.0), "site.latitude", "中国境内",
                     id="zero-zero-not-filled-in"),
        pytest.param(replace(SITE, latitude=float("nan")), "site.latitude", "中国境内", id="latitude-nan"),
        pytest.param(replace(SITE, longitude=float("inf")), "site.latitude", "中国境内", id="longitude-inf"),
        pytest.param(replace(SITE, radius_m=29), "site.radius_m", "30–2000", id="radius-29"),
        pytest.param(replace(SITE, radius_m=2001), "site.radius_m", "30–2000", id="radius-2001"),
        pytest.param(replace(SITE, radius_m=0), "site.radius_m", "30–2000", id="radius-0"),
        pytest.param(replace(SITE, radius_m=-50), "site.radius_m", "30–2000", id="radius-negative"),
        pytest.param(replace(SITE, address=""), "site.address", "地址", id="empty-address"),
        pytest.param(replace(SITE, address="   "), "site.address", "地址", id="blank-address"),
    ],
)
def test_a_wrong_site_is_refused(site, field, says):
    refused = refusal(InvalidSite, proposal(site=site))
    assert refused.code == "INVALID_SITE"
    assert refused.details == {"field": field}
    assert says in refused.message


@pytest.mark.parametrize(
    "site",
    [
        pytest.param(replace(SITE, radius_m=30), id="radius-30"),
        pytest.param(replace(SITE, radius_m=2000), id="radius-2000"),
        pytest.param(replace(SITE, latitude=18.0, longitude=73.0), id="south-west-corner"),
        pytest.param(replace(SITE, latitude=54.0, longitude=136.0), id="north-east-corner"),
        pytest.param(replace(SITE, latitude=38.48, longitude=112.73), id="xinzhou"),
    ],
)
def test_sites_within_the_limits_are_accepted(site):
    assert check_proposal(proposal(site=site)).site == site


# --- the teachers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("teacher", "says"),
    [
        pytest.param(replace(TEACHER, id_number=wrong_check(TEACHER.id_number)), "身份证号码",
                     id="id-number-wrong-check-character"),
        pytest.param(replace(TEACHER, id_number="14042719750612"), "身份证号码", id="id-number-too-short"),
        pytest.param(replace(TEACHER, id_number=""), "身份证号码", id="id-number-empty"),
        pytest.param(replace(TEACHER, name="王"), "姓名", id="name-one-char"),
        pytest.param(replace(TEACHER, name=" 王 "), "姓名", id="name-one-char-padded"),
        pytest.param(replace(TEACHER, name="王" * 33), "姓名", id="name-33-chars"),
        pytest.param(replace(TEACHER, certificate_no=""), "资质证书", id="certificate-empty"),
        pytest.param(replace(TEACHER, certificate_no="  "), "资质证书", id="certificate-blank"),
    ],
)
def test_a_wrong_teacher_is_refused_naming_which_one(teacher, says):
    refused = refusal(InvalidTeacher, proposal(teachers=(TEACHER, teacher)))
    assert refused.code == "INVALID_TEACHER"
    assert refused.details == {"field": "teachers", "index": 1}
    assert says in refused.message


def test_a_teacher_id_number_with_lower_case_x_is_accepted():
    teacher = replace(TEACHER, id_number=WITH_X.lower())
    assert check_proposal(proposal(teachers=(teacher,))).teachers == (teacher,)


# --- the roster -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(wrong_check(id_number(4)), id="wrong-check-character"),
        pytest.param(id_number(4)[:17], id="17-characters"),
        pytest.param(id_number(4) + "1", id="19-characters"),
        pytest.param("140427199002301234", id="no-such-birth-date"),
        pytest.param("", id="empty"),
    ],
)
def test_an_invalid_roster_id_number_is_refused_with_its_position_and_masked(bad):
    refused = refusal(InvalidRoster, proposal(roster=(id_number(1), id_number(2), bad)))
    assert refused.code == "INVALID_ROSTER_ID_NUMBER"
    assert refused.details["index"] == 2
    assert "身份证号码" in refused.message
    if bad:
        assert bad not in str(refused.details) and bad not in refused.message
        assert bad[:17] not in str(refused.details)


def test_the_masked_roster_number_keeps_only_the_first_and_last_four():
    bad = wrong_check(id_number(4))
    refused = refusal(InvalidRoster, proposal(roster=(bad,)))
    assert refused.details == {"index": 0, "id_number": bad[:4] + "*" * 10 + bad[-4:]}


@pytest.mark.parametrize(
    ("roster", "index", "first_index"),
    [
        pytest.param((id_number(1), id_number(2), id_number(1)), 2, 0, id="same-number-twice"),
        pytest.param((WITH_X, id_number(2), WITH_X.lower()), 2, 0, id="upper-and-lower-case-x"),
        pytest.param((id_number(1), id_number(2), f" {id_number(2)} "), 2, 1, id="with-spaces"),
    ],
)
def test_a_person_listed_twice_is_refused_naming_both_places(roster, index, first_index):
    refused = refusal(InvalidRoster, proposal(roster=roster))
    assert refused.code == "DUPLICATE_ROSTER_ENTRY"
    assert refused.details == {"index": index, "first_index": first_index}
    assert "重复" in refused.message


def test_200_trainees_are_accepted():
    roster = tuple(id_number(n) for n in range(1, 201))
    assert check_proposal(proposal(roster=roster)).roster == roster


def test_201_trainees_are_too_many():
    refused = refusal(InvalidRoster, proposal(roster=tuple(id_number(n) for n in range(1, 202))))
    assert refused.code == "ROSTER_TOO_LARGE"
    assert "200" in refused.message


# --- documents ------------------------------------------------------------------------------


def test_an_unknown_document_kind_is_refused_naming_it():
    refused = refusal(ValidationFailed, proposal(documents={**ALL_DOCUMENTS, "photo_album": 9}))
    assert refused.code == "VALIDATION_FAILED"
    assert refused.details == {"unknown_documents": ["photo_album"]}
    assert "材料类型" in refused.message


# --- completeness ---------------------------------------------------------------------------

# Written out from 000 二(二)(2), 001 三(一) and 002 第十条, independently of ELEMENT_LABELS.
EXPECTED_ELEMENTS = [
    ("roster", "培训学员名册"),
    ("sessions", "课程安排（课时）"),
    ("site", "培训场地"),
    ("teachers", "授课教师"),
    ("assessment_plan", "考核方案"),
    ("documents.teaching_plan", "培训教学实施计划"),
    ("documents.syllabus", "教学大纲"),
    ("documents.course_schedule", "课程安排表"),
]
EMPTY = Proposal(name="中式烹调师培训班", start_date=START, end_date=END)


def test_the_element_labels_are_the_seeds_elements():
    assert list(ELEMENT_LABELS.items()) == EXPECTED_ELEMENTS


def test_an_empty_proposal_lacks_every_element_in_order():
    assert missing_elements(EMPTY) == [element for element, _ in EXPECTED_ELEMENTS]


def test_a_complete_proposal_lacks_nothing():
    assert missing_elements(proposal()) == []
    require_complete(proposal())


@pytest.mark.parametrize(
    ("changes", "missing"),
    [
        pytest.param({"roster": ()}, "roster", id="roster"),
        pytest.param({"sessions": ()}, "sessions", id="sessions"),
        pytest.param({"site": None}, "site", id="site"),
        pytest.param({"teachers": ()}, "teachers", id="teachers"),
        pytest.param({"assessment_plan": ""}, "assessment_plan", id="assessment-plan-empty"),
        pytest.param({"assessment_plan": "  \n "}, "assessment_plan", id="assessment-plan-blank"),
        *[pytest.param({"documents": {k: v for k, v in ALL_DOCUMENTS.items() if k != str(kind)}},
                       f"documents.{kind}", id=f"document-{kind}") for kind in DOCUMENT_LABELS],
    ],
)
def test_each_missing_element_is_named(changes, missing):
    p = proposal(**changes)
    assert missing_elements(p) == [missing]
    with pytest.raises(IncompleteApplication) as refused:
        require_complete(p)
    assert refused.value.details == {"missing": [missing]}
    assert ELEMENT_LABELS[missing] in refused.value.message


def test_an_incomplete_application_names_every_missing_element_in_chinese():
    with pytest.raises(IncompleteApplication) as refused:
        require_complete(EMPTY)
    error = refused.value
    assert isinstance(error, ValidationFailed)
    assert error.code == "INCOMPLETE_APPLICATION"
    assert error.details == {"missing": [element for element, _ in EXPECTED_ELEMENTS]}
    assert error.message == "开班申请材料不全：缺少" + "、".join(label for _, label in EXPECTED_ELEMENTS)


# --- lead time ------------------------------------------------------------------------------

TODAY = date(2026, 2, 20)
SEVEN = Sourced(7, "001 三(一): 提前一周向县人社局提交开班申请")


@pytest.mark.parametrize("days_ahead", [7, 8, 30], ids=lambda d: f"{d}-days-ahead")
def test_an_application_in_time_passes(days_ahead):
    require_lead_time(TODAY + timedelta(days=days_ahead), TODAY, SEVEN)


@pytest.mark.parametrize("days_ahead", [6, 1, 0, -3], ids=lambda d: f"{d}-days-ahead")
def test_a_late_application_says_when_the_class_could_start_and_why(days_ahead):
    with pytest.raises(LateApplication) as refused:
        require_lead_time(TODAY + timedelta(days=days_ahead), TODAY, SEVEN)
    error = refused.value
    assert isinstance(error, ValidationFailed)
    assert error.code == "LATE_APPLICATION"
    assert error.details == {"lead_days": 7, "earliest_start": "2026-02-27", "source": SEVEN.source}
    assert "7 天" in error.message and "2026-02-27" in error.message


def test_a_zero_lead_time_allows_a_class_starting_today():
    require_lead_time(TODAY, TODAY, Sourced(0, "product default"))


def test_a_zero_lead_time_still_refuses_a_class_that_started_yesterday():
    with pytest.raises(LateApplication) as refused:
        require_lead_time(TODAY - timedelta(days=1), TODAY, Sourced(0, "product default"))
    assert refused.value.details["earliest_start"] == TODAY.isoformat()


def test_the_lead_time_crosses_month_and_year_ends():
    with pytest.raises(LateApplication) as refused:
        require_lead_time(date(2027, 1, 5), date(2026, 12, 25), Sourced(15, "003 三(三)"))
    assert refused.value.details["earliest_start"] == "2027-01-09"
    require_lead_time(date(2027, 1, 9), date(2026, 12, 25), Sourced(15, "003 三(三)"))


# --- when vouchers may be scanned -----------------------------------------------------------


@pytest.mark.parametrize("state", [s for s in ClassState if s is not ClassState.APPROVED], ids=str)
def test_only_an_approved_class_may_scan(state):
    assert can_scan(state, END, START) is False


@pytest.mark.parametrize(
    ("today", "allowed"),
    [
        pytest.param(START - timedelta(days=3), True, id="before-start"),
        pytest.param(START, True, id="first-day"),
        pytest.param(END, True, id="last-day"),
        pytest.param(END + timedelta(days=1), False, id="day-after-end"),
        pytest.param(END + timedelta(days=365), False, id="a-year-later"),
    ],
)
def test_an_approved_class_scans_until_its_last_day(today, allowed):
    assert can_scan(ClassState.APPROVED, END, today) is allowed
