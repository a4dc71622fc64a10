"""Regional policy files: every shipped file is valid and says what its seed says; malformed
documents are refused; the nearest policy applies; who may approve an opening."""

from __future__ import annotations

import copy
import json
import re
from datetime import date
from pathlib import Path

import pytest

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
    with pytest.raises(NoPolicy) as refused:
        policy_for(region_code, shipped())
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
}


def test_the_valid_document_parses():
    policy = parse_policy(copy.deepcopy(VALID))
    assert policy.region_code == "140427"
    assert policy.effective_from == date(2024, 5, 24)
    assert policy.vouchers.valid_days.value == 180
    assert policy.class_opening.lead_days_for(P.ORDER).value == 15
    assert policy.class_opening.lead_days_for(P.PROJECT).value == 7
    assert policy.class_opening.approval_level(P.ORDER) is RegionLevel.CITY


def test_a_zero_lead_time_is_allowed():
    doc = copy.deepcopy(VALID)
    doc["class_opening"]["lead_days"]["default"]["value"] = 0
    assert parse_policy(doc).class_opening.lead_days_for(P.PUHUI).value == 0


DELETE = object()
LEAD = "class_opening.lead_days"


def _set(path: str, value):
    """A copy of VALID with the entry at `path` replaced (or removed when value is DELETE)."""

    def mutate(doc):
        *parents, last = path.split(".")
        node = doc
        for part in parents:
            node = node[part]
        if value is DELETE:
            del node[last]
        else:
            node[last] = value
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
