"""The subsidy engine (SPEC §6) on the shipped policy files: the worked examples, every rule of the
§6 table in each region, the closed-loop refusals (无券不补, 不录不补, the yearly limit), half days,
certificates, employment evidence and claim deadlines, and a made-up sixth region that is data only.

Amounts are in fen; each test writes out its arithmetic in yuan (×100 for fen)."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path

import pytest

from server.domain.eligibility import ProgrammeType
from server.domain.errors import DomainError, ValidationFailed
from server.domain.policy import parse_policy, policy_for
from server.domain.subsidy import (
    REASON_LABELS,
    CertificateFacts,
    ClassFacts,
    Computation,
    EmploymentEvidence,
    EvidenceRefused,
    NoSubsidyPolicy,
    ProgrammeNotSubsidised,
    Reason,
    TraineeFacts,
    check_employment_evidence,
    claim_deadline,
    compute_certificates,
    compute_training,
)
from server.domain.subsidy_explain import days, percent, yuan
from server.services.policies import for_region

P, R = ProgrammeType, Reason
XINZHOU, HUGUAN, YANGQUAN, WENSHUI, LIN = "140900", "140427", "140300", "141121", "141124"
# A day inside each region's standards.
START = {XINZHOU: date(2024, 5, 6), HUGUAN: date(2024, 6, 3), YANGQUAN: date(2024, 11, 4),
         WENSHUI: date(2023, 6, 5), LIN: date(2023, 6, 5), "140400": date(2024, 6, 3)}
POLICY_DIR = Path(__file__).resolve().parents[2] / "server" / "data" / "policies"
YUAN = 100  # fen


def klass(region: str, programme: P, days_: float, *, roster: int = 10, class_hours: int | None = None,
          gap: int = 0, end: date | None = None) -> ClassFacts:
    start = START[region]
    return ClassFacts(programme=programme, occupation_code="6-31-01-03", level="初级", start_date=start,
                      end_date=end or date.fromordinal(start.toordinal() + int(days_) + 1),
                      planned_half_days=int(days_ * 2), class_hours=class_hours or int(days_ * 8),
                      approved_roster_size=roster, video_gap_half_days=gap)


def trainee(i: int, days_: float, *, employed: bool = True, passed: bool | None = True,
            **changes) -> TraineeFacts:
    facts = {"trainee_id": i, "voucher_id": 1000 + i, "voucher_state": "trained", "on_roster": True,
             "attended_half_days": int(days_ * 2), "passed": passed, "employed": employed, **changes}
    return TraineeFacts(**facts)


def checked(computation: Computation) -> Computation:
    """The invariants every computation keeps."""
    assert computation.total_fen == sum(line.amount_fen for line in computation.lines)
    for line in computation.lines:
        assert line.amount_fen == line.gross_fen + sum(a.amount_fen for a in line.adjustments), line
        assert all(a.amount_fen <= 0 for a in line.adjustments), line
        assert line.amount_fen >= 0
        assert sum(s.amount_fen for s in line.steps) == (line.gross_fen if line.steps else 0)
        if line.cap_fen is not None:
            assert line.amount_fen <= line.cap_fen
        if line.amount_fen == 0:
            assert line.reasons, line
        assert line.explain().startswith(f"学员{line.trainee_id} ")
        assert f"应补{yuan(line.amount_fen)}" in line.explain()
    text = computation.explain()
    assert text[-1] == f"合计：{yuan(computation.total_fen)}"
    assert len(text) == len(computation.summary) + len(computation.lines) + 1
    return computation


def training(region: str, cls: ClassFacts, trainees: list[TraineeFacts], policy=None) -> Computation:
    return checked(compute_training(policy or for_region(region), cls, trainees))


def amounts(computation: Computation, item: str = "training") -> dict[int, int]:
    return {line.trainee_id: line.amount_fen for line in computation.lines if line.item == item}


def reasons(computation: Computation, item: str = "training") -> dict[int, tuple[Reason, ...]]:
    return {line.trainee_id: line.reasons for line in computation.lines if line.item == item}


# --- the worked examples --------------------------------------------------------------------


def test_xinzhou_order_15_days_8_of_10_employed_pays_everyone():
    """000 三(三): 80% employed meets "80%及以上": 10 × (10×150 + 5×100) = 10 × 2000 = 20000 yuan."""
    trainees = [trainee(i, 15, employed=i < 8) for i in range(10)]
    result = training(XINZHOU, klass(XINZHOU, P.ORDER, 15), trainees)
    assert result.total_fen == 20000 * YUAN
    assert set(amounts(result).values()) == {2000 * YUAN}
    assert result.basis["employment_rate"] == "80.0%"
    assert (result.basis["employment_rate_numerator"], result.basis["employment_rate_denominator"]) == (8, 10)
    assert result.basis["branch"] == "full"
    assert "10天×150元＋5天×100元＝2000元" in result.lines[0].explain()
    assert result.policy_effective_from == date(2024, 1, 1)


def test_xinzhou_order_with_7_of_10_employed_pays_only_the_employed():
    """70% < 80%: 按照实际就业人数 — 7 × 2000 = 14000 yuan; the other three get a zero line."""
    trainees = [trainee(i, 15, employed=i < 7) for i in range(10)]
    result = training(XINZHOU, klass(XINZHOU, P.ORDER, 15), trainees)
    assert result.total_fen == 14000 * YUAN
    assert result.basis["branch"] == "employed_only"
    assert reasons(result) == {i: () if i < 7 else (R.NOT_EMPLOYED,) for i in range(10)}
    assert "未达到80%" in "\n".join(result.explain())


def test_lin_order_40_days_is_capped_at_4000():
    """004 二(三): 10×150 + 30×100 = 1500 + 3000 = 4500 yuan, capped at 4000."""
    result = training(LIN, klass(LIN, P.ORDER, 40), [trainee(1, 40)])
    (line,) = result.lines
    assert line.gross_fen == 4500 * YUAN
    assert line.amount_fen == 4000 * YUAN
    assert line.cap_fen == 4000 * YUAN
    assert [(a.reason, a.amount_fen) for a in line.adjustments] == [(R.CAP_REACHED, -500 * YUAN)]
    assert line.reasons == (R.CAP_REACHED,)
    assert "10天×150元＋30天×100元＝4500元" in line.explain()
    assert "−500元" in line.explain()


def test_lin_puhui_12_days_is_capped_at_1000():
    """004 二(三): 12 × 100 = 1200 yuan, capped at 1000 (原则上每人不超过1000元)."""
    result = training(LIN, klass(LIN, P.PUHUI, 12), [trainee(1, 12)])
    assert result.lines[0].gross_fen == 1200 * YUAN
    assert result.total_fen == 1000 * YUAN


# --- who counts: 无券不补, 不录不补, the roster, the yearly limit --------------------------------


@pytest.mark.parametrize(("changes", "expected"), [
    pytest.param({"voucher_id": None, "voucher_state": None}, (R.NO_VOUCHER,), id="no-voucher"),
    pytest.param({"voucher_state": "bound"}, (R.NO_VOUCHER,), id="voucher-not-trained"),
    pytest.param({"voucher_state": "redeemed"}, (R.NO_VOUCHER,), id="voucher-already-redeemed"),
    pytest.param({"attended_half_days": 0}, (R.NOT_RECORDED,), id="no-attendance-recorded"),
    pytest.param({"on_roster": False}, (R.NOT_ON_ROSTER,), id="not-on-the-completion-roster"),
    pytest.param({"on_roster": False, "voucher_id": None, "attended_half_days": 0},
                 (R.NOT_ON_ROSTER, R.NO_VOUCHER, R.NOT_RECORDED), id="every-gate"),
    pytest.param({"already_subsidised_this_year": True}, (R.YEARLY_LIMIT,), id="yearly-limit"),
])
def test_an_excluded_trainee_gets_a_zero_line_with_the_reasons(changes, expected):
    trainees = [trainee(0, 15), trainee(1, 15, **changes)]
    result = training(HUGUAN, klass(HUGUAN, P.ORDER, 15), trainees)
    assert amounts(result) == {0: 2000 * YUAN, 1: 0}
    assert reasons(result)[1] == expected
    explained = result.lines[1].explain()
    assert all(REASON_LABELS[r] in explained for r in expected)


def test_trainees_without_a_voucher_or_records_are_not_in_the_employment_rate():
    """9 with vouchers, 7 of them employed: 7/9 = 77.7% < 80%; with the unvouchered tenth (employed)
    it would have been 8/10."""
    trainees = [trainee(i, 15, employed=i < 7) for i in range(9)]
    trainees.append(trainee(9, 15, voucher_id=None, voucher_state=None))
    result = training(XINZHOU, klass(XINZHOU, P.ORDER, 15), trainees)
    basis = result.basis
    assert (basis["trained"], basis["employed"], basis["employment_rate"]) == (9, 7, "77.7%")
    assert result.basis["branch"] == "employed_only"
    assert result.total_fen == 7 * 2000 * YUAN


def test_a_trainee_at_the_yearly_limit_still_counts_in_the_rate_but_is_not_paid():
    """004 五(三): one order/project subsidy a year. 8 of 10 employed (80%) including the one paid
    elsewhere this year: everyone else is paid 2000."""
    trainees = [trainee(i, 15, employed=i < 8, already_subsidised_this_year=i == 0) for i in range(10)]
    result = training(XINZHOU, klass(XINZHOU, P.ORDER, 15), trainees)
    assert result.basis["employment_rate"] == "80.0%"
    assert result.total_fen == 9 * 2000 * YUAN
    assert reasons(result)[0] == (R.YEARLY_LIMIT,)


# --- half days and rounding -----------------------------------------------------------------


@pytest.mark.parametrize(("half_days", "yuan_amount"), [
    pytest.param(1, 75, id="half-a-day-at-150"),
    pytest.param(19, 1425, id="9.5-days"),  # 9.5 × 150
    pytest.param(20, 1500, id="10-days"),
    pytest.param(21, 1550, id="10.5-days"),  # 10×150 + 0.5×100
    pytest.param(31, 2050, id="15.5-days"),  # 10×150 + 5.5×100
    pytest.param(96, 5000, id="48-days-capped"),  # 10×150 + 38×100 = 5300 → 5000
])
def test_rates_apply_to_half_days(half_days, yuan_amount):
    result = training(HUGUAN, klass(HUGUAN, P.ORDER, 48), [trainee(1, 0, attended_half_days=half_days)])
    assert result.total_fen == yuan_amount * YUAN
    assert result.lines[0].half_days == half_days


def test_a_half_day_step_shows_in_the_explanation():
    result = training(HUGUAN, klass(HUGUAN, P.ORDER, 16), [trainee(1, 15.5)])
    assert "10天×150元＋5.5天×100元＝2050元" in result.lines[0].explain()


def test_formatting_helpers():
    assert (yuan(150000), yuan(12345), yuan(1250), yuan(-5000), yuan(0)) == (
        "1500元", "123.45元", "12.5元", "−50元", "0元")
    assert (days(3), days(30)) == ("1.5天", "15天")
    # Truncated, so a rate just under a threshold never shows as the threshold.
    assert (percent(2, 3), percent(7999, 10000), percent(8, 10), percent(1, 0)) == (
        "66.6%", "79.9%", "80.0%", "—")


# --- Huguan (001) ---------------------------------------------------------------------------


def test_huguan_order_below_80_percent_pays_only_the_employed():
    """001 二(六): 3 of 5 employed (60%): 3 × (10×150 + 2×100) = 3 × 1700 = 5100 yuan."""
    result = training(HUGUAN, klass(HUGUAN, P.ORDER, 12), [trainee(i, 12, employed=i < 3) for i in range(5)])
    assert result.total_fen == 5100 * YUAN
    assert [r for r in reasons(result).values() if r] == [(R.NOT_EMPLOYED,)] * 2


def test_huguan_enterprise_training_is_300_a_person_without_a_minimum():
    """001 二(六): 企业职工培训按每人300元 — even a one-day course; employment does not matter."""
    trainees = [trainee(i, 1, employed=False) for i in range(4)]
    result = training(HUGUAN, klass(HUGUAN, P.ENTERPRISE, 1), trainees)
    assert result.total_fen == 4 * 300 * YUAN
    assert "每人300元" in result.lines[0].explain()


def test_huguan_does_not_subsidise_puhui_training():
    with pytest.raises(ProgrammeNotSubsidised):
        compute_training(for_region(HUGUAN), klass(HUGUAN, P.PUHUI, 5), [trainee(1, 5)])


# --- Yangquan (002) -------------------------------------------------------------------------


def test_yangquan_pays_those_who_passed_when_employment_meets_80_percent():
    """002 第六条: 按照培训合格人数. 10 trained, 9 employed (90%), 8 passed, 1 failed, 1 no result:
    8 × (10×150 + 2×100) = 8 × 1700 = 13600 yuan."""
    trainees = [trainee(i, 12, employed=i < 9, passed=True if i < 8 else (False if i == 8 else None))
                for i in range(10)]
    result = training(YANGQUAN, klass(YANGQUAN, P.ORDER, 12), trainees)
    assert result.basis["count_basis"] == "passed"
    assert result.total_fen == 13600 * YUAN
    assert reasons(result)[8] == (R.NOT_PASSED,)
    assert reasons(result)[9] == (R.RESULT_NOT_RECORDED,)
    assert "按合格人数全额补贴" in "\n".join(result.explain())


def test_yangquan_below_80_percent_pays_the_employed_among_those_who_passed():
    """7 of 10 employed (70%); trainee 0 is employed but failed: 6 × 1700 = 10200 yuan."""
    trainees = [trainee(i, 12, employed=i < 7, passed=i != 0) for i in range(10)]
    result = training(YANGQUAN, klass(YANGQUAN, P.ORDER, 12), trainees)
    assert result.total_fen == 6 * 1700 * YUAN
    assert reasons(result)[0] == (R.NOT_PASSED,)
    assert reasons(result)[9] == (R.NOT_EMPLOYED,)
    assert reasons(result)[1] == ()


@pytest.mark.parametrize(("planned", "class_hours", "attended", "paid"), [
    pytest.param(3, 24, 3, True, id="3-days"),
    pytest.param(4, 32, 3, True, id="3-of-4-days"),
    pytest.param(3, 18, 2.5, False, id="2.5-days-18-hours"),  # 18 × 5/6 = 15 hours
    pytest.param(2, 24, 2, True, id="2-days-of-24-class-hours"),  # 24 × 4/4 = 24 hours
    pytest.param(2, 24, 1.5, False, id="1.5-of-2-days-18-hours"),  # 24 × 3/4 = 18 hours
    pytest.param(5, 25, 4.5, True, id="4.5-days"),  # 9 half days ≥ 6
    pytest.param(1, 8, 1, False, id="one-day"),
])
def test_yangquan_enterprise_training_needs_3_days_or_24_class_hours(planned, class_hours, attended, paid):
    """002 第七条: 培训时间累计不少于3天（或24学时）, then 300 a person; hours attended are the
    timetable's hours pro rata of the half days attended."""
    cls = klass(YANGQUAN, P.ENTERPRISE, planned, class_hours=class_hours)
    result = training(YANGQUAN, cls, [trainee(1, attended)])
    assert result.total_fen == (300 * YUAN if paid else 0)
    assert result.lines[0].reasons == (() if paid else (R.BELOW_MINIMUM,))


@pytest.mark.parametrize(("end", "years"), [
    pytest.param(date(2025, 11, 3), 1, id="one-year"),
    pytest.param(date(2025, 11, 4), 2, id="into-a-second-year"),
    pytest.param(date(2026, 6, 30), 2, id="a-year-and-a-half"),
])
def test_yangquan_apprenticeship_is_5000_a_person_a_year(end, years):
    """002 第七条: 每人每年5000元, for every year (started) of the apprenticeship."""
    cls = klass(YANGQUAN, P.APPRENTICE, 100, end=end)
    result = training(YANGQUAN, cls, [trainee(1, 90), trainee(2, 0)])
    assert amounts(result) == {1: years * 5000 * YUAN, 2: 0}
    assert f"每人每年5000元×{years}年" in result.lines[0].explain()


def test_yangquan_s_measures_apply_only_within_their_term():
    """002 第十八条: from 2024-10-16, valid two years."""
    for start in (date(2024, 10, 15), date(2026, 10, 16)):
        cls = ClassFacts(P.ORDER, "6-31-01-03", "初级", start, start, 2, 8, 1)
        with pytest.raises(NoSubsidyPolicy) as refused:
            compute_training(for_region(YANGQUAN), cls, [trainee(1, 1)])
        assert refused.value.code == "NO_SUBSIDY_POLICY"


def test_yangquan_startup_follows_the_provincial_standard():
    """Assumed from 004 二(五): 8 days × 180 = 1440 yuan a passer; 8 of 10 passed (80%), 2 of them
    licensed (25%): 80% = 1152 now, 20% = 288 later."""
    trainees = [trainee(i, 8, passed=i < 8, business_licence=i < 2) for i in range(10)]
    result = training(YANGQUAN, klass(YANGQUAN, P.STARTUP, 8), trainees)
    assert amounts(result, "startup_first_stage")[0] == 1152 * YUAN
    assert amounts(result, "startup_second_stage")[0] == 288 * YUAN


# --- Wenshui (003) --------------------------------------------------------------------------


def test_wenshui_pass_rate_shortfall_withdraws_whole_persons():
    """003 五(二): 7 of a roster of 10 passed (70%): (80% − 70%) × 10 verified = 1 person's
    subsidy withdrawn, a non-passer's. 普惠制 8 days × 100 = 800 each: 9 × 800 = 7200 yuan."""
    trainees = [trainee(i, 8, passed=i < 7) for i in range(10)]
    result = training(WENSHUI, klass(WENSHUI, P.PUHUI, 8), trainees)
    assert result.basis["pass_rate"] == "70.0%"
    assert result.basis["pass_rate_reduction"] == 1
    assert result.total_fen == 7200 * YUAN
    assert reasons(result)[7] == (R.PASS_RATE_SHORTFALL,)
    (adjustment,) = result.lines[7].adjustments
    assert adjustment.amount_fen == -800 * YUAN
    assert all(amounts(result)[i] == 800 * YUAN for i in range(10) if i != 7)


def test_wenshui_rounds_the_withdrawn_persons_up():
    """Roster 19, 14 passed: (80% − 14/19) × 19 = 15.2 − 14 = 1.2 → 2 persons, the two best-paid
    non-passers (trainees 17 and 18 attended 8 days; 14–16 attended 6)."""
    trainees = [trainee(i, 8 if i < 14 or i >= 17 else 6, passed=i < 14) for i in range(19)]
    result = training(WENSHUI, klass(WENSHUI, P.PUHUI, 8, roster=19), trainees)
    assert result.basis["pass_rate_reduction"] == 2
    withdrawn = {i for i, r in reasons(result).items() if R.PASS_RATE_SHORTFALL in r}
    assert withdrawn == {17, 18}
    assert result.total_fen == (14 * 800 + 3 * 600) * YUAN


def test_wenshui_pass_rate_base_is_the_approved_roster_not_those_trained():
    """Roster 12, 10 trained (two never got a voucher), 8 passed: 8/12 = 66.6% (8/10 would be 80%).
    (80% − 2/3) × 10 = 1.33 → 2 persons: the two who failed."""
    trainees = [trainee(i, 8, passed=i < 8) for i in range(10)]
    result = training(WENSHUI, klass(WENSHUI, P.PUHUI, 8, roster=12), trainees)
    assert (result.basis["pass_rate"], result.basis["pass_rate_denominator"]) == ("66.6%", 12)
    assert result.basis["pass_rate_reduction"] == 2
    assert amounts(result) == {i: 800 * YUAN if i < 8 else 0 for i in range(10)}


def test_wenshui_a_pass_rate_of_exactly_80_percent_withdraws_nothing():
    result = training(WENSHUI, klass(WENSHUI, P.PUHUI, 8), [trainee(i, 8, passed=i < 8) for i in range(10)])
    assert result.basis["pass_rate_reduction"] == 0
    assert result.total_fen == 10 * 800 * YUAN


@pytest.mark.parametrize(("gap", "yuan_amount"), [
    pytest.param(0, 2000, id="no-gap"),
    pytest.param(1, 1950, id="half-a-day-missing"),  # 10×150 + 4.5×100
    pytest.param(2, 1900, id="a-day-missing"),  # 10×150 + 4×100
    pytest.param(12, 1350, id="six-days-missing"),  # 9×150
])
def test_wenshui_video_gaps_deduct_training_time_by_half_day(gap, yuan_amount):
    """003 五(二): 影像资料缺失半天的，相应扣减半天培训时间; order 15 days, a roster of one who passed
    and is employed."""
    result = training(WENSHUI, klass(WENSHUI, P.ORDER, 15, roster=1, gap=gap), [trainee(1, 15)])
    line = result.lines[0]
    assert line.amount_fen == yuan_amount * YUAN
    assert line.half_days == 30 - gap
    assert (R.VIDEO_GAP in line.reasons) is (gap > 0)
    if gap:
        assert line.adjustments[0].amount_fen == (yuan_amount - 2000) * YUAN
        assert f"影像资料缺失{days(gap)}" in line.explain()


def test_wenshui_order_below_80_percent_employment_pays_everyone_at_the_puhui_rate():
    """003 五(二): 就业率不达80%的，按普惠制培训给予补贴: 7 of 10 employed; 15 days × 100 = 1500,
    capped at 1000, for all ten."""
    trainees = [trainee(i, 15, employed=i < 7) for i in range(10)]
    result = training(WENSHUI, klass(WENSHUI, P.ORDER, 15), trainees)
    assert result.basis["branch"] == "puhui_rate"
    assert set(amounts(result).values()) == {1000 * YUAN}
    assert all(R.PUHUI_RATE in r for r in reasons(result).values())
    assert "15天×100元＝1500元" in result.lines[0].explain()
    assert "按普惠制标准补贴" in "\n".join(result.explain())


def test_wenshui_puhui_fallback_still_deducts_video_gaps_and_pass_rate():
    """6 of 10 employed → 普惠制 rate; 2 half days of video missing: 7 days × 100 = 700; 7 passed
    of a roster of 10 → one non-passer withdrawn: 9 × 700 = 6300 yuan."""
    trainees = [trainee(i, 8, employed=i < 6, passed=i < 7) for i in range(10)]
    result = training(WENSHUI, klass(WENSHUI, P.ORDER, 8, gap=2), trainees)
    assert result.total_fen == 6300 * YUAN
    assert reasons(result)[7] == (R.PUHUI_RATE, R.VIDEO_GAP, R.PASS_RATE_SHORTFALL)


# --- Lin (004) ------------------------------------------------------------------------------


def test_lin_order_below_80_percent_pays_at_the_puhui_rate():
    """004 五(三): 7 of 10 employed: 8 days × 100 = 800 for each of the ten (not 10×150 − …)."""
    result = training(LIN, klass(LIN, P.ORDER, 8), [trainee(i, 8, employed=i < 7) for i in range(10)])
    assert result.total_fen == 10 * 800 * YUAN


def test_lin_order_at_80_percent_pays_the_order_rate():
    """8 days × 150 = 1200 each."""
    result = training(LIN, klass(LIN, P.ORDER, 8), [trainee(i, 8, employed=i < 8) for i in range(10)])
    assert result.total_fen == 10 * 1200 * YUAN


def test_lin_living_allowance_is_15_a_day_for_poverty_alleviated_and_monitored_households():
    """004 二(三): 对脱贫劳动力和监测户……每人每天给予15元生活补贴. 8 days: 8 × 15 = 120 yuan;
    3.5 days: 3.5 × 15 = 52.5 yuan; a graduate gets no allowance line."""
    trainees = [trainee(1, 8, categories=frozenset({"poverty_alleviated"})),
                trainee(2, 8, categories=frozenset({"monitored_household", "rural_migrant"})),
                trainee(3, 3.5, categories=frozenset({"poverty_alleviated"})),
                trainee(4, 8, categories=frozenset({"graduate"}))]
    result = training(LIN, klass(LIN, P.PUHUI, 8), trainees)
    assert amounts(result, "living_allowance") == {1: 120 * YUAN, 2: 120 * YUAN, 3: 5250}
    assert result.total_fen == (800 + 800 + 350 + 800) * YUAN + (120 + 120) * YUAN + 5250
    allowance = next(line for line in result.lines if line.item == "living_allowance")
    assert "8天×15元＝120元" in allowance.explain()


def test_the_living_allowance_stands_behind_the_same_gates_but_not_the_class_outcome():
    """No voucher: no allowance either (无券不补). Order class below 80% employment: the training is
    paid at the 普惠制 rate, the allowance in full."""
    poor = frozenset({"poverty_alleviated"})
    trainees = [trainee(1, 8, categories=poor, voucher_id=None),
                trainee(2, 8, categories=poor, employed=False)]
    result = training(LIN, klass(LIN, P.ORDER, 8), trainees)
    assert reasons(result, "living_allowance")[1] == (R.NO_VOUCHER,)
    assert amounts(result, "living_allowance") == {1: 0, 2: 120 * YUAN}


def test_lin_enterprise_training_is_300_a_person():
    result = training(LIN, klass(LIN, P.ENTERPRISE, 2), [trainee(1, 2)])
    assert result.total_fen == 300 * YUAN


def startup_class(passed: int, licensed: int, days_: float = 10, trained: int = 10):
    trainees = [trainee(i, days_, passed=i < passed, business_licence=i < licensed) for i in range(trained)]
    return training(LIN, klass(LIN, P.STARTUP, days_), trainees)


def test_lin_startup_pays_80_percent_then_20_percent():
    """004 二(五): 10 days × 180 = 1800 a passer; 8 of 10 passed (80%) → 1440 now; 2 of the 8
    passers licensed (25% ≥ 20%) → 360 more. 8 × 1800 = 14400 yuan."""
    result = startup_class(passed=8, licensed=2)
    assert amounts(result, "startup_first_stage") == {i: 1440 * YUAN if i < 8 else 0 for i in range(10)}
    assert amounts(result, "startup_second_stage") == {i: 360 * YUAN if i < 8 else 0 for i in range(10)}
    assert result.total_fen == 14400 * YUAN
    assert reasons(result, "startup_second_stage")[9] == (R.NOT_PASSED,)
    assert (result.basis["first_stage_met"], result.basis["second_stage_met"]) == (True, True)
    assert result.basis["licence_rate"] == "25.0%"
    assert result.basis["licence_deadline"] == "2023-12-16"  # six months after the end, 2023-06-16


def test_lin_startup_first_stage_needs_an_80_percent_pass_rate():
    """7 of 10 passed (70%): no 80%; 2 of 7 licensed (28.5%): the 20% is still paid, 7 × 360."""
    result = startup_class(passed=7, licensed=2)
    assert set(amounts(result, "startup_first_stage").values()) == {0}
    assert reasons(result, "startup_first_stage")[0] == (R.STARTUP_STAGE_SHARE, R.PASS_RATE_SHORTFALL)
    assert result.total_fen == 7 * 360 * YUAN


def test_lin_startup_second_stage_waits_for_20_percent_licences():
    """1 of 8 passers licensed (12.5% < 20%): the 20% is pending; 8 × 1440 now."""
    result = startup_class(passed=8, licensed=1)
    assert set(amounts(result, "startup_second_stage").values()) == {0}
    assert R.STARTUP_SECOND_STAGE_PENDING in reasons(result, "startup_second_stage")[0]
    assert result.total_fen == 8 * 1440 * YUAN
    assert "二期" in "\n".join(result.explain())


def test_lin_startup_is_capped_at_1800_before_the_split():
    """12 days × 180 = 2160 → 1800: 1440 + 360."""
    result = startup_class(passed=10, licensed=10, days_=12)
    first = next(line for line in result.lines if line.item == "startup_first_stage")
    assert first.gross_fen == 2160 * YUAN
    assert [a.reason for a in first.adjustments] == [R.CAP_REACHED, R.STARTUP_STAGE_SHARE]
    assert first.amount_fen == 1440 * YUAN
    assert result.total_fen == 10 * 1800 * YUAN


def test_lin_startup_stages_lose_no_fen():
    """7.5 days × 180 = 1350 yuan: 80% = 1080, 20% = 270."""
    result = startup_class(passed=10, licensed=10, days_=7.5)
    assert (amounts(result, "startup_first_stage")[0], amounts(result, "startup_second_stage")[0]) == (
        1080 * YUAN, 270 * YUAN)


# --- certificates ---------------------------------------------------------------------------


def cert(i: int, kind: str, level: str = "", *, trainee_id: int | None = None, already: bool = False,
         earlier: bool = False) -> CertificateFacts:
    return CertificateFacts(trainee_id=trainee_id if trainee_id is not None else i, certificate_id=500 + i,
                            kind=kind, level=level, already_subsidised=already, earlier_certificate=earlier)


def certificates(region: str, facts: list[CertificateFacts]) -> Computation:
    return checked(compute_certificates(for_region(region), facts, START[region]))


@pytest.mark.parametrize(("region", "kind", "level", "yuan_amount"), [
    pytest.param(LIN, "special_ability", "", 200, id="lin-专项职业能力"),
    pytest.param(LIN, "skill_level", "初级", 400, id="lin-初级"),
    pytest.param(LIN, "vocational_qualification", "中级", 600, id="lin-中级"),
    pytest.param(LIN, "skill_level", "高级", 800, id="lin-高级"),
    pytest.param(LIN, "special_operation", "", 400, id="lin-special-operation"),
    pytest.param(LIN, "special_equipment", "", 400, id="lin-special-equipment"),
    pytest.param(LIN, "skill_level", "技师", 0, id="lin-技师-no-rate"),
    pytest.param(LIN, "training_qualification", "", 0, id="lin-training-certificate"),
    pytest.param(HUGUAN, "skill_level", "初级", 400, id="huguan-初级"),
    pytest.param(HUGUAN, "skill_level", "中级", 600, id="huguan-中级"),
    pytest.param(HUGUAN, "vocational_qualification", "高级", 800, id="huguan-高级"),
    pytest.param(HUGUAN, "special_ability", "", 0, id="huguan-no-专项"),
    pytest.param(YANGQUAN, "special_equipment", "", 400, id="yangquan-special-equipment"),
    pytest.param(YANGQUAN, "skill_level", "中级", 600, id="yangquan-中级-first"),
    pytest.param(XINZHOU, "skill_level", "初级", 0, id="xinzhou-no-rates"),
    pytest.param(WENSHUI, "skill_level", "初级", 0, id="wenshui-no-rates"),
])
def test_certificate_subsidy_by_kind_and_level(region, kind, level, yuan_amount):
    result = certificates(region, [cert(1, kind, level)])
    (line,) = result.lines
    assert line.amount_fen == yuan_amount * YUAN
    assert line.certificate_id == 501
    assert line.reasons == (() if yuan_amount else (R.CERT_NOT_SUBSIDISED,))


def test_each_person_is_subsidised_once_per_level():
    """001 二(六): 每人同一等级只能享受一次: trainee 1 was paid for 初级 before; trainee 2 holds a
    skill-level and a qualification certificate at 中级 in one batch: one 600."""
    result = certificates(HUGUAN, [cert(1, "skill_level", "初级", already=True),
                                   cert(2, "skill_level", "中级"),
                                   cert(3, "vocational_qualification", "中级", trainee_id=2),
                                   cert(4, "skill_level", "高级", trainee_id=2)])
    assert [line.amount_fen for line in result.lines] == [0, 600 * YUAN, 0, 800 * YUAN]
    assert result.lines[0].reasons == (R.CERT_LEVEL_ALREADY_SUBSIDISED,)
    assert result.lines[2].reasons == (R.CERT_LEVEL_ALREADY_SUBSIDISED,)
    assert result.basis == {"certificates": 4, "subsidised": 2, "on": "2024-06-03"}
    assert "职业技能等级证书（中级）每人600元" in result.lines[1].explain()


def test_yangquan_pays_中级_only_as_a_first_certificate():
    """002 第九条: 初次取证直接取……中级工每人600元; Huguan's 初次取得中级工证书 has no such condition."""
    yangquan = certificates(YANGQUAN, [cert(1, "skill_level", "中级", earlier=True)])
    assert yangquan.lines[0].reasons == (R.NOT_FIRST_CERTIFICATION,)
    huguan = certificates(HUGUAN, [cert(1, "skill_level", "中级", earlier=True)])
    assert huguan.total_fen == 600 * YUAN


def test_an_unknown_certificate_kind_is_refused():
    with pytest.raises(ValidationFailed) as refused:
        compute_certificates(for_region(LIN), [cert(1, "diploma")], START[LIN])
    assert refused.value.code == "INVALID_SUBSIDY_FACTS"


# --- employment evidence --------------------------------------------------------------------

EMPLOYER = {"employer": "忻州市某机械制造有限公司", "social_credit_code": "91140900MA0K123456"}
ON = date(2024, 9, 1)


def evidence(proof_type: str, months: int | None = None, start: date | None = date(2024, 7, 1), **changes):
    return EmploymentEvidence(**{**EMPLOYER, "contract_start": start, "contract_months": months,
                                 "proof_type": proof_type, **changes})


@pytest.mark.parametrize("proof", [
    pytest.param(evidence("contract", 12), id="one-year-contract"),
    pytest.param(evidence("contract", 36), id="three-year-contract"),
    pytest.param(evidence("wage", start=None), id="wage-proof"),
    pytest.param(evidence("social_insurance", start=None), id="social-insurance"),
    pytest.param(evidence("payroll", start=None), id="payroll"),
])
def test_xinzhou_accepts_a_year_s_contract_or_wage_or_insurance_proof(proof):
    """000 三(一): 一年以上期限劳动合同或其他用工就业证明材料（工资支付或缴纳社会保险费证明等）."""
    check_employment_evidence(for_region(XINZHOU), proof, ON)


@pytest.mark.parametrize(("region", "proof", "code"), [
    pytest.param(XINZHOU, evidence("contract", 11), "EVIDENCE_CONTRACT_TOO_SHORT", id="xinzhou-11-months"),
    pytest.param(XINZHOU, evidence("business_licence"), "EVIDENCE_PROOF_NOT_ACCEPTED", id="xinzhou-licence"),
    pytest.param(XINZHOU, evidence("contract", 12, date(2024, 9, 2)), "EVIDENCE_CONTRACT_NOT_STARTED",
                 id="contract-not-started"),
    pytest.param(XINZHOU, evidence("contract", None), "EVIDENCE_CONTRACT_INCOMPLETE", id="contract-no-term"),
    pytest.param(XINZHOU, evidence("contract", 12, employer=" "), "EVIDENCE_EMPLOYER_REQUIRED",
                 id="no-employer"),
    pytest.param(XINZHOU, evidence("contract", 12, social_credit_code="91140900MA0K12345"),
                 "EVIDENCE_SOCIAL_CREDIT_CODE_INVALID", id="credit-code-17-chars"),
    pytest.param(XINZHOU, evidence("contract", 12, social_credit_code="91140900MA0K12345O"),
                 "EVIDENCE_SOCIAL_CREDIT_CODE_INVALID", id="credit-code-with-O"),
    pytest.param(XINZHOU, evidence("handshake"), "EVIDENCE_PROOF_NOT_ACCEPTED", id="unknown-proof"),
    pytest.param(WENSHUI, evidence("contract", 6, date(2023, 7, 1)), "EVIDENCE_PAYROLL_REQUIRED",
                 id="wenshui-without-payroll"),
    pytest.param(WENSHUI, evidence("contract", 5, date(2023, 7, 1), has_payroll=True),
                 "EVIDENCE_CONTRACT_TOO_SHORT", id="wenshui-5-months"),
    pytest.param(WENSHUI, evidence("wage", start=None), "EVIDENCE_PROOF_NOT_ACCEPTED",
                 id="wenshui-wage-alone"),
    pytest.param(LIN, evidence("social_insurance", start=None), "EVIDENCE_PROOF_NOT_ACCEPTED",
                 id="lin-province-default"),
])
def test_evidence_that_does_not_meet_the_region_s_rule_is_refused(region, proof, code):
    with pytest.raises(EvidenceRefused) as refused:
        check_employment_evidence(for_region(region), proof, ON if region == XINZHOU else date(2023, 9, 1))
    assert isinstance(refused.value, ValidationFailed)
    assert refused.value.code == code
    assert refused.value.details["source"]


@pytest.mark.parametrize("proof", [
    pytest.param(evidence("contract", 6, has_payroll=True, start=date(2023, 7, 1)),
                 id="six-months-and-payroll"),
    pytest.param(evidence("business_licence", start=None), id="self-employed-licence"),
])
def test_wenshui_accepts_six_months_with_payroll_or_a_business_licence(proof):
    """003 四(三): 六个月以上劳动合同及第一个月和最近一个月工资表; 自主创业的，提供营业执照."""
    check_employment_evidence(for_region(WENSHUI), proof, date(2023, 9, 1))


# --- claim deadlines ------------------------------------------------------------------------


@pytest.mark.parametrize(("region", "end", "year", "period", "last_day"), [
    pytest.param(HUGUAN, date(2024, 11, 30), 2024, "2024", date(2024, 12, 31), id="huguan-november"),
    pytest.param(HUGUAN, date(2024, 12, 1), 2025, "2025", date(2025, 12, 31), id="huguan-december-next-year"),
    pytest.param(LIN, date(2023, 6, 10), 2023, "2023Q2", date(2024, 3, 31), id="lin-second-quarter"),
    pytest.param(LIN, date(2023, 12, 20), 2023, "2023Q4", date(2024, 3, 31), id="lin-december"),
    pytest.param(WENSHUI, date(2023, 12, 20), 2023, "2023", date(2024, 3, 31), id="wenshui-assumed-as-lin"),
    pytest.param("140400", date(2024, 12, 5), 2025, "2025", date(2025, 12, 31),
                 id="changzhi-province-default"),
])
def test_which_year_a_training_counts_in_and_the_last_day_to_claim(region, end, year, period, last_day):
    """001 四(三): 统计口径截止时间为当年11月底，补贴申领12月底前完成，12月份开展的培训评价计入下一年度;
    004 四: 按季度进行申报……补贴申领发放最晚于次年3月底完成."""
    window = claim_deadline(for_region(region), end)
    assert (window.statistical_year, window.period, window.last_day) == (year, period, last_day)
    window.check(last_day)


def test_a_late_claim_is_refused_naming_the_date():
    window = claim_deadline(for_region(HUGUAN), date(2024, 11, 20))
    assert window.source.startswith("001 四(三)")
    with pytest.raises(DomainError) as refused:
        window.check(date(2025, 1, 1))
    assert refused.value.code == "CLAIM_DEADLINE_PASSED"
    assert "2024年12月31日" in refused.value.message
    assert refused.value.details["last_day"] == "2024-12-31"


# --- the province default and a sixth region ------------------------------------------------


def test_a_changzhi_city_class_is_computed_with_the_province_defaults():
    """长治市 140400 has no file: the 山西省 defaults, 普惠制 5 days × 100 = 500 yuan."""
    result = training("140400", klass("140400", P.PUHUI, 5), [trainee(1, 5)])
    assert result.region_code == "140000"
    assert result.total_fen == 500 * YUAN


def sixth_region() -> dict:
    """太原市, a region the product has never seen, as data: three tiers, 70% employment."""
    doc = json.loads((POLICY_DIR / f"{LIN}.json").read_text(encoding="utf-8"))
    doc.update(region_code="140100", name="太原市", seed="made-up 2025 notice", effective_from="2025-01-01")
    doc["certificates"]["targets"] = []
    version = copy.deepcopy(doc["subsidy"][0])
    version.update(effective_from="2025-01-01", source="made-up 2025 notice")
    del version["living_allowance"]
    version["programmes"] = {"order": {
        "tiers": [{"days": {"value": 5, "source": "made-up 前5天"},
                   "daily_fen": {"value": 20000, "source": "made-up 200元"}},
                  {"days": {"value": 5, "source": "made-up 次5天"},
                   "daily_fen": {"value": 15000, "source": "made-up 150元"}},
                  {"daily_fen": {"value": 8000, "source": "made-up 之后80元"}}],
        "cap_fen": {"value": 200000, "source": "made-up 2000元"},
        "count_basis": {"value": "trained", "source": "made-up"},
        "employment": {"threshold_percent": {"value": 70, "source": "made-up 70%"},
                       "below": {"value": "employed_only", "source": "made-up"}},
    }, "enterprise": {"per_person_fen": {"value": 12345, "source": "made-up 123.45元"},
                      "count_basis": {"value": "trained", "source": "made-up"}}}
    doc["subsidy"] = [version]
    return doc


def test_a_sixth_region_is_new_data_not_new_code():
    """12 days: 5×200 + 5×150 + 2×80 = 1000 + 750 + 160 = 1910 yuan; 7 of 10 employed meets 70%;
    the 13-day trainee reaches 5×200 + 5×150 + 3×80 = 1990; 14 days would be 2070 → 2000."""
    policy = parse_policy(sixth_region())
    assert policy_for("140105", {"140100": policy}) is policy
    cls = ClassFacts(P.ORDER, "6-31-01-03", "初级", date(2025, 3, 3), date(2025, 3, 18), 28, 112, 10)
    trainees = [trainee(i, 12, employed=i < 7) for i in range(9)] + [trainee(9, 14, employed=False)]
    result = training("140100", cls, trainees, policy)
    assert result.basis["branch"] == "full"
    assert amounts(result) == {**{i: 1910 * YUAN for i in range(9)}, 9: 2000 * YUAN}
    assert "5天×200元＋5天×150元＋2天×80元＝1910元" in result.lines[0].explain()
    assert result.region_code == "140100"


def test_an_odd_fen_rate_floors_each_step():
    """A flat 123.45 yuan; and a half day at 123.45 a day is 61.725 → 61.72 (12345 × 1 // 2 fen)."""
    doc = sixth_region()
    doc["subsidy"][0]["programmes"]["order"]["tiers"][0]["daily_fen"]["value"] = 12345
    policy = parse_policy(doc)
    cls = ClassFacts(P.ORDER, "6-31-01-03", "初级", date(2025, 3, 3), date(2025, 3, 3), 2, 8, 1)
    assert training("140100", cls, [trainee(1, 0.5)], policy).total_fen == 6172
    enterprise = ClassFacts(P.ENTERPRISE, "6-31-01-03", "初级", date(2025, 3, 3), date(2025, 3, 3), 2, 8, 1)
    assert training("140100", enterprise, [trainee(1, 1)], policy).total_fen == 12345


# --- refusals of the facts ------------------------------------------------------------------


@pytest.mark.parametrize(("cls_changes", "trainees", "field"), [
    pytest.param({}, [trainee(1, 16)], "attended_half_days:1", id="more-attendance-than-planned"),
    pytest.param({}, [trainee(1, 5), trainee(1, 5)], "trainee_id", id="the-same-trainee-twice"),
    pytest.param({"approved_roster_size": -1}, [trainee(1, 5)], "approved_roster_size", id="negative-roster"),
    pytest.param({"video_gap_half_days": 31}, [trainee(1, 5)], "video_gap_half_days",
                 id="gap-over-the-class"),
    pytest.param({"end_date": date(2024, 5, 1)}, [trainee(1, 5)], "end_date", id="ends-before-it-starts"),
])
def test_inconsistent_facts_are_refused(cls_changes, trainees, field):
    cls = klass(XINZHOU, P.ORDER, 15)
    cls = ClassFacts(**{**cls.__dict__, **cls_changes})
    with pytest.raises(ValidationFailed) as refused:
        compute_training(for_region(XINZHOU), cls, trainees)
    assert refused.value.code == "INVALID_SUBSIDY_FACTS"
    assert field in refused.value.details["fields"]


def test_an_empty_approved_roster_is_refused_where_it_is_the_pass_rate_base():
    """003 五(二) divides by the 开班审批表人数; Xinzhou never reads it."""
    with pytest.raises(ValidationFailed) as refused:
        compute_training(for_region(WENSHUI), klass(WENSHUI, P.PUHUI, 5, roster=0), [trainee(1, 5)])
    assert refused.value.details["fields"] == ["approved_roster_size"]
    assert training(XINZHOU, klass(XINZHOU, P.ORDER, 5, roster=0), [trainee(1, 5)]).total_fen == 750 * YUAN


def test_a_class_before_the_region_s_standards_is_refused():
    cls = ClassFacts(P.ORDER, "6-31-01-03", "初级", date(2023, 12, 1), date(2023, 12, 15), 30, 120, 10)
    with pytest.raises(NoSubsidyPolicy):
        compute_training(for_region(XINZHOU), cls, [trainee(1, 15)])


def test_every_reason_has_a_chinese_label():
    assert set(REASON_LABELS) == set(Reason)
    assert all(label.strip() for label in REASON_LABELS.values())


def test_the_explanation_reads_class_level_first_then_each_line():
    result = training(XINZHOU, klass(XINZHOU, P.ORDER, 15), [trainee(1, 15)])
    text = result.explain()
    assert text[0].startswith("忻州市（140900）订单式培训：适用2024年1月1日起施行的补贴标准")
    assert text[1] == "开班审批10人，列报1人，有效参训1人，合格1人，就业1人"
    assert text[2] == "就业率100.0%（1/1），达到80%：按培训人数全额补贴"
    assert text[3] == "学员1 培训补贴：10天×150元＋5天×100元＝2000元；应补2000元（依据 000 三(三)）"
    assert text[4] == "合计：2000元"
