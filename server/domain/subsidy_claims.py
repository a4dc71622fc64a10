"""Employment evidence and claim deadlines (就业证明 · 申领时限, SPEC §6 settlement rules).

`check_employment_evidence` says whether a proof of employment meets the region's rule: 000 三(一)
asks for a labour contract of a year or more, or proof of wages or social insurance; 003 四(三) for
a contract of six months or more with the first and the latest month's payroll, or a business
licence for the self-employed. A refusal is EvidenceRefused with a stable code.

`claim_deadline` says which statistical year a training counts in and the last day to claim it:
001 四(三) closes the statistics on 30 November, takes claims until 31 December and counts
December's training in the next year; 004 四 settles quarterly and takes every claim until 31 March
of the next year. `ClaimWindow.check` refuses a late claim (CLAIM_DEADLINE_PASSED).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from server.domain.errors import DomainError, ValidationFailed
from server.domain.policy import RegionPolicy
from server.domain.subsidy_explain import chinese_date
from server.domain.subsidy_policy import subsidy_version


class EvidenceRefused(ValidationFailed):
    code = "EMPLOYMENT_EVIDENCE_REFUSED"
    message = "就业证明材料不符合本地区政策要求"


class ClaimDeadlinePassed(DomainError):
    code = "CLAIM_DEADLINE_PASSED"
    message = "已超过补贴申领期限"


PROOF_LABELS = {
    "contract": "劳动合同",
    "wage": "工资支付证明",
    "social_insurance": "社会保险缴费证明",
    "payroll": "工资表",
    "business_licence": "营业执照",
}

# GB 32100 统一社会信用代码: 18 characters, no I, O, S, V or Z.
_SOCIAL_CREDIT_CODE = re.compile(r"[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}\Z")


@dataclass(frozen=True)
class EmploymentEvidence:
    employer: str  # 用人单位, or the licence holder's business for the self-employed
    social_credit_code: str
    contract_start: date | None
    contract_months: int | None
    proof_type: str  # "contract" | "wage" | "social_insurance" | "payroll" | "business_licence"
    has_payroll: bool = False  # 第一个月和最近一个月工资表 (003 四(三))


def check_employment_evidence(policy: RegionPolicy, evidence: EmploymentEvidence, on: date) -> None:
    """Refuse (EvidenceRefused) a proof that does not meet the rule in force on `on`."""
    rules = subsidy_version(policy, on).employment_evidence

    def refuse(code: str, message: str, source: str, **details: object) -> None:
        raise EvidenceRefused(message, code=code,
                              details={"proof_type": evidence.proof_type, "source": source, **details})

    if not evidence.employer.strip():
        refuse("EVIDENCE_EMPLOYER_REQUIRED", "就业证明须写明用人单位名称", rules.accepted.source)
    if not _SOCIAL_CREDIT_CODE.match(evidence.social_credit_code.strip().upper()):
        refuse("EVIDENCE_SOCIAL_CREDIT_CODE_INVALID", "用人单位统一社会信用代码应为18位",
               rules.accepted.source)
    if evidence.proof_type not in rules.accepted.value:
        accepted = "、".join(PROOF_LABELS[p] for p in rules.accepted.value)
        refuse("EVIDENCE_PROOF_NOT_ACCEPTED",
               f"本地区不认可以{PROOF_LABELS.get(evidence.proof_type, evidence.proof_type)}作为就业证明"
               f"（认可：{accepted}）", rules.accepted.source, accepted=list(rules.accepted.value))
    if evidence.proof_type != "contract":
        return
    minimum = rules.contract_min_months.value
    if evidence.contract_start is None or evidence.contract_months is None:
        refuse("EVIDENCE_CONTRACT_INCOMPLETE", "劳动合同须写明起始日期和期限",
               rules.contract_min_months.source)
    elif evidence.contract_start > on:
        refuse("EVIDENCE_CONTRACT_NOT_STARTED",
               f"劳动合同自{chinese_date(evidence.contract_start)}起，尚未开始履行",
               rules.contract_min_months.source)
    elif evidence.contract_months < minimum:
        refuse("EVIDENCE_CONTRACT_TOO_SHORT", f"劳动合同期限须不少于{minimum}个月",
               rules.contract_min_months.source, minimum_months=minimum)
    elif rules.contract_needs_payroll.value and not evidence.has_payroll:
        refuse("EVIDENCE_PAYROLL_REQUIRED", "须同时提供第一个月和最近一个月的工资表",
               rules.contract_needs_payroll.source)


@dataclass(frozen=True)
class ClaimWindow:
    training_end: date
    statistical_year: int  # the year the training counts in
    period: str  # the statistical year, or its quarter where claims settle quarterly ("2023Q2")
    settlement: str  # "per_class" or "quarterly"
    last_day: date  # the last day a claim is accepted
    source: str

    def check(self, claimed_on: date) -> None:
        """Refuse a claim filed after the last day (CLAIM_DEADLINE_PASSED)."""
        if claimed_on > self.last_day:
            raise ClaimDeadlinePassed(
                f"该培训计入{self.statistical_year}年度，补贴申领截止日期为{chinese_date(self.last_day)}，已逾期",
                details={"statistical_year": self.statistical_year, "last_day": self.last_day.isoformat(),
                         "claimed_on": claimed_on.isoformat(), "source": self.source})


def _on(year: int, month_day: str) -> date:
    month, day = month_day.split("-")
    return date(year, int(month), int(day))


def claim_deadline(policy: RegionPolicy, training_end: date) -> ClaimWindow:
    """The claim window of a training that ended on `training_end`, under the version in force then."""
    rules = subsidy_version(policy, training_end).claims
    year = training_end.year
    if training_end > _on(year, rules.statistics_close.value):  # 001 四(三): 12月份开展的培训计入下一年度
        year += 1
    last_day = _on(year + (1 if rules.claim_in_next_year.value else 0), rules.claim_by.value)
    quarterly = rules.settlement.value == "quarterly"
    quarter = (training_end.month - 1) // 3 + 1 if year == training_end.year else 1
    sources = dict.fromkeys(e.source for e in (rules.statistics_close, rules.claim_by, rules.settlement))
    return ClaimWindow(training_end=training_end, statistical_year=year,
                       period=f"{year}Q{quarter}" if quarterly else str(year),
                       settlement=rules.settlement.value, last_day=last_day, source="; ".join(sources))
