"""Administrative divisions (GB/T 2260 six-digit codes; townships use the 9-digit
statistical division code) and the "same region or below" rule that scopes bureau users.

A code's *prefix* is its significant part: 140000 → "14" (province), 140900 → "1409"
(city), 140427 → "140427" (county), 140427100 → "140427100" (township). A region lies
within another when its code starts with the other's prefix, which also makes the rule a
single indexed `LIKE 'prefix%'` in SQL.
"""

from __future__ import annotations

import re
from enum import StrEnum

from server.domain.errors import ValidationFailed

_CODE_SHAPE = re.compile(r"^([0-9]{6}|[0-9]{9})\Z")  # ASCII digits; \Z, not $, refuses "140000\n"


class RegionLevel(StrEnum):
    PROVINCE = "province"  # 省
    CITY = "city"  # 市
    COUNTY = "county"  # 县/区
    TOWNSHIP = "township"  # 乡/镇


def validate_code(code: str) -> str:
    if not isinstance(code, str) or not _CODE_SHAPE.match(code):
        raise ValidationFailed("行政区划代码应为 6 位（乡镇 9 位）数字", details={"region_code": code})
    return code


def level_of(code: str) -> RegionLevel:
    validate_code(code)
    if len(code) == 9:
        return RegionLevel.TOWNSHIP
    if code[2:] == "0000":
        return RegionLevel.PROVINCE
    if code[4:] == "00":
        return RegionLevel.CITY
    return RegionLevel.COUNTY


def prefix_of(code: str) -> str:
    return {
        RegionLevel.PROVINCE: code[:2],
        RegionLevel.CITY: code[:4],
        RegionLevel.COUNTY: code[:6],
        RegionLevel.TOWNSHIP: code,
    }[level_of(code)]


def parent_code(code: str) -> str | None:
    """The code of the enclosing division, or None for a province."""
    level = level_of(code)
    if level is RegionLevel.PROVINCE:
        return None
    if level is RegionLevel.CITY:
        return code[:2] + "0000"
    if level is RegionLevel.COUNTY:
        return code[:4] + "00"
    return code[:6]


def is_within(code: str, ancestor: str) -> bool:
    """True when `code` is `ancestor` or lies below it."""
    return code.startswith(prefix_of(ancestor))
