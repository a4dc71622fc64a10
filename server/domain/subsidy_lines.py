"""One trainee's lines (SPEC §6): the facts the engine takes, who counts, and the arithmetic of a
training or living-allowance line. server.domain.subsidy applies the class-level rules around them.

A trainee counts (is *trained*) when on the approved completion roster, holding the class's voucher
in state "trained" (无券不补, 004 五(二)) and with recorded attendance (不录不补, 002 第十五条). A
training line then passes the class outcome (count basis, employment branch, minimum) and is
reckoned on the attended half days: tiered daily rates, less the video gap (003 五(二)), capped.
h half days at r fen a day is r*h//2, floored to the fen on each step.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, replace
from datetime import date

from server.domain.eligibility import ProgrammeType
from server.domain.subsidy_explain import Adjustment, Line, Reason, Step, days, yuan
from server.domain.subsidy_policy import ProgrammeRule, Tier

PAYABLE_VOUCHER_STATE = "trained"
R = Reason


@dataclass(frozen=True)
class ClassFacts:
    programme: ProgrammeType
    occupation_code: str
    level: str
    start_date: date
    end_date: date
    planned_half_days: int
    class_hours: int  # 课时 of the approved timetable
    approved_roster_size: int  # 开班审批表人数 (003 五(二) pass-rate base)
    video_gap_half_days: int = 0  # half days of missing video the bureau recorded (003 五(二))


@dataclass(frozen=True)
class TraineeFacts:
    trainee_id: int
    voucher_id: int | None  # the voucher bound to this class; None: 无券不补
    voucher_state: str | None  # only "trained" is payable
    on_roster: bool  # on the approved completion roster
    attended_half_days: int  # accepted attendance; 0: 不录不补
    passed: bool | None  # None: no result recorded
    employed: bool  # employment evidence accepted under the region's rule
    categories: frozenset[str] = frozenset()
    business_licence: bool = False  # a licence within the period after training (004 二(五))
    already_subsidised_this_year: bool = False  # the same yearly group paid elsewhere (004 五(三))


@dataclass(frozen=True)
class ClassOutcome:
    """What the class-level rules decided, shared by every trainee's lines."""

    facts: ClassFacts
    rule: ProgrammeRule  # the programme's own rule: count basis, minimum, deductions
    pay: ProgrammeRule  # whose rates and cap apply (the 普惠制 rule on the "puhui_rate" branch)
    branch: str  # "full", "employed_only" or "puhui_rate"
    gap: int  # half days deducted for missing video
    sources: tuple[str, ...]


def gates(t: TraineeFacts) -> list[Reason]:
    """Why the trainee does not count at all (empty: trained)."""
    reasons = [] if t.on_roster else [R.NOT_ON_ROSTER]
    if t.voucher_id is None or t.voucher_state != PAYABLE_VOUCHER_STATE:
        reasons.append(R.NO_VOUCHER)
    if t.attended_half_days <= 0:
        reasons.append(R.NOT_RECORDED)
    return reasons


def tier_steps(tiers: tuple[Tier, ...], half_days: int) -> tuple[Step, ...]:
    """The tiers applied to `half_days`: each tier's days at its rate, r*h//2 fen a step."""
    steps, left = [], half_days
    for tier in tiers:
        if left <= 0:
            break
        take = left if tier.days is None else min(left, 2 * tier.days.value)
        rate = tier.daily_fen.value
        steps.append(Step(half_days=take, daily_rate_fen=rate, amount_fen=rate * take // 2))
        left -= take
    return tuple(steps)


def add_months(day: date, months: int) -> date:
    """The same day `months` later, or that month's last day (31 August + 6 → 28/29 February)."""
    years, month_index = divmod(day.month - 1 + months, 12)
    year, month = day.year + years, month_index + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def years_covered(start: date, end: date) -> int:
    """Apprenticeship years the class covers: every started twelve months counts."""
    years = 1
    while add_months(start, 12 * years) <= end:
        years += 1
    return years


def zero_line(trainee_id: int, item: str, reasons: list[Reason]) -> Line:
    return Line(trainee_id=trainee_id, item=item, half_days=0, steps=(), gross_fen=0, cap_fen=None,
                adjustments=(), amount_fen=0, reasons=tuple(reasons))


def excluded(ctx: ClassOutcome, t: TraineeFacts) -> list[Reason]:
    """The gates, the yearly limit, then the class outcome for this trainee."""
    reasons = gates(t)
    if t.already_subsidised_this_year:
        reasons.append(R.YEARLY_LIMIT)
    if reasons:
        return reasons
    if ctx.rule.count_basis.value == "passed" and t.passed is not True:
        reasons.append(R.RESULT_NOT_RECORDED if t.passed is None else R.NOT_PASSED)
    if ctx.branch == "employed_only" and not t.employed:
        reasons.append(R.NOT_EMPLOYED)
    if not _meets_minimum(ctx, t):
        reasons.append(R.BELOW_MINIMUM)
    return reasons


def _meets_minimum(ctx: ClassOutcome, t: TraineeFacts) -> bool:
    """002 第七条: 累计不少于3天（或24学时）. Class hours attended are the timetable's hours pro rata
    of the half days attended."""
    rule, cls = ctx.rule, ctx.facts
    if rule.min_days is None and rule.min_class_hours is None:
        return True
    by_days = rule.min_days is not None and t.attended_half_days >= 2 * rule.min_days.value
    by_hours = rule.min_class_hours is not None and (
        cls.class_hours * t.attended_half_days >= rule.min_class_hours.value * cls.planned_half_days)
    return by_days or by_hours


def training_line(ctx: ClassOutcome, t: TraineeFacts, item: str = "training") -> Line:
    reasons = excluded(ctx, t)
    if reasons:
        return zero_line(t.trainee_id, item, reasons)
    pay = ctx.pay
    reasons = [R.PUHUI_RATE] if ctx.branch == "puhui_rate" else []
    if pay.per_person_fen:
        amount = pay.per_person_fen.value
        return Line(trainee_id=t.trainee_id, item=item, half_days=t.attended_half_days, steps=(),
                    gross_fen=amount, cap_fen=None, adjustments=(), amount_fen=amount, reasons=tuple(reasons),
                    detail=f"每人{yuan(amount)}", sources=ctx.sources)
    if pay.per_person_year_fen:
        yearly, years = pay.per_person_year_fen.value, years_covered(ctx.facts.start_date, ctx.facts.end_date)
        amount = yearly * years
        return Line(trainee_id=t.trainee_id, item=item, half_days=t.attended_half_days, steps=(),
                    gross_fen=amount, cap_fen=None, adjustments=(), amount_fen=amount, reasons=tuple(reasons),
                    detail=f"每人每年{yuan(yearly)}×{years}年＝{yuan(amount)}", sources=ctx.sources)
    steps = tier_steps(pay.tiers, t.attended_half_days)
    gross = sum(s.amount_fen for s in steps)
    counted, adjustments = t.attended_half_days, []
    if ctx.gap:
        counted = max(0, counted - ctx.gap)
        kept = sum(s.amount_fen for s in tier_steps(pay.tiers, counted))
        adjustments.append(Adjustment(R.VIDEO_GAP, kept - gross, _gap_note(ctx, t, counted)))
        reasons.append(R.VIDEO_GAP)
    cap = pay.cap_fen.value if pay.cap_fen else None
    running = gross + sum(a.amount_fen for a in adjustments)
    if cap is not None and running > cap:
        adjustments.append(Adjustment(R.CAP_REACHED, cap - running, f"超过每人上限{yuan(cap)}"))
        reasons.append(R.CAP_REACHED)
    return Line(trainee_id=t.trainee_id, item=item, half_days=counted, steps=steps, gross_fen=gross,
                cap_fen=cap, adjustments=tuple(adjustments),
                amount_fen=gross + sum(a.amount_fen for a in adjustments), reasons=tuple(reasons),
                sources=ctx.sources)


def deduct(line: Line, reason: Reason, amount: int, note: str) -> Line:
    """The line with `amount` (≥ 0) taken off for `reason`."""
    return replace(line, adjustments=(*line.adjustments, Adjustment(reason, -amount, note)),
                   amount_fen=line.amount_fen - amount,
                   reasons=line.reasons if reason in line.reasons else (*line.reasons, reason))


def allowance_line(ctx: ClassOutcome, t: TraineeFacts, daily: int, sources: tuple[str, ...]) -> Line:
    """生活补贴 for each day of training (004 二(三)), behind the same gates as the training."""
    reasons = gates(t) + ([R.YEARLY_LIMIT] if t.already_subsidised_this_year else [])
    if reasons:
        return zero_line(t.trainee_id, "living_allowance", reasons)
    step = Step(t.attended_half_days, daily, daily * t.attended_half_days // 2)
    line = Line(trainee_id=t.trainee_id, item="living_allowance", half_days=t.attended_half_days,
                steps=(step,), gross_fen=step.amount_fen, cap_fen=None, adjustments=(),
                amount_fen=step.amount_fen, reasons=(), sources=sources)
    if not ctx.gap:
        return line
    counted = max(0, t.attended_half_days - ctx.gap)
    deducted = deduct(line, R.VIDEO_GAP, step.amount_fen - daily * counted // 2, _gap_note(ctx, t, counted))
    return replace(deducted, half_days=counted)


def _gap_note(ctx: ClassOutcome, t: TraineeFacts, counted: int) -> str:
    return f"影像资料缺失{days(ctx.gap)}，扣减{days(t.attended_half_days - counted)}"
