"""PRC working days (工作日) and the public notice period they measure (SPEC §7).

The notice of a subsidy claim lasts "不少于5个工作日" (000 三(二); 001 三(三); 002 第十五条), and a
working day follows the State Council's holiday arrangement: weekends and statutory holidays
are not working days, make-up workdays (调休, a Saturday or Sunday worked in exchange for a
longer holiday) are. The arrangement is published each year, so it comes from data (the
chinese-calendar package), never from a rule: a year the data does not cover is refused with
`HolidayCalendarMissing` rather than guessed, since a guessed holiday would end a notice early
or late.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import chinese_calendar

from server.domain.errors import DomainError

_DAY = timedelta(days=1)


class HolidayCalendarMissing(DomainError):
    """The holiday data has no arrangement for a year: the package must be updated."""

    code = "HOLIDAY_CALENDAR_MISSING"
    message = "节假日日历缺少该年份的安排"


def is_working_day(d: date) -> bool:
    """True on a working day, a make-up workday included; refuses a year with no holiday data."""
    try:
        return chinese_calendar.is_workday(d)
    except NotImplementedError:
        raise HolidayCalendarMissing(
            f"节假日日历中没有 {d.year} 年的法定节假日安排，无法计算工作日；"
            "请更新节假日日历数据包（chinese-calendar）",
            details={"year": d.year},
        ) from None


def add_working_days(start: date, n: int) -> date:
    """The day `n` working days after `start` (before it when `n` is negative); `start` itself
    is not counted, so `n = 0` is `start` and `n = 1` the next working day."""
    step = _DAY if n >= 0 else -_DAY
    day, left = start, abs(n)
    while left:
        day += step
        if is_working_day(day):
            left -= 1
    return day


def next_working_day(d: date) -> date:
    """`d` itself when it is a working day, otherwise the first working day after it."""
    while not is_working_day(d):
        d += _DAY
    return d


def working_days_between(first: date, last: date) -> int:
    """Working days from `first` to `last`, both included; 0 when `last` is before `first`."""
    count, day = 0, first
    while day <= last:
        if is_working_day(day):
            count += 1
        day += _DAY
    return count


@dataclass(frozen=True)
class NoticePeriod:
    """A public notice (公示): it runs on every day from `first_day` to `last_day`, and those
    days hold `working_days` working days."""

    first_day: date
    last_day: date
    working_days: int

    def started(self, today: date) -> bool:
        return today >= self.first_day

    def ended(self, today: date) -> bool:
        """Ended once the last day has passed: an objection is still heard on the last day."""
        return today > self.last_day

    def running(self, today: date) -> bool:
        return self.started(today) and not self.ended(today)

    def remaining(self, today: date) -> int:
        """Working days still to run, today included while today is one of them."""
        if self.ended(today):
            return 0
        return working_days_between(max(today, self.first_day), self.last_day)


def notice_period(published_on: date, working_days: int) -> NoticePeriod:
    """A notice published on `published_on` starts that day if it is a working day, otherwise on
    the next one, and ends on its `working_days`-th working day."""
    if working_days < 1:
        raise ValueError("a notice lasts at least one working day")
    first = next_working_day(published_on)
    return NoticePeriod(first_day=first, last_day=add_working_days(first, working_days - 1),
                        working_days=working_days)
