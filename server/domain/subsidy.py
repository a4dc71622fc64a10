"""The subsidy engine (补贴核算, SPEC §6): facts about a class, its trainees and their certificates
in, an explained computation out. No queries, no writes; the region's standards come from its
policy file (server.domain.subsidy_policy), the version in force on the class start date.

Who counts (统计口径): a trainee is *trained* when on the approved completion roster, holding the
class's voucher in state "trained" (无券不补) and with recorded attendance (不录不补; 000 二(三):
only data in the real-name system counts). Rates are over the trained: employment rate =
employed / trained (SPEC §6); pass rate = passed / approved roster (003 五(二)) or / trained, as
the policy says. A threshold is met at equality (就业率达到80%及以上), in exact integer arithmetic.

One trainee's training line, in order: the gates (roster, voucher, attendance, the yearly limit of
004 五(三)); the class outcome (count basis "passed": only those who passed, 002 第六条; below the
employment threshold either only the employed, 000 三(三), or everyone at the 普惠制 rate, 003 五(二)
and 004 五(三); a minimum of days or class hours, 002 第七条); then the amount: tiered daily rates
on the attended half days, less the video gap (003 五(二)), capped per person. Last, the class's
pass-rate shortfall withdraws whole persons' subsidies (003 五(二)). Startup training pays in two
stages (004 二(五)); the living allowance is a line of its own (004 二(三)).

Money is integer fen. h half days at a daily rate of r fen is r*h//2, floored to the fen on each
step (a rate in whole yuan is exact); a share (the startup stages) is floored and the remainder
goes to the other stage, so no fen is lost.

This module is the engine's public face: one trainee's lines are in subsidy_lines, certificate
subsidies in subsidy_certificates, employment evidence and claim deadlines in subsidy_claims, the
result types in subsidy_explain; their public names are importable from here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from fractions import Fraction

from server.domain.eligibility import PROGRAMME_LABELS, ProgrammeType
from server.domain.errors import ValidationFailed
from server.domain.policy import RegionPolicy
from server.domain.subsidy_certificates import CertificateFacts, compute_certificates
from server.domain.subsidy_claims import (
    ClaimDeadlinePassed,
    ClaimWindow,
    EmploymentEvidence,
    EvidenceRefused,
    check_employment_evidence,
    claim_deadline,
)
from server.domain.subsidy_explain import (
    REASON_LABELS,
    Adjustment,
    Computation,
    Line,
    Reason,
    Step,
    chinese_date,
    clause,
    days,
    heading,
    percent,
)
from server.domain.subsidy_lines import (
    ClassFacts,
    ClassOutcome,
    TraineeFacts,
    add_months,
    allowance_line,
    deduct,
    gates,
    training_line,
)
from server.domain.subsidy_policy import (
    NoSubsidyPolicy,
    ProgrammeNotSubsidised,
    ProgrammeRule,
    subsidy_version,
)

__all__ = [
    "REASON_LABELS", "Adjustment", "CertificateFacts", "ClaimDeadlinePassed", "ClaimWindow", "ClassFacts",
    "Computation", "EmploymentEvidence", "EvidenceRefused", "Line", "NoSubsidyPolicy",
    "ProgrammeNotSubsidised", "Reason", "Step", "TraineeFacts", "check_employment_evidence",
    "claim_deadline", "compute_certificates", "compute_training",
]

R = Reason


def compute_training(policy: RegionPolicy, cls: ClassFacts, trainees: Sequence[TraineeFacts]) -> Computation:
    """The training subsidy of one class: a line per trainee (two for startup training), a
    living-allowance line for each trainee of an eligible category, and the class-level basis."""
    version = subsidy_version(policy, cls.start_date)
    rule = version.rule_for(cls.programme)
    pass_rule = rule.pass_rate or (rule.stages.pass_rate if rule.stages else None)
    on_roster_base = pass_rule is not None and pass_rule.base.value == "approved_roster"
    _check_facts(cls, trainees, roster_is_base=on_roster_base)
    trained = [t for t in trainees if not gates(t)]
    passed = [t for t in trained if t.passed is True]
    employed = [t for t in trained if t.employed]
    pass_base = cls.approved_roster_size if on_roster_base else len(trained)

    branch = "full"
    if rule.employment and not _meets(len(employed), len(trained), rule.employment.threshold_percent.value):
        branch = rule.employment.below.value
    pay = version.programmes[str(ProgrammeType.PUHUI)] if branch == "puhui_rate" else rule
    gap = cls.video_gap_half_days if rule.video_gap and rule.video_gap.value else 0
    ctx = ClassOutcome(cls, rule, pay, branch, gap, _sources(rule, pay, branch, gap))

    basis: dict = {
        "roster": cls.approved_roster_size, "listed": len(trainees), "trained": len(trained),
        "passed": len(passed), "employed": len(employed), "count_basis": rule.count_basis.value,
        **_rate("employment_rate", len(employed), len(trained)),
        **_rate("pass_rate", len(passed), pass_base),
        "pass_rate_base": "approved_roster" if on_roster_base else "trained",
        "employment_threshold": rule.employment.threshold_percent.value if rule.employment else None,
        "branch": branch, "video_gap_half_days": gap,
    }
    summary = [heading(policy, version, PROGRAMME_LABELS[ProgrammeType(cls.programme)]),
               f"开班审批{cls.approved_roster_size}人，列报{len(trainees)}人，有效参训{len(trained)}人，"
               f"合格{len(passed)}人，就业{len(employed)}人", *_outcome_summary(ctx, basis)]

    if rule.stages:
        by_trainee = _startup(ctx, trainees, passed, pass_base, basis, summary)
    else:
        by_trainee = {t.trainee_id: [training_line(ctx, t)] for t in trainees}
        _withdraw_for_pass_rate(ctx, by_trainee, {t.trainee_id for t in passed}, pass_base, basis, summary)
    allowance = version.living_allowance
    for t in trainees:
        if allowance and allowance.applies(ProgrammeType(cls.programme), t.categories):
            by_trainee[t.trainee_id].append(
                allowance_line(ctx, t, allowance.daily_fen.value, (allowance.daily_fen.source,)))
    lines = tuple(line for t in trainees for line in by_trainee[t.trainee_id])
    return Computation(region_code=policy.region_code, policy_effective_from=version.effective_from,
                       programme=str(cls.programme), basis=basis, lines=lines,
                       total_fen=sum(line.amount_fen for line in lines), summary=tuple(summary))


# --- class-level rules ----------------------------------------------------------------------


def _check_facts(cls: ClassFacts, trainees: Sequence[TraineeFacts], *, roster_is_base: bool) -> None:
    problems = []
    if cls.end_date < cls.start_date:
        problems.append("end_date")
    if cls.planned_half_days < 1:
        problems.append("planned_half_days")
    if cls.class_hours < 0:
        problems.append("class_hours")
    if cls.approved_roster_size < (1 if roster_is_base else 0):  # 003 五(二) divides by it
        problems.append("approved_roster_size")
    if not 0 <= cls.video_gap_half_days <= cls.planned_half_days:
        problems.append("video_gap_half_days")
    ids = [t.trainee_id for t in trainees]
    if len(set(ids)) != len(ids):
        problems.append("trainee_id")
    problems += [f"attended_half_days:{t.trainee_id}" for t in trainees
                 if not 0 <= t.attended_half_days <= cls.planned_half_days]
    if problems:
        raise ValidationFailed("补贴核算数据不一致", code="INVALID_SUBSIDY_FACTS",
                               details={"fields": problems})


def _meets(numerator: int, denominator: int, threshold_percent: int) -> bool:
    return denominator > 0 and numerator * 100 >= threshold_percent * denominator


def _rate(name: str, numerator: int, denominator: int) -> dict:
    return {name: percent(numerator, denominator), f"{name}_numerator": numerator,
            f"{name}_denominator": denominator}


def _sources(rule: ProgrammeRule, pay: ProgrammeRule, branch: str, gap: int) -> tuple[str, ...]:
    amounts = [t.daily_fen.source for t in pay.tiers]
    amounts += [e.source for e in (pay.per_person_fen, pay.per_person_year_fen, pay.cap_fen) if e]
    if branch != "full":
        amounts.append(rule.employment.below.source)
    if gap:
        amounts.append(rule.video_gap.source)
    return tuple(amounts)


def _outcome_summary(ctx: ClassOutcome, basis: dict) -> list[str]:
    rule, lines = ctx.rule, []
    who = "合格人数" if rule.count_basis.value == "passed" else "培训人数"
    if rule.employment:
        threshold = rule.employment.threshold_percent.value
        met = ctx.branch == "full"
        outcome = {"full": f"按{who}全额补贴", "employed_only": "仅按实际就业人数补贴",
                   "puhui_rate": "按普惠制标准补贴"}[ctx.branch]
        lines.append(f"就业率{basis['employment_rate']}（{basis['employed']}/{basis['trained']}），"
                     f"{'达到' if met else '未达到'}{threshold}%：{outcome}")
    else:
        lines.append(f"按{who}补贴")
    if ctx.gap:
        lines.append(f"影像资料缺失{days(ctx.gap)}，每人相应扣减培训时间（{clause(rule.video_gap.source)}）")
    if rule.min_days or rule.min_class_hours:
        minimum = [f"{rule.min_days.value}天" if rule.min_days else "",
                   f"{rule.min_class_hours.value}学时" if rule.min_class_hours else ""]
        lines.append(f"培训时间须累计不少于{'或'.join(m for m in minimum if m)}")
    return lines


def _withdraw_for_pass_rate(ctx: ClassOutcome, by_trainee: dict[int, list[Line]], passed_ids: set[int],
                            base: int, basis: dict, summary: list[str]) -> None:
    """003 五(二): a class below the pass rate loses ⌈(threshold − pass rate) × verified⌉ persons'
    subsidies, verified being the trainees payable so far. Those who did not pass lose theirs
    first, the best-paid first (the deduction is "× 补贴标准", the full per-person standard)."""
    rule = ctx.rule.pass_rate
    if rule is None:
        return
    threshold = rule.threshold_percent.value
    basis["pass_rate_threshold"] = threshold
    passed = basis["pass_rate_numerator"]
    if _meets(passed, base, threshold):
        basis["pass_rate_reduction"] = 0
        summary.append(f"合格率{basis['pass_rate']}（{passed}/{base}），达到{threshold}%")
        return
    payable = [lines[0] for lines in by_trainee.values() if lines[0].amount_fen > 0]
    shortfall = Fraction(threshold, 100) - Fraction(passed, base)
    persons = min(len(payable), math.ceil(shortfall * len(payable)))
    basis["pass_rate_reduction"] = persons
    based = "，以开班审批表人数为基数" if rule.base.value == "approved_roster" else ""
    summary.append(f"合格率{basis['pass_rate']}（{passed}/{base}{based}）未达到{threshold}%："
                   f"按不达标比例×核实人数{len(payable)}人，向上取整核减{persons}人"
                   f"（{clause(rule.threshold_percent.source)}）")
    ranked = sorted(payable, key=lambda ln: (ln.trainee_id in passed_ids, -ln.amount_fen, ln.trainee_id))
    for line in ranked[:persons]:
        by_trainee[line.trainee_id][0] = deduct(line, R.PASS_RATE_SHORTFALL, line.amount_fen,
                                                 f"合格率未达{threshold}%，核减本人补贴")


def _startup(ctx: ClassOutcome, trainees: Sequence[TraineeFacts], passed: list[TraineeFacts], pass_base: int,
             basis: dict, summary: list[str]) -> dict[int, list[Line]]:
    """004 二(五): the first share when the pass rate is met; the rest when enough of those who
    passed hold a business licence within the period. The two conditions are independent."""
    stages = ctx.rule.stages
    share = stages.first_share_percent.value
    first_met = _meets(len(passed), pass_base, stages.pass_rate.threshold_percent.value)
    licensed = sum(1 for t in passed if t.business_licence)
    second_met = _meets(licensed, len(passed), stages.licence_rate_percent.value)
    deadline = add_months(ctx.facts.end_date, stages.licence_within_months.value)
    basis.update({"licensed": licensed, **_rate("licence_rate", licensed, len(passed)),
                  "first_stage_met": first_met, "second_stage_met": second_met,
                  "licence_deadline": deadline.isoformat()})
    summary.append(f"合格率{basis['pass_rate']}（{len(passed)}/{pass_base}），"
                   f"{'达到' if first_met else '未达到'}{stages.pass_rate.threshold_percent.value}%："
                   f"首期{share}%{'拨付' if first_met else '不予拨付'}")
    summary.append(f"领取营业执照{licensed}人，占合格人数{basis['licence_rate']}，"
                   f"{'达到' if second_met else '未达到'}{stages.licence_rate_percent.value}%："
                   f"二期{100 - share}%{'拨付' if second_met else '暂不拨付'}"
                   f"（营业执照统计至{chinese_date(deadline)}）")
    lines = {}
    for t in trainees:
        full = training_line(ctx, t, "startup_first_stage")
        if not full.amount_fen:
            lines[t.trainee_id] = [full, replace(full, item="startup_second_stage")]
            continue
        first = full.amount_fen * share // 100
        head = deduct(full, R.STARTUP_STAGE_SHARE, full.amount_fen - first, f"首期按{share}%拨付")
        tail = deduct(replace(full, item="startup_second_stage"), R.STARTUP_STAGE_SHARE, first,
                       f"二期按其余{100 - share}%拨付")
        if not first_met:
            head = deduct(head, R.PASS_RATE_SHORTFALL, head.amount_fen,
                           f"合格率未达{stages.pass_rate.threshold_percent.value}%，首期不予拨付")
        if not second_met:
            tail = deduct(tail, R.STARTUP_SECOND_STAGE_PENDING, tail.amount_fen,
                           f"领取营业执照人数未达合格人数的{stages.licence_rate_percent.value}%，二期暂不拨付")
        lines[t.trainee_id] = [head, tail]
    return lines
