"""Who may apply for which programme, and the per-person yearly limits (SPEC §5)."""

from __future__ import annotations

import itertools

import pytest

from server.domain.eligibility import (
    ELIGIBLE_CATEGORIES,
    Application,
    Category,
    HeldVoucher,
    ProgrammeType,
    decide,
)

P, C = ProgrammeType, Category
SIX = {C.POVERTY_ALLEVIATED, C.GRADUATE, C.LIANGHOUSHENG, C.RURAL_MIGRANT, C.URBAN_UNEMPLOYED,
       C.HARD_TO_EMPLOY}
# Written out from the seeds, independently of the module's table.
EXPECTED_ELIGIBLE = {
    P.PUHUI: SIX,  # 004 二(二)
    P.ORDER: SIX | {C.REDEPLOYED_WORKER, C.VETERAN, C.DISABLED},  # 002 第三条
    P.PROJECT: SIX | {C.REDEPLOYED_WORKER, C.VETERAN, C.DISABLED},
    P.STARTUP: {C.ENTREPRENEUR},
    P.ENTERPRISE: {C.ENTERPRISE_EMPLOYEE},  # 002 第四条
    P.APPRENTICE: {C.ENTERPRISE_EMPLOYEE},
}


def apply(programme=P.ORDER, categories=(C.RURAL_MIGRANT,), occupation="4-10-01-05", level="初级",
          year=2026) -> Application:
    return Application(programme, occupation, level, year, frozenset(categories))


def codes(decision) -> list[str]:
    return [r.code for r in decision.refusals]


@pytest.mark.parametrize(("programme", "category"), list(itertools.product(P, C)),
                         ids=lambda v: str(v))
def test_every_category_against_every_programme(programme, category):
    decision = decide(apply(programme, [category]), [])
    assert decision.eligible == (category in EXPECTED_ELIGIBLE[programme])
    if not decision.eligible:
        assert codes(decision) == ["CATEGORY_NOT_ELIGIBLE"]
        assert decision.refusals[0].clause


def test_the_table_matches_the_seeds():
    assert {p: set(c) for p, c in ELIGIBLE_CATEGORIES.items()} == EXPECTED_ELIGIBLE


def test_one_matching_category_of_several_is_enough():
    assert decide(apply(P.PUHUI, [C.VETERAN, C.GRADUATE]), []).eligible


def test_no_categories_is_refused_with_the_groups_named():
    decision = decide(apply(P.PUHUI, []), [])
    assert codes(decision) == ["CATEGORY_NOT_ELIGIBLE"]
    assert "脱贫人口" in decision.refusals[0].message


def held(programme, *, occupation="6-31-01-03", level="初级", year=2026, state="written_off"):
    return HeldVoucher(programme, occupation, level, year, state)


@pytest.mark.parametrize(("applying", "holding", "refused"), [
    (P.PUHUI, P.PUHUI, True),
    (P.PUHUI, P.ORDER, False),  # one of each per year (004 五(三))
    (P.ORDER, P.PUHUI, False),
    (P.ORDER, P.ORDER, True),
    (P.ORDER, P.PROJECT, True),  # project and order share one yearly subsidy
    (P.PROJECT, P.ORDER, True),
    (P.PROJECT, P.PROJECT, True),
    (P.STARTUP, P.STARTUP, False),
])
def test_yearly_limits(applying, holding, refused):
    categories = [C.RURAL_MIGRANT, C.ENTREPRENEUR]
    decision = decide(apply(applying, categories), [held(holding)])
    assert ("YEARLY_LIMIT" in codes(decision)) == refused


@pytest.mark.parametrize(("state", "counts"), [
    ("applied", True), ("issued", True), ("bound", True), ("trained", True), ("redeemed", True),
    ("written_off", True), ("rejected", False), ("revoked", False), ("expired", False),
])
def test_only_vouchers_in_use_count_towards_the_yearly_limit(state, counts):
    decision = decide(apply(P.PUHUI), [held(P.PUHUI, state=state)])
    assert ("YEARLY_LIMIT" in codes(decision)) == counts


def test_last_years_voucher_does_not_count():
    assert decide(apply(P.ORDER), [held(P.ORDER, year=2025)]).eligible


@pytest.mark.parametrize(("state", "refused"), [
    ("applied", True), ("issued", True), ("bound", True), ("trained", False),
    ("written_off", False), ("revoked", False), ("rejected", False), ("expired", False),
])
def test_an_open_voucher_for_the_same_occupation_blocks_another(state, refused):
    mine = held(P.STARTUP, occupation="4-10-01-05", year=2025, state=state)
    decision = decide(apply(P.ORDER, occupation="4-10-01-05"), [mine])
    assert ("OPEN_VOUCHER_SAME_OCCUPATION" in codes(decision)) == refused


@pytest.mark.parametrize(("occupation", "level", "year", "refused"), [
    ("6-31-01-03", "初级", 2026, True),
    ("6-31-01-03", "中级", 2026, False),  # another level
    ("6-18-02-04", "初级", 2026, False),  # another occupation
    ("6-31-01-03", "初级", 2025, False),  # another year
])
def test_enterprise_training_is_once_per_occupation_level_and_year(occupation, level, year, refused):
    decision = decide(apply(P.ENTERPRISE, [C.ENTERPRISE_EMPLOYEE], occupation="6-31-01-03"),
                      [held(P.ENTERPRISE, occupation=occupation, level=level, year=year)])
    assert ("ENTERPRISE_REPEAT" in codes(decision)) == refused


def test_every_broken_rule_is_reported_at_once():
    decision = decide(apply(P.PUHUI, [C.VETERAN], occupation="4-10-01-05"),
                      [held(P.PUHUI, occupation="4-10-01-05", state="issued")])
    assert codes(decision) == ["CATEGORY_NOT_ELIGIBLE", "YEARLY_LIMIT", "OPEN_VOUCHER_SAME_OCCUPATION"]
