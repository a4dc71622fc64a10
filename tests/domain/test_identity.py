"""GB 11643-1999 resident ID numbers, masking, and mainland mobile numbers."""

from __future__ import annotations

from datetime import date

import pytest

from server.domain.errors import InvalidIdNumber, InvalidMobile, ValidationFailed
from server.domain.identity import (
    ResidentId,
    age_on,
    check_character,
    mask_id_number,
    mask_mobile,
    mask_name,
    normalise_mobile,
    parse_id_number,
)

TODAY = date(2024, 6, 15)
GB_EXAMPLE = "11010519491231002X"  # the worked example published in GB 11643-1999


def make_id(address: str = "140427", birth: str = "19900101", sequence: str = "123") -> str:
    """A number with a correct check character, whatever the body says."""
    body = f"{address}{birth}{sequence}"
    return body + check_character(body)


def reason_of(raw: str, today: date = TODAY) -> str:
    with pytest.raises(InvalidIdNumber) as caught:
        parse_id_number(raw, today=today)
    assert caught.value.code == "INVALID_ID_NUMBER"
    return caught.value.details["reason"]


# ---------------------------------------------------------------- check character


@pytest.mark.parametrize(
    ("first17", "expected"),
    [
        pytest.param("11010519491231002", "X", id="gb-example-X"),
        pytest.param("14042719900101123", "2", id="140427-1990-digit"),
        pytest.param("14112119851120004", "3", id="141121-1985"),
        pytest.param("14112420000229002", "7", id="141124-leap-day-2000"),
        pytest.param("00000000000000000", "1", id="all-zero-body-sum0-gives-1"),
    ],
)
def test_check_character_known_answers(first17, expected):
    assert check_character(first17) == expected


def test_check_character_covers_every_remainder():
    """Each of the 11 possible check characters occurs: 0-9 and X."""
    seen = {check_character(f"14042719900101{n:03d}") for n in range(1000)}
    assert seen == set("0123456789X")


@pytest.mark.parametrize(
    "first17",
    [
        pytest.param("", id="empty"),
        pytest.param("1101051949123100", id="16-digits"),
        pytest.param("110105194912310021", id="18-digits"),
        pytest.param("1101051949123100X", id="X-in-body"),
        pytest.param("11010519491231 02", id="space-in-body"),
        pytest.param("1101051949123100\uff12", id="full-width-digit"),
        pytest.param("1101051949123100\u00b2", id="superscript-two"),
    ],
)
def test_check_character_refuses_anything_but_17_ascii_digits(first17):
    with pytest.raises(InvalidIdNumber) as caught:
        check_character(first17)
    assert caught.value.details == {"reason": "shape"}


# ---------------------------------------------------------------- valid numbers


@pytest.mark.parametrize(
    ("raw", "number", "address", "birth", "sex"),
    [
        pytest.param(GB_EXAMPLE, GB_EXAMPLE, "110105", date(1949, 12, 31), "F", id="gb-example"),
        pytest.param("11010519491231002x", GB_EXAMPLE, "110105", date(1949, 12, 31), "F",
                     id="lower-case-x-upper-cased"),
        pytest.param(f"  {GB_EXAMPLE}\n", GB_EXAMPLE, "110105", date(1949, 12, 31), "F",
                     id="surrounding-whitespace-stripped"),
        pytest.param("140427199001011232", "140427199001011232", "140427", date(1990, 1, 1), "M",
                     id="shanxi-140427-1990"),
        pytest.param("141121198511200043", "141121198511200043", "141121", date(1985, 11, 20), "F",
                     id="shanxi-141121-1985"),
        pytest.param(make_id("141124", "19780705", "011"), make_id("141124", "19780705", "011"),
                     "141124", date(1978, 7, 5), "M", id="shanxi-141124-male"),
        pytest.param(make_id("140000", "19000101", "001"), make_id("140000", "19000101", "001"),
                     "140000", date(1900, 1, 1), "M", id="earliest-allowed-1900-01-01"),
        pytest.param(make_id("140427", "20000229", "002"), make_id("140427", "20000229", "002"),
                     "140427", date(2000, 2, 29), "F", id="leap-day-2000-02-29"),
        pytest.param(make_id("140427", "19960229", "003"), make_id("140427", "19960229", "003"),
                     "140427", date(1996, 2, 29), "M", id="leap-day-1996-02-29"),
        pytest.param(make_id("140427", "20240615", "004"), make_id("140427", "20240615", "004"),
                     "140427", TODAY, "F", id="born-today"),
    ],
)
def test_valid_numbers_parse(raw, number, address, birth, sex):
    resident = parse_id_number(raw, today=TODAY)
    assert resident == ResidentId(number=number, address_code=address, birth_date=birth, sex=sex)


@pytest.mark.parametrize(
    "check", [pytest.param(c, id=f"check-{c}") for c in "0123456789X"]
)
def test_every_check_character_is_accepted_when_it_is_the_right_one(check):
    body = next(f"14042719900101{n:03d}" for n in range(1000)
                if check_character(f"14042719900101{n:03d}") == check)
    assert parse_id_number(body + check, today=TODAY).number == body + check


def test_default_today_is_the_real_today():
    assert parse_id_number(GB_EXAMPLE).birth_date == date(1949, 12, 31)
    assert reason_of(make_id(birth="29990101"), today=None) == "birth_date"


# ---------------------------------------------------------------- sex


@pytest.mark.parametrize(
    ("digit17", "sex"),
    [pytest.param(str(d), "M" if d % 2 else "F", id=f"17th-digit-{d}") for d in range(10)],
)
def test_sex_comes_from_parity_of_the_17th_digit(digit17, sex):
    number = make_id("140427", "19900101", "12" + digit17)
    assert parse_id_number(number, today=TODAY).sex == sex


def test_sex_ignores_the_check_character():
    # GB example ends in X after an even 17th digit: female, X is not a digit to test.
    assert parse_id_number(GB_EXAMPLE, today=TODAY).sex == "F"


# ---------------------------------------------------------------- shape refusals


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("", id="empty"),
        pytest.param(None, id="none"),
        pytest.param("   ", id="blank"),
        pytest.param(GB_EXAMPLE[:17], id="17-chars"),
        pytest.param(GB_EXAMPLE + "1", id="19-chars"),
        pytest.param("110105491231002", id="15-digit-first-generation-id"),
        pytest.param("1101051949123100AX", id="letter-in-body"),
        pytest.param("A1010519491231002X", id="letter-first"),
        pytest.param("X10105194912310021", id="X-first"),
        pytest.param("1101051949123X0021", id="X-in-the-middle"),
        pytest.param("1101051949123100XX", id="X-at-17th-and-18th"),
        pytest.param("11010519491231002Y", id="Y-as-check"),
        pytest.param("110105 19491231002X", id="inner-space"),
        pytest.param("110105-19491231-002X", id="dashes"),
        pytest.param("11010519491231002X".replace("0", "\uff10"), id="full-width-zeros"),
        pytest.param("\uff11\uff11\uff10\uff11\uff10\uff15\uff11\uff19\uff14\uff19"
                     "\uff11\uff12\uff13\uff11\uff10\uff10\uff12X", id="all-full-width"),
        pytest.param("11010519491231002\uff38", id="full-width-X"),
        pytest.param("\u0661" * 18, id="arabic-indic-digits"),
        pytest.param("+1010519491231002X", id="plus-sign"),
    ],
)
def test_malformed_numbers_are_refused_for_shape(raw):
    assert reason_of(raw) == "shape"


# ---------------------------------------------------------------- birth-date refusals


@pytest.mark.parametrize(
    "birth",
    [
        pytest.param("19900230", id="feb-30"),
        pytest.param("19900231", id="feb-31"),
        pytest.param("20010229", id="feb-29-non-leap-2001"),
        pytest.param("19000229", id="feb-29-1900-century-not-leap"),
        pytest.param("21000229", id="feb-29-2100"),
        pytest.param("19900431", id="apr-31"),
        pytest.param("19900631", id="jun-31"),
        pytest.param("19900931", id="sep-31"),
        pytest.param("19901131", id="nov-31"),
        pytest.param("19900132", id="jan-32"),
        pytest.param("19900100", id="day-00"),
        pytest.param("19900001", id="month-00"),
        pytest.param("19901301", id="month-13"),
        pytest.param("00000000", id="all-zero-date"),
        pytest.param("18991231", id="1899-12-31-before-1900"),
        pytest.param("18000101", id="year-1800"),
        pytest.param("20240616", id="tomorrow"),
        pytest.param("20250101", id="next-year"),
        pytest.param("29991231", id="far-future"),
    ],
)
def test_impossible_or_implausible_birth_dates_are_refused(birth):
    # The check character is right, so the date alone is at fault.
    assert reason_of(make_id("140427", birth, "123")) == "birth_date"


def test_future_is_judged_against_the_given_today():
    number = make_id("140427", "20240616", "123")
    assert reason_of(number, today=date(2024, 6, 15)) == "birth_date"
    assert parse_id_number(number, today=date(2024, 6, 16)).birth_date == date(2024, 6, 16)


# ---------------------------------------------------------------- check-digit refusals


def _single_digit_changes():
    base = "140427199001011232"
    for pos in range(17):
        for digit in "0123456789":
            if digit != base[pos]:
                yield pytest.param(base[:pos] + digit + base[pos + 1:], pos,
                                   id=f"pos{pos + 1:02d}-{base[pos]}to{digit}")


@pytest.mark.parametrize(("raw", "pos"), list(_single_digit_changes()))
def test_every_single_digit_change_in_the_body_is_caught(raw, pos):
    reason = reason_of(raw)
    if 6 <= pos < 14:  # a birth-date digit may make the date itself impossible
        assert reason in {"birth_date", "check_digit"}
    else:
        assert reason == "check_digit"


@pytest.mark.parametrize(
    "check", [pytest.param(c, id=f"check-{c}-instead-of-2") for c in "013456789X"]
)
def test_every_wrong_check_character_is_caught(check):
    assert reason_of("14042719900101123" + check) == "check_digit"


@pytest.mark.parametrize(
    "wrong", [pytest.param(f"11010519491231002{d}", id=f"gb-example-with-{d}") for d in "0123456789"]
)
def test_gb_example_with_a_digit_instead_of_X_is_refused(wrong):
    assert reason_of(wrong) == "check_digit"


def _adjacent_swaps():
    base = "141121198511200043"
    for pos in range(16):
        if base[pos] != base[pos + 1]:
            swapped = base[:pos] + base[pos + 1] + base[pos] + base[pos + 2:]
            yield pytest.param(swapped, id=f"swap-pos{pos + 1:02d}-{pos + 2:02d}")


@pytest.mark.parametrize("raw", list(_adjacent_swaps()))
def test_swapping_two_adjacent_body_digits_is_caught(raw):
    reason_of(raw)


def test_refusals_are_validation_failures_with_a_chinese_message():
    with pytest.raises(ValidationFailed) as caught:
        parse_id_number("11010519491231002 ", today=TODAY)
    assert caught.value.message == "身份证号码应为 18 位，最后一位可为 X"


# ---------------------------------------------------------------- masking


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        pytest.param(GB_EXAMPLE, "1101**********002X", id="gb-example"),
        pytest.param("140427199001011232", "1404**********1232", id="shanxi"),
        pytest.param("110105491231002", "1101*******1002", id="15-digit"),
        pytest.param("123456789", "1234*6789", id="9-chars"),
        pytest.param("12345678", "********", id="8-chars-all-hidden"),
        pytest.param("1234", "****", id="4-chars-all-hidden"),
        pytest.param("1", "*", id="1-char-hidden"),
        pytest.param("", "", id="empty"),
        pytest.param(None, None, id="none"),
    ],
)
def test_mask_id_number(number, masked):
    assert mask_id_number(number) == masked


@pytest.mark.parametrize(
    "number",
    [
        pytest.param(GB_EXAMPLE, id="gb-example"),
        pytest.param(make_id("141124", "20000229", "002"), id="leap-day"),
        pytest.param(make_id("140000", "19000101", "001"), id="1900"),
    ],
)
def test_masked_id_keeps_4_and_4_and_never_reveals_the_birth_date(number):
    masked = mask_id_number(number)
    assert len(masked) == len(number) == 18
    assert masked[:4] == number[:4]
    assert masked[-4:] == number[-4:]
    assert masked[4:14] == "*" * 10
    assert number[6:14] not in masked


def test_resident_id_masked_property():
    assert parse_id_number(GB_EXAMPLE, today=TODAY).masked == "1101**********002X"


@pytest.mark.parametrize(
    ("mobile", "masked"),
    [
        pytest.param("13812345678", "138****5678", id="eleven-digits"),
        pytest.param("19900001111", "199****1111", id="199-prefix"),
        pytest.param("", "", id="empty"),
        pytest.param(None, None, id="none"),
        pytest.param("1381234567", "**********", id="10-chars-hidden-not-echoed"),
        pytest.param("+8613812345678", "**************", id="unnormalised-hidden-not-echoed"),
        pytest.param("12345", "*****", id="short-hidden-not-echoed"),
    ],
)
def test_mask_mobile(mobile, masked):
    assert mask_mobile(mobile) == masked


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        pytest.param("张三", "张*", id="two-chars"),
        pytest.param("王小明", "王**", id="three-chars"),
        pytest.param("欧阳娜娜", "欧***", id="compound-surname-keeps-first-char-only"),
        pytest.param("", "", id="empty"),
        pytest.param(None, None, id="none"),
    ],
)
def test_mask_name(name, masked):
    assert mask_name(name) == masked


# ---------------------------------------------------------------- mobile numbers


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("13812345678", id="plain"),
        pytest.param("+8613812345678", id="plus-86"),
        pytest.param("+86 138 1234 5678", id="plus-86-spaces"),
        pytest.param("+86-138-1234-5678", id="plus-86-dashes"),
        pytest.param("138 1234 5678", id="spaces"),
        pytest.param("138-1234-5678", id="dashes"),
        pytest.param(" 13812345678\t\n", id="surrounding-whitespace"),
        pytest.param("+ 86 13812345678", id="space-after-plus"),
    ],
)
def test_mobile_formats_normalise_to_11_digits(raw):
    assert normalise_mobile(raw) == "13812345678"


@pytest.mark.parametrize(
    "second", [pytest.param(str(d), id=f"1{d}x") for d in range(3, 10)]
)
def test_mobiles_starting_13_to_19_are_accepted(second):
    assert normalise_mobile(f"1{second}012345678") == f"1{second}012345678"


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("10012345678", id="starts-10"),
        pytest.param("11012345678", id="starts-11"),
        pytest.param("12012345678", id="starts-12"),
        pytest.param("138123456789", id="12-digits"),
        pytest.param("1381234567", id="10-digits"),
        pytest.param("+86138123456789", id="plus-86-and-12-digits"),
        pytest.param("8613812345678", id="86-without-plus"),
        pytest.param("008613812345678", id="0086-prefix"),
        pytest.param("+85213812345678", id="hong-kong-prefix"),
        pytest.param("0351-1234567", id="taiyuan-landline"),
        pytest.param("03511234567", id="landline-11-digits"),
        pytest.param("0351-12345678", id="landline-8-digit-local"),
        pytest.param("23812345678", id="starts-2"),
        pytest.param("1381234567a", id="letter"),
        pytest.param("138.1234.5678", id="dots"),
        pytest.param("(138)12345678", id="brackets"),
        pytest.param("138\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18", id="full-width-digits"),
        pytest.param("", id="empty"),
        pytest.param(None, id="none"),
    ],
)
def test_non_mobile_numbers_are_refused(raw):
    with pytest.raises(InvalidMobile) as caught:
        normalise_mobile(raw)
    assert caught.value.code == "INVALID_MOBILE"


# ---------------------------------------------------------------- age


@pytest.mark.parametrize(
    ("birth", "day", "age"),
    [
        pytest.param(date(1990, 6, 15), date(2024, 6, 14), 33, id="day-before-birthday"),
        pytest.param(date(1990, 6, 15), date(2024, 6, 15), 34, id="on-birthday"),
        pytest.param(date(1990, 6, 15), date(2024, 12, 31), 34, id="after-birthday"),
        pytest.param(date(1990, 12, 31), date(2024, 1, 1), 33, id="new-years-day"),
        pytest.param(date(2000, 2, 29), date(2001, 2, 28), 0, id="leapling-feb-28"),
        pytest.param(date(2000, 2, 29), date(2001, 3, 1), 1, id="leapling-mar-1"),
        pytest.param(date(2000, 2, 29), date(2004, 2, 29), 4, id="leapling-leap-year"),
        pytest.param(date(2024, 6, 15), date(2024, 6, 15), 0, id="born-today"),
    ],
)
def test_age_on(birth, day, age):
    assert age_on(birth, day) == age
