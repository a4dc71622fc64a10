"""PRC resident identity numbers (GB 11643-1999) and mobile numbers.

An 18-character number: 6-digit address code, 8-digit birth date, 3-digit sequence
(odd for men, even for women) and an ISO 7064 MOD 11-2 check character (0-9 or X).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from server.domain.errors import InvalidIdNumber, InvalidMobile

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
_ID_SHAPE = re.compile(r"^[0-9]{17}[0-9X]$")  # ASCII only: \d also matches full-width digits
_MOBILE_SHAPE = re.compile(r"^1[3-9][0-9]{9}$")


def check_character(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits."""
    if len(first17) != 17 or not (first17.isascii() and first17.isdigit()):
        raise InvalidIdNumber(details={"reason": "shape"})
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


@dataclass(frozen=True)
class ResidentId:
    number: str
    address_code: str
    birth_date: date
    sex: str  # "M" or "F", from the parity of the sequence code

    @property
    def masked(self) -> str:
        return mask_id_number(self.number)


def parse_id_number(raw: str, *, today: date | None = None) -> ResidentId:
    """Validate and normalise an 18-character resident ID number; raise InvalidIdNumber."""
    number = (raw or "").strip().upper()
    if not _ID_SHAPE.match(number):
        raise InvalidIdNumber("身份证号码应为 18 位，最后一位可为 X", details={"reason": "shape"})
    try:
        birth = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise InvalidIdNumber("身份证号码中的出生日期不存在", details={"reason": "birth_date"}) from None
    if birth.year < 1900 or birth > (today or date.today()):
        raise InvalidIdNumber("身份证号码中的出生日期不合理", details={"reason": "birth_date"})
    if check_character(number[:17]) != number[17]:
        raise InvalidIdNumber("身份证号码校验位不正确", details={"reason": "check_digit"})
    sex = "M" if int(number[16]) % 2 == 1 else "F"
    return ResidentId(number=number, address_code=number[:6], birth_date=birth, sex=sex)


def mask_id_number(number: str | None) -> str | None:
    """Keep the first 4 and last 4 characters: `1427**********123X`."""
    if not number:
        return number
    if len(number) <= 8:
        return "*" * len(number)
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


def mask_mobile(mobile: str | None) -> str | None:
    """`138****1234`; anything that is not 11 characters is hidden entirely, never echoed."""
    if not mobile:
        return mobile
    if len(mobile) != 11:
        return "*" * len(mobile)
    return mobile[:3] + "****" + mobile[-4:]


def mask_name(name: str | None) -> str | None:
    """Keep the family name: `张*`, `欧阳**`-style masking keeps only the first character."""
    if not name:
        return name
    return name[0] + "*" * (len(name) - 1)


def normalise_mobile(raw: str) -> str:
    """An 11-digit mainland mobile number; spaces, dashes and a +86 prefix are tolerated."""
    digits = re.sub(r"[\s-]", "", raw or "")
    if digits.startswith("+86"):
        digits = digits[3:]
    if not _MOBILE_SHAPE.match(digits):
        raise InvalidMobile()
    return digits


def age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))
