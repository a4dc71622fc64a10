"""What the subsidy engine returns (补贴核算结果): lines that explain themselves in Chinese.

A `Line` is one payable item for one trainee (the training subsidy, the living allowance, a
certificate subsidy, a startup stage). Its arithmetic always closes: `amount_fen == gross_fen +
sum(adjustment amounts)`, where `gross_fen` is the sum of its steps (or the flat amount) and each
adjustment is a deduction (≤ 0) with its reason. A trainee the rules exclude still gets a line,
with amount 0 and the reason codes, so a reviewer sees why. Reason codes are stable for clients;
REASON_LABELS are for people.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from server.domain.policy import RegionPolicy
    from server.domain.subsidy_policy import SubsidyVersion


class Reason(StrEnum):
    NO_VOUCHER = "NO_VOUCHER"  # 无券不补 (002 第十五条, 004 五(二))
    NOT_RECORDED = "NOT_RECORDED"  # 不录不补 (002 第十五条)
    NOT_ON_ROSTER = "NOT_ON_ROSTER"
    NOT_PASSED = "NOT_PASSED"
    RESULT_NOT_RECORDED = "RESULT_NOT_RECORDED"
    NOT_EMPLOYED = "NOT_EMPLOYED"
    CAP_REACHED = "CAP_REACHED"
    YEARLY_LIMIT = "YEARLY_LIMIT"  # 004 五(三), 002 第四条
    CERT_LEVEL_ALREADY_SUBSIDISED = "CERT_LEVEL_ALREADY_SUBSIDISED"  # 同一等级只能享受一次
    CERT_NOT_SUBSIDISED = "CERT_NOT_SUBSIDISED"
    NOT_FIRST_CERTIFICATION = "NOT_FIRST_CERTIFICATION"  # 002 第九条: 初次取证直接取……中级工
    VIDEO_GAP = "VIDEO_GAP"  # 003 五(二)
    PASS_RATE_SHORTFALL = "PASS_RATE_SHORTFALL"  # 003 五(二), 004 二(五)
    BELOW_MINIMUM = "BELOW_MINIMUM"  # 002 第七条
    PUHUI_RATE = "PUHUI_RATE"  # 003 五(二), 004 五(三)
    STARTUP_STAGE_SHARE = "STARTUP_STAGE_SHARE"  # 004 二(五): 80% / 20%
    STARTUP_SECOND_STAGE_PENDING = "STARTUP_SECOND_STAGE_PENDING"  # 004 二(五)


REASON_LABELS: dict[Reason, str] = {
    Reason.NO_VOUCHER: "未持有可兑现的电子培训券，无券不补",
    Reason.NOT_RECORDED: "实名制系统无考勤记录，不录不补",
    Reason.NOT_ON_ROSTER: "不在审核通过的结业花名册内",
    Reason.NOT_PASSED: "考核不合格",
    Reason.RESULT_NOT_RECORDED: "未录入考核结果",
    Reason.NOT_EMPLOYED: "就业率未达标，仅按实际就业人数补贴，本人未就业",
    Reason.CAP_REACHED: "超过每人补贴上限",
    Reason.YEARLY_LIMIT: "本年度已享受同类培训补贴",
    Reason.CERT_LEVEL_ALREADY_SUBSIDISED: "同一等级已享受过取证补贴",
    Reason.CERT_NOT_SUBSIDISED: "该类证书或等级不在本地区取证补贴范围内",
    Reason.NOT_FIRST_CERTIFICATION: "该等级补贴仅限初次取证",
    Reason.VIDEO_GAP: "影像资料缺失，扣减相应培训时间",
    Reason.PASS_RATE_SHORTFALL: "培训合格率未达标，核减补贴",
    Reason.BELOW_MINIMUM: "培训时间未达最低要求",
    Reason.PUHUI_RATE: "就业率未达标，按普惠制标准补贴",
    Reason.STARTUP_STAGE_SHARE: "创业培训补贴分期拨付",
    Reason.STARTUP_SECOND_STAGE_PENDING: "领取营业执照人数未达规定比例，二期补贴暂不拨付",
}

ITEM_LABELS = {
    "training": "培训补贴",
    "living_allowance": "生活补贴",
    "certificate": "取证补贴",
    "startup_first_stage": "创业培训补贴首期",
    "startup_second_stage": "创业培训补贴二期",
}


def yuan(fen: int) -> str:
    """Fen as yuan for people: 150000 → "1500元", 12345 → "123.45元", −5000 → "−50元"."""
    sign, fen = ("−", -fen) if fen < 0 else ("", fen)
    whole, cents = divmod(fen, 100)
    return f"{sign}{whole}元" if not cents else f"{sign}{whole}.{cents:02d}".rstrip("0") + "元"


def days(half_days: int) -> str:
    """Half days as days: 3 → "1.5天"."""
    whole, half = divmod(half_days, 2)
    return f"{whole}.5天" if half else f"{whole}天"


def percent(numerator: int, denominator: int) -> str:
    """A rate to one decimal, truncated, so a shown "80.0%" is never a 79.96% that failed."""
    if denominator == 0:
        return "—"
    tenths = numerator * 1000 // denominator
    return f"{tenths // 10}.{tenths % 10}%"


def chinese_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


_NUMERAL = "一二三四五六七八九十"
# A seed clause: "002 第八条", "004 二(五)", "000 二(二)(3)", "003 四(三)1".
_CITATION = re.compile(rf"00[0-4] (?:第[{_NUMERAL}]+条|[{_NUMERAL}]+(?:\([{_NUMERAL}0-9]+\))*[0-9]?)")


def clause(source: str) -> str:
    """The citation part of a source text ("000 三(三): 培训前10天…" → "000 三(三)"); an assumption
    says so, with the seed it follows ("产品假设，参照 004 二(三)")."""
    if source.startswith("product"):
        cited = _CITATION.search(source)
        return f"产品假设，参照 {cited.group(0)}" if cited else "产品假设"
    return source.split(":", 1)[0].strip()


def heading(policy: RegionPolicy, version: SubsidyVersion, what: str) -> str:
    """The first line of a computation's explanation: region, what, and the standards applied."""
    return (f"{policy.name}（{policy.region_code}）{what}：适用{chinese_date(version.effective_from)}起"
            f"施行的补贴标准（{clause(version.source)}）")


@dataclass(frozen=True)
class Step:
    half_days: int
    daily_rate_fen: int
    amount_fen: int  # daily_rate_fen * half_days // 2


@dataclass(frozen=True)
class Adjustment:
    reason: Reason
    amount_fen: int  # ≤ 0 for deductions
    note: str


@dataclass(frozen=True)
class Line:
    trainee_id: int
    item: str
    half_days: int  # the half days the amount is reckoned on, after deductions
    steps: tuple[Step, ...]
    gross_fen: int
    cap_fen: int | None
    adjustments: tuple[Adjustment, ...]
    amount_fen: int
    reasons: tuple[Reason, ...]
    certificate_id: int | None = None
    detail: str = ""  # the arithmetic of a flat amount, or what a certificate is
    sources: tuple[str, ...] = ()  # the policy clauses the amount rests on

    def explain(self) -> str:
        """E.g. "学员1 培训补贴：10天×150元＋5天×100元＝2000元；应补2000元（依据 000 三(三)）"."""
        head = f"学员{self.trainee_id} {ITEM_LABELS.get(self.item, self.item)}"
        if self.certificate_id is not None:
            head += f"（证书{self.certificate_id}）"
        parts = []
        if self.steps:
            parts.append("＋".join(f"{days(s.half_days)}×{yuan(s.daily_rate_fen)}" for s in self.steps)
                         + f"＝{yuan(self.gross_fen)}")
        elif self.detail:
            parts.append(self.detail)
        parts += [f"{a.note}：{yuan(a.amount_fen)}" for a in self.adjustments]
        parts.append(f"应补{yuan(self.amount_fen)}")
        text = f"{head}：" + "；".join(parts)
        shown = {a.reason for a in self.adjustments}
        unexplained = [REASON_LABELS[r] for r in self.reasons if r not in shown]
        if unexplained:
            text += f"（{'；'.join(unexplained)}）"
        cited = list(dict.fromkeys(clause(s) for s in self.sources))
        if cited:
            text += f"（依据 {'、'.join(cited)}）"
        return text


@dataclass(frozen=True)
class Computation:
    region_code: str
    policy_effective_from: date
    programme: str
    basis: dict  # counts, rates ("80.0%" and exact numerator/denominator), the branch taken
    lines: tuple[Line, ...]
    total_fen: int
    summary: tuple[str, ...] = field(default=())  # the class-level explanation, in Chinese

    def explain(self) -> list[str]:
        return [*self.summary, *(line.explain() for line in self.lines), f"合计：{yuan(self.total_fen)}"]
