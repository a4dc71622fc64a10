"""The monthly progress report (目标任务推进和资金支付情况, 000 一(三)): for a region in the bureau's
scope and a month, what was recorded that month and in the year up to it, for the region and
each region directly below it, beside the year's targets.

Only recorded rows count (000 二(三)): vouchers issued, classes opened, trainings completed,
certificates issued and money paid, each dated by the record itself (domain/targets.py says which
rows count). Below a county the person figures follow the trainee's home township (001 附件2);
classes and payments stay with the county. Each kind of record is read by one aggregate query
grouped by region code (four in all), so the cost grows with the rows the database scans, and
Python only folds a few dozen groups into the rows of the report.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, time
from decimal import Decimal

from sqlalchemy import and_, case, func, or_, select

from server.domain.access import Principal, Role, require_role
from server.domain.certificates import CertificateState
from server.domain.classes import VersionState
from server.domain.errors import ValidationFailed
from server.domain.regions import RegionLevel, level_of, prefix_of
from server.domain.targets import (
    HIGH_SKILL_LEVELS,
    ISSUED_STATES,
    SKILL_CERTIFICATE_KINDS,
    TRAINED_STATES,
    UNMEASURED_KINDS,
    Line,
    Measure,
    Period,
    TargetKind,
    elapsed_percent,
    fold,
    level_below,
    lines,
    month_period,
    remainder,
    year_to_date,
)
from server.extensions import db, read_only_transaction
from server.models import (
    Certificate,
    Claim,
    ClassVersion,
    Disbursement,
    Region,
    Target,
    TraineeProfile,
    TrainingClass,
    Voucher,
)
from server.services import clock
from server.services.scope import region_in_scope
from server.services.targets import known_region

REPORT_ROLES = (Role.BUREAU_REVIEWER, Role.BUREAU_SUPERVISOR, Role.FINANCE, Role.ADMIN)
OUT_OF_SCOPE = "只能查看本辖区及下级区划的进度"


@dataclass(frozen=True)
class RegionFigures:
    region_code: str | None  # None: the row of records no child region holds
    region_name: str
    lines: tuple[Line, ...]
    other_targets: tuple[tuple[TargetKind, int], ...]  # targets no recorded figure measures


@dataclass(frozen=True)
class Report:
    region_code: str
    region_name: str
    level: RegionLevel
    child_level: RegionLevel
    year: int
    month: int
    month_period: Period
    year_period: Period
    elapsed_percent: Decimal  # the share of the year gone (000 一(三): 按时序进度)
    total: RegionFigures
    children: tuple[RegionFigures, ...]
    unassigned: RegionFigures  # what the region counted that no child region did


@dataclass(frozen=True)
class _Window:
    """The year so far and the month, in China."""

    year: Period
    month: Period

    def bounds(self, instants: bool) -> tuple:
        """(year start, month start, end): instants for a UTC datetime column, days for a date one."""
        days = (self.year.first_day, self.month.first_day, self.month.end)
        if not instants:
            return days
        return tuple(datetime.combine(day, time.min, tzinfo=clock.CHINA) for day in days)


Grouped = dict[Measure, list[tuple[str, int, int]]]  # measure -> (region code, month, year to date)


def progress(principal: Principal, region_code: str, year: int, month: int) -> Report:
    """The report of `region_code` for `month` of `year`, for a bureau user whose region holds it."""
    require_role(principal, *REPORT_ROLES)
    window = _Window(year_to_date(year, month), month_period(year, month))
    with read_only_transaction():
        region = known_region(region_code)
        code, name = region.code, region.name  # the block expires the row when it ends
        region_in_scope(principal, code, OUT_OF_SCOPE)
        level = level_of(code)
        if level is RegionLevel.TOWNSHIP:
            raise ValidationFailed("乡镇的进度见所属县（区）的报表", code="INVALID_REGION_LEVEL",
                                   details={"region_code": code})
        child_level = level_below(code)
        children = db.session.execute(select(Region.code, Region.name).where(
            Region.parent_code == code).order_by(Region.code)).tuples().all()
        by_home = child_level is RegionLevel.TOWNSHIP
        prefix = prefix_of(code) + "%"
        grouped: Grouped = {**_vouchers(prefix, window, by_home), **_classes(prefix, window),
                            **_certificates(prefix, window, by_home), **_payments(prefix, window)}
        targets = _targets(year, [code, *(child for child, _ in children)])
    return _assemble(code, name, level, child_level, year, month, window, children, grouped, targets)


# --- the queries: one per kind of record, grouped by region code -------------------------------


def _dated(moment, window: _Window, *, instants: bool, amount=None):
    """The aggregate columns (this month, year to date), counts or sums of `amount`, and the
    condition that keeps the year to date."""
    starts, month_starts, ends = window.bounds(instants)
    in_month = moment >= month_starts
    if amount is None:
        columns = (func.sum(case((in_month, 1), else_=0)), func.count())
    else:
        columns = (func.sum(case((in_month, amount), else_=0)), func.sum(amount))
    return columns, and_(moment >= starts, moment < ends)


def _rows(query) -> list[tuple[str, int, int]]:
    # int(): PostgreSQL sums BIGINT to NUMERIC
    return [(code, int(month or 0), int(total or 0)) for code, month, total in db.session.execute(query)]


def _home(model):
    """Join the trainee, for the home township. `+ 0` keeps SQLite from the plan it prefers,
    walking every trainee's home in index order and looking up their records one by one (it
    saves a sort for the GROUP BY); scanning the records and finding each trainee by primary key
    instead took the vouchers' query of bench/reports.py's county from 133 to 83 ms. PostgreSQL
    hash-joins either way (83 and 76 ms)."""
    return TraineeProfile, TraineeProfile.id == model.trainee_id + 0


def _vouchers(prefix: str, window: _Window, by_home: bool) -> Grouped:
    """Vouchers issued (decided) and trainings completed, in one scan of the region's vouchers, by
    the voucher's region or, below a county, the trainee's home."""
    starts, month_starts, ends = window.bounds(instants=True)

    def counted(moment, states, since):
        return func.sum(case((and_(Voucher.state.in_(states), moment >= since, moment < ends), 1), else_=0))

    group = TraineeProfile.home_region_code if by_home else Voucher.region_code
    query = select(group, counted(Voucher.decided_at, ISSUED_STATES, month_starts),
                   counted(Voucher.decided_at, ISSUED_STATES, starts),
                   counted(Voucher.trained_at, TRAINED_STATES, month_starts),
                   counted(Voucher.trained_at, TRAINED_STATES, starts)).select_from(Voucher)
    if by_home:
        query = query.join(*_home(Voucher))
    query = query.where(Voucher.region_code.like(prefix), or_(
        and_(Voucher.decided_at >= starts, Voucher.decided_at < ends),
        and_(Voucher.trained_at >= starts, Voucher.trained_at < ends))).group_by(group)
    out: Grouped = {Measure.VOUCHERS_ISSUED: [], Measure.TRAINEES_TRAINED: []}
    for code, issued_month, issued, trained_month, trained in db.session.execute(query):
        out[Measure.VOUCHERS_ISSUED].append((code, int(issued_month), int(issued)))
        out[Measure.TRAINEES_TRAINED].append((code, int(trained_month), int(trained)))
    return out


def _classes(prefix: str, window: _Window) -> Grouped:
    """Classes opened: dated by their first approved opening version, since `approved_at` moves
    to the latest amendment's approval (services/classes.py) and a class opens only once."""
    opened = (select(ClassVersion.class_id, func.min(ClassVersion.decided_at).label("opened_at"))
              .join(TrainingClass, TrainingClass.id == ClassVersion.class_id)
              .where(TrainingClass.region_code.like(prefix),
                     ClassVersion.state.in_((VersionState.APPROVED, VersionState.SUPERSEDED)))
              .group_by(ClassVersion.class_id).subquery())
    columns, in_year = _dated(opened.c.opened_at, window, instants=True)
    query = (select(TrainingClass.region_code, *columns).join(opened, opened.c.class_id == TrainingClass.id)
             .where(in_year).group_by(TrainingClass.region_code))
    return {Measure.CLASSES_OPENED: _rows(query)}


def _certificates(prefix: str, window: _Window, by_home: bool) -> Grouped:
    """Valid skill certificates issued, and those of them at a high-skill level, by the class's
    region or, below a county, the holder's home."""
    group = TraineeProfile.home_region_code if by_home else Certificate.region_code
    high = Certificate.level.in_(HIGH_SKILL_LEVELS)
    columns, in_year = _dated(Certificate.issued_on, window, instants=False)
    query = select(group, *columns,
                   func.sum(case((and_(Certificate.issued_on >= window.month.first_day, high), 1), else_=0)),
                   func.sum(case((high, 1), else_=0))).select_from(Certificate)
    if by_home:
        query = query.join(*_home(Certificate))
    query = query.where(Certificate.region_code.like(prefix), Certificate.state == CertificateState.VALID,
                        Certificate.kind.in_(SKILL_CERTIFICATE_KINDS), in_year).group_by(group)
    out: Grouped = {Measure.CERTIFIED: [], Measure.CERTIFIED_HIGH_SKILLED: []}
    for code, month, total, high_month, high_total in db.session.execute(query):
        out[Measure.CERTIFIED].append((code, int(month or 0), int(total or 0)))
        out[Measure.CERTIFIED_HIGH_SKILLED].append((code, int(high_month or 0), int(high_total or 0)))
    return out


def _payments(prefix: str, window: _Window) -> Grouped:
    """Money paid (拨付), by the day finance paid it and the claim's region."""
    columns, in_year = _dated(Disbursement.paid_on, window, instants=False, amount=Disbursement.amount_fen)
    query = (select(Claim.region_code, *columns).join(Claim, Claim.id == Disbursement.claim_id)
             .where(Claim.region_code.like(prefix), in_year)
             .group_by(Claim.region_code))
    return {Measure.PAID_FEN: _rows(query)}


def _targets(year: int, codes: list[str]) -> dict[str, dict[TargetKind, int]]:
    out: dict[str, dict[TargetKind, int]] = defaultdict(dict)
    for code, kind, value in db.session.execute(select(Target.region_code, Target.kind, Target.value).where(
            Target.year == year, Target.region_code.in_(codes))):
        out[code][kind] = value
    return out


# --- folding the groups into the report's rows ---------------------------------------------------


def _assemble(code: str, name: str, level: RegionLevel, child_level: RegionLevel, year: int, month: int,
              window: _Window, children: list[tuple[str, str]], grouped: Grouped,
              targets: dict[str, dict[TargetKind, int]]) -> Report:
    total, per_child = fold(code, [child for child, _ in children], grouped)

    def figures(region_code: str | None, region_name: str, counts) -> RegionFigures:
        given = targets.get(region_code, {}) if region_code else {}
        return RegionFigures(region_code=region_code, region_name=region_name, lines=lines(counts, given),
                             other_targets=tuple((k, given[k]) for k in UNMEASURED_KINDS if k in given))

    rows = tuple(figures(child, child_name, per_child[child]) for child, child_name in children)
    return Report(region_code=code, region_name=name, level=level, child_level=child_level, year=year,
                  month=month, month_period=window.month, year_period=window.year,
                  elapsed_percent=elapsed_percent(month), total=figures(code, name, total), children=rows,
                  unassigned=figures(None, "未落实到下级区划", remainder(total, per_child.values())))
