"""Targets handed down (目标任务) and the arithmetic of the monthly progress report (SPEC §9).

Targets come by region, year and kind: the province gives Xinzhou its 2024 figures and the city
breaks them down by county (000 一(一)); Huguan breaks its own down by township (001 附件2
2024年职业技能培训指导性任务分解表); Lin sets a county total (004 一). Counties report every month
how far they have come and what has been paid (000 一(三): 按月上报目标任务推进和资金支付情况), and
only what is recorded in the real-name system counts (000 二(三): 所有相关统计数据要全部按照已完成并
上传至实名制系统数据为准，过程中数据不再纳入统计范围).

What each figure counts is decided here, from the voucher and certificate rules, so the queries in
services/reports.py only apply it. Periods are China calendar dates (the service turns them into
instants); percentages are exact integer arithmetic, rounded half up to one decimal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from server.domain.certificates import ISSUED_BY_TRAINER, LEVELS, CertificateKind
from server.domain.errors import ValidationFailed
from server.domain.regions import RegionLevel, is_within, level_of
from server.domain.vouchers import TRANSITIONS, VoucherState


class TargetKind(StrEnum):
    SUBSIDISED_TRAINEES = "subsidised_trainees"  # 补贴性职业技能培训人次
    NEW_SKILLED = "new_skilled"  # 新增技能人才
    NEW_HIGH_SKILLED = "new_high_skilled"  # 新增高技能人才
    SPECIALISED_TOWN_TRAINEES = "specialised_town_trainees"  # 专业镇技能培训 (000 一(一))
    LABOUR_BRAND_TRAINEES = "labour_brand_trainees"  # 特色劳务品牌培训 (000 一(一))


KIND_LABELS = {
    TargetKind.SUBSIDISED_TRAINEES: "补贴性职业技能培训人次",
    TargetKind.NEW_SKILLED: "新增技能人才",
    TargetKind.NEW_HIGH_SKILLED: "新增高技能人才",
    TargetKind.SPECIALISED_TOWN_TRAINEES: "专业镇技能培训",
    TargetKind.LABOUR_BRAND_TRAINEES: "特色劳务品牌培训",
}


class Measure(StrEnum):
    """A figure of the progress report, counted from recorded rows only."""

    VOUCHERS_ISSUED = "vouchers_issued"  # 发放电子券（张）
    CLASSES_OPENED = "classes_opened"  # 开班（个）
    TRAINEES_TRAINED = "trainees_trained"  # 培训人次
    CERTIFIED = "certified"  # 取证（本）
    CERTIFIED_HIGH_SKILLED = "certified_high_skilled"  # 其中高技能人才取证
    PAID_FEN = "paid_fen"  # 拨付资金（分）


MEASURE_LABELS = {
    Measure.VOUCHERS_ISSUED: "发放电子券",
    Measure.CLASSES_OPENED: "开班",
    Measure.TRAINEES_TRAINED: "培训人次",
    Measure.CERTIFIED: "取证",
    Measure.CERTIFIED_HIGH_SKILLED: "高技能人才取证",
    Measure.PAID_FEN: "拨付资金",
}

# The target each figure is measured against. 001 附件2 heads 新增技能人才数 and 新增高技能人才数
# together as 计划取证任务数 (planned certifications), so certificates measure them; 补贴性技能培训
# counts person-times trained (人次). 专业镇 and 劳务品牌 training (000 一(一)) are targets with no
# recorded mark of their own on a class, so they are reported beside the figures, unmeasured.
MEASURE_TARGETS: dict[Measure, TargetKind] = {
    Measure.TRAINEES_TRAINED: TargetKind.SUBSIDISED_TRAINEES,
    Measure.CERTIFIED: TargetKind.NEW_SKILLED,
    Measure.CERTIFIED_HIGH_SKILLED: TargetKind.NEW_HIGH_SKILLED,
}
UNMEASURED_KINDS = tuple(kind for kind in TargetKind if kind not in MEASURE_TARGETS.values())

# Below a county, figures follow the trainee's home township (001 附件2 gives townships targets
# for their people); classes are held and claims paid by the county, so a township has none.
PERSON_MEASURES = frozenset({Measure.VOUCHERS_ISSUED, Measure.TRAINEES_TRAINED, Measure.CERTIFIED,
                             Measure.CERTIFIED_HIGH_SKILLED})


def measured_in_children(child_level: RegionLevel | None) -> frozenset[Measure]:
    """The figures a report breaks down by child region: all of them below a province or a
    city, the person figures below a county."""
    if child_level is None:
        return frozenset()
    return PERSON_MEASURES if child_level is RegionLevel.TOWNSHIP else frozenset(Measure)


def child_of(code: str, parent: str) -> str | None:
    """The region directly below `parent` that `code` is or lies in; None for `parent` itself
    (a record kept at the parent's level), for a code outside it, or below a township."""
    if not is_within(code, parent):
        return None
    level = level_of(parent)
    if level is RegionLevel.PROVINCE:
        child = code[:4] + "00"
    elif level is RegionLevel.CITY:
        child = code[:6]
    elif level is RegionLevel.COUNTY and len(code) == 9:
        child = code
    else:
        return None
    return None if child == parent else child


def reachable(state: VoucherState) -> frozenset[VoucherState]:
    """`state` and every state a voucher can reach from it, read off the transition table."""
    seen, todo = {state}, [state]
    while todo:
        current = todo.pop()
        for (origin, _action), target in TRANSITIONS.items():
            if origin == current and target not in seen:
                seen.add(target)
                todo.append(target)
    return frozenset(seen)


# A voucher counts as issued in the month it was decided, whatever became of it since: a revoked
# or expired voucher was still issued (制券 is recorded at issue, 000 二(三)).
ISSUED_STATES = reachable(VoucherState.ISSUED)
# A training counts once completed, unless the voucher was revoked afterwards: violating persons
# are not subsidised and their money is recovered (002 第十七条), so the training is void.
TRAINED_STATES = reachable(VoucherState.TRAINED) - {VoucherState.REVOKED}
# 取证 is a certificate from an evaluation (001 二(三) 评价取证); the 培训合格证书 the training
# institution issues records attendance, not a skill (002 第十二条).
SKILL_CERTIFICATE_KINDS = frozenset(CertificateKind) - ISSUED_BY_TRAINER
# 高技能人才: 高级工 and above (the national definition: 高级工、技师和高级技师).
HIGH_SKILL_LEVELS = LEVELS[LEVELS.index("高级"):]

FIRST_YEAR, LAST_YEAR = 2000, 2099  # a sanity bound: the programme began long after 2000


class InvalidPeriod(ValidationFailed):
    code = "INVALID_PERIOD"
    message = "统计年度或月份不正确"


@dataclass(frozen=True)
class Period:
    """Calendar days in China from `first_day` up to, not including, `end`."""

    first_day: date
    end: date

    @property
    def last_day(self) -> date:
        return date.fromordinal(self.end.toordinal() - 1)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_year(year: int) -> None:
    if not _is_int(year) or not FIRST_YEAR <= year <= LAST_YEAR:
        raise InvalidPeriod("统计年度不正确", code="INVALID_YEAR", details={"year": year})


def check_month(month: int) -> None:
    if not _is_int(month) or not 1 <= month <= 12:
        raise InvalidPeriod("月份应为 1 到 12", code="INVALID_MONTH", details={"month": month})


def check_period(year: int, month: int) -> None:
    check_year(year)
    check_month(month)


def _next_month(year: int, month: int) -> date:
    return date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)


def month_period(year: int, month: int) -> Period:
    check_period(year, month)
    return Period(date(year, month, 1), _next_month(year, month))


def year_to_date(year: int, month: int) -> Period:
    """From 1 January to the end of `month`: the cumulative figures of a monthly report."""
    check_period(year, month)
    return Period(date(year, 1, 1), _next_month(year, month))


def percent(part: int, whole: int | None) -> Decimal | None:
    """`part` as a percentage of `whole`, one decimal, rounded half up, in integers only (no
    float ever sees the figures); None without a positive `whole`."""
    if whole is None or whole <= 0:
        return None
    if part < 0:
        raise ValueError("a count cannot be negative")
    tenths = (part * 2000 + whole) // (2 * whole)  # round(part * 1000 / whole), halves up
    return Decimal(tenths).scaleb(-1)


def elapsed_percent(month: int) -> Decimal:
    """How much of the year has gone by the end of `month`: the pace a target should keep
    (000 一(三): 按时序进度完成目标任务)."""
    check_month(month)
    return percent(month, 12)


@dataclass(frozen=True)
class Count:
    month: int
    year_to_date: int


@dataclass(frozen=True)
class Line:
    """One figure of one region: the month's count, the year's so far, and against the year's
    target (when the figure has one and the region was given it)."""

    measure: Measure
    month: int | None  # None: not counted at this level (a township's classes)
    year_to_date: int | None
    target_kind: TargetKind | None
    target: int | None
    percent: Decimal | None


def lines(counts: Mapping[Measure, Count | None], targets: Mapping[TargetKind, int]) -> tuple[Line, ...]:
    """A region's figures in report order, each beside its target with the share reached."""
    out = []
    for measure in Measure:
        count = counts.get(measure)
        kind = MEASURE_TARGETS.get(measure)
        target = targets.get(kind) if kind is not None else None
        reached = percent(count.year_to_date, target) if count is not None else None
        out.append(Line(measure=measure, month=count.month if count else None,
                        year_to_date=count.year_to_date if count else None, target_kind=kind,
                        target=target, percent=reached))
    return tuple(out)


def fold(parent: str, children: Iterable[str], grouped: Mapping[Measure, Iterable[tuple[str, int, int]]]
         ) -> tuple[dict[Measure, Count], dict[str, dict[Measure, Count | None]]]:
    """The region's total and each child region's counts, from (region code, month, year to date)
    groups of records held in the region. A group counts towards the child it lies in, for the
    figures the children count (measured_in_children); every group counts towards the total."""
    children = list(children)
    broken_down = measured_in_children(level_below(parent))
    per_child = {child: {m: (Count(0, 0) if m in broken_down else None) for m in Measure}
                 for child in children}
    total = {}
    for measure in Measure:
        month = year = 0
        for code, in_month, so_far in grouped.get(measure, ()):
            month, year = month + in_month, year + so_far
            child = child_of(code, parent)
            if measure in broken_down and child in per_child:
                held = per_child[child][measure]
                per_child[child][measure] = Count(held.month + in_month, held.year_to_date + so_far)
        total[measure] = Count(month, year)
    return total, per_child


def level_below(code: str) -> RegionLevel | None:
    """The level of the regions a report on `code` breaks its figures down by."""
    return {RegionLevel.PROVINCE: RegionLevel.CITY, RegionLevel.CITY: RegionLevel.COUNTY,
            RegionLevel.COUNTY: RegionLevel.TOWNSHIP}.get(level_of(code))


def remainder(total: Mapping[Measure, Count | None],
              children: Iterable[Mapping[Measure, Count | None]]) -> dict[Measure, Count | None]:
    """What the region counted that none of its child regions did (a trainee whose home is
    recorded only as the county, or lies outside it): the row that makes the children add up to
    the total, as 001 附件2's 总计 does. None for figures the children do not count."""
    children = list(children)
    out: dict[Measure, Count | None] = {}
    for measure in Measure:
        whole = total.get(measure)
        parts = [c[measure] for c in children if c.get(measure) is not None]
        if whole is None or not parts:
            out[measure] = None
            continue
        out[measure] = Count(month=whole.month - sum(p.month for p in parts),
                             year_to_date=whole.year_to_date - sum(p.year_to_date for p in parts))
    return out
