"""Regional policy files: every shipped file is valid and says what its seed says; malformed
documents are refused; the nearest policy applies; who may approve an opening."""

from __future__ import annotations

import copy
import json
import re
from datetime import date
from pathlib import Path

import pytest

from server.domain.certificates import LEVELS, CertificateKind
from server.domain.eligibility import ProgrammeType
from server.domain.errors import DomainError
from server.domain.policy import (
    CHECKIN_FIELDS,
    NoPolicy,
    PolicyInvalid,
    RegionPolicy,
    approver_can_decide,
    parse_policy,
    policy_for,
)
from server.domain.regions import RegionLevel

P = ProgrammeType
POLICY_DIR = Path(__file__).resolve().parents[2] / "server" / "data" / "policies"
POLICY_FILES = sorted(POLICY_DIR.glob("*.json"))

XINZHOU, HUGUAN, WENSHUI, YANGQUAN, LIN = "140900", "140427", "141121", "140300", "141124"
SHIPPED = {XINZHOU, HUGUAN, WENSHUI, YANGQUAN, LIN}
# The seed each region's policy comes from (000 忻州, 001 壶关, 002 阳泉, 003 文水, 004 临县).
SEED_OF = {XINZHOU: "000", HUGUAN: "001", YANGQUAN: "002", WENSHUI: "003", LIN: "004"}
SEED_CITATION = re.compile(r"(?<![0-9])00[0-4](?![0-9])")


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def shipped() -> dict[str, RegionPolicy]:
    return {path.stem: parse_policy(load(path)) for path in POLICY_FILES}


def sourced_entries(policy: RegionPolicy) -> dict[str, object]:
    """Every {value, source} entry of a parsed policy, by its path in the document."""
    opening = policy.class_opening
    return {
        "vouchers.auto_issue": policy.vouchers.auto_issue,
        "vouchers.valid_days": policy.vouchers.valid_days,
        **{f"class_opening.lead_days.{k}": v for k, v in opening.lead_days.items()},
        "class_opening.city_approval": opening.city_approval,
        **{f"checkins.{name}": getattr(policy.checkins, name) for name in CHECKIN_FIELDS},
        "completion.lead_days": policy.completion.lead_days,
        **{f"certificates.targets.{i}.percent": t.percent for i, t in enumerate(policy.certificate_targets)},
    }


# --- the shipped files ----------------------------------------------------------------------


def test_the_five_seeded_regions_each_ship_a_policy_file():
    assert {path.stem for path in POLICY_FILES} >= SHIPPED


@pytest.mark.parametrize("path", POLICY_FILES, ids=lambda p: p.name)
def test_every_shipped_file_parses_and_is_named_after_its_region(path):
    policy = parse_policy(load(path))
    assert policy.region_code == path.stem
    assert policy.name.strip()
    assert isinstance(policy.effective_from, date)


@pytest.mark.parametrize("path", POLICY_FILES, ids=lambda p: p.name)
def test_every_entry_cites_a_seed_clause_or_says_product_default(path):
    policy = parse_policy(load(path))
    for where, entry in sourced_entries(policy).items():
        source = entry.source
        assert source.strip(), where
        assert SEED_CITATION.search(source) or source.startswith("product default"), (where, source)


@pytest.mark.parametrize("path", POLICY_FILES, ids=lambda p: p.name)
def test_every_number_is_a_non_negative_integer_with_a_source(path):
    policy = parse_policy(load(path))
    numbers = {where: e for where, e in sourced_entries(policy).items()
               if where.startswith(("vouchers.valid_days", "class_opening.lead_days"))}
    assert "class_opening.lead_days.default" in numbers
    for where, entry in numbers.items():
        assert isinstance(entry.value, int) and not isinstance(entry.value, bool), where
        assert entry.value >= 0, where
        assert entry.source.strip(), where


@pytest.mark.parametrize("region", sorted(SHIPPED))
def test_a_region_s_own_seed_is_the_one_its_header_and_clauses_cite(region):
    policy = shipped()[region]
    assert policy.seed.startswith(SEED_OF[region])
    lead = policy.class_opening.lead_days
    for key, entry in lead.items():
        if not entry.source.startswith("product default"):
            assert entry.source.startswith(SEED_OF[region]), (key, entry.source)


# Written out from the seeds, independently of the files.
LEAD_DAYS = {
    XINZHOU: (3, {}, "000 二(二)(2)"),  # 开班前 3-5 天完成开班备案
    HUGUAN: (7, {}, "001 三(一)"),  # 提前一周向县人社局提交开班申请
    WENSHUI: (7, {P.ORDER: (15, "003 三(三)")}, "003 三(三)"),  # 订单式培训须在开班前15日
    YANGQUAN: (1, {}, "product default"),  # 002 sets no lead time
    LIN: (3, {}, "product default"),  # 004 sets no lead time
}


@pytest.mark.parametrize(("region", "programme"), [(r, p) for r in sorted(SHIPPED) for p in P],
                         ids=lambda v: str(v))
def test_lead_days_for_every_region_and_programme_match_the_seeds(region, programme):
    default, overrides, default_source = LEAD_DAYS[region]
    days, source = overrides.get(programme, (default, default_source))
    lead = shipped()[region].class_opening.lead_days_for(programme)
    assert lead.value == days
    assert source in lead.source


def test_xinzhou_lead_time_is_the_seed_s_three_to_five_days():
    lead = shipped()[XINZHOU].class_opening.lead_days_for(P.PUHUI)
    assert lead.value == 3
    assert "开班前 3-5 天" in lead.source


# 000 二(二)(3): 培训机构在结业前3天提交结业申请材料. No other seed sets a completion lead time; the
# product uses Xinzhou's 3 days and says so.
COMPLETION_LEAD_DAYS = {
    XINZHOU: (3, "000 二(二)(3)"),
    HUGUAN: (3, "product default"),
    WENSHUI: (3, "product default"),
    YANGQUAN: (3, "product default"),
    LIN: (3, "product default"),
}


@pytest.mark.parametrize("region", sorted(SHIPPED))
def test_completion_lead_time_for_every_region_matches_the_seeds(region):
    days, source = COMPLETION_LEAD_DAYS[region]
    lead = shipped()[region].completion.lead_days
    assert lead.value == days
    assert lead.source.startswith(source), lead.source


def test_xinzhou_completion_lead_time_is_the_seed_s_three_days():
    assert "结业前3天" in shipped()[XINZHOU].completion.lead_days.source


@pytest.mark.parametrize("region", sorted(SHIPPED))
def test_completion_and_target_clauses_cite_the_region_s_own_seed(region):
    policy = shipped()[region]
    entries = {"completion.lead_days": policy.completion.lead_days,
               **{t.name: t.percent for t in policy.certificate_targets}}
    for where, entry in entries.items():
        if not entry.source.startswith("product default"):
            assert entry.source.startswith(SEED_OF[region]), (where, entry.source)


# --- certificate-rate targets (004 二(三), 二(六)) -----------------------------------------------

OCCUPATIONS = {o["name"]: o["code"] for o in load(POLICY_DIR.parent / "occupations.json")["occupations"]}
# 004 二(六) names the brand 吕梁山护工; the product reads it as these occupations.
CARE_OCCUPATIONS = {OCCUPATIONS[name] for name in ("养老护理员", "健康照护师", "家政服务员", "育婴员")}
ELECTRICIAN = OCCUPATIONS["电工"]
CK = CertificateKind


def lin_targets() -> dict[int, object]:
    """Lin county's targets by percent (50: order programme; 90: 吕梁山护工)."""
    targets = shipped()[LIN].certificate_targets
    by_percent = {t.percent.value: t for t in targets}
    assert len(by_percent) == len(targets) == 2
    return by_percent


def test_only_lin_county_sets_certificate_rate_targets():
    assert {code for code, policy in shipped().items() if policy.certificate_targets} == {LIN}


def test_lin_order_programme_target_is_half_reaching_初级_skill_or_qualification_certificates():
    """004 二(三): 订单式培训……取得初级工职业资格证书或职业技能等级证书需达到50%以上."""
    order = lin_targets()[50]
    assert order.programmes == ("order",)
    assert order.occupations == ()
    assert set(order.kinds) == {CK.SKILL_LEVEL, CK.VOCATIONAL_QUALIFICATION}
    assert order.min_level == "初级"
    assert order.percent.source.startswith("004 二(三)")
    assert "50%" in order.percent.source


def test_lin_care_worker_target_is_ninety_percent_of_the_care_occupations():
    """004 二(六): 吕梁山护工培训……取证率达到90%以上."""
    care = lin_targets()[90]
    assert care.programmes == ()
    assert set(care.occupations) == CARE_OCCUPATIONS
    assert len(care.occupations) == len(CARE_OCCUPATIONS)
    assert {CK.SKILL_LEVEL, CK.VOCATIONAL_QUALIFICATION} <= set(care.kinds)
    assert CK.TRAINING_QUALIFICATION not in care.kinds
    assert care.min_level is None
    assert care.percent.source.startswith("004 二(六)")
    assert "90%" in care.percent.source


def test_the_care_occupations_are_in_the_occupation_catalogue():
    assert len(CARE_OCCUPATIONS) == 4
    assert all(re.fullmatch(r"\d-\d{2}-\d{2}-\d{2}", code) for code in CARE_OCCUPATIONS)


@pytest.mark.parametrize(
    ("programme", "occupation", "expected"),
    [
        pytest.param(P.PUHUI, "电工", set(), id="puhui-electrician-no-target"),
        pytest.param(P.PROJECT, "电工", set(), id="project-electrician-no-target"),
        pytest.param(P.ORDER, "电工", {50}, id="order-electrician"),
        pytest.param(P.ORDER, "中式烹调师", {50}, id="order-cook"),
        pytest.param(P.ORDER, "养老护理员", {50, 90}, id="order-elderly-carer-both"),
        pytest.param(P.PUHUI, "养老护理员", {90}, id="puhui-elderly-carer"),
        pytest.param(P.PUHUI, "健康照护师", {90}, id="puhui-health-carer"),
        pytest.param(P.PROJECT, "家政服务员", {90}, id="project-housekeeper"),
        pytest.param(P.ENTERPRISE, "育婴员", {90}, id="enterprise-nursery-worker"),
        pytest.param(P.PUHUI, "保育师", set(), id="puhui-childcare-not-a-care-brand-occupation"),
    ],
)
def test_which_lin_targets_apply_to_a_class(programme, occupation, expected):
    code = OCCUPATIONS.get(occupation, occupation)
    applying = {percent for percent, t in lin_targets().items() if t.applies_to(programme, code)}
    assert applying == expected


@pytest.mark.parametrize("programme", list(P), ids=str)
def test_an_order_class_of_any_occupation_has_the_fifty_percent_target_and_only_order(programme):
    order = lin_targets()[50]
    for code in [*OCCUPATIONS.values(), ""]:
        assert order.applies_to(programme, code) is (programme is P.ORDER), (programme, code)
        assert order.applies_to(str(programme), code) is (programme is P.ORDER)


@pytest.mark.parametrize("programme", list(P), ids=str)
def test_the_care_target_applies_under_every_programme_to_the_care_occupations_only(programme):
    care = lin_targets()[90]
    for code in OCCUPATIONS.values():
        assert care.applies_to(programme, code) is (code in CARE_OCCUPATIONS), (programme, code)


@pytest.mark.parametrize(
    ("percent", "kind", "level", "counts"),
    [
        pytest.param(50, CK.SKILL_LEVEL, "初级", True, id="order-skill-初级"),
        pytest.param(50, CK.VOCATIONAL_QUALIFICATION, "初级", True, id="order-qualification-初级"),
        pytest.param(50, CK.SKILL_LEVEL, "中级", True, id="order-中级-reaches-初级"),
        pytest.param(50, CK.VOCATIONAL_QUALIFICATION, "高级技师", True, id="order-高级技师-reaches-初级"),
        pytest.param(50, CK.SKILL_LEVEL, "", False, id="order-skill-without-level"),
        pytest.param(50, CK.SPECIAL_ABILITY, "", False, id="order-special-ability-not-counted"),
        pytest.param(50, CK.SPECIAL_OPERATION, "", False, id="order-special-operation-not-counted"),
        pytest.param(50, CK.SPECIAL_EQUIPMENT, "", False, id="order-special-equipment-not-counted"),
        pytest.param(50, CK.TRAINING_QUALIFICATION, "", False, id="order-training-certificate-not-counted"),
        pytest.param(90, CK.SKILL_LEVEL, "初级", True, id="care-skill-初级"),
        pytest.param(90, CK.VOCATIONAL_QUALIFICATION, "技师", True, id="care-qualification-技师"),
        pytest.param(90, CK.SPECIAL_ABILITY, "", True, id="care-special-ability"),
        pytest.param(90, CK.TRAINING_QUALIFICATION, "", False, id="care-training-certificate-not-counted"),
    ],
)
def test_which_certificates_count_toward_a_lin_target(percent, kind, level, counts):
    assert lin_targets()[percent].counts(kind, level) is counts


@pytest.mark.parametrize("region", sorted(SHIPPED))
def test_a_training_certificate_never_counts_toward_any_target(region):
    for target in shipped()[region].certificate_targets:
        for level in ("", *LEVELS):
            assert not target.counts(CK.TRAINING_QUALIFICATION, level), (target.name, level)


# 002 第六条: Yangquan's order and project openings are approved by the city; 004 二(三): Lin's
# order openings by the city. Everything else by the county.
CITY_APPROVED = {YANGQUAN: {P.ORDER, P.PROJECT}, LIN: {P.ORDER}}


@pytest.mark.parametrize(("region", "programme"), [(r, p) for r in sorted(SHIPPED) for p in P],
                         ids=lambda v: str(v))
def test_approval_level_for_every_region_and_programme(region, programme):
    expected = RegionLevel.CITY if programme in CITY_APPROVED.get(region, set()) else RegionLevel.COUNTY
    assert shipped()[region].class_opening.approval_level(programme) is expected


@pytest.mark.parametrize("region", sorted(SHIPPED))
def test_only_huguan_issues_vouchers_without_a_reviewer(region):
    assert shipped()[region].vouchers.auto_issue.value is (region == HUGUAN)


@pytest.mark.parametrize("region", sorted(SHIPPED))
def test_vouchers_stay_valid_for_at_least_a_day(region):
    assert shipped()[region].vouchers.valid_days.value >= 1


# --- policy_for -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("region_code", "expected"),
    [
        pytest.param(XINZHOU, XINZHOU, id="140900-xinzhou-own-file"),
        pytest.param(HUGUAN, HUGUAN, id="140427-huguan-own-file"),
        pytest.param(WENSHUI, WENSHUI, id="141121-wenshui-own-file"),
        pytest.param(YANGQUAN, YANGQUAN, id="140300-yangquan-own-file"),
        pytest.param(LIN, LIN, id="141124-lin-own-file"),
        pytest.param("140302", YANGQUAN, id="140302-yangquan-district-gets-city"),
        pytest.param("140321", YANGQUAN, id="140321-yangquan-county-gets-city"),
        pytest.param("140902", XINZHOU, id="140902-xinzhou-district-gets-city"),
        pytest.param("140427100", HUGUAN, id="140427100-huguan-township-gets-county"),
        pytest.param("141124101", LIN, id="141124101-lin-township-gets-county"),
    ],
)
def test_the_nearest_enclosing_policy_applies(region_code, expected):
    policies = shipped()
    assert policy_for(region_code, policies) is policies[expected]


@pytest.mark.parametrize(
    "region_code",
    [
        pytest.param("140400", id="140400-changzhi-city-no-file"),
        pytest.param("140000", id="140000-province-no-file"),
        pytest.param("140402", id="140402-changzhi-district-no-file"),
        pytest.param("141100", id="141100-lvliang-city-above-its-counties"),
        pytest.param("110101", id="110101-other-province"),
    ],
)
def test_a_region_without_any_enclosing_policy_is_refused(region_code):
    # Without the province default (140000.json), which now catches every Shanxi region.
    regional = {code: policy for code, policy in shipped().items() if code != "140000"}
    with pytest.raises(NoPolicy) as refused:
        policy_for(region_code, regional)
    assert isinstance(refused.value, DomainError)
    assert refused.value.code == "NO_REGION_POLICY"
    assert refused.value.details == {"region_code": region_code}
    assert "政策" in refused.value.message


# --- parse_policy refusals ------------------------------------------------------------------

VALID = {
    "region_code": "140427",
    "name": "壶关县",
    "seed": "001 壶关县 2024-05-24",
    "effective_from": "2024-05-24",
    "vouchers": {
        "auto_issue": {"value": True, "source": "001 三(一)"},
        "valid_days": {"value": 180, "source": "product default"},
    },
    "class_opening": {
        "lead_days": {
            "default": {"value": 7, "source": "001 三(一)"},
            "order": {"value": 15, "source": "003 三(三)"},
        },
        "city_approval": {"value": ["order"], "source": "002 第六条"},
    },
    "checkins": {name: {"value": value, "source": "product default"} for name, value in {
        "window_before_min": 30, "window_after_start_min": 15, "signout_required": False,
        "signout_before_min": 10, "signout_after_min": 30, "uncertain": "accept_flagged",
        "refuse_accuracy_m": 500, "flag_accuracy_m": 100, "max_offline_hours": 12,
        "voucher_signin_required": False, "evidence_days": 730}.items()},
    "completion": {"lead_days": {"value": 3, "source": "000 二(二)(3)"}},
    "certificates": {"targets": [
        {"name": "订单式培训取证率", "programmes": ["order"], "occupations": [],
         "kinds": ["skill_level", "vocational_qualification"], "min_level": "初级",
         "percent": {"value": 50, "source": "004 二(三)"}},
    ]},
}


def test_the_valid_document_parses():
    policy = parse_policy(copy.deepcopy(VALID))
    assert policy.region_code == "140427"
    assert policy.effective_from == date(2024, 5, 24)
    assert policy.vouchers.valid_days.value == 180
    assert policy.class_opening.lead_days_for(P.ORDER).value == 15
    assert policy.class_opening.lead_days_for(P.PROJECT).value == 7
    assert policy.class_opening.approval_level(P.ORDER) is RegionLevel.CITY


def test_the_valid_document_s_completion_and_target_parse():
    policy = parse_policy(copy.deepcopy(VALID))
    assert policy.completion.lead_days.value == 3
    assert policy.completion.lead_days.source == "000 二(二)(3)"
    (target,) = policy.certificate_targets
    assert target.name == "订单式培训取证率"
    assert target.programmes == ("order",)
    assert target.occupations == ()
    assert target.kinds == (CertificateKind.SKILL_LEVEL, CertificateKind.VOCATIONAL_QUALIFICATION)
    assert all(isinstance(kind, CertificateKind) for kind in target.kinds)
    assert target.min_level == "初级"
    assert target.percent.value == 50


def test_no_targets_and_a_zero_completion_lead_time_are_allowed():
    doc = copy.deepcopy(VALID)
    doc["certificates"]["targets"] = []
    doc["completion"]["lead_days"]["value"] = 0
    policy = parse_policy(doc)
    assert policy.certificate_targets == ()
    assert policy.completion.lead_days.value == 0


@pytest.mark.parametrize("percent", [1, 100])
def test_a_target_of_1_to_100_percent_is_allowed(percent):
    doc = copy.deepcopy(VALID)
    doc["certificates"]["targets"][0]["percent"]["value"] = percent
    assert parse_policy(doc).certificate_targets[0].percent.value == percent


@pytest.mark.parametrize("key", ["programmes", "occupations", "min_level"])
@pytest.mark.parametrize("empty", ["absent", None])
def test_a_target_may_leave_programmes_occupations_and_level_open(key, empty):
    """No programmes: any programme; no occupations: any occupation; no min_level: any level."""
    doc = copy.deepcopy(VALID)
    target = doc["certificates"]["targets"][0]
    if empty == "absent":
        del target[key]
    else:
        target[key] = empty
    parsed = parse_policy(doc).certificate_targets[0]
    assert parsed.applies_to(P.PUHUI if key == "programmes" else P.ORDER, "6-31-01-03")
    assert parsed.counts(CertificateKind.SKILL_LEVEL, "初级")
    if key == "min_level":
        assert parsed.min_level is None


def test_a_target_with_several_occupations_and_every_level_parses():
    doc = copy.deepcopy(VALID)
    for level in LEVELS:
        doc["certificates"]["targets"].append({
            "name": f"{level}取证率", "programmes": ["puhui", "project"], "occupations": ["4-10-01-05"],
            "kinds": ["special_ability"], "min_level": level,
            "percent": {"value": 90, "source": "004 二(六)"}})
    targets = parse_policy(doc).certificate_targets
    assert [t.min_level for t in targets[1:]] == list(LEVELS)
    assert targets[1].programmes == ("puhui", "project")


def test_a_zero_lead_time_is_allowed():
    doc = copy.deepcopy(VALID)
    doc["class_opening"]["lead_days"]["default"]["value"] = 0
    assert parse_policy(doc).class_opening.lead_days_for(P.PUHUI).value == 0


DELETE = object()
LEAD = "class_opening.lead_days"
COMPLETION_LEAD = "completion.lead_days"
TARGETS = "certificates.targets"
TARGET = "certificates.targets.0"


def _set(path: str, value):
    """A copy of VALID with the entry at `path` replaced (or removed when value is DELETE)."""

    def mutate(doc):
        *parents, last = path.split(".")
        node = doc
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        key = int(last) if isinstance(node, list) else last
        if value is DELETE:
            del node[key]
        else:
            node[key] = value
        return doc

    return mutate


def _second_target(**changes):
    """A copy of VALID with a second target: the first one with `changes`."""

    def mutate(doc):
        targets = doc["certificates"]["targets"]
        targets.append({**copy.deepcopy(targets[0]), **changes})
        return doc

    return mutate


# (how the document is broken, what the refusal must name)
MALFORMED = [
    pytest.param(_set("region_code", DELETE), "region_code", id="missing-region_code"),
    pytest.param(_set("region_code", "14042"), "region_code", id="region_code-five-digits"),
    pytest.param(_set("region_code", "1404270"), "region_code", id="region_code-seven-digits"),
    pytest.param(_set("region_code", "壶关县"), "region_code", id="region_code-a-name"),
    pytest.param(_set("region_code", "140427\n"), "region_code", id="region_code-trailing-newline"),
    pytest.param(_set("region_code", 140427), "region_code", id="region_code-a-number"),
    pytest.param(_set("effective_from", "2024-13-01"), "effective_from", id="effective_from-no-such-month"),
    pytest.param(_set("effective_from", "24/05/2024"), "effective_from", id="effective_from-not-iso"),
    pytest.param(_set("effective_from", None), "effective_from", id="effective_from-null"),
    pytest.param(_set("effective_from", DELETE), "effective_from", id="missing-effective_from"),
    pytest.param(_set("name", DELETE), "name", id="missing-name"),
    pytest.param(_set("seed", DELETE), "seed", id="missing-seed"),
    pytest.param(_set(f"{LEAD}.default", DELETE), "lead_days", id="lead_days-without-default"),
    pytest.param(_set(LEAD, DELETE), "lead_days", id="missing-lead_days"),
    pytest.param(_set(LEAD, [7]), "lead_days", id="lead_days-a-list"),
    pytest.param(_set("class_opening", DELETE), "class_opening", id="missing-class_opening"),
    pytest.param(_set("class_opening", []), "class_opening", id="class_opening-a-list"),
    pytest.param(_set(f"{LEAD}.weekly", {"value": 3, "source": "000"}), "weekly",
                 id="lead_days-unknown-programme"),
    pytest.param(_set(f"{LEAD}.default", 7), "lead_days.default", id="lead_days-bare-number"),
    pytest.param(_set(f"{LEAD}.default.source", DELETE), "lead_days.default",
                 id="lead_days-number-without-source"),
    pytest.param(_set(f"{LEAD}.order.source", ""), "lead_days.order", id="lead_days-empty-source"),
    pytest.param(_set(f"{LEAD}.order.source", "   "), "lead_days.order", id="lead_days-blank-source"),
    pytest.param(_set(f"{LEAD}.order.source", 3), "lead_days.order", id="lead_days-source-a-number"),
    pytest.param(_set(f"{LEAD}.order.note", "x"), "lead_days.order", id="lead_days-extra-key"),
    pytest.param(_set(f"{LEAD}.default.value", -1), "lead_days.default", id="lead_days-negative"),
    pytest.param(_set(f"{LEAD}.default.value", True), "lead_days.default", id="lead_days-boolean"),
    pytest.param(_set(f"{LEAD}.default.value", "7"), "lead_days.default", id="lead_days-string"),
    pytest.param(_set(f"{LEAD}.default.value", 7.5), "lead_days.default", id="lead_days-fraction"),
    pytest.param(_set(f"{LEAD}.default.value", None), "lead_days.default", id="lead_days-null"),
    pytest.param(_set("vouchers.valid_days.value", 0), "valid_days", id="valid_days-zero"),
    pytest.param(_set("vouchers.valid_days.value", -30), "valid_days", id="valid_days-negative"),
    pytest.param(_set("vouchers.valid_days.value", False), "valid_days", id="valid_days-boolean"),
    pytest.param(_set("vouchers.valid_days.source", ""), "valid_days", id="valid_days-empty-source"),
    pytest.param(_set("vouchers.valid_days", DELETE), "valid_days", id="missing-valid_days"),
    pytest.param(_set("vouchers", DELETE), "vouchers", id="missing-vouchers"),
    pytest.param(_set("vouchers.auto_issue.value", "true"), "auto_issue", id="auto_issue-string"),
    pytest.param(_set("vouchers.auto_issue.value", 1), "auto_issue", id="auto_issue-number"),
    pytest.param(_set("vouchers.auto_issue.value", None), "auto_issue", id="auto_issue-null"),
    pytest.param(_set("vouchers.auto_issue.source", " "), "auto_issue", id="auto_issue-blank-source"),
    pytest.param(_set("class_opening.city_approval.value", ["order", "weekly"]), "city_approval",
                 id="city_approval-unknown-programme"),
    pytest.param(_set("class_opening.city_approval.value", "order"), "city_approval",
                 id="city_approval-a-string"),
    pytest.param(_set("class_opening.city_approval.source", ""), "city_approval",
                 id="city_approval-empty-source"),
    pytest.param(_set("class_opening.city_approval", DELETE), "city_approval",
                 id="missing-city_approval"),
    # completion (000 二(二)(3))
    pytest.param(_set("completion", DELETE), "completion.lead_days", id="missing-completion"),
    pytest.param(_set("completion", []), "completion.lead_days", id="completion-a-list"),
    pytest.param(_set(COMPLETION_LEAD, DELETE), "completion.lead_days", id="missing-completion-lead_days"),
    pytest.param(_set(COMPLETION_LEAD, 3), "completion.lead_days", id="completion-lead-bare-number"),
    pytest.param(_set(f"{COMPLETION_LEAD}.source", DELETE), "completion.lead_days",
                 id="completion-lead-without-source"),
    pytest.param(_set(f"{COMPLETION_LEAD}.source", ""), "completion.lead_days",
                 id="completion-lead-empty-source"),
    pytest.param(_set(f"{COMPLETION_LEAD}.source", "  "), "completion.lead_days",
                 id="completion-lead-blank-source"),
    pytest.param(_set(f"{COMPLETION_LEAD}.note", "x"), "completion.lead_days",
                 id="completion-lead-extra-key"),
    pytest.param(_set(f"{COMPLETION_LEAD}.value", -1), "completion.lead_days", id="completion-lead-negative"),
    pytest.param(_set(f"{COMPLETION_LEAD}.value", True), "completion.lead_days",
                 id="completion-lead-boolean"),
    pytest.param(_set(f"{COMPLETION_LEAD}.value", "3"), "completion.lead_days", id="completion-lead-string"),
    pytest.param(_set(f"{COMPLETION_LEAD}.value", 2.5), "completion.lead_days",
                 id="completion-lead-fraction"),
    pytest.param(_set(f"{COMPLETION_LEAD}.value", None), "completion.lead_days", id="completion-lead-null"),
    # certificate-rate targets (004 二(三), 二(六))
    pytest.param(_set("certificates", DELETE), "certificates.targets", id="missing-certificates"),
    pytest.param(_set("certificates", []), "certificates.targets", id="certificates-a-list"),
    pytest.param(_set(TARGETS, DELETE), "certificates.targets", id="missing-targets"),
    pytest.param(_set(TARGETS, {}), "certificates.targets", id="targets-an-object"),
    pytest.param(_set(TARGETS, None), "certificates.targets", id="targets-null"),
    pytest.param(_set(TARGETS, "订单式培训取证率"), "certificates.targets", id="targets-a-string"),
    pytest.param(_set(TARGET, "订单式培训取证率"), TARGET, id="target-a-string"),
    pytest.param(_set(TARGET, None), TARGET, id="target-null"),
    pytest.param(_set(f"{TARGET}.name", DELETE), TARGET, id="target-without-name"),
    pytest.param(_set(f"{TARGET}.name", ""), TARGET, id="target-empty-name"),
    pytest.param(_set(f"{TARGET}.name", "   "), TARGET, id="target-blank-name"),
    pytest.param(_set(f"{TARGET}.name", None), TARGET, id="target-null-name"),
    pytest.param(_set(f"{TARGET}.programmes", ["weekly"]), f"{TARGET}.programmes",
                 id="target-unknown-programme"),
    pytest.param(_set(f"{TARGET}.programmes", ["order", "Order"]), f"{TARGET}.programmes",
                 id="target-programme-wrong-case"),
    pytest.param(_set(f"{TARGET}.programmes", ["订单式"]), f"{TARGET}.programmes",
                 id="target-programme-label-not-value"),
    pytest.param(_set(f"{TARGET}.programmes", "order"), f"{TARGET}.programmes",
                 id="target-programmes-a-string"),
    pytest.param(_set(f"{TARGET}.occupations", [4100105]), f"{TARGET}.occupations",
                 id="target-occupation-a-number"),
    pytest.param(_set(f"{TARGET}.occupations", ["4-10-01-05", None]), f"{TARGET}.occupations",
                 id="target-occupation-null"),
    pytest.param(_set(f"{TARGET}.kinds", ["diploma"]), f"{TARGET}.kinds", id="target-unknown-kind"),
    pytest.param(_set(f"{TARGET}.kinds", ["skill_level", "职业技能等级证书"]), f"{TARGET}.kinds",
                 id="target-kind-label-not-value"),
    pytest.param(_set(f"{TARGET}.kinds", "skill_level"), f"{TARGET}.kinds", id="target-kinds-a-string"),
    pytest.param(_set(f"{TARGET}.kinds", []), f"{TARGET}.kinds", id="target-empty-kinds"),
    pytest.param(_set(f"{TARGET}.kinds", None), f"{TARGET}.kinds", id="target-null-kinds"),
    pytest.param(_set(f"{TARGET}.kinds", DELETE), f"{TARGET}.kinds", id="target-without-kinds"),
    pytest.param(_set(f"{TARGET}.min_level", "五级"), f"{TARGET}.min_level", id="target-min_level-五级"),
    pytest.param(_set(f"{TARGET}.min_level", "初级工"), f"{TARGET}.min_level", id="target-min_level-初级工"),
    pytest.param(_set(f"{TARGET}.min_level", ""), f"{TARGET}.min_level", id="target-min_level-empty"),
    pytest.param(_set(f"{TARGET}.min_level", 1), f"{TARGET}.min_level", id="target-min_level-a-number"),
    pytest.param(_set(f"{TARGET}.percent.value", 0), f"{TARGET}.percent", id="target-percent-zero"),
    pytest.param(_set(f"{TARGET}.percent.value", 101), f"{TARGET}.percent", id="target-percent-101"),
    pytest.param(_set(f"{TARGET}.percent.value", -50), f"{TARGET}.percent", id="target-percent-negative"),
    pytest.param(_set(f"{TARGET}.percent.value", 50.5), f"{TARGET}.percent", id="target-percent-fraction"),
    pytest.param(_set(f"{TARGET}.percent.value", "50"), f"{TARGET}.percent", id="target-percent-string"),
    pytest.param(_set(f"{TARGET}.percent.value", True), f"{TARGET}.percent", id="target-percent-boolean"),
    pytest.param(_set(f"{TARGET}.percent.value", None), f"{TARGET}.percent", id="target-percent-null"),
    pytest.param(_set(f"{TARGET}.percent", 50), f"{TARGET}.percent", id="target-percent-not-sourced"),
    pytest.param(_set(f"{TARGET}.percent.source", ""), f"{TARGET}.percent", id="target-percent-empty-source"),
    pytest.param(_set(f"{TARGET}.percent.source", DELETE), f"{TARGET}.percent",
                 id="target-percent-without-source"),
    pytest.param(_set(f"{TARGET}.percent", DELETE), f"{TARGET}.percent", id="target-without-percent"),
    pytest.param(_second_target(kinds=["diploma"]), "certificates.targets.1.kinds",
                 id="second-target-unknown-kind"),
    pytest.param(_second_target(name=""), "certificates.targets.1", id="second-target-without-name"),
    pytest.param(_second_target(percent={"value": 0, "source": "004 二(六)"}),
                 "certificates.targets.1.percent", id="second-target-percent-zero"),
]


@pytest.mark.parametrize(("mutate", "names"), MALFORMED)
def test_a_malformed_document_is_refused(mutate, names):
    with pytest.raises(PolicyInvalid):
        parse_policy(mutate(copy.deepcopy(VALID)))


@pytest.mark.parametrize(("mutate", "names"), MALFORMED)
def test_the_refusal_names_the_bad_entry(mutate, names):
    """The deployer reads this message when the service refuses to start."""
    with pytest.raises(PolicyInvalid) as refused:
        parse_policy(mutate(copy.deepcopy(VALID)))
    assert names in str(refused.value)


@pytest.mark.parametrize("doc", [[], "140427", None], ids=["a-list", "a-string", "null"])
def test_a_document_that_is_not_an_object_is_refused(doc):
    with pytest.raises(PolicyInvalid):
        parse_policy(doc)


# --- who may approve an opening -------------------------------------------------------------

COUNTY, CITY = RegionLevel.COUNTY, RegionLevel.CITY


@pytest.mark.parametrize(
    ("approver", "class_region", "required", "allowed"),
    [
        pytest.param("140427", "140427", COUNTY, True, id="county-own-class-county-decides"),
        pytest.param("140427", "140427", CITY, False, id="county-own-class-city-must-decide"),
        pytest.param("140427", "140427100", COUNTY, True, id="county-township-class"),
        pytest.param("140427", "140427100", CITY, False, id="county-township-class-city-must-decide"),
        pytest.param("140427", "141124", COUNTY, False, id="county-other-county"),
        pytest.param("140302", "140321", COUNTY, False, id="county-neighbour-in-same-city"),
        pytest.param("140302", "140300", COUNTY, False, id="county-deciding-its-city-s-class"),
        pytest.param("140300", "140302", CITY, True, id="city-its-county-city-decides"),
        pytest.param("140300", "140302", COUNTY, True, id="city-its-county-county-level"),
        pytest.param("140300", "140300", CITY, True, id="city-own-class"),
        pytest.param("140300", "140427", CITY, False, id="city-outside-its-area"),
        pytest.param("140900", "140427", COUNTY, False, id="xinzhou-deciding-huguan-outside"),
        pytest.param("140900", "140427", CITY, False, id="xinzhou-deciding-huguan-outside-city"),
        pytest.param("140000", "140427", CITY, True, id="province-city-level"),
        pytest.param("140000", "140302", COUNTY, True, id="province-county-level"),
        pytest.param("140000", "150102", CITY, False, id="province-other-province"),
        pytest.param("140427100", "140427100", CITY, False, id="township-city-level"),
    ],
)
def test_approver_can_decide(approver, class_region, required, allowed):
    assert approver_can_decide(approver, class_region, required) is allowed



def test_only_wenshui_asks_for_the_voucher_sign_in_as_well():
    """003 三(四): 本人签到和使用电子券签到两种方式同步进行."""
    required = {code for code, policy in shipped().items() if policy.checkins.voucher_signin_required.value}
    assert required == {"141121"}


def test_selfies_are_kept_two_years_everywhere_by_default():
    assert {policy.checkins.evidence_days.value for policy in shipped().values()} == {730}


@pytest.mark.parametrize("change,names", [
    pytest.param(lambda d: d["checkins"]["uncertain"].update(value="maybe"), "uncertain",
                 id="uncertain-unknown"),
    pytest.param(lambda d: d["checkins"]["flag_accuracy_m"].update(value=600), "flag_accuracy_m",
                 id="flag-above-refuse"),
    pytest.param(lambda d: d["checkins"].update(extra={"value": 1, "source": "x"}), "unknown",
                 id="unknown-key"),
    pytest.param(lambda d: d.pop("checkins"), "checkins", id="missing"),
    pytest.param(lambda d: d["checkins"]["evidence_days"].update(value=0), "evidence_days", id="no-evidence"),
    pytest.param(lambda d: d["checkins"]["signout_required"].update(value="yes"), "signout_required",
                 id="signout-not-bool"),
])
def test_a_bad_checkin_section_is_refused_naming_the_entry(change, names):
    doc = copy.deepcopy(VALID)
    change(doc)
    with pytest.raises(PolicyInvalid) as refused:
        parse_policy(doc)
    assert names in str(refused.value)
