"""Subsidy standards as data (补贴标准, SPEC §6): the `subsidy` section of a region's policy file.

The section is a list of versions, each in force from its `effective_from` (until the next
version, or until its own `until` where a seed sets a term, 002 第十八条). The engine
(server.domain.subsidy) uses the version in force on the class start date. A version says:

- per programme type, how one trainee's training subsidy is reckoned: tiered daily rates (the
  first N days at one rate, then another), or a flat amount per person (企业职工) or per person
  and year (新型学徒制); the per-person cap; a minimum of days or class hours; whether the
  trainees counted are those trained or those who passed; the employment-rate threshold and what
  happens below it; the pass-rate deduction and the video-gap deduction (003 五(二)); and the
  staged startup payment (004 二(五));
- the living allowance (生活补贴): which categories, how much a day, in which programmes;
- certificate subsidies (取证补贴) by certificate kind and level;
- the claim calendar: when the statistical year closes, the last day to claim, how claims settle;
- what employment evidence counts.

Money is integer fen. Every number is `{"value": …, "source": "<seed clause>"}`; a number a seed
leaves out says so in its source ("product assumption: …"). A region file without a subsidy
section has no subsidy standards (the engine refuses with NO_SUBSIDY_POLICY).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from server.domain.certificates import LEVELLED_KINDS, LEVELS, CertificateKind
from server.domain.eligibility import PROGRAMME_LABELS, Category, ProgrammeType
from server.domain.errors import DomainError
from server.domain.policy import PolicyInvalid, RegionPolicy, Sourced
from server.domain.subsidy_fields import (
    choice,
    entry_object,
    flag,
    integer,
    iso_date,
    members,
    month_day,
    optional_integer,
    sourced,
)

COUNT_BASES = ("trained", "passed")  # who is paid when the class meets its conditions
BELOW_EMPLOYMENT = ("employed_only", "puhui_rate")  # 000 三(三) / 003 五(二), 004 五(三)
PASS_RATE_BASES = ("approved_roster", "trained")  # 003 五(二): 以开班审批表人数为基数
SETTLEMENTS = ("per_class", "quarterly")  # 004 四: 按季度进行申报
PROOF_TYPES = ("contract", "wage", "social_insurance", "payroll", "business_licence")


class NoSubsidyPolicy(DomainError):
    code = "NO_SUBSIDY_POLICY"
    message = "该地区在该日期没有生效的培训补贴标准"


class ProgrammeNotSubsidised(DomainError):
    code = "PROGRAMME_NOT_SUBSIDISED"
    message = "该地区补贴标准未规定此类培训的补贴"


@dataclass(frozen=True)
class Tier:
    """`days` days at `daily_fen` a day; the last tier (days None) covers every remaining day."""

    days: Sourced | None
    daily_fen: Sourced


@dataclass(frozen=True)
class EmploymentRule:
    threshold_percent: Sourced  # met at equality: 就业率达到80%及以上
    below: Sourced  # "employed_only" or "puhui_rate"


@dataclass(frozen=True)
class PassRateRule:
    threshold_percent: Sourced  # met at equality
    base: Sourced  # "approved_roster" (003 五(二)) or "trained"


@dataclass(frozen=True)
class StartupStages:
    """004 二(五): a share paid when the pass rate is met, the rest when enough of those who
    passed hold a business licence within the period."""

    first_share_percent: Sourced
    pass_rate: PassRateRule
    licence_rate_percent: Sourced
    licence_within_months: Sourced


@dataclass(frozen=True)
class ProgrammeRule:
    programme: ProgrammeType
    count_basis: Sourced  # "trained" or "passed"
    tiers: tuple[Tier, ...] = ()
    per_person_fen: Sourced | None = None
    per_person_year_fen: Sourced | None = None
    cap_fen: Sourced | None = None
    min_days: Sourced | None = None
    min_class_hours: Sourced | None = None
    employment: EmploymentRule | None = None
    pass_rate: PassRateRule | None = None
    video_gap: Sourced | None = None  # true: deduct missing video by half day (003 五(二))
    stages: StartupStages | None = None


@dataclass(frozen=True)
class LivingAllowance:
    categories: Sourced  # tuple of Category values
    daily_fen: Sourced
    programmes: Sourced  # tuple of ProgrammeType values

    def applies(self, programme: ProgrammeType, categories: frozenset[str]) -> bool:
        return str(programme) in self.programmes.value and bool(categories & set(self.categories.value))


@dataclass(frozen=True)
class CertificateRate:
    kinds: tuple[CertificateKind, ...]
    level: str  # '' for kinds without a level
    amount_fen: Sourced
    first_certification_only: Sourced | None = None  # 002 第九条: 初次取证直接取……中级工


@dataclass(frozen=True)
class ClaimRules:
    statistics_close: Sourced  # "MM-DD": training ending after it counts in the next year
    claim_by: Sourced  # "MM-DD": the last day to claim
    claim_in_next_year: Sourced  # true: claim_by falls in the year after the statistical year
    settlement: Sourced  # "per_class" or "quarterly"


@dataclass(frozen=True)
class EvidenceRules:
    accepted: Sourced  # tuple of PROOF_TYPES
    contract_min_months: Sourced
    contract_needs_payroll: Sourced  # 003 四(三): 第一个月和最近一个月工资表


@dataclass(frozen=True)
class SubsidyVersion:
    effective_from: date
    until: Sourced | None  # value: the last date in force
    source: str
    programmes: dict[str, ProgrammeRule]
    living_allowance: LivingAllowance | None
    certificates: tuple[CertificateRate, ...]
    claims: ClaimRules
    employment_evidence: EvidenceRules

    def rule_for(self, programme: ProgrammeType) -> ProgrammeRule:
        rule = self.programmes.get(str(programme))
        if rule is None:
            label = PROGRAMME_LABELS[ProgrammeType(programme)]
            raise ProgrammeNotSubsidised(f"该地区补贴标准未规定{label}的补贴",
                                         details={"programme": str(programme)})
        return rule

    def certificate_rate(self, kind: str, level: str) -> CertificateRate | None:
        return next((r for r in self.certificates if kind in r.kinds and r.level == level), None)


@dataclass(frozen=True)
class SubsidyPolicy:
    versions: tuple[SubsidyVersion, ...]  # ascending effective_from

    def version_on(self, on: date) -> SubsidyVersion | None:
        in_force = [v for v in self.versions if v.effective_from <= on]
        if not in_force or (in_force[-1].until is not None and on > in_force[-1].until.value):
            return None
        return in_force[-1]


def subsidy_version(policy: RegionPolicy, on: date) -> SubsidyVersion:
    """The version of the region's subsidy standards in force on `on`, or NoSubsidyPolicy."""
    version = policy.subsidy.version_on(on) if policy.subsidy is not None else None
    if version is None:
        raise NoSubsidyPolicy(details={"region_code": policy.region_code, "on": on.isoformat()})
    return version


# --- parsing --------------------------------------------------------------------------------


def parse_subsidy(section: object) -> SubsidyPolicy | None:
    """The validated `subsidy` section, None when the file has none, or PolicyInvalid naming
    the first bad entry (e.g. "subsidy.0.programmes.order.tiers.1.daily_fen")."""
    if section is None:
        return None
    if not isinstance(section, list) or not section:
        raise PolicyInvalid("subsidy must be a non-empty list of versions")
    versions = tuple(_version(entry, f"subsidy.{i}") for i, entry in enumerate(section))
    for i in range(1, len(versions)):
        if versions[i].effective_from <= versions[i - 1].effective_from:
            raise PolicyInvalid(f"subsidy.{i}.effective_from must be later than subsidy.{i - 1}'s")
    return SubsidyPolicy(versions)


VERSION_KEYS = {"effective_from", "source", "programmes", "certificates", "claims", "employment_evidence"}


def _version(node: object, where: str) -> SubsidyVersion:
    doc = entry_object(node, where, VERSION_KEYS, {"until", "living_allowance"})
    effective_from = iso_date(doc["effective_from"], f"{where}.effective_from")
    until = None
    if "until" in doc:
        entry = sourced(doc["until"], f"{where}.until")
        last = iso_date(entry.value, f"{where}.until")
        if last < effective_from:
            raise PolicyInvalid(f"{where}.until must not be before effective_from")
        until = Sourced(last, entry.source)
    if not isinstance(doc["source"], str) or not doc["source"].strip():
        raise PolicyInvalid(f"{where}.source must name the document")
    section = doc["programmes"]
    if not isinstance(section, dict) or not section:
        raise PolicyInvalid(f"{where}.programmes must be a non-empty object")
    unknown = sorted(set(section) - set(ProgrammeType.__members__.values()))
    if unknown:
        raise PolicyInvalid(f"{where}.programmes has unknown programme types {unknown}")
    programmes = {key: _programme(ProgrammeType(key), value, f"{where}.programmes.{key}")
                  for key, value in section.items()}
    puhui = programmes.get(str(ProgrammeType.PUHUI))
    for key, rule in programmes.items():
        if rule.employment and rule.employment.below.value == "puhui_rate" and not (puhui and puhui.tiers):
            raise PolicyInvalid(f"{where}.programmes.{key}.employment.below needs a tiered programmes.puhui")
    allowance = doc.get("living_allowance")
    return SubsidyVersion(
        effective_from=effective_from, until=until, source=doc["source"], programmes=programmes,
        living_allowance=None if allowance is None else _allowance(allowance, f"{where}.living_allowance"),
        certificates=_certificates(doc["certificates"], f"{where}.certificates"),
        claims=_claims(doc["claims"], f"{where}.claims"),
        employment_evidence=_evidence(doc["employment_evidence"], f"{where}.employment_evidence"),
    )


PAYMENT_FORMS = ("tiers", "per_person_fen", "per_person_year_fen")
RULE_KEYS = {*PAYMENT_FORMS, "cap_fen", "min_days", "min_class_hours", "employment", "pass_rate",
             "video_gap", "stages"}


def _programme(programme: ProgrammeType, node: object, where: str) -> ProgrammeRule:
    doc = entry_object(node, where, {"count_basis"}, RULE_KEYS)
    forms = [key for key in PAYMENT_FORMS if key in doc]
    if len(forms) != 1:
        raise PolicyInvalid(f"{where} needs exactly one of {PAYMENT_FORMS}")
    tiered = forms == ["tiers"]
    for key in ("cap_fen", "video_gap"):
        if key in doc and not tiered:
            raise PolicyInvalid(f"{where}.{key} applies only to tiered daily rates")
    if "stages" in doc and programme is not ProgrammeType.STARTUP:
        raise PolicyInvalid(f"{where}.stages applies only to startup training")
    return ProgrammeRule(
        programme=programme,
        count_basis=choice(doc["count_basis"], f"{where}.count_basis", COUNT_BASES),
        tiers=_tiers(doc["tiers"], f"{where}.tiers") if tiered else (),
        per_person_fen=optional_integer(doc, "per_person_fen", where, 1),
        per_person_year_fen=optional_integer(doc, "per_person_year_fen", where, 1),
        cap_fen=optional_integer(doc, "cap_fen", where, 1),
        min_days=optional_integer(doc, "min_days", where, 1),
        min_class_hours=optional_integer(doc, "min_class_hours", where, 1),
        employment=_employment(doc["employment"], f"{where}.employment") if "employment" in doc else None,
        pass_rate=_pass_rate(doc["pass_rate"], f"{where}.pass_rate") if "pass_rate" in doc else None,
        video_gap=flag(doc["video_gap"], f"{where}.video_gap") if "video_gap" in doc else None,
        stages=_stages(doc["stages"], f"{where}.stages") if "stages" in doc else None,
    )


def _tiers(node: object, where: str) -> tuple[Tier, ...]:
    if not isinstance(node, list) or not node:
        raise PolicyInvalid(f"{where} must be a non-empty list")
    tiers = []
    for i, entry in enumerate(node):
        here, last = f"{where}.{i}", i == len(node) - 1
        doc = entry_object(entry, here, {"daily_fen"}, set() if last else {"days"})
        if not last and "days" not in doc:
            raise PolicyInvalid(f"{here}.days is missing (only the last tier is open-ended)")
        days = None if last else integer(doc["days"], f"{here}.days", 1)
        tiers.append(Tier(days=days, daily_fen=integer(doc["daily_fen"], f"{here}.daily_fen", 1)))
    return tuple(tiers)


def _employment(node: object, where: str) -> EmploymentRule:
    doc = entry_object(node, where, {"threshold_percent", "below"})
    return EmploymentRule(threshold_percent=_percent(doc, where),
                          below=choice(doc["below"], f"{where}.below", BELOW_EMPLOYMENT))


def _pass_rate(node: object, where: str) -> PassRateRule:
    doc = entry_object(node, where, {"threshold_percent", "base"})
    return PassRateRule(threshold_percent=_percent(doc, where),
                        base=choice(doc["base"], f"{where}.base", PASS_RATE_BASES))


def _percent(doc: dict, where: str) -> Sourced:
    return integer(doc["threshold_percent"], f"{where}.threshold_percent", 1, 100)


def _stages(node: object, where: str) -> StartupStages:
    doc = entry_object(node, where, {"first_share_percent", "pass_rate", "licence_rate_percent",
                                "licence_within_months"})
    return StartupStages(
        first_share_percent=integer(doc["first_share_percent"], f"{where}.first_share_percent", 1, 99),
        pass_rate=_pass_rate(doc["pass_rate"], f"{where}.pass_rate"),
        licence_rate_percent=integer(doc["licence_rate_percent"], f"{where}.licence_rate_percent", 1, 100),
        licence_within_months=integer(doc["licence_within_months"], f"{where}.licence_within_months", 1),
    )


def _allowance(node: object, where: str) -> LivingAllowance:
    doc = entry_object(node, where, {"categories", "daily_fen", "programmes"})
    return LivingAllowance(
        categories=members(doc["categories"], f"{where}.categories", tuple(str(c) for c in Category)),
        daily_fen=integer(doc["daily_fen"], f"{where}.daily_fen", 1),
        programmes=members(doc["programmes"], f"{where}.programmes", tuple(str(p) for p in ProgrammeType)))


def _certificates(node: object, where: str) -> tuple[CertificateRate, ...]:
    if not isinstance(node, list):
        raise PolicyInvalid(f"{where} must be a list")
    rates, seen = [], set()
    for i, entry in enumerate(node):
        here = f"{where}.{i}"
        doc = entry_object(entry, here, {"kinds", "level", "amount_fen"}, {"first_certification_only"})
        kinds = doc["kinds"]
        if (not isinstance(kinds, list) or not kinds
                or not all(k in CertificateKind.__members__.values() for k in kinds)):
            raise PolicyInvalid(f"{here}.kinds must list certificate kinds")
        levelled = {CertificateKind(k) in LEVELLED_KINDS for k in kinds}
        allowed = LEVELS if levelled == {True} else ("",)
        if len(levelled) != 1 or doc["level"] not in allowed:
            raise PolicyInvalid(f"{here}.level must be one of {allowed} for kinds {kinds}")
        for kind in kinds:
            if (kind, doc["level"]) in seen:
                raise PolicyInvalid(f"{here} repeats {kind} {doc['level']}".rstrip())
            seen.add((kind, doc["level"]))
        rates.append(CertificateRate(
            kinds=tuple(CertificateKind(k) for k in kinds), level=doc["level"],
            amount_fen=integer(doc["amount_fen"], f"{here}.amount_fen", 1),
            first_certification_only=(
                flag(doc["first_certification_only"], f"{here}.first_certification_only")
                if "first_certification_only" in doc else None)))
    return tuple(rates)


def _claims(node: object, where: str) -> ClaimRules:
    doc = entry_object(node, where, {"statistics_close", "claim_by", "claim_in_next_year", "settlement"})
    rules = ClaimRules(statistics_close=month_day(doc["statistics_close"], f"{where}.statistics_close"),
                       claim_by=month_day(doc["claim_by"], f"{where}.claim_by"),
                       claim_in_next_year=flag(doc["claim_in_next_year"], f"{where}.claim_in_next_year"),
                       settlement=choice(doc["settlement"], f"{where}.settlement", SETTLEMENTS))
    # "MM-DD" strings order as dates do.
    if not rules.claim_in_next_year.value and rules.claim_by.value < rules.statistics_close.value:
        raise PolicyInvalid(f"{where}.claim_by must not come before statistics_close in the same year")
    return rules


def _evidence(node: object, where: str) -> EvidenceRules:
    doc = entry_object(node, where, {"accepted", "contract_min_months", "contract_needs_payroll"})
    return EvidenceRules(
        accepted=members(doc["accepted"], f"{where}.accepted", PROOF_TYPES),
        contract_min_months=integer(doc["contract_min_months"], f"{where}.contract_min_months"),
        contract_needs_payroll=flag(doc["contract_needs_payroll"], f"{where}.contract_needs_payroll"))
