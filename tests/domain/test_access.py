"""Roles, organisation kinds and scope: who may see which region, organisation and trainee."""

from __future__ import annotations

import pytest

from server.domain.access import (
    OrgKind,
    Principal,
    Role,
    can_see_organisation,
    can_see_region,
    can_see_trainee,
    require_role,
    role_fits_organisation,
    sees_full_id_numbers,
)
from server.domain.errors import DomainError, Forbidden

# Organisations, by id, and their regions.
HUGUAN_BUREAU, LVLIANG_BUREAU, SHANXI_BUREAU, WENSHUI_FINANCE = 10, 11, 12, 13
WENSHUI_SCHOOL, LINXIAN_SCHOOL, WENSHUI_EVALUATOR = 20, 21, 30

P = {
    "trainee_7": Principal(user_id=1, role=Role.TRAINEE, trainee_id=7),
    "operator_wenshui_school": Principal(user_id=2, role=Role.INSTITUTION_OPERATOR,
                                         organisation_id=WENSHUI_SCHOOL, region_code="141121"),
    "evaluator_wenshui": Principal(user_id=3, role=Role.EVALUATOR,
                                   organisation_id=WENSHUI_EVALUATOR, region_code="141121"),
    "reviewer_huguan_county": Principal(user_id=4, role=Role.BUREAU_REVIEWER,
                                        organisation_id=HUGUAN_BUREAU, region_code="140427"),
    "supervisor_lvliang_city": Principal(user_id=5, role=Role.BUREAU_SUPERVISOR,
                                         organisation_id=LVLIANG_BUREAU, region_code="141100"),
    "finance_wenshui_county": Principal(user_id=6, role=Role.FINANCE,
                                        organisation_id=WENSHUI_FINANCE, region_code="141121"),
    "admin_shanxi_province": Principal(user_id=7, role=Role.ADMIN,
                                       organisation_id=SHANXI_BUREAU, region_code="140000"),
    "reviewer_without_region": Principal(user_id=8, role=Role.BUREAU_REVIEWER,
                                         organisation_id=HUGUAN_BUREAU, region_code=None),
}

REGIONS = [
    "140000",  # 山西省
    "140400",  # 长治市 (the city above 壶关)
    "140427",  # 壶关县
    "140427100",  # 壶关 township
    "140428",  # 长子县, the neighbouring county
    "140428100",  # a township of the neighbouring county
    "140900",  # 忻州市
    "141100",  # 吕梁市
    "141121",  # 文水县
    "141124",  # 临县
    "141124100",  # 临县 township
    "110105",  # 北京 朝阳区, another province
]

# What each principal's region scope covers, written out in full.
VISIBLE_REGIONS = {
    "trainee_7": set(),
    "operator_wenshui_school": set(),
    "evaluator_wenshui": set(),
    "reviewer_huguan_county": {"140427", "140427100"},
    "supervisor_lvliang_city": {"141100", "141121", "141124", "141124100"},
    "finance_wenshui_county": {"141121"},
    "admin_shanxi_province": set(REGIONS) - {"110105"},
    "reviewer_without_region": set(),
}


@pytest.mark.parametrize(
    ("who", "region"),
    [pytest.param(w, r, id=f"{w}-{r}") for w in P for r in REGIONS],
)
def test_can_see_region(who, region):
    assert can_see_region(P[who], region) is (region in VISIBLE_REGIONS[who])


REGION_WIDE = {
    Role.TRAINEE: False,
    Role.INSTITUTION_OPERATOR: False,
    Role.EVALUATOR: False,
    Role.BUREAU_REVIEWER: True,
    Role.BUREAU_SUPERVISOR: True,
    Role.FINANCE: True,
    Role.ADMIN: True,
}


@pytest.mark.parametrize(
    ("role", "region_wide"), [pytest.param(r, w, id=str(r)) for r, w in REGION_WIDE.items()]
)
def test_is_region_wide(role, region_wide):
    assert Principal(user_id=1, role=role, region_code="140000").is_region_wide is region_wide


def test_tables_name_every_role():
    assert set(REGION_WIDE) == set(Role)
    assert {P[w].role for w in P} == set(Role)


# ---------------------------------------------------------------- organisations

ORGS = {
    HUGUAN_BUREAU: "140427",
    LVLIANG_BUREAU: "141100",
    SHANXI_BUREAU: "140000",
    WENSHUI_FINANCE: "141121",
    WENSHUI_SCHOOL: "141121",
    LINXIAN_SCHOOL: "141124",
    WENSHUI_EVALUATOR: "141121",
}

VISIBLE_ORGS = {
    "trainee_7": set(),
    "operator_wenshui_school": {WENSHUI_SCHOOL},
    "evaluator_wenshui": {WENSHUI_EVALUATOR},
    "reviewer_huguan_county": {HUGUAN_BUREAU},
    "supervisor_lvliang_city": {LVLIANG_BUREAU, WENSHUI_FINANCE, WENSHUI_SCHOOL, LINXIAN_SCHOOL,
                                WENSHUI_EVALUATOR},
    "finance_wenshui_county": {WENSHUI_FINANCE, WENSHUI_SCHOOL, WENSHUI_EVALUATOR},
    "admin_shanxi_province": set(ORGS),
    "reviewer_without_region": {HUGUAN_BUREAU},  # its own bureau, nothing by region
}


@pytest.mark.parametrize(
    ("who", "org_id"),
    [pytest.param(w, o, id=f"{w}-org{o}-{ORGS[o]}") for w in P for o in ORGS],
)
def test_can_see_organisation(who, org_id):
    assert can_see_organisation(P[who], org_id, ORGS[org_id]) is (org_id in VISIBLE_ORGS[who])


def test_own_organisation_is_visible_even_outside_the_region():
    # An organisation record moved to another region stays visible to its own staff.
    assert can_see_organisation(P["reviewer_huguan_county"], HUGUAN_BUREAU, "141121")
    assert can_see_organisation(P["operator_wenshui_school"], WENSHUI_SCHOOL, "110105")


# ---------------------------------------------------------------- trainees

# (trainee_id, home region, institutions the trainee is enrolled with)
TRAINEES = {
    "t7-huguan-unenrolled": (7, "140427100", frozenset()),
    "t8-huguan-at-wenshui-school": (8, "140427", frozenset({WENSHUI_SCHOOL})),
    "t9-wenshui-at-wenshui-school": (9, "141121", frozenset({WENSHUI_SCHOOL})),
    "t10-wenshui-unenrolled": (10, "141121", frozenset()),
    "t11-linxian-at-linxian-school": (11, "141124", frozenset({LINXIAN_SCHOOL})),
    "t12-linxian-at-both-schools": (12, "141124100", frozenset({LINXIAN_SCHOOL, WENSHUI_SCHOOL})),
    "t13-xinzhou-enrolled-with-bureau-ids": (13, "140900", frozenset({HUGUAN_BUREAU, LVLIANG_BUREAU})),
    "t14-beijing": (14, "110105", frozenset()),
}

VISIBLE_TRAINEES = {
    "trainee_7": {"t7-huguan-unenrolled"},
    "operator_wenshui_school": {"t8-huguan-at-wenshui-school", "t9-wenshui-at-wenshui-school",
                                "t12-linxian-at-both-schools"},
    "evaluator_wenshui": set(),
    "reviewer_huguan_county": {"t7-huguan-unenrolled", "t8-huguan-at-wenshui-school"},
    "supervisor_lvliang_city": {"t9-wenshui-at-wenshui-school", "t10-wenshui-unenrolled",
                                "t11-linxian-at-linxian-school", "t12-linxian-at-both-schools"},
    "finance_wenshui_county": {"t9-wenshui-at-wenshui-school", "t10-wenshui-unenrolled"},
    "admin_shanxi_province": set(TRAINEES) - {"t14-beijing"},
    "reviewer_without_region": set(),
}


@pytest.mark.parametrize(
    ("who", "trainee"),
    [pytest.param(w, t, id=f"{w}-{t}") for w in P for t in TRAINEES],
)
def test_can_see_trainee(who, trainee):
    trainee_id, home, institutions = TRAINEES[trainee]
    assert can_see_trainee(P[who], trainee_id, home, institutions) is (trainee in VISIBLE_TRAINEES[who])


@pytest.mark.parametrize(
    "home", [pytest.param(r, id=r) for r in ["140427", "141121", "110105"]]
)
def test_trainee_sees_only_themself_wherever_they_live(home):
    me = P["trainee_7"]
    assert can_see_trainee(me, 7, home)
    assert not can_see_trainee(me, 8, home)
    assert not can_see_trainee(me, 8, home, frozenset({7}))


def test_institution_operator_does_not_see_unenrolled_trainees_of_its_own_county():
    assert not can_see_trainee(P["operator_wenshui_school"], 10, "141121")


def test_institution_operator_without_organisation_sees_no_trainee():
    orphan = Principal(user_id=9, role=Role.INSTITUTION_OPERATOR, organisation_id=None)
    assert not can_see_trainee(orphan, 9, "141121", frozenset({WENSHUI_SCHOOL}))


# ---------------------------------------------------------------- role × organisation kind

K = OrgKind
FITS = {
    Role.TRAINEE: set(),
    Role.INSTITUTION_OPERATOR: {K.TRAINING_INSTITUTION, K.ENTERPRISE},
    Role.EVALUATOR: {K.EVALUATION_INSTITUTION},
    Role.BUREAU_REVIEWER: {K.BUREAU},
    Role.BUREAU_SUPERVISOR: {K.BUREAU},
    Role.FINANCE: {K.FINANCE_BUREAU},
    Role.ADMIN: {K.BUREAU},
}


@pytest.mark.parametrize(
    ("role", "kind"),
    [pytest.param(r, k, id=f"{r}-in-{k}") for r in Role for k in OrgKind],
)
def test_role_fits_organisation_full_table(role, kind):
    assert role_fits_organisation(role, kind) is (kind in FITS[role])


@pytest.mark.parametrize(
    ("role", "fits"),
    [pytest.param(r, r is Role.TRAINEE, id=f"{r}-without-organisation") for r in Role],
)
def test_only_a_trainee_belongs_to_no_organisation(role, fits):
    assert role_fits_organisation(role, None) is fits


def test_fits_table_names_every_role_and_kind():
    assert set(FITS) == set(Role)
    assert set().union(*FITS.values()) == set(OrgKind)


# ---------------------------------------------------------------- full ID numbers


@pytest.mark.parametrize(
    ("role", "full"),
    [
        pytest.param(Role.TRAINEE, False, id="trainee-masked"),
        pytest.param(Role.INSTITUTION_OPERATOR, False, id="institution_operator-masked"),
        pytest.param(Role.EVALUATOR, False, id="evaluator-masked"),
        pytest.param(Role.BUREAU_REVIEWER, True, id="bureau_reviewer-full"),
        pytest.param(Role.BUREAU_SUPERVISOR, True, id="bureau_supervisor-full"),
        pytest.param(Role.FINANCE, False, id="finance-masked"),
        pytest.param(Role.ADMIN, True, id="admin-full"),
    ],
)
def test_sees_full_id_numbers(role, full):
    assert sees_full_id_numbers(Principal(user_id=1, role=role, region_code="140000")) is full


# ---------------------------------------------------------------- require_role

ROLE_SETS = {
    "admin-only": (Role.ADMIN,),
    "bureau-staff": (Role.BUREAU_REVIEWER, Role.BUREAU_SUPERVISOR, Role.ADMIN),
    "institutions": (Role.INSTITUTION_OPERATOR, Role.EVALUATOR),
    "trainee-only": (Role.TRAINEE,),
    "nobody": (),
}


@pytest.mark.parametrize(
    ("role", "allowed"),
    [pytest.param(r, s, id=f"{r}-vs-{s}") for r in Role for s in ROLE_SETS],
)
def test_require_role_for_every_role(role, allowed):
    principal = Principal(user_id=1, role=role)
    roles = ROLE_SETS[allowed]
    if role in roles:
        assert require_role(principal, *roles) is None
    else:
        with pytest.raises(Forbidden) as caught:
            require_role(principal, *roles)
        assert isinstance(caught.value, DomainError)
        assert caught.value.code == "FORBIDDEN"
        assert caught.value.message == "无权执行此操作"
        assert caught.value.details == {"required_roles": sorted(roles)}


def test_required_roles_are_listed_sorted_by_name():
    with pytest.raises(Forbidden) as caught:
        require_role(P["trainee_7"], Role.FINANCE, Role.ADMIN, Role.BUREAU_REVIEWER)
    assert caught.value.details["required_roles"] == ["admin", "bureau_reviewer", "finance"]
