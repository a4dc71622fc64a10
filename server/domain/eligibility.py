"""Eligibility categories (培训对象) from SPEC §5 (002 第三条; 004 二(二) "六类人员").

The rules that decide which programme a category may enter arrive with vouchers; the
categories are here because a trainee's profile records them.
"""

from __future__ import annotations

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
