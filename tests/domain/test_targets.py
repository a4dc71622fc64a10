"""Targets and the progress report's arithmetic (domain/targets.py): periods, exact percentages,
which vouchers and certificates count, and how records fall to child regions."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from server.domain.certificates import CertificateKind
from server.domain.regions import RegionLevel
from server.domain.targets import (
    HIGH_SKILL_LEVELS,
    ISSUED_STATES,
    KIND_LABELS,
    MEASURE_LABELS,
    MEASURE_TARGETS,
    SKILL_CERTIFICATE_KINDS,
    TRAINED_STATES,
    UNMEASURED_KINDS,
    Count,
    InvalidPeriod,
    Measure,
    Period,
    TargetKind,
    child_of,
    elapsed_percent,
    fold,
    level_below,
    lines,
    measured_in_children,
    month_period,
    percent,
    reachable,
    remainder,
    year_to_date,
)
from server.domain.vouchers import VoucherState as S


@pytest.mark.parametrize(("part", "whole", "expected"), [
    (0, 1300, "0.0"),
    (1300, 1300, "100.0"),
    (1, 3, "33.3"),
    (2, 3, "66.7"),
    (1, 8, "12.5"),
    (1, 16, "6.3"),  # 6.25: halves round up
    (1, 32, "3.1"),  # 3.125 → 3.1: only the second decimal decides
    (3, 1600, "0.2"),  # 0.1875
    (1, 2000, "0.1"),  # 0.05, a half, up
    (1, 2001, "0.0"),  # just under a half
    (2600, 1300, "200.0"),  # beyond the target
    (12_999, 13_000, "100.0"),  # 99.992…: rounds to 100.0, not below
    (10 ** 12, 7, "14285714285714.3"),  # integers only: no float loses the digits
])
def test_percent_is_exact_and_rounds_half_up(part, whole, expected):
    result = percent(part, whole)
    assert result == Decimal(expected)
    assert str(result) == expected


@pytest.mark.parametrize("whole", [None, 0, -5])
def test_percent_without_a_positive_target_is_none(whole):
    assert percent(10, whole) is None


def test_percent_refuses_a_negative_count():
    with pytest.raises(ValueError):
        percent(-1, 10)


@pytest.mark.parametrize(("year", "month", "first", "end", "last"), [
    (2024, 1, date(2024, 1, 1), date(2024, 2, 1), date(2024, 1, 31)),
    (2024, 2, date(2024, 2, 1), date(2024, 3, 1), date(2024, 2, 29)),  # leap year
    (2023, 2, date(2023, 2, 1), date(2023, 3, 1), date(2023, 2, 28)),
    (2024, 12, date(2024, 12, 1), date(2025, 1, 1), date(2024, 12, 31)),
])
def test_month_period(year, month, first, end, last):
    period = month_period(year, month)
    assert period == Period(first, end)
    assert period.last_day == last


def test_year_to_date_runs_from_january_to_the_end_of_the_month():
    assert year_to_date(2024, 5) == Period(date(2024, 1, 1), date(2024, 6, 1))
    assert year_to_date(2024, 12) == Period(date(2024, 1, 1), date(2025, 1, 1))
    assert year_to_date(2024, 1) == month_period(2024, 1)


@pytest.mark.parametrize(("year", "month", "code"), [
    (2024, 0, "INVALID_MONTH"), (2024, 13, "INVALID_MONTH"), (2024, -1, "INVALID_MONTH"),
    (2024, True, "INVALID_MONTH"), (2024, "5", "INVALID_MONTH"),
    (1999, 5, "INVALID_YEAR"), (2100, 5, "INVALID_YEAR"), (False, 5, "INVALID_YEAR"),
])
def test_bad_periods_are_refused_with_a_stable_code(year, month, code):
    with pytest.raises(InvalidPeriod) as refused:
        month_period(year, month)
    assert refused.value.code == code
    with pytest.raises(InvalidPeriod):
        year_to_date(year, month)


def test_elapsed_percent_is_the_share_of_the_year_gone():
    assert elapsed_percent(3) == Decimal("25.0")
    assert elapsed_percent(1) == Decimal("8.3")
    assert elapsed_percent(12) == Decimal("100.0")
    with pytest.raises(InvalidPeriod):
        elapsed_percent(13)


# --- what counts -----------------------------------------------------------------------------


def test_reachable_reads_the_transition_table():
    assert reachable(S.WRITTEN_OFF) == {S.WRITTEN_OFF}
    assert reachable(S.REDEEMED) == {S.REDEEMED, S.WRITTEN_OFF}
    assert S.APPLIED not in reachable(S.ISSUED)


def test_a_voucher_counts_as_issued_whatever_became_of_it_but_not_when_refused():
    assert {S.ISSUED, S.BOUND, S.TRAINED, S.REDEEMED, S.WRITTEN_OFF, S.REVOKED, S.EXPIRED} == ISSUED_STATES
    assert S.APPLIED not in ISSUED_STATES and S.REJECTED not in ISSUED_STATES


def test_a_training_revoked_after_completion_does_not_count():
    assert {S.TRAINED, S.REDEEMED, S.WRITTEN_OFF} == TRAINED_STATES


def test_the_training_certificate_is_not_a_skill_certificate():
    assert CertificateKind.TRAINING_QUALIFICATION not in SKILL_CERTIFICATE_KINDS
    assert set(CertificateKind) - {CertificateKind.TRAINING_QUALIFICATION} == SKILL_CERTIFICATE_KINDS
    assert HIGH_SKILL_LEVELS == ("高级", "技师", "高级技师")


def test_every_kind_and_measure_has_a_chinese_label_and_the_targets_pair_up():
    assert set(KIND_LABELS) == set(TargetKind) and set(MEASURE_LABELS) == set(Measure)
    assert KIND_LABELS[TargetKind.SUBSIDISED_TRAINEES] == "补贴性职业技能培训人次"
    assert MEASURE_TARGETS == {Measure.TRAINEES_TRAINED: TargetKind.SUBSIDISED_TRAINEES,
                               Measure.CERTIFIED: TargetKind.NEW_SKILLED,
                               Measure.CERTIFIED_HIGH_SKILLED: TargetKind.NEW_HIGH_SKILLED}
    assert set(UNMEASURED_KINDS) == {TargetKind.SPECIALISED_TOWN_TRAINEES, TargetKind.LABOUR_BRAND_TRAINEES}


# --- regions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "parent", "child"), [
    ("140427", "140000", "140400"),  # a county falls to its city in the province's report
    ("140427100", "140000", "140400"),
    ("140900", "140000", "140900"),
    ("140921", "140900", "140921"),  # a county of the city
    ("140921100", "140900", "140921"),
    ("140900", "140900", None),  # a record kept at the city's own level
    ("140427100", "140427", "140427100"),  # a township of the county
    ("140427", "140427", None),  # a home recorded only as the county
    ("140428100", "140427", None),  # outside the county
    ("141124", "140900", None),
    ("140427100", "140427100", None),  # nothing lies below a township
])
def test_child_of(code, parent, child):
    assert child_of(code, parent) == child


def test_below_a_county_only_the_person_figures_are_broken_down():
    assert measured_in_children(RegionLevel.TOWNSHIP) == {
        Measure.VOUCHERS_ISSUED, Measure.TRAINEES_TRAINED, Measure.CERTIFIED, Measure.CERTIFIED_HIGH_SKILLED}
    assert measured_in_children(RegionLevel.COUNTY) == set(Measure)
    assert measured_in_children(None) == set()


def test_level_below():
    assert [level_below(c) for c in ("140000", "140900", "140427", "140427100")] == [
        RegionLevel.CITY, RegionLevel.COUNTY, RegionLevel.TOWNSHIP, None]


def test_fold_counts_every_group_in_the_total_and_each_in_its_child():
    grouped = {
        Measure.VOUCHERS_ISSUED: [("140427100", 2, 5), ("140427101", 0, 1), ("140427", 1, 1),
                                  ("140428100", 1, 1)],  # a trainee from the next county
        Measure.CLASSES_OPENED: [("140427", 3, 9)],
    }
    total, per_child = fold("140427", ["140427100", "140427101", "140427102"], grouped)
    assert total[Measure.VOUCHERS_ISSUED] == Count(4, 8)
    assert total[Measure.CLASSES_OPENED] == Count(3, 9)
    assert total[Measure.PAID_FEN] == Count(0, 0)
    assert per_child["140427100"][Measure.VOUCHERS_ISSUED] == Count(2, 5)
    assert per_child["140427102"][Measure.VOUCHERS_ISSUED] == Count(0, 0)
    assert per_child["140427100"][Measure.CLASSES_OPENED] is None  # a township holds no classes
    assert remainder(total, per_child.values())[Measure.VOUCHERS_ISSUED] == Count(2, 2)


def test_fold_below_a_city_breaks_every_figure_down_by_county():
    grouped = {Measure.PAID_FEN: [("140921", 100, 300), ("140902", 0, 50), ("140900", 7, 7)]}
    total, per_child = fold("140900", ["140902", "140921"], grouped)
    assert total[Measure.PAID_FEN] == Count(107, 357)
    assert per_child["140921"][Measure.PAID_FEN] == Count(100, 300)
    assert per_child["140902"][Measure.CLASSES_OPENED] == Count(0, 0)
    assert remainder(total, per_child.values())[Measure.PAID_FEN] == Count(7, 7)  # kept by the city


# --- assembling a row ------------------------------------------------------------------------


def test_lines_put_each_figure_beside_its_target_in_report_order():
    counts = {Measure.VOUCHERS_ISSUED: Count(5, 40), Measure.TRAINEES_TRAINED: Count(30, 650),
              Measure.CERTIFIED: Count(2, 7), Measure.CERTIFIED_HIGH_SKILLED: Count(0, 1),
              Measure.CLASSES_OPENED: None, Measure.PAID_FEN: Count(0, 123_400)}
    targets = {TargetKind.SUBSIDISED_TRAINEES: 1300, TargetKind.NEW_SKILLED: 800}
    out = {line.measure: line for line in lines(counts, targets)}
    assert [line.measure for line in lines(counts, targets)] == list(Measure)
    trained = out[Measure.TRAINEES_TRAINED]
    assert (trained.month, trained.year_to_date, trained.target, trained.percent) == (
        30, 650, 1300, Decimal("50.0"))
    assert out[Measure.CERTIFIED].percent == Decimal("0.9")  # 7 / 800 = 0.875
    high = out[Measure.CERTIFIED_HIGH_SKILLED]
    assert (high.target_kind, high.target, high.percent) == (TargetKind.NEW_HIGH_SKILLED, None, None)
    assert out[Measure.VOUCHERS_ISSUED].target_kind is None
    classes = out[Measure.CLASSES_OPENED]
    assert (classes.month, classes.year_to_date, classes.percent) == (None, None, None)


def test_remainder_is_what_no_child_counted():
    total = {m: Count(0, 0) for m in Measure} | {Measure.VOUCHERS_ISSUED: Count(4, 10),
                                                 Measure.CLASSES_OPENED: Count(1, 3)}
    children = [{m: (Count(0, 0) if m is not Measure.CLASSES_OPENED else None) for m in Measure}
                | {Measure.VOUCHERS_ISSUED: Count(1, 6)},
                {m: (Count(0, 0) if m is not Measure.CLASSES_OPENED else None) for m in Measure}
                | {Measure.VOUCHERS_ISSUED: Count(2, 3)}]
    rest = remainder(total, children)
    assert rest[Measure.VOUCHERS_ISSUED] == Count(1, 1)
    assert rest[Measure.CLASSES_OPENED] is None  # townships do not count classes
    assert rest[Measure.PAID_FEN] == Count(0, 0)
    assert remainder(total, []) == dict.fromkeys(Measure)
