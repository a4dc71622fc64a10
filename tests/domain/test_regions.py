"""GB/T 2260 region codes: levels, prefixes, parents and the "same region or below" rule."""

from __future__ import annotations

import pytest

from server.domain.errors import ValidationFailed
from server.domain.regions import RegionLevel, is_within, level_of, parent_code, prefix_of, validate_code

# A small tree. 140427 (壶关县) belongs to 长治 140400, which is deliberately not in the
# tree: it is a county of the province that lies in neither listed city.
PROVINCE = "140000"  # 山西省
XINZHOU = "140900"  # 忻州市
LVLIANG = "141100"  # 吕梁市
HUGUAN = "140427"  # 壶关县 (长治市)
WENSHUI = "141121"  # 文水县 (吕梁市)
LINXIAN = "141124"  # 临县 (吕梁市)
HUGUAN_TOWN = "140427100"  # 壶关县 龙泉镇

TREE = [PROVINCE, XINZHOU, LVLIANG, HUGUAN, WENSHUI, LINXIAN, HUGUAN_TOWN]

# Every node and the nodes of TREE it lies within (itself included), written out by hand.
WITHIN = {
    PROVINCE: {PROVINCE},
    XINZHOU: {XINZHOU, PROVINCE},
    LVLIANG: {LVLIANG, PROVINCE},
    HUGUAN: {HUGUAN, PROVINCE},
    WENSHUI: {WENSHUI, LVLIANG, PROVINCE},
    LINXIAN: {LINXIAN, LVLIANG, PROVINCE},
    HUGUAN_TOWN: {HUGUAN_TOWN, HUGUAN, PROVINCE},
}


@pytest.mark.parametrize(
    ("code", "level"),
    [
        pytest.param("140000", RegionLevel.PROVINCE, id="140000-shanxi-province"),
        pytest.param("110000", RegionLevel.PROVINCE, id="110000-beijing-province"),
        pytest.param("140100", RegionLevel.CITY, id="140100-taiyuan-city"),
        pytest.param("140900", RegionLevel.CITY, id="140900-xinzhou-city"),
        pytest.param("141100", RegionLevel.CITY, id="141100-lvliang-city"),
        pytest.param("140427", RegionLevel.COUNTY, id="140427-county"),
        pytest.param("141121", RegionLevel.COUNTY, id="141121-county"),
        pytest.param("141124", RegionLevel.COUNTY, id="141124-county"),
        pytest.param("140901", RegionLevel.COUNTY, id="140901-city-district"),
        pytest.param("140090", RegionLevel.COUNTY, id="140090-county-under-province"),
        pytest.param("140427100", RegionLevel.TOWNSHIP, id="140427100-township"),
        pytest.param("141124001", RegionLevel.TOWNSHIP, id="141124001-subdistrict"),
    ],
)
def test_level_of(code, level):
    assert level_of(code) is level


@pytest.mark.parametrize(
    ("code", "prefix"),
    [
        pytest.param("140000", "14", id="province-2"),
        pytest.param("140900", "1409", id="city-4"),
        pytest.param("141100", "1411", id="city-4-lvliang"),
        pytest.param("140427", "140427", id="county-6"),
        pytest.param("140090", "140090", id="county-ending-90"),
        pytest.param("140427100", "140427100", id="township-9"),
    ],
)
def test_prefix_of(code, prefix):
    assert prefix_of(code) == prefix


@pytest.mark.parametrize(
    ("code", "parent"),
    [
        pytest.param("140000", None, id="province-has-none"),
        pytest.param("140900", "140000", id="city-to-province"),
        pytest.param("141100", "140000", id="lvliang-to-province"),
        pytest.param("140427", "140400", id="huguan-to-changzhi"),
        pytest.param("141121", "141100", id="wenshui-to-lvliang"),
        pytest.param("141124", "141100", id="linxian-to-lvliang"),
        pytest.param("140427100", "140427", id="township-to-county"),
        pytest.param("141124001", "141124", id="subdistrict-to-county"),
    ],
)
def test_parent_code(code, parent):
    assert parent_code(code) == parent


@pytest.mark.parametrize(
    ("code", "chain"),
    [
        pytest.param("140427100", ["140427100", "140427", "140400", "140000"], id="township-up"),
        pytest.param("141121", ["141121", "141100", "140000"], id="county-up"),
        pytest.param("140000", ["140000"], id="province"),
    ],
)
def test_walking_parents_reaches_the_province_and_every_step_is_within(code, chain):
    walked = [code]
    while (parent := parent_code(walked[-1])) is not None:
        assert is_within(walked[-1], parent)
        walked.append(parent)
    assert walked == chain


@pytest.mark.parametrize(
    ("code", "ancestor"),
    [pytest.param(c, a, id=f"{c}-in-{a}") for c in TREE for a in TREE],
)
def test_is_within_for_every_pair_in_the_tree(code, ancestor):
    assert is_within(code, ancestor) is (ancestor in WITHIN[code])


@pytest.mark.parametrize(
    ("code", "ancestor", "expected"),
    [
        pytest.param("141124", "140900", False, id="linxian-not-in-xinzhou"),
        pytest.param("140427", "140900", False, id="huguan-not-in-xinzhou"),
        pytest.param("140090", "140900", False, id="140090-not-in-1409-prefix"),
        pytest.param("140900", "140090", False, id="city-not-in-lookalike-county"),
        pytest.param("140090", "140000", True, id="140090-in-province"),
        pytest.param("140901", "140900", True, id="district-in-its-city"),
        pytest.param("140990", "140900", True, id="140990-in-1409"),
        pytest.param("140428", "140427", False, id="neighbour-county"),
        pytest.param("140428100", "140427", False, id="neighbour-township"),
        pytest.param("140427101", "140427100", False, id="sibling-township"),
        pytest.param("140427100", "140400", True, id="township-in-its-city"),
        pytest.param("140400", "140427", False, id="city-not-in-its-county"),
        pytest.param("140000", "140900", False, id="province-not-in-city"),
        pytest.param("110105", "140000", False, id="beijing-not-in-shanxi"),
        pytest.param("141100", "141000", False, id="1411-not-in-1410"),
        pytest.param("140100", "140000", True, id="taiyuan-in-shanxi"),
    ],
)
def test_is_within_edge_cases(code, ancestor, expected):
    assert is_within(code, ancestor) is expected


@pytest.mark.parametrize(
    "code",
    [
        pytest.param("140000", id="six"),
        pytest.param("140427100", id="nine"),
    ],
)
def test_validate_code_returns_good_codes(code):
    assert validate_code(code) == code


BAD_CODES = [
    pytest.param("", id="empty"),
    pytest.param("14", id="2-digit-prefix"),
    pytest.param("14000", id="5-digits"),
    pytest.param("1400000", id="7-digits"),
    pytest.param("14000000", id="8-digits"),
    pytest.param("1404271000", id="10-digits"),
    pytest.param("140427100000", id="12-digit-statistical"),
    pytest.param("14000a", id="letter"),
    pytest.param("14 000", id="inner-space"),
    pytest.param(" 140000", id="leading-space"),
    pytest.param("140000 ", id="trailing-space"),
    pytest.param("140000\n", id="trailing-newline"),
    pytest.param("14-0000", id="dash"),
    pytest.param("-14000", id="minus"),
    pytest.param("\uff11\uff14\uff10\uff10\uff10\uff10", id="full-width-digits"),
    pytest.param(140000, id="int"),
    pytest.param(None, id="none"),
]


@pytest.mark.parametrize("code", BAD_CODES)
def test_validate_code_refuses_malformed_codes(code):
    with pytest.raises(ValidationFailed) as caught:
        validate_code(code)
    assert caught.value.code == "VALIDATION_FAILED"
    assert caught.value.details == {"region_code": code}


@pytest.mark.parametrize("code", [p for p in BAD_CODES if isinstance(p.values[0], str)])
@pytest.mark.parametrize(
    "rule",
    [
        pytest.param(level_of, id="level_of"),
        pytest.param(prefix_of, id="prefix_of"),
        pytest.param(parent_code, id="parent_code"),
        pytest.param(lambda code: is_within("140427", code), id="is_within-ancestor"),
    ],
)
def test_rules_refuse_malformed_codes(rule, code):
    with pytest.raises(ValidationFailed):
        rule(code)
