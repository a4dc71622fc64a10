"""PRC working days and notice periods, counted across real holiday arrangements (the State
Council's notices, as the holiday calendar data has them), and the refusal to guess a year the
data does not cover."""

from __future__ import annotations

from datetime import date

import pytest

from server.domain.errors import DomainError
from server.domain.workdays import (
    HolidayCalendarMissing,
    NoticePeriod,
    add_working_days,
    is_working_day,
    next_working_day,
    notice_period,
    working_days_between,
)

D = date


# --- which days are working days --------------------------------------------------------------


@pytest.mark.parametrize(("day", "working"), [
    (D(2024, 9, 27), True),  # Friday
    (D(2024, 9, 28), False),  # Saturday
    (D(2024, 9, 29), True),  # Sunday, make-up workday for National Day
    (D(2024, 10, 1), False),  # National Day
    (D(2024, 10, 7), False),  # Monday, last day of the holiday
    (D(2024, 10, 8), True),
    (D(2024, 10, 12), True),  # Saturday, make-up workday
    (D(2024, 10, 13), False),  # Sunday
    (D(2025, 9, 28), True),  # Sunday, make-up workday
    (D(2025, 10, 6), False),  # Mid-Autumn inside the National Day holiday
    (D(2025, 10, 8), False),
    (D(2025, 10, 9), True),
    (D(2025, 10, 11), True),  # Saturday, make-up workday
    (D(2026, 9, 20), True),  # Sunday, make-up workday
    (D(2026, 9, 25), False),  # Mid-Autumn (Friday)
    (D(2026, 9, 28), True),
    (D(2026, 10, 7), False),
    (D(2026, 10, 10), True),  # Saturday, make-up workday
    (D(2026, 2, 14), True),  # Saturday, make-up workday for Spring Festival
    (D(2026, 2, 16), False),  # Spring Festival (Monday)
    (D(2026, 2, 23), False),  # Monday, last day of the holiday
    (D(2026, 2, 28), True),  # Saturday, make-up workday
    (D(2026, 3, 1), False),  # Sunday
], ids=str)
def test_weekends_and_holidays_are_off_make_up_days_are_worked(day, working):
    assert is_working_day(day) is working


def test_next_working_day():
    assert next_working_day(D(2024, 9, 30)) == D(2024, 9, 30)
    assert next_working_day(D(2024, 10, 1)) == D(2024, 10, 8)
    assert next_working_day(D(2024, 9, 28)) == D(2024, 9, 29)  # Saturday → make-up Sunday


# --- counting ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("start", "n", "expected"), [
    (D(2024, 9, 30), 0, D(2024, 9, 30)),
    (D(2024, 10, 3), 0, D(2024, 10, 3)),  # zero days is the start, holiday or not
    (D(2024, 9, 30), 1, D(2024, 10, 8)),  # across the whole National Day week
    (D(2024, 9, 27), 1, D(2024, 9, 29)),  # Friday → make-up Sunday, not Monday
    (D(2024, 10, 11), 1, D(2024, 10, 12)),  # Friday → make-up Saturday
    (D(2024, 10, 3), 1, D(2024, 10, 8)),  # from inside the holiday
    (D(2024, 10, 8), -1, D(2024, 9, 30)),
    (D(2024, 10, 8), -2, D(2024, 9, 29)),
    (D(2026, 2, 13), 2, D(2026, 2, 24)),  # Spring Festival 2026: make-up Saturday, then nine days off
    (D(2025, 1, 27), 1, D(2025, 2, 5)),  # Spring Festival 2025 (28 January – 4 February)
    (D(2024, 12, 30), 3, D(2025, 1, 3)),  # across the year end: New Year's Day is off
], ids=str)
def test_add_working_days(start, n, expected):
    assert add_working_days(start, n) == expected


@pytest.mark.parametrize(("first", "last", "expected"), [
    (D(2024, 10, 1), D(2024, 10, 31), 19),  # October 2024: 23 weekdays − 5 holidays + 1 make-up Saturday
    (D(2024, 9, 28), D(2024, 10, 13), 7),  # 29, 30 September; 8–12 October
    (D(2024, 10, 1), D(2024, 10, 7), 0),
    (D(2024, 10, 8), D(2024, 10, 8), 1),  # both ends included
    (D(2024, 10, 9), D(2024, 10, 8), 0),  # last before first
    (D(2025, 9, 27), D(2025, 10, 12), 6),  # 28–30 September; 9–11 October
    (D(2026, 9, 19), D(2026, 10, 11), 11),  # 20–24, 28–30 September; 8–10 October
    (D(2026, 2, 14), D(2026, 2, 28), 6),  # make-up Saturdays 14 and 28 February, 24–27 February
], ids=str)
def test_working_days_between(first, last, expected):
    assert working_days_between(first, last) == expected


# --- notice periods (公示, at least 5 working days) ----------------------------------------------


@pytest.mark.parametrize(("published", "first", "last"), [
    (D(2024, 9, 29), D(2024, 9, 29), D(2024, 10, 10)),  # on a make-up workday: that day counts
    (D(2024, 9, 28), D(2024, 9, 29), D(2024, 10, 10)),  # on a Saturday: from the make-up Sunday
    (D(2024, 10, 1), D(2024, 10, 8), D(2024, 10, 12)),  # on a holiday: ends on the make-up Saturday
    (D(2024, 10, 12), D(2024, 10, 12), D(2024, 10, 17)),  # on a make-up Saturday
    (D(2024, 11, 2), D(2024, 11, 4), D(2024, 11, 8)),  # on an ordinary Saturday
    (D(2024, 11, 4), D(2024, 11, 4), D(2024, 11, 8)),  # a plain Monday
    (D(2025, 9, 30), D(2025, 9, 30), D(2025, 10, 13)),  # 2025: 30 Sep, 9, 10, 11 (Sat), 13 Oct
    (D(2025, 10, 6), D(2025, 10, 9), D(2025, 10, 14)),  # on Mid-Autumn 2025: 9, 10, 11 (Sat), 13, 14 Oct
    (D(2026, 9, 24), D(2026, 9, 24), D(2026, 10, 8)),  # 2026: 24, 28, 29, 30 Sep, 8 Oct
    (D(2026, 9, 30), D(2026, 9, 30), D(2026, 10, 12)),  # 30 Sep, 8, 9, 10 (Sat), 12 Oct
    (D(2026, 2, 13), D(2026, 2, 13), D(2026, 2, 26)),  # Spring Festival 2026: 13, 14 (Sat), 24–26 Feb
    (D(2026, 2, 15), D(2026, 2, 24), D(2026, 2, 28)),  # on the festival: ends on the make-up Saturday
    (D(2025, 1, 27), D(2025, 1, 27), D(2025, 2, 8)),  # Spring Festival 2025: 27 Jan, 5–8 Feb
], ids=str)
def test_a_five_day_notice(published, first, last):
    notice = notice_period(published, 5)
    assert notice == NoticePeriod(first_day=first, last_day=last, working_days=5)
    assert working_days_between(notice.first_day, notice.last_day) == 5


def test_a_longer_notice_counts_on():
    assert notice_period(D(2024, 9, 29), 7).last_day == D(2024, 10, 12)


def test_a_notice_lasts_at_least_one_day():
    with pytest.raises(ValueError):
        notice_period(D(2024, 11, 4), 0)


def test_started_running_ended_and_remaining_across_national_day():
    notice = notice_period(D(2024, 9, 28), 5)  # 29 Sep – 10 Oct 2024
    assert [notice.started(d) for d in (D(2024, 9, 28), D(2024, 9, 29))] == [False, True]
    assert notice.ended(D(2024, 10, 10)) is False  # the last day is still in the notice
    assert notice.ended(D(2024, 10, 11)) is True
    assert notice.running(D(2024, 10, 3)) and not notice.running(D(2024, 10, 11))
    assert not notice.running(D(2024, 9, 28))
    remaining = {d: notice.remaining(d) for d in (
        D(2024, 9, 20), D(2024, 9, 28), D(2024, 9, 29), D(2024, 9, 30), D(2024, 10, 3),
        D(2024, 10, 8), D(2024, 10, 10), D(2024, 10, 11), D(2027, 1, 4))}
    assert remaining == {
        D(2024, 9, 20): 5, D(2024, 9, 28): 5,  # not started: all of it
        D(2024, 9, 29): 5,  # today counts while it is one of the notice's days
        D(2024, 9, 30): 4, D(2024, 10, 3): 3, D(2024, 10, 8): 3, D(2024, 10, 10): 1,
        D(2024, 10, 11): 0, D(2027, 1, 4): 0,  # ended: nothing left, whatever the year
    }


# --- a year the holiday data does not cover -------------------------------------------------


@pytest.mark.parametrize("call", [
    lambda: is_working_day(D(2027, 1, 4)),
    lambda: add_working_days(D(2027, 3, 1), 1),
    lambda: working_days_between(D(2027, 1, 1), D(2027, 1, 31)),
    lambda: notice_period(D(2027, 2, 1), 5),
    lambda: next_working_day(D(2027, 1, 1)),
], ids=["is_working_day", "add_working_days", "working_days_between", "notice_period", "next_working_day"])
def test_2027_is_refused_not_guessed(call):
    with pytest.raises(HolidayCalendarMissing) as refused:
        call()
    assert isinstance(refused.value, DomainError)
    assert refused.value.code == "HOLIDAY_CALENDAR_MISSING"
    assert refused.value.details == {"year": 2027}
    assert "2027" in refused.value.message and "更新" in refused.value.message


def test_a_notice_running_into_an_uncovered_year_is_refused():
    """28–31 December 2026 are four working days; the fifth would be a guess."""
    assert working_days_between(D(2026, 12, 28), D(2026, 12, 31)) == 4
    with pytest.raises(HolidayCalendarMissing) as refused:
        notice_period(D(2026, 12, 28), 5)
    assert refused.value.details == {"year": 2027}


def test_a_year_before_the_data_is_refused_too():
    with pytest.raises(HolidayCalendarMissing) as refused:
        is_working_day(D(2003, 12, 31))
    assert refused.value.details == {"year": 2003}
