"""The time the rules see. Dates are China Standard Time: a class starting "on the 25th" starts
on the 25th in Shanxi, whatever the server's zone. Tests set `app.extensions["clock"]`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import current_app

from server.models.types import utcnow

CHINA = ZoneInfo("Asia/Shanghai")


def now() -> datetime:
    return current_app.extensions.get("clock", utcnow)()


def today() -> date:
    return now().astimezone(CHINA).date()


def end_of_day(day: date) -> datetime:
    """The last instant of `day` in China: a voucher valid "until the 30th" scans all that day."""
    return datetime.combine(day, datetime.max.time(), tzinfo=CHINA).replace(microsecond=0)


def span(day: date, starts, ends) -> tuple[datetime, datetime]:
    """A session's start and end as instants, from its day and wall-clock times in China."""
    return datetime.combine(day, starts, tzinfo=CHINA), datetime.combine(day, ends, tzinfo=CHINA)


@contextmanager
def held_at(when: datetime) -> Iterator[None]:
    """Run a block as if it were `when` (the demo's history is made through the services, in
    the past); the clock that was in force comes back afterwards."""
    before = current_app.extensions.get("clock")
    current_app.extensions["clock"] = lambda: when
    try:
        yield
    finally:
        if before is None:
            current_app.extensions.pop("clock", None)
        else:
            current_app.extensions["clock"] = before
