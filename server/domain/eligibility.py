"""Eligibility (培训对象, SPEC §5): who may enter which programme, and the per-person limits
(002 第三条、第四条; 004 二(二) "六类人员", 五(三)). `decide` names every rule an application
breaks; the database repeats the limits as unique indexes so racing applications cannot both pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from server.domain.errors import ValidationFailed


class Category(StrEnum):
    POVERTY_ALLEVIATED = "poverty_alleviated"  # 脱贫人口
    MONITORED_HOUSEHOLD = "monitored_household"  # 监测户 (004 living allowance)
    GRADUATE = "graduate"  # 毕业年度高校毕业生
    LIANGHOUSHENG = "lianghousheng"  # 两后生
    RURAL_MIGRANT = "rural_migrant"  # 农村转移就业劳动者
    URBAN_UNEMPLOYED = "urban_unemployed"  # 城镇登记失业人员
    HARD_TO_EMPLOY = "hard_to_employ"  # 就业困难人员
    REDEPLOYED_WORKER = "redeployed_worker"  # 转岗职工 (002)
    VETERAN = "veteran"  # 退役军人 (002)
    DISABLED = "disabled"  # 残疾人 (002)
    ENTERPRISE_EMPLOYEE = "enterprise_employee"  # 企业职工 (002 第四条)
    ENTREPRENEUR = "entrepreneur"  # 有创业意愿人员


CATEGORY_LABELS: dict[Category, str] = {
    Category.POVERTY_ALLEVIATED: "脱贫人口",
    Category.MONITORED_HOUSEHOLD: "监测户",
    Category.GRADUATE: "毕业年度高校毕业生",
    Category.LIANGHOUSHENG: "两后生",
    Category.RURAL_MIGRANT: "农村转移就业劳动者",
    Category.URBAN_UNEMPLOYED: "城镇登记失业人员",
    Category.HARD_TO_EMPLOY: "就业困难人员",
    Category.REDEPLOYED_WORKER: "转岗职工",
    Category.VETERAN: "退役军人",
    Category.DISABLED: "残疾人",
    Category.ENTERPRISE_EMPLOYEE: "企业职工",
    Category.ENTREPRENEUR: "有创业意愿人员",
}


def parse_categories(values: list[str]) -> list[Category]:
    """Known categories, deduplicated, in a stable order; an unknown one is refused."""
    unknown = [v for v in values if v not in Category.__members__.values()]
    if unknown:
        raise ValidationFailed("未知的人员类别", details={"unknown_categories": unknown})
    return sorted({Category(v) for v in values}, key=list(Category).index)


class ProgrammeType(StrEnum):
    PUHUI = "puhui"  # 普惠制
    ORDER = "order"  # 订单式
    PROJECT = "project"  # 项目制
    ENTERPRISE = "enterprise"  # 企业职工
    STARTUP = "startup"  # 创业
    APPRENTICE = "apprentice"  # 新型学徒制


PROGRAMME_LABELS: dict[ProgrammeType, str] = {
    ProgrammeType.PUHUI: "普惠制培训",
    ProgrammeType.ORDER: "订单式培训",
    ProgrammeType.PROJECT: "项目制培训",
    ProgrammeType.ENTERPRISE: "企业职工培训",
    ProgrammeType.STARTUP: "创业培训",
    ProgrammeType.APPRENTICE: "企业新型学徒制培训",
}

C = Category
# 004 二(二): the "六类人员" may take 普惠制 and employment-purpose training.
SIX_GROUPS = frozenset({C.POVERTY_ALLEVIATED, C.GRADUATE, C.LIANGHOUSHENG, C.RURAL_MIGRANT,
                        C.URBAN_UNEMPLOYED, C.HARD_TO_EMPLOY})
# 002 第三条: employment-purpose (order/project) training adds 转岗职工, 退役军人, 残疾人.
KEY_EMPLOYMENT_GROUPS = SIX_GROUPS | {C.REDEPLOYED_WORKER, C.VETERAN, C.DISABLED}

ELIGIBLE_CATEGORIES: dict[ProgrammeType, frozenset[Category]] = {
    ProgrammeType.PUHUI: SIX_GROUPS,  # 004 二(二)
    ProgrammeType.ORDER: KEY_EMPLOYMENT_GROUPS,  # 002 第三条
    ProgrammeType.PROJECT: KEY_EMPLOYMENT_GROUPS,  # 002 第三条
    ProgrammeType.STARTUP: frozenset({C.ENTREPRENEUR}),  # 002 第三条 "有创业愿望的人员"
    ProgrammeType.ENTERPRISE: frozenset({C.ENTERPRISE_EMPLOYEE}),  # 002 第四条
    ProgrammeType.APPRENTICE: frozenset({C.ENTERPRISE_EMPLOYEE}),  # 002 第四条 企业新型学徒制
}

# 004 五(三): each year one 普惠制 subsidy, and one project- or order-type subsidy.
YEARLY_GROUPS: dict[ProgrammeType, frozenset[ProgrammeType]] = {
    ProgrammeType.PUHUI: frozenset({ProgrammeType.PUHUI}),
    ProgrammeType.ORDER: frozenset({ProgrammeType.ORDER, ProgrammeType.PROJECT}),
    ProgrammeType.PROJECT: frozenset({ProgrammeType.ORDER, ProgrammeType.PROJECT}),
}



def yearly_group(programme: ProgrammeType) -> str | None:
    """The key under which 004 五(三) counts a voucher each year (None: not limited)."""
    if programme is ProgrammeType.PUHUI:
        return "puhui"
    if programme in (ProgrammeType.ORDER, ProgrammeType.PROJECT):
        return "order_project"
    return None


# States (voucher state values) of a voucher still in use: not refused, cancelled or lapsed.
OPEN_STATES = frozenset({"applied", "issued", "bound"})
COUNTED_STATES = OPEN_STATES | {"trained", "redeemed", "written_off"}


@dataclass(frozen=True)
class HeldVoucher:
    """A voucher the applicant already has, as the rules need to see it."""

    programme: ProgrammeType
    occupation_code: str
    level: str
    year: int  # the training year it belongs to
    state: str  # a VoucherState value


@dataclass(frozen=True)
class Application:
    programme: ProgrammeType
    occupation_code: str
    level: str
    year: int
    categories: frozenset[Category]


@dataclass(frozen=True)
class Refusal:
    code: str
    message: str
    clause: str  # the seed clause the rule comes from


@dataclass(frozen=True)
class Decision:
    refusals: tuple[Refusal, ...]

    @property
    def eligible(self) -> bool:
        return not self.refusals


def decide(application: Application, held: list[HeldVoucher]) -> Decision:
    """Every rule the application breaks, each with its code and clause (empty: eligible)."""
    app = application
    refusals: list[Refusal] = []
    if not app.categories & ELIGIBLE_CATEGORIES[app.programme]:
        wanted = "、".join(CATEGORY_LABELS[c] for c in sorted(ELIGIBLE_CATEGORIES[app.programme],
                                                              key=list(Category).index))
        refusals.append(Refusal("CATEGORY_NOT_ELIGIBLE",
                                f"{PROGRAMME_LABELS[app.programme]}仅面向：{wanted}",
                                "002 第三条、第四条; 004 二(二)"))
    counted = [v for v in held if v.state in COUNTED_STATES]
    same_group = YEARLY_GROUPS.get(app.programme)
    if same_group and any(v.programme in same_group and v.year == app.year for v in counted):
        label = "普惠制" if app.programme is ProgrammeType.PUHUI else "项目制或订单式"
        refusals.append(Refusal("YEARLY_LIMIT", f"本年度已享受过一次{label}培训补贴", "004 五(三)"))
    if any(v.occupation_code == app.occupation_code and v.state in OPEN_STATES for v in held):
        refusals.append(Refusal("OPEN_VOUCHER_SAME_OCCUPATION", "该工种已有未完成的培训券",
                                "product rule: one open voucher per occupation (not a seed clause)"))
    if app.programme is ProgrammeType.ENTERPRISE and any(
            v.programme is ProgrammeType.ENTERPRISE and v.occupation_code == app.occupation_code
            and v.level == app.level and v.year == app.year for v in counted):
        refusals.append(Refusal("ENTERPRISE_REPEAT", "企业职工培训同一工种同一等级同一年度内不得重复培训",
                                "002 第四条"))
    return Decision(tuple(refusals))
