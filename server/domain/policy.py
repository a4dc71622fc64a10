"""Regional policy as data (SPEC §6: "a sixth region is a new file, not new code").

Each region that has its own policy document ships one JSON file in server/data/policies/,
and every number in it carries the seed clause it comes from (`{"value": 7, "source":
"001 三(一) …"}`). This module parses and validates those documents and answers the questions
the rules ask; reading the files is the services' job. It covers vouchers, class openings and
completions, check-ins and certificate-rate targets; the `subsidy` section (the money standards,
versioned by effective date) is parsed by server.domain.subsidy_policy and hangs on
RegionPolicy.subsidy. A region without a file of its own gets the nearest enclosing region's
(county → city → province 140000).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from server.domain.certificates import LEVELS, CertificateKind, level_reaches
from server.domain.eligibility import ProgrammeType
from server.domain.errors import DomainError
from server.domain.regions import RegionLevel, is_within, level_of, parent_code, validate_code

if TYPE_CHECKING:
    from server.domain.subsidy_policy import SubsidyPolicy


class PolicyInvalid(ValueError):
    """A policy file is malformed: a deployment error, caught by the tests and at load."""


class NoPolicy(DomainError):
    code = "NO_REGION_POLICY"
    message = "该地区尚未配置培训补贴政策"


@dataclass(frozen=True)
class Sourced:
    value: object
    source: str


@dataclass(frozen=True)
class VoucherPolicy:
    auto_issue: Sourced  # issue eligible applications without a reviewer
    valid_days: Sourced  # days from issue to expiry


@dataclass(frozen=True)
class OpeningPolicy:
    lead_days: dict[str, Sourced]  # "default" and optional per-programme overrides
    city_approval: Sourced  # programme types whose openings a city bureau approves

    def lead_days_for(self, programme: ProgrammeType) -> Sourced:
        return self.lead_days.get(str(programme), self.lead_days["default"])

    def approval_level(self, programme: ProgrammeType) -> RegionLevel:
        return RegionLevel.CITY if str(programme) in self.city_approval.value else RegionLevel.COUNTY


UNCERTAIN_MEANINGS = ("accept_flagged", "refuse")


@dataclass(frozen=True)
class CheckinPolicy:
    """Phone check-ins (SPEC §4): the window around each session, what an uncertain position
    means, and how long selfies are kept as evidence."""

    window_before_min: Sourced
    window_after_start_min: Sourced
    signout_required: Sourced
    signout_before_min: Sourced
    signout_after_min: Sourced
    uncertain: Sourced  # "accept_flagged" or "refuse"
    refuse_accuracy_m: Sourced
    flag_accuracy_m: Sourced
    max_offline_hours: Sourced
    voucher_signin_required: Sourced  # 003 三(四): the e-voucher sign-in as well as the trainee's
    evidence_days: Sourced


CHECKIN_FIELDS = {
    "window_before_min": int, "window_after_start_min": int, "signout_required": bool,
    "signout_before_min": int, "signout_after_min": int, "uncertain": str, "refuse_accuracy_m": int,
    "flag_accuracy_m": int, "max_offline_hours": int, "voucher_signin_required": bool,
    "evidence_days": int,
}


@dataclass(frozen=True)
class CompletionPolicy:
    lead_days: Sourced  # the completion filing reaches the bureau this many days before the end


@dataclass(frozen=True)
class CertificateTarget:
    """A certificate-rate target (取证率): the share of a class's completion roster that should
    hold a certificate of `kinds` at `min_level` or above (004 二(三), 二(六))."""

    name: str
    programmes: tuple[str, ...]  # empty: any programme
    occupations: tuple[str, ...]  # empty: any occupation
    kinds: tuple[CertificateKind, ...]
    min_level: str | None
    percent: Sourced

    def applies_to(self, programme: str, occupation_code: str) -> bool:
        return ((not self.programmes or str(programme) in self.programmes)
                and (not self.occupations or occupation_code in self.occupations))

    def counts(self, kind: CertificateKind, level: str) -> bool:
        return kind in self.kinds and level_reaches(level, self.min_level)


@dataclass(frozen=True)
class RegionPolicy:
    region_code: str
    name: str
    seed: str
    effective_from: date
    vouchers: VoucherPolicy
    class_opening: OpeningPolicy
    checkins: CheckinPolicy
    completion: CompletionPolicy
    certificate_targets: tuple[CertificateTarget, ...]
    subsidy: SubsidyPolicy | None = None  # None: the file sets no subsidy standards


def _sourced(doc: dict, path: str, kind: type) -> Sourced:
    node = doc
    for part in path.split("."):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
            continue
        if not isinstance(node, dict) or part not in node:
            raise PolicyInvalid(f"missing {path}")
        node = node[part]
    if not isinstance(node, dict) or set(node) != {"value", "source"}:
        raise PolicyInvalid(f"{path} must be {{value, source}}")
    value, source = node["value"], node["source"]
    if not isinstance(source, str) or not source.strip():
        raise PolicyInvalid(f"{path} has no source")
    if kind is int and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise PolicyInvalid(f"{path} must be a non-negative integer")
    if kind is bool and not isinstance(value, bool):
        raise PolicyInvalid(f"{path} must be true or false")
    if kind is str and value not in UNCERTAIN_MEANINGS:
        raise PolicyInvalid(f"{path} must be one of {UNCERTAIN_MEANINGS}")
    if kind is list and not (isinstance(value, list)
                             and all(v in ProgrammeType.__members__.values() for v in value)):
        raise PolicyInvalid(f"{path} must list programme types")
    return Sourced(value, source)


def parse_policy(doc: dict) -> RegionPolicy:
    """A validated policy, or PolicyInvalid naming the first bad entry."""
    # Imported here: the subsidy parser builds on Sourced and PolicyInvalid above.
    from server.domain.subsidy_policy import parse_subsidy

    if not isinstance(doc, dict):
        raise PolicyInvalid("a policy must be a JSON object")
    for key in ("region_code", "effective_from", "name", "seed"):
        if key not in doc:
            raise PolicyInvalid(f"missing {key}")
    try:
        region_code = validate_code(doc["region_code"])
    except DomainError:
        raise PolicyInvalid("bad region_code") from None
    try:
        effective_from = date.fromisoformat(doc["effective_from"])
    except (TypeError, ValueError):
        raise PolicyInvalid("effective_from must be an ISO date (YYYY-MM-DD)") from None
    name, seed = str(doc["name"]), str(doc["seed"])
    opening = doc.get("class_opening")
    if not isinstance(opening, dict):
        raise PolicyInvalid("class_opening must be an object")
    lead = opening.get("lead_days")
    if not isinstance(lead, dict) or "default" not in lead:
        raise PolicyInvalid("class_opening.lead_days needs a default")
    unknown = set(lead) - {"default"} - set(ProgrammeType.__members__.values())
    if unknown:
        raise PolicyInvalid(f"class_opening.lead_days has unknown keys {sorted(unknown)}")
    valid_days = _sourced(doc, "vouchers.valid_days", int)
    if valid_days.value < 1:
        raise PolicyInvalid("vouchers.valid_days must be at least 1")
    return RegionPolicy(
        region_code=region_code, name=name, seed=seed, effective_from=effective_from,
        vouchers=VoucherPolicy(auto_issue=_sourced(doc, "vouchers.auto_issue", bool),
                               valid_days=valid_days),
        class_opening=OpeningPolicy(
            lead_days={k: _sourced(doc, f"class_opening.lead_days.{k}", int) for k in lead},
            city_approval=_sourced(doc, "class_opening.city_approval", list),
        ),
        checkins=_checkins(doc),
        completion=CompletionPolicy(lead_days=_sourced(doc, "completion.lead_days", int)),
        certificate_targets=_certificate_targets(doc),
        subsidy=parse_subsidy(doc.get("subsidy")),
    )


TARGET_KEYS = frozenset({"name", "programmes", "occupations", "kinds", "min_level", "percent"})


def _certificate_targets(doc: dict) -> tuple[CertificateTarget, ...]:
    section = doc.get("certificates")
    if not isinstance(section, dict) or not isinstance(section.get("targets"), list):
        raise PolicyInvalid("certificates.targets must be a list")
    targets = []
    for index, entry in enumerate(section["targets"]):
        where = f"certificates.targets.{index}"
        if not isinstance(entry, dict) or not str(entry.get("name") or "").strip():
            raise PolicyInvalid(f"{where} needs a name")
        unknown = set(entry) - TARGET_KEYS
        if unknown:
            raise PolicyInvalid(f"{where} has unknown keys {sorted(unknown)}")
        lists = [key for key in ("programmes", "occupations", "kinds")
                 if not isinstance(entry.get(key) or [], list)]
        if lists:
            raise PolicyInvalid(f"{where}.{lists[0]} must be a list")
        programmes, occupations, kinds = (entry.get(key) or []
                                          for key in ("programmes", "occupations", "kinds"))
        if not all(p in ProgrammeType.__members__.values() for p in programmes):
            raise PolicyInvalid(f"{where}.programmes must list programme types")
        if not all(isinstance(o, str) for o in occupations):
            raise PolicyInvalid(f"{where}.occupations must list occupation codes")
        if not kinds or not all(k in CertificateKind.__members__.values() for k in kinds):
            raise PolicyInvalid(f"{where}.kinds must list certificate kinds")
        if entry.get("min_level") not in (None, *LEVELS):
            raise PolicyInvalid(f"{where}.min_level must be one of {LEVELS} or null")
        percent = _sourced(doc, f"{where}.percent", int)
        if not 0 < percent.value <= 100:
            raise PolicyInvalid(f"{where}.percent must be 1–100")
        targets.append(CertificateTarget(
            name=entry["name"], programmes=tuple(programmes), occupations=tuple(occupations),
            kinds=tuple(CertificateKind(k) for k in kinds), min_level=entry.get("min_level"),
            percent=percent))
    return tuple(targets)


def _checkins(doc: dict) -> CheckinPolicy:
    if not isinstance(doc.get("checkins"), dict):
        raise PolicyInvalid("checkins must be an object")
    unknown = set(doc["checkins"]) - set(CHECKIN_FIELDS)
    if unknown:
        raise PolicyInvalid(f"checkins has unknown keys {sorted(unknown)}")
    policy = CheckinPolicy(**{name: _sourced(doc, f"checkins.{name}", kind)
                              for name, kind in CHECKIN_FIELDS.items()})
    if policy.evidence_days.value < 1:
        raise PolicyInvalid("checkins.evidence_days must be at least 1")
    if policy.flag_accuracy_m.value > policy.refuse_accuracy_m.value:
        raise PolicyInvalid("checkins.flag_accuracy_m must not exceed refuse_accuracy_m")
    return policy


def policy_for(region_code: str, policies: dict[str, RegionPolicy]) -> RegionPolicy:
    """The policy of the region or its nearest enclosing region that has one."""
    code: str | None = region_code
    while code is not None:
        if code in policies:
            return policies[code]
        code = parent_code(code)
    raise NoPolicy(details={"region_code": region_code})


def approver_can_decide(approver_region: str, class_region: str, required: RegionLevel) -> bool:
    """A bureau may decide an opening in its area, and a county bureau only when the policy
    leaves the decision to the county (002 第六条: county applies, city approves)."""
    if not is_within(class_region, approver_region):
        return False
    if required is RegionLevel.CITY:
        return level_of(approver_region) in (RegionLevel.CITY, RegionLevel.PROVINCE)
    return True
