"""Request and response bodies of targets (目标任务) and the monthly progress report."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, Field

from server.api.schemas import Strict


class TargetQuery(Strict):
    region: str | None = Field(default=None, max_length=9,
                               description="地区代码（默认本单位所在地区），含下级")
    year: int | None = Field(default=None, description="年度（默认全部）")


class TargetOut(BaseModel):
    region_code: str
    region_name: str
    year: int
    kind: str
    kind_label: str
    value: int
    source: str = Field(description="出处（种子文件及条款）")


class TargetList(BaseModel):
    items: list[TargetOut]


class ProgressQuery(Strict):
    region: str | None = Field(default=None, max_length=9, description="地区代码（默认本单位所在地区）")
    year: int = Field(description="统计年度")
    month: int = Field(description="月份 1–12（中国时间）；累计为当年 1 月至该月末")


class LineOut(BaseModel):
    measure: str
    label: str
    month: int | None = Field(description="本月；为空表示该级不统计此项（如乡镇的开班与拨付）")
    year_to_date: int | None = Field(description="当年累计至本月末")
    target_kind: str | None
    target_label: str | None
    target: int | None = Field(description="年度目标任务数（未下达为空）")
    percent: float | None = Field(description="完成率：累计 ÷ 年度目标 × 100，一位小数（四舍五入）")


class OtherTargetOut(BaseModel):
    kind: str
    label: str
    value: int


class RegionProgressOut(BaseModel):
    region_code: str | None = Field(description="为空：未落实到下级区划的记录")
    region_name: str
    lines: list[LineOut]
    other_targets: list[OtherTargetOut] = Field(
        description="无对应统计项的目标任务（如专业镇、劳务品牌培训）")


class ProgressOut(BaseModel):
    region_code: str
    region_name: str
    level: str
    child_level: str
    year: int
    month: int
    month_first_day: date
    month_last_day: date
    year_first_day: date
    elapsed_percent: float = Field(description="时序进度：已过月份 ÷ 12 × 100（000 一(三)）")
    total: RegionProgressOut
    children: list[RegionProgressOut]
    unassigned: RegionProgressOut
