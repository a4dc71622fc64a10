"""The subsidy sections of the regional policy files (SPEC §6): every file ships one; every number
cites its seed or names its assumption and says the figure its seed says; each region's standards
are what its seed says (written out here independently of the files); the province file is the
default for a Shanxi region without its own; malformed sections are refused naming the entry; the
version in force on a date."""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from datetime import date
from pathlib import Path

import pytest

from server.domain.errors import DomainError
from server.domain.policy import NoPolicy, PolicyInvalid, RegionPolicy, Sourced, parse_policy, policy_for
from server.domain.subsidy_policy import NoSubsidyPolicy, ProgrammeNotSubsidised, subsidy_version
from server.services.policies import for_region

POLICY_DIR = Path(__file__).resolve().parents[2] / "server" / "data" / "policies"
POLICY_FILES = sorted(POLICY_DIR.glob("*.json"))
XINZHOU, HUGUAN, YANGQUAN, WENSHUI, LIN, SHANXI = "140900", "140427", "140300", "141121", "141124", "140000"
SEED_OF = {XINZHOU: "000", HUGUAN: "001", YANGQUAN: "002", WENSHUI: "003", LIN: "004"}
SEED_CITATION = re.compile(r"(?<![0-9])00[0-4](?![0-9])")


def load(code: str) -> dict:
    return json.loads((POLICY_DIR / f"{code}.json").read_text(encoding="utf-8"))


def shipped() -> dict[str, RegionPolicy]:
    return {path.stem: parse_policy(json.loads(path.read_text(encoding="utf-8"))) for path in POLICY_FILES}


def version(code: str, on: date = date(2025, 1, 6)):
    return subsidy_version(shipped()[code], on)


def sourced_entries(node: object, path: str = "subsidy") -> dict[str, Sourced]:
    """Every {value, source} entry under a parsed subsidy section, by a readable path."""
    if isinstance(node, Sourced):
        return {path: node}
    found: dict[str, Sourced] = {}
    if dataclasses.is_dataclass(node):
        for field in dataclasses.fields(node):
            found |= sourced_entries(getattr(node, field.name), f"{path}.{field.name}")
    elif isinstance(node, dict):
        for key, value in node.items():
            found |= sourced_entries(value, f"{path}.{key}")
    elif isinstance(node, tuple):
        for i, value in enumerate(node):
            found |= sourced_entries(value, f"{path}.{i}")
    return found


# --- every file -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", POLICY_FILES, ids=lambda p: p.name)
def test_every_policy_file_has_at_least_one_subsidy_version(path):
    policy = parse_policy(json.loads(path.read_text(encoding="utf-8")))
    assert policy.subsidy is not None
    assert len(policy.subsidy.versions) >= 1


@pytest.mark.parametrize("path", POLICY_FILES, ids=lambda p: p.name)
def test_every_subsidy_entry_cites_a_seed_clause_or_names_its_assumption(path):
    policy = parse_policy(json.loads(path.read_text(encoding="utf-8")))
    entries = sourced_entries(policy.subsidy)
    assert len(entries) > 20
    for where, entry in entries.items():
        assert SEED_CITATION.search(entry.source) or entry.source.startswith("product"), (where, entry.source)


@pytest.mark.parametrize("region", sorted(SEED_OF))
def test_a_region_s_subsidy_clauses_cite_its_own_seed(region):
    for where, entry in sourced_entries(shipped()[region].subsidy).items():
        assert entry.source.startswith((SEED_OF[region], "product assumption")), (where, entry.source)


@pytest.mark.parametrize("path", POLICY_FILES, ids=lambda p: p.name)
def test_every_amount_rate_and_duration_is_the_figure_its_source_quotes(path):
    """15000 fen cites "150元", 80 percent "80%", 10 days "10天", 24 class hours "24学时"."""
    policy = parse_policy(json.loads(path.read_text(encoding="utf-8")))
    for where, entry in sourced_entries(policy.subsidy).items():
        name = where.rsplit(".", 1)[-1]
        if name.endswith("_fen"):
            assert entry.value % 100 == 0, where
            assert f"{entry.value // 100}元" in entry.source, (where, entry.source)
        elif name.endswith("_percent"):
            assert f"{entry.value}%" in entry.source, (where, entry.source)
        elif name in ("days", "min_days"):
            assert f"{entry.value}天" in entry.source, (where, entry.source)
        elif name == "min_class_hours":
            assert f"{entry.value}学时" in entry.source, (where, entry.source)


# --- each region's standards, written out from the seeds -------------------------------------

# (tiers as (days, yuan a day), cap in yuan, count basis, employment threshold, below it)
ORDER = {
    XINZHOU: ([(10, 150), (None, 100)], 5000, "trained", 80, "employed_only"),  # 000 三(三)
    HUGUAN: ([(10, 150), (None, 100)], 5000, "trained", 80, "employed_only"),  # 001 二(六)
    YANGQUAN: ([(10, 150), (None, 100)], 5000, "passed", 80, "employed_only"),  # 002 第六条: 合格人数
    WENSHUI: ([(10, 150), (None, 100)], 4000, "trained", 80, "puhui_rate"),  # 003 五(二); rates assumed
    LIN: ([(10, 150), (None, 100)], 4000, "trained", 80, "puhui_rate"),  # 004 二(三), 五(三)
    SHANXI: ([(10, 150), (None, 100)], 5000, "trained", 80, "employed_only"),
}
PROGRAMMES = {
    XINZHOU: {"order", "project"},
    HUGUAN: {"order", "project", "enterprise"},
    YANGQUAN: {"order", "project", "enterprise", "apprentice", "startup"},
    WENSHUI: {"puhui", "order"},
    LIN: {"puhui", "order", "enterprise", "startup"},
    SHANXI: {"puhui", "order", "project", "enterprise", "startup", "apprentice"},
}


def tiers_of(rule) -> list[tuple[int | None, int]]:
    return [(t.days.value if t.days else None, t.daily_fen.value // 100) for t in rule.tiers]


@pytest.mark.parametrize("region", sorted(PROGRAMMES))
def test_which_programmes_each_region_subsidises(region):
    assert set(version(region).programmes) == PROGRAMMES[region]


@pytest.mark.parametrize("region", sorted(ORDER))
def test_order_type_standards(region):
    tiers, cap, basis, threshold, below = ORDER[region]
    rule = version(region).programmes["order"]
    assert tiers_of(rule) == tiers
    assert rule.cap_fen.value == cap * 100
    assert rule.count_basis.value == basis
    assert rule.employment.threshold_percent.value == threshold
    assert rule.employment.below.value == below


@pytest.mark.parametrize("region", [XINZHOU, HUGUAN, YANGQUAN, SHANXI])
def test_project_type_follows_the_order_type_standard(region):
    programmes = version(region).programmes
    assert programmes["project"].tiers == programmes["order"].tiers
    assert programmes["project"].employment == programmes["order"].employment


@pytest.mark.parametrize("region", [WENSHUI, LIN, SHANXI])
def test_puhui_is_100_yuan_a_day_capped_at_1000(region):
    """004 二(三): 每人每天100元、原则上每人不超过1000元; Wenshui assumes Lin's (003 names none)."""
    rule = version(region).programmes["puhui"]
    assert tiers_of(rule) == [(None, 100)]
    assert rule.cap_fen.value == 100000


def test_wenshui_s_missing_rates_say_they_are_assumptions():
    programmes = version(WENSHUI, date(2023, 6, 1)).programmes
    for entry in (*(t.daily_fen for t in programmes["order"].tiers), programmes["order"].cap_fen,
                  programmes["puhui"].tiers[0].daily_fen, programmes["puhui"].cap_fen):
        assert entry.source.startswith("product assumption"), entry.source


@pytest.mark.parametrize("programme", ["puhui", "order"])
def test_wenshui_deducts_for_pass_rate_on_the_approved_roster_and_for_video_gaps(programme):
    rule = version(WENSHUI, date(2023, 6, 1)).programmes[programme]
    assert rule.pass_rate.threshold_percent.value == 80
    assert rule.pass_rate.base.value == "approved_roster"  # 003 五(二): 以开班审批表人数为基数
    assert rule.video_gap.value is True
    assert rule.video_gap.source.startswith("003 五(二)")


@pytest.mark.parametrize("region", [XINZHOU, HUGUAN, YANGQUAN, LIN, SHANXI])
def test_only_wenshui_deducts_for_pass_rate_and_video(region):
    for rule in version(region).programmes.values():
        assert rule.pass_rate is None and rule.video_gap is None


# (yuan a person, minimum days, minimum class hours)
ENTERPRISE = {HUGUAN: (300, None, None), YANGQUAN: (300, 3, 24), LIN: (300, None, None),
              SHANXI: (300, None, None)}


@pytest.mark.parametrize("region", sorted(ENTERPRISE))
def test_enterprise_training_is_300_yuan_a_person(region):
    amount, min_days, min_hours = ENTERPRISE[region]
    rule = version(region).programmes["enterprise"]
    assert rule.per_person_fen.value == amount * 100
    assert (rule.min_days.value if rule.min_days else None) == min_days  # 002 第七条: 不少于3天
    assert (rule.min_class_hours.value if rule.min_class_hours else None) == min_hours  # （或24学时）


@pytest.mark.parametrize("region", [YANGQUAN, SHANXI])
def test_apprenticeship_is_5000_yuan_a_person_a_year(region):
    assert version(region).programmes["apprentice"].per_person_year_fen.value == 500000  # 002 第七条


@pytest.mark.parametrize("region", [YANGQUAN, LIN, SHANXI])
def test_startup_is_180_a_day_up_to_1800_in_two_stages(region):
    """004 二(五); Yangquan's 002 第八条 defers to the provincial rules Lin quotes."""
    rule = version(region).programmes["startup"]
    assert tiers_of(rule) == [(None, 180)]
    assert rule.cap_fen.value == 180000
    assert rule.count_basis.value == "passed"
    stages = rule.stages
    assert (stages.first_share_percent.value, stages.pass_rate.threshold_percent.value,
            stages.licence_rate_percent.value, stages.licence_within_months.value) == (80, 80, 20, 6)
    if region == YANGQUAN:
        assert rule.tiers[0].daily_fen.source.startswith("product assumption: 002 第八条")


LIVING = {
    XINZHOU: ({"poverty_alleviated", "hard_to_employ"}, 15),  # 000 三(一); amount assumed
    LIN: ({"poverty_alleviated", "monitored_household"}, 15),  # 004 二(三)
    SHANXI: ({"poverty_alleviated", "monitored_household"}, 15),
}


@pytest.mark.parametrize("region", [XINZHOU, HUGUAN, YANGQUAN, WENSHUI, LIN, SHANXI])
def test_living_allowance(region):
    allowance = version(region).living_allowance
    if region not in LIVING:
        assert allowance is None
        return
    categories, daily = LIVING[region]
    assert set(allowance.categories.value) == categories
    assert allowance.daily_fen.value == daily * 100
    assert allowance.daily_fen.source.startswith("004 二(三)" if region != XINZHOU else "product assumption")


LEVELLED = ("skill_level", "vocational_qualification")
LEVEL_YUAN = (("初级", 400), ("中级", 600), ("高级", 800))
CERTIFICATES_001_002 = {**{(kind, level): amount for kind in LEVELLED for level, amount in LEVEL_YUAN},
                        ("special_operation", ""): 400, ("special_equipment", ""): 400}
CERTIFICATES = {
    XINZHOU: {}, WENSHUI: {},
    HUGUAN: CERTIFICATES_001_002,  # 001 二(六)
    YANGQUAN: CERTIFICATES_001_002,  # 002 第九条
    LIN: {**CERTIFICATES_001_002, ("special_ability", ""): 200},  # 004 三
    SHANXI: {**CERTIFICATES_001_002, ("special_ability", ""): 200},
}


@pytest.mark.parametrize("region", sorted(CERTIFICATES))
def test_certificate_subsidies_by_kind_and_level(region):
    rates = {(str(kind), rate.level): rate.amount_fen.value // 100
             for rate in version(region).certificates for kind in rate.kinds}
    assert rates == CERTIFICATES[region]


def test_only_yangquan_pays_中级_only_on_a_first_certification():
    """002 第九条: 初次取证直接取……中级工每人600元; 001 二(六) says 初次取得中级工证书 (once per level)."""
    flagged = {code for code, policy in shipped().items()
               for rate in subsidy_version(policy, date(2025, 1, 6)).certificates
               if rate.first_certification_only and rate.first_certification_only.value}
    assert flagged == {YANGQUAN}


CLAIMS = {
    HUGUAN: ("11-30", "12-31", False, "per_class"),  # 001 四(三)
    LIN: ("12-31", "03-31", True, "quarterly"),  # 004 四
    WENSHUI: ("12-31", "03-31", True, "per_class"),  # assumed as Lin; 003 三(九) per class
    XINZHOU: ("11-30", "12-31", False, "per_class"),  # assumed as Huguan
    YANGQUAN: ("11-30", "12-31", False, "per_class"),
    SHANXI: ("11-30", "12-31", False, "per_class"),
}


@pytest.mark.parametrize("region", sorted(CLAIMS))
def test_claim_calendar(region):
    claims = version(region).claims
    assert (claims.statistics_close.value, claims.claim_by.value, claims.claim_in_next_year.value,
            claims.settlement.value) == CLAIMS[region]
    assumed = region in (WENSHUI, XINZHOU, YANGQUAN)
    assert claims.claim_by.source.startswith("product assumption") is assumed


EVIDENCE = {
    XINZHOU: ({"contract", "wage", "payroll", "social_insurance"}, 12, False),  # 000 三(一)
    WENSHUI: ({"contract", "business_licence"}, 6, True),  # 003 四(三)
    **dict.fromkeys((HUGUAN, YANGQUAN, LIN, SHANXI), ({"contract", "business_licence"}, 6, True)),
}


@pytest.mark.parametrize("region", sorted(EVIDENCE))
def test_employment_evidence_rules(region):
    rules = version(region).employment_evidence
    assert (set(rules.accepted.value), rules.contract_min_months.value,
            rules.contract_needs_payroll.value) == EVIDENCE[region]


# --- versions in force ----------------------------------------------------------------------


@pytest.mark.parametrize(("region", "first_day"), [
    pytest.param(XINZHOU, date(2024, 1, 1), id="xinzhou-2024-plan"),
    pytest.param(HUGUAN, date(2024, 1, 1), id="huguan-2024-plan"),
    pytest.param(YANGQUAN, date(2024, 10, 16), id="yangquan-from-issue"),  # 002 第十八条
    pytest.param(WENSHUI, date(2023, 1, 1), id="wenshui-2023-plan"),
    pytest.param(LIN, date(2023, 1, 1), id="lin-2023-plan"),
    pytest.param(SHANXI, date(2023, 1, 1), id="province"),
])
def test_the_standards_are_in_force_from_their_first_day(region, first_day):
    policy = shipped()[region]
    assert subsidy_version(policy, first_day).effective_from == first_day
    with pytest.raises(NoSubsidyPolicy) as refused:
        subsidy_version(policy, date.fromordinal(first_day.toordinal() - 1))
    assert refused.value.code == "NO_SUBSIDY_POLICY"
    assert refused.value.details["region_code"] == region


def test_yangquan_s_measures_lapse_after_two_years():
    """002 第十八条: 办法自印发之日起施行，有效期2年."""
    policy = shipped()[YANGQUAN]
    assert subsidy_version(policy, date(2026, 10, 15)).effective_from == date(2024, 10, 16)
    with pytest.raises(NoSubsidyPolicy):
        subsidy_version(policy, date(2026, 10, 16))


def two_versions() -> dict:
    doc = load(LIN)
    later = copy.deepcopy(doc["subsidy"][0])
    later["effective_from"] = "2024-03-01"
    later["programmes"]["puhui"]["tiers"][0]["daily_fen"] = {"value": 12000, "source": "004 next year: 120元"}
    later["until"] = {"value": "2024-12-31", "source": "004 next year"}
    doc["subsidy"].append(later)
    return doc


@pytest.mark.parametrize(("on", "daily_yuan"), [
    pytest.param(date(2023, 1, 1), 100, id="first-version-first-day"),
    pytest.param(date(2024, 2, 29), 100, id="first-version-last-day"),
    pytest.param(date(2024, 3, 1), 120, id="second-version-first-day"),
    pytest.param(date(2024, 12, 31), 120, id="second-version-until"),
])
def test_the_version_in_force_on_a_date_applies(on, daily_yuan):
    policy = parse_policy(two_versions())
    assert subsidy_version(policy, on).programmes["puhui"].tiers[0].daily_fen.value == daily_yuan * 100


def test_after_the_last_version_s_term_nothing_is_in_force():
    with pytest.raises(NoSubsidyPolicy):
        subsidy_version(parse_policy(two_versions()), date(2025, 1, 1))


def test_a_file_without_a_subsidy_section_has_no_standards():
    doc = load(LIN)
    del doc["subsidy"]
    policy = parse_policy(doc)
    assert policy.subsidy is None
    with pytest.raises(NoSubsidyPolicy) as refused:
        subsidy_version(policy, date(2023, 6, 1))
    assert isinstance(refused.value, DomainError)
    assert "补贴标准" in refused.value.message


def test_a_programme_the_version_does_not_cover_is_refused():
    with pytest.raises(ProgrammeNotSubsidised) as refused:
        version(XINZHOU).rule_for("puhui")
    assert refused.value.code == "PROGRAMME_NOT_SUBSIDISED"
    assert "普惠制培训" in refused.value.message


# --- the province default -------------------------------------------------------------------


@pytest.mark.parametrize("region_code", [
    pytest.param("140400", id="140400-changzhi-city"),
    pytest.param("140402", id="140402-changzhi-district"),
    pytest.param("141100", id="141100-lvliang-city-above-its-counties"),
    pytest.param("140100", id="140100-taiyuan"),
    pytest.param("140000", id="140000-the-province-itself"),
])
def test_a_shanxi_region_without_a_file_resolves_to_the_province(region_code):
    policies = shipped()
    assert policy_for(region_code, policies) is policies[SHANXI]
    assert for_region(region_code).region_code == SHANXI
    assert for_region(region_code).name == "山西省"


def test_changzhi_city_now_resolves_but_huguan_keeps_its_own():
    assert for_region("140400").region_code == SHANXI
    assert for_region("140427").region_code == HUGUAN
    assert for_region("140427100").region_code == HUGUAN


def test_a_region_outside_shanxi_still_has_no_policy():
    with pytest.raises(NoPolicy) as refused:
        policy_for("110101", shipped())
    assert refused.value.code == "NO_REGION_POLICY"


# --- malformed sections ---------------------------------------------------------------------

DELETE = object()
V = "subsidy.0"
ORDER_RULE = f"{V}.programmes.order"


def _set(path: str, value):
    def mutate(doc):
        *parents, last = path.split(".")
        node = doc
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        key = int(last) if isinstance(node, list) else last
        if value is DELETE:
            del node[key]
        else:
            node[key] = copy.deepcopy(value)
        return doc

    return mutate


def _duplicate_certificate(doc):
    doc["subsidy"][0]["certificates"].append(copy.deepcopy(doc["subsidy"][0]["certificates"][1]))
    return doc


def _second_version(effective_from):
    def mutate(doc):
        later = copy.deepcopy(doc["subsidy"][0])
        later["effective_from"] = effective_from
        doc["subsidy"].append(later)
        return doc

    return mutate


def _stages_on_puhui(doc):
    programmes = doc["subsidy"][0]["programmes"]
    programmes["puhui"]["stages"] = copy.deepcopy(programmes["startup"]["stages"])
    return doc


SOURCED = {"value": 30000, "source": "004"}

MALFORMED = [
    pytest.param(_set("subsidy", {}), "subsidy", id="section-an-object"),
    pytest.param(_set("subsidy", []), "subsidy", id="section-empty"),
    pytest.param(_set(V, "2023"), V, id="version-a-string"),
    pytest.param(_set(f"{V}.effective_from", "2023-02-30"), f"{V}.effective_from", id="no-such-day"),
    pytest.param(_set(f"{V}.effective_from", DELETE), f"{V}.effective_from", id="without-effective-from"),
    pytest.param(_set(f"{V}.source", " "), f"{V}.source", id="blank-version-source"),
    pytest.param(_set(f"{V}.colour", "red"), V, id="version-unknown-key"),
    pytest.param(_set(f"{V}.until", "2024-12-31"), f"{V}.until", id="until-not-sourced"),
    pytest.param(_set(f"{V}.until", {"value": "2022-12-31", "source": "004"}), f"{V}.until",
                 id="until-before-effective-from"),
    pytest.param(_second_version("2023-01-01"), "subsidy.1.effective_from", id="versions-not-ascending"),
    pytest.param(_set(f"{V}.programmes", {}), f"{V}.programmes", id="no-programmes"),
    pytest.param(_set(f"{V}.programmes.evening", {}), f"{V}.programmes", id="unknown-programme"),
    pytest.param(_set(f"{ORDER_RULE}.tiers", []), f"{ORDER_RULE}.tiers", id="tiers-empty"),
    pytest.param(_set(f"{ORDER_RULE}.tiers.0.daily_fen.value", 150.5), f"{ORDER_RULE}.tiers.0.daily_fen",
                 id="rate-a-fraction"),
    pytest.param(_set(f"{ORDER_RULE}.tiers.0.daily_fen.value", "15000"), f"{ORDER_RULE}.tiers.0.daily_fen",
                 id="rate-a-string"),
    pytest.param(_set(f"{ORDER_RULE}.tiers.0.daily_fen.value", True), f"{ORDER_RULE}.tiers.0.daily_fen",
                 id="rate-a-boolean"),
    pytest.param(_set(f"{ORDER_RULE}.tiers.0.daily_fen.value", 0), f"{ORDER_RULE}.tiers.0.daily_fen",
                 id="rate-zero"),
    pytest.param(_set(f"{ORDER_RULE}.tiers.0.daily_fen.source", ""), f"{ORDER_RULE}.tiers.0.daily_fen",
                 id="rate-without-source"),
    pytest.param(_set(f"{ORDER_RULE}.tiers.0.daily_fen", 15000), f"{ORDER_RULE}.tiers.0.daily_fen",
                 id="rate-bare-number"),
    pytest.param(_set(f"{ORDER_RULE}.tiers.0.days", DELETE), f"{ORDER_RULE}.tiers.0.days",
                 id="first-tier-without-days"),
    pytest.param(_set(f"{ORDER_RULE}.tiers.0.days.value", 0), f"{ORDER_RULE}.tiers.0.days",
                 id="tier-zero-days"),
    pytest.param(_set(f"{ORDER_RULE}.tiers.1.days", {"value": 5, "source": "004"}), f"{ORDER_RULE}.tiers.1",
                 id="last-tier-not-open-ended"),
    pytest.param(_set(f"{ORDER_RULE}.cap_fen.value", -1), f"{ORDER_RULE}.cap_fen", id="cap-negative"),
    pytest.param(_set(f"{ORDER_RULE}.count_basis.value", "enrolled"), f"{ORDER_RULE}.count_basis",
                 id="unknown-count-basis"),
    pytest.param(_set(f"{ORDER_RULE}.count_basis", DELETE), f"{ORDER_RULE}.count_basis", id="no-count-basis"),
    pytest.param(_set(f"{ORDER_RULE}.employment.threshold_percent.value", 101),
                 f"{ORDER_RULE}.employment.threshold_percent", id="threshold-over-100"),
    pytest.param(_set(f"{ORDER_RULE}.employment.threshold_percent.value", 0),
                 f"{ORDER_RULE}.employment.threshold_percent", id="threshold-zero"),
    pytest.param(_set(f"{ORDER_RULE}.employment.below.value", "nothing"), f"{ORDER_RULE}.employment.below",
                 id="unknown-below-meaning"),
    pytest.param(_set(f"{V}.programmes.puhui", DELETE), f"{ORDER_RULE}.employment.below",
                 id="puhui-rate-without-puhui"),
    pytest.param(_set(f"{ORDER_RULE}.per_person_fen", SOURCED), ORDER_RULE, id="two-payment-forms"),
    pytest.param(_set(f"{V}.programmes.enterprise.per_person_fen", DELETE), f"{V}.programmes.enterprise",
                 id="no-payment-form"),
    pytest.param(_set(f"{V}.programmes.enterprise.cap_fen", SOURCED), f"{V}.programmes.enterprise.cap_fen",
                 id="cap-on-a-flat-amount"),
    pytest.param(_set(f"{V}.programmes.enterprise.video_gap", {"value": True, "source": "003"}),
                 f"{V}.programmes.enterprise.video_gap", id="video-gap-on-a-flat-amount"),
    pytest.param(_set(f"{V}.programmes.enterprise.min_days", {"value": 0, "source": "002"}),
                 f"{V}.programmes.enterprise.min_days", id="minimum-zero-days"),
    pytest.param(_stages_on_puhui, f"{V}.programmes.puhui.stages", id="stages-outside-startup"),
    pytest.param(_set(f"{V}.programmes.startup.stages.first_share_percent.value", 100),
                 f"{V}.programmes.startup.stages.first_share_percent", id="first-share-everything"),
    pytest.param(_set(f"{V}.programmes.startup.stages.pass_rate.base.value", "everyone"),
                 f"{V}.programmes.startup.stages.pass_rate.base", id="unknown-pass-rate-base"),
    pytest.param(_set(f"{V}.programmes.startup.stages.licence_within_months.value", 0),
                 f"{V}.programmes.startup.stages.licence_within_months", id="licence-period-zero"),
    pytest.param(_set(f"{V}.programmes.startup.stages.licence_rate_percent", DELETE),
                 f"{V}.programmes.startup.stages.licence_rate_percent", id="no-licence-rate"),
    pytest.param(_set(f"{V}.living_allowance.categories.value", ["aliens"]),
                 f"{V}.living_allowance.categories", id="allowance-unknown-category"),
    pytest.param(_set(f"{V}.living_allowance.categories.value", []), f"{V}.living_allowance.categories",
                 id="allowance-no-category"),
    pytest.param(_set(f"{V}.living_allowance.programmes.value", ["evening"]),
                 f"{V}.living_allowance.programmes", id="allowance-unknown-programme"),
    pytest.param(_set(f"{V}.living_allowance.daily_fen", DELETE), f"{V}.living_allowance.daily_fen",
                 id="allowance-without-amount"),
    pytest.param(_set(f"{V}.certificates", {}), f"{V}.certificates", id="certificates-an-object"),
    pytest.param(_set(f"{V}.certificates.1.kinds", ["diploma"]), f"{V}.certificates.1.kinds",
                 id="certificate-unknown-kind"),
    pytest.param(_set(f"{V}.certificates.1.kinds", []), f"{V}.certificates.1.kinds",
                 id="certificate-no-kind"),
    pytest.param(_set(f"{V}.certificates.1.level", "五级"), f"{V}.certificates.1.level",
                 id="certificate-unknown-level"),
    pytest.param(_set(f"{V}.certificates.0.level", "初级"), f"{V}.certificates.0.level",
                 id="special-ability-with-a-level"),
    pytest.param(_set(f"{V}.certificates.1.kinds", ["skill_level", "special_ability"]),
                 f"{V}.certificates.1.level", id="levelled-and-unlevelled-kinds-mixed"),
    pytest.param(_duplicate_certificate, f"{V}.certificates.5", id="certificate-repeated"),
    pytest.param(_set(f"{V}.certificates.1.amount_fen.value", 0), f"{V}.certificates.1.amount_fen",
                 id="certificate-amount-zero"),
    pytest.param(_set(f"{V}.certificates.2.first_certification_only", {"value": "yes", "source": "002"}),
                 f"{V}.certificates.2.first_certification_only", id="first-only-not-a-boolean"),
    pytest.param(_set(f"{V}.claims.claim_by.value", "02-29"), f"{V}.claims.claim_by", id="claim-by-leap-day"),
    pytest.param(_set(f"{V}.claims.claim_by.value", "3-31"), f"{V}.claims.claim_by", id="claim-by-unpadded"),
    pytest.param(_set(f"{V}.claims.statistics_close.value", 1130), f"{V}.claims.statistics_close",
                 id="close-a-number"),
    pytest.param(_set(f"{V}.claims.settlement.value", "monthly"), f"{V}.claims.settlement",
                 id="unknown-settlement"),
    pytest.param(_set(f"{V}.claims.claim_in_next_year.value", "yes"), f"{V}.claims.claim_in_next_year",
                 id="next-year-not-a-boolean"),
    pytest.param(_set(f"{V}.claims.claim_in_next_year.value", False), f"{V}.claims.claim_by",
                 id="claims-due-before-the-statistics-close"),
    pytest.param(_set(f"{V}.claims", DELETE), f"{V}.claims", id="no-claims"),
    pytest.param(_set(f"{V}.employment_evidence.accepted.value", ["handshake"]),
                 f"{V}.employment_evidence.accepted", id="unknown-proof"),
    pytest.param(_set(f"{V}.employment_evidence.contract_min_months.value", -6),
                 f"{V}.employment_evidence.contract_min_months", id="negative-contract-months"),
    pytest.param(_set(f"{V}.employment_evidence", DELETE), f"{V}.employment_evidence",
                 id="no-evidence-rules"),
    pytest.param(_set(f"{V}.claims.claim_by.value", "13-01"), f"{V}.claims.claim_by",
                 id="claim-by-no-such-month"),
]


@pytest.mark.parametrize(("mutate", "names"), MALFORMED)
def test_a_malformed_subsidy_section_is_refused_naming_the_entry(mutate, names):
    with pytest.raises(PolicyInvalid) as refused:
        parse_policy(mutate(load(LIN)))
    assert names in str(refused.value)


def test_the_unchanged_file_used_above_parses():
    assert parse_policy(load(LIN)).subsidy is not None
