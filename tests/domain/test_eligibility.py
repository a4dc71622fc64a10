"""Eligibility categories (培训对象) recorded on a trainee's profile."""

from __future__ import annotations

from itertools import permutations

import pytest

from server.domain.eligibility import CATEGORY_LABELS, Category, parse_categories
from server.domain.errors import ValidationFailed

C = Category


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param([], [], id="none-chosen"),
        pytest.param(["graduate"], [C.GRADUATE], id="one"),
        pytest.param(["veteran", "veteran"], [C.VETERAN], id="duplicate-removed"),
        pytest.param(["veteran", "graduate", "veteran", "graduate"], [C.GRADUATE, C.VETERAN],
                     id="duplicates-of-two"),
        pytest.param(["entrepreneur", "poverty_alleviated"], [C.POVERTY_ALLEVIATED, C.ENTREPRENEUR],
                     id="definition-order-not-input-order"),
        pytest.param([C.DISABLED, "disabled"], [C.DISABLED], id="member-and-string-are-one"),
        pytest.param([c.value for c in reversed(Category)], list(Category), id="all-reversed"),
    ],
)
def test_parse_categories(values, expected):
    parsed = parse_categories(values)
    assert parsed == expected
    assert all(type(c) is Category for c in parsed)


@pytest.mark.parametrize(
    "values",
    [pytest.param(list(p), id="-".join(v[:4] for v in p))
     for p in sorted(set(permutations(["urban_unemployed", "lianghousheng", "graduate", "lianghousheng"])))],
)
def test_order_is_the_same_whatever_order_they_were_ticked(values):
    assert parse_categories(values) == [C.GRADUATE, C.LIANGHOUSHENG, C.URBAN_UNEMPLOYED]


def test_parsing_is_idempotent():
    once = parse_categories(["disabled", "graduate", "disabled", "veteran"])
    assert parse_categories([str(c) for c in once]) == once


@pytest.mark.parametrize(
    ("values", "unknown"),
    [
        pytest.param(["astronaut"], ["astronaut"], id="unknown-alone"),
        pytest.param(["graduate", "astronaut"], ["astronaut"], id="unknown-with-known"),
        pytest.param(["x", "graduate", "y"], ["x", "y"], id="several-in-input-order"),
        pytest.param(["Graduate"], ["Graduate"], id="case-sensitive"),
        pytest.param(["GRADUATE"], ["GRADUATE"], id="member-name-not-value"),
        pytest.param([" graduate"], [" graduate"], id="leading-space"),
        pytest.param(["毕业年度高校毕业生"], ["毕业年度高校毕业生"], id="chinese-label-not-value"),
        pytest.param([""], [""], id="empty-string"),
        pytest.param([None], [None], id="none"),
        pytest.param([3], [3], id="int"),
    ],
)
def test_unknown_categories_are_refused_and_named(values, unknown):
    with pytest.raises(ValidationFailed) as caught:
        parse_categories(values)
    assert caught.value.code == "VALIDATION_FAILED"
    assert caught.value.message == "未知的人员类别"
    assert caught.value.details == {"unknown_categories": unknown}


def test_every_category_has_a_distinct_chinese_label():
    assert set(CATEGORY_LABELS) == set(Category)
    assert len(set(CATEGORY_LABELS.values())) == len(Category)
    assert all(label.strip() == label and label for label in CATEGORY_LABELS.values())


@pytest.mark.parametrize(
    ("category", "label"),
    [
        pytest.param(C.POVERTY_ALLEVIATED, "脱贫人口", id="poverty_alleviated"),
        pytest.param(C.MONITORED_HOUSEHOLD, "监测户", id="monitored_household"),
        pytest.param(C.LIANGHOUSHENG, "两后生", id="lianghousheng"),
        pytest.param(C.URBAN_UNEMPLOYED, "城镇登记失业人员", id="urban_unemployed"),
        pytest.param(C.VETERAN, "退役军人", id="veteran"),
    ],
)
def test_labels(category, label):
    assert CATEGORY_LABELS[category] == label


@pytest.mark.parametrize("category", [pytest.param(c, id=str(c)) for c in Category])
def test_every_category_round_trips_through_its_stored_value(category):
    assert parse_categories([str(category)]) == [category]
