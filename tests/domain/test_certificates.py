"""Assessment results and certificates: scores and the pass mark, who may evaluate (002 第十四条),
who issues which kind (002 第十二条), levels, certificate numbers with their check character,
the signed token's claims, and the certificate rate (SPEC §8)."""

from __future__ import annotations

import itertools
import json
import math
import re
from datetime import date
from decimal import Decimal

import pytest

from server.domain.access import OrgKind
from server.domain.certificates import (
    ISSUED_BY_TRAINER,
    KIND_LABELS,
    KIND_PREFIXES,
    LEVELLED_KINDS,
    LEVELS,
    PASS_MARK,
    STATE_LABELS,
    CertificateExists,
    CertificateFacts,
    CertificateKind,
    CertificateNotFound,
    CertificateRevoked,
    CertificateState,
    EvaluatorIsTrainer,
    InvalidCertificateNumber,
    NotAnEvaluator,
    NotPassed,
    OrgFacts,
    ScoreOutOfRange,
    VerifiedClaims,
    check_evaluator,
    check_issue,
    claims,
    level_for,
    level_reaches,
    new_number,
    parse_number,
    passed,
    rate_percent,
    read_claims,
    score,
)
from server.domain.errors import Conflict, Forbidden, NotFound, ValidationFailed

K = CertificateKind
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base 32, written out independently
ISSUED = date(2026, 3, 20)


# --- kinds, labels, levels ------------------------------------------------------------------


def test_every_kind_has_a_chinese_label_and_the_labels_are_distinct():
    assert set(KIND_LABELS) == set(CertificateKind)
    assert all(label.strip() for label in KIND_LABELS.values())
    assert len(set(KIND_LABELS.values())) == len(CertificateKind)


def test_the_training_certificate_is_the_培训合格证书():
    """002 第十二条: the training institution issues the 培训合格证书."""
    assert KIND_LABELS[K.TRAINING_QUALIFICATION] == "培训合格证书"
    assert KIND_LABELS[K.SKILL_LEVEL] == "职业技能等级证书"
    assert KIND_LABELS[K.VOCATIONAL_QUALIFICATION] == "职业资格证书"


def test_every_kind_has_a_distinct_one_letter_number_prefix():
    assert set(KIND_PREFIXES) == set(CertificateKind)
    prefixes = list(KIND_PREFIXES.values())
    assert len(set(prefixes)) == len(prefixes)
    for prefix in prefixes:
        # a letter of the alphabet people can read back: never O, I, L (read as digits) or U
        assert len(prefix) == 1 and prefix in ALPHABET and prefix.isalpha(), prefix


def test_every_state_has_a_label():
    assert set(STATE_LABELS) == set(CertificateState)
    assert STATE_LABELS[CertificateState.REVOKED] == "已作废"


def test_only_skill_level_and_qualification_certificates_carry_a_level():
    assert frozenset({K.SKILL_LEVEL, K.VOCATIONAL_QUALIFICATION}) == LEVELLED_KINDS


def test_levels_run_from_初级_to_高级技师():
    assert LEVELS == ("初级", "中级", "高级", "技师", "高级技师")


def test_only_the_training_certificate_is_issued_by_the_trainer():
    assert frozenset({K.TRAINING_QUALIFICATION}) == ISSUED_BY_TRAINER


def test_refusals_have_stable_codes_and_http_families():
    assert issubclass(ScoreOutOfRange, ValidationFailed) and ScoreOutOfRange.code == "SCORE_OUT_OF_RANGE"
    assert issubclass(EvaluatorIsTrainer, Forbidden) and EvaluatorIsTrainer.code == "EVALUATOR_IS_TRAINER"
    assert issubclass(NotAnEvaluator, ValidationFailed)
    assert NotAnEvaluator.code == "NOT_AN_EVALUATION_INSTITUTION"
    assert issubclass(NotPassed, ValidationFailed) and NotPassed.code == "RESULT_NOT_PASSED"
    assert issubclass(InvalidCertificateNumber, ValidationFailed)
    assert InvalidCertificateNumber.code == "INVALID_CERTIFICATE_NUMBER"
    assert issubclass(CertificateExists, Conflict) and CertificateExists.code == "CERTIFICATE_EXISTS"
    assert issubclass(CertificateNotFound, NotFound) and CertificateNotFound.code == "CERTIFICATE_NOT_FOUND"
    assert issubclass(CertificateRevoked, Conflict) and CertificateRevoked.code == "CERTIFICATE_REVOKED"


# --- scores ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(0, "0.0", id="int-zero"),
        pytest.param(0.0, "0.0", id="float-zero"),
        pytest.param("0", "0.0", id="string-zero"),
        pytest.param(59.9, "59.9", id="float-59.9-just-below-the-mark"),
        pytest.param(60, "60.0", id="int-60-the-mark"),
        pytest.param(60.0, "60.0", id="float-60.0"),
        pytest.param(0.1, "0.1", id="float-0.1"),
        pytest.param(99.9, "99.9", id="float-99.9"),
        pytest.param(100, "100.0", id="int-100"),
        pytest.param(100.0, "100.0", id="float-100.0"),
        pytest.param("100", "100.0", id="string-100"),
        pytest.param("100.0", "100.0", id="string-100.0"),
        pytest.param("85.5", "85.5", id="string-85.5"),
        pytest.param("85.50", "85.5", id="string-trailing-zero"),
        pytest.param("72", "72.0", id="string-integer"),
        pytest.param(Decimal("72.3"), "72.3", id="decimal-72.3"),
        pytest.param(Decimal("60"), "60.0", id="decimal-60"),
        pytest.param(Decimal("100.00"), "100.0", id="decimal-100.00"),
    ],
)
def test_a_score_of_0_to_100_with_one_decimal_is_kept_exactly(value, expected):
    result = score(value, "theory_score")
    assert isinstance(result, Decimal)
    assert result == Decimal(expected)
    assert str(result) == expected  # always exactly one decimal place


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(100.1, id="float-100.1"),
        pytest.param("100.1", id="string-100.1"),
        pytest.param(101, id="int-101"),
        pytest.param(Decimal("100.01"), id="decimal-100.01"),
        pytest.param(-0.1, id="float-minus-0.1"),
        pytest.param(-1, id="int-minus-1"),
        pytest.param("-0.1", id="string-minus-0.1"),
        pytest.param(80.25, id="float-two-decimals"),
        pytest.param("80.25", id="string-two-decimals"),
        pytest.param(Decimal("59.95"), id="decimal-two-decimals"),
        pytest.param(0.1 + 0.2, id="float-binary-noise"),
        pytest.param(math.nan, id="float-nan"),
        pytest.param(math.inf, id="float-inf"),
        pytest.param(-math.inf, id="float-minus-inf"),
        pytest.param("NaN", id="string-nan"),
        pytest.param("inf", id="string-inf"),
        pytest.param("Infinity", id="string-infinity"),
        pytest.param(Decimal("NaN"), id="decimal-nan"),
        pytest.param(Decimal("sNaN"), id="decimal-signalling-nan"),
        pytest.param(Decimal("Infinity"), id="decimal-inf"),
        pytest.param(True, id="true"),
        pytest.param(False, id="false"),
        pytest.param(None, id="none"),
        pytest.param("", id="empty-string"),
        pytest.param("   ", id="blank-string"),
        pytest.param("abc", id="letters"),
        pytest.param("85,5", id="decimal-comma"),
        pytest.param("85.5分", id="with-unit"),
        pytest.param([], id="empty-list"),
        pytest.param([85], id="list"),
        pytest.param({"value": 85}, id="dict"),
        pytest.param((85,), id="tuple"),
        pytest.param(b"85", id="bytes"),
    ],
)
def test_a_score_outside_0_to_100_or_not_a_number_is_refused(value):
    with pytest.raises(ScoreOutOfRange) as refused:
        score(value, "results.0.practice_score")
    assert refused.value.code == "SCORE_OUT_OF_RANGE"
    assert refused.value.details["field"] == "results.0.practice_score"
    assert "100" in refused.value.message


def test_a_refused_score_echoes_at_most_20_characters_of_it():
    with pytest.raises(ScoreOutOfRange) as refused:
        score("100.12345678901234567890", "theory_score")
    assert len(refused.value.details.get("value", "")) <= 20


def test_the_pass_mark_is_60():
    assert Decimal(60) == PASS_MARK


@pytest.mark.parametrize(
    ("theory", "practice", "expected"),
    [
        pytest.param("60", "60", True, id="both-exactly-60"),
        pytest.param("60.0", "100", True, id="theory-at-mark"),
        pytest.param("100", "60.0", True, id="practice-at-mark"),
        pytest.param("100", "100", True, id="both-full"),
        pytest.param("75.5", "88", True, id="both-above"),
        pytest.param("59.9", "60", False, id="theory-just-below"),
        pytest.param("60", "59.9", False, id="practice-just-below"),
        pytest.param("59.9", "59.9", False, id="both-just-below"),
        pytest.param("100", "0", False, id="full-theory-no-practice"),
        pytest.param("0", "100", False, id="no-theory-full-practice"),
        pytest.param("0", "0", False, id="both-zero"),
    ],
)
def test_passing_needs_both_theory_and_practice_at_60(theory, practice, expected):
    assert passed(score(theory, "theory"), score(practice, "practice")) is expected


# --- who may evaluate (002 第十四条) ----------------------------------------------------------

TRAINER = OrgFacts(id=10, kind=OrgKind.TRAINING_INSTITUTION, social_credit_code="91140427MA0K1234X5")
EVALUATOR = OrgFacts(id=20, kind=OrgKind.EVALUATION_INSTITUTION, social_credit_code="12140900MB1234567Y")


def test_a_different_evaluation_institution_may_evaluate():
    assert check_evaluator(EVALUATOR, TRAINER) is None


def test_the_training_institution_itself_may_not_evaluate_its_class():
    with pytest.raises(EvaluatorIsTrainer) as refused:
        check_evaluator(OrgFacts(10, OrgKind.EVALUATION_INSTITUTION, None),
                        OrgFacts(10, OrgKind.TRAINING_INSTITUTION, None))
    assert isinstance(refused.value, Forbidden)
    assert refused.value.code == "EVALUATOR_IS_TRAINER"
    assert refused.value.details == {"evaluator_id": 10, "institution_id": 10, "same_legal_entity": False}


def test_the_same_organisation_with_the_same_credit_code_is_also_the_same_legal_entity():
    with pytest.raises(EvaluatorIsTrainer) as refused:
        check_evaluator(TRAINER, TRAINER)
    assert refused.value.details == {"evaluator_id": 10, "institution_id": 10, "same_legal_entity": True}


def test_an_evaluator_sharing_the_trainer_s_credit_code_is_the_same_legal_entity():
    """Same 统一社会信用代码: one legal person registered both as trainer and as evaluator."""
    twin = OrgFacts(id=30, kind=OrgKind.EVALUATION_INSTITUTION, social_credit_code=TRAINER.social_credit_code)
    with pytest.raises(EvaluatorIsTrainer) as refused:
        check_evaluator(twin, TRAINER)
    assert isinstance(refused.value, Forbidden)
    assert refused.value.code == "EVALUATOR_IS_TRAINER"
    assert refused.value.details == {"evaluator_id": 30, "institution_id": 10, "same_legal_entity": True}


def test_being_the_trainer_is_named_before_not_being_an_evaluator():
    """A training institution chosen as evaluator of its own class hears the graver refusal."""
    with pytest.raises(EvaluatorIsTrainer):
        check_evaluator(OrgFacts(31, OrgKind.TRAINING_INSTITUTION, TRAINER.social_credit_code), TRAINER)


@pytest.mark.parametrize(
    ("evaluator_code", "trainer_code"),
    [
        pytest.param(None, None, id="both-none"),
        pytest.param("", "", id="both-empty"),
        pytest.param(None, "", id="none-and-empty"),
        pytest.param("", None, id="empty-and-none"),
        pytest.param(None, "91140427MA0K1234X5", id="evaluator-none"),
        pytest.param("", "91140427MA0K1234X5", id="evaluator-empty"),
        pytest.param("12140900MB1234567Y", None, id="trainer-none"),
        pytest.param("12140900MB1234567Y", "", id="trainer-empty"),
        pytest.param("12140900MB1234567Y", "91140427MA0K1234X5", id="different-codes"),
    ],
)
def test_missing_credit_codes_never_make_two_organisations_the_same_entity(evaluator_code, trainer_code):
    evaluator = OrgFacts(id=20, kind=OrgKind.EVALUATION_INSTITUTION, social_credit_code=evaluator_code)
    trainer = OrgFacts(id=10, kind=OrgKind.TRAINING_INSTITUTION, social_credit_code=trainer_code)
    assert check_evaluator(evaluator, trainer) is None


@pytest.mark.parametrize("kind", [k for k in OrgKind if k is not OrgKind.EVALUATION_INSTITUTION],
                         ids=str)
def test_an_organisation_that_is_not_an_evaluation_institution_may_not_evaluate(kind):
    other = OrgFacts(id=40, kind=kind, social_credit_code="11140000MB0000000A")
    with pytest.raises(NotAnEvaluator) as refused:
        check_evaluator(other, TRAINER)
    assert isinstance(refused.value, ValidationFailed)
    assert refused.value.code == "NOT_AN_EVALUATION_INSTITUTION"
    assert refused.value.details == {"organisation_id": 40}


# --- who issues which kind (002 第十二条, 第十四条) ---------------------------------------------

# Written out from the seeds: the trainer issues the 培训合格证书, the evaluator everything else.
BY_TRAINER = {K.TRAINING_QUALIFICATION}


@pytest.mark.parametrize(
    ("kind", "issuer_is_trainer", "has_passed"),
    list(itertools.product(CertificateKind, [True, False], [True, False, None])),
    ids=lambda v: str(v),
)
def test_who_may_issue_each_kind_and_only_to_those_who_passed(kind, issuer_is_trainer, has_passed):
    right_issuer = issuer_is_trainer == (kind in BY_TRAINER)
    if not right_issuer:
        with pytest.raises(Forbidden) as refused:
            check_issue(kind, issuer_is_trainer=issuer_is_trainer, has_passed=has_passed)
        assert refused.value.code == "WRONG_ISSUER"
        assert refused.value.details == {"kind": str(kind)}
        assert KIND_LABELS[kind] in refused.value.message
        assert ("培训机构" if kind in BY_TRAINER else "评价机构") in refused.value.message
    elif not has_passed:
        with pytest.raises(NotPassed) as refused:
            check_issue(kind, issuer_is_trainer=issuer_is_trainer, has_passed=has_passed)
        assert refused.value.code == "RESULT_NOT_PASSED"
    else:
        assert check_issue(kind, issuer_is_trainer=issuer_is_trainer, has_passed=has_passed) is None


# --- levels ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "level"), list(itertools.product(sorted(LEVELLED_KINDS), LEVELS)),
                         ids=lambda v: str(v))
def test_a_levelled_certificate_records_the_assessed_level(kind, level):
    assert level_for(kind, level) == level


@pytest.mark.parametrize(("kind", "level"),
                         list(itertools.product([k for k in K if k not in LEVELLED_KINDS],
                                                [None, "", "初级", "高级技师", "五级"])),
                         ids=lambda v: str(v))
def test_an_unlevelled_certificate_records_no_level_whatever_was_assessed(kind, level):
    assert level_for(kind, level) == ""


UNKNOWN_LEVELS = [None, "", "五级", "初级工", " 初级", "中级 ", "高级工", "junior"]


@pytest.mark.parametrize(("kind", "level"), list(itertools.product(sorted(LEVELLED_KINDS), UNKNOWN_LEVELS)),
                         ids=lambda v: str(v))
def test_a_levelled_certificate_without_a_known_level_is_refused(kind, level):
    with pytest.raises(ValidationFailed) as refused:
        level_for(kind, level)
    assert refused.value.code == "LEVEL_REQUIRED"
    assert refused.value.details == {"kind": str(kind)}


@pytest.mark.parametrize(("level", "minimum"), list(itertools.product(LEVELS, LEVELS)),
                         ids=lambda v: str(v))
def test_a_level_reaches_every_minimum_at_or_below_it(level, minimum):
    assert level_reaches(level, minimum) is (LEVELS.index(level) >= LEVELS.index(minimum))


@pytest.mark.parametrize(
    ("level", "minimum", "expected"),
    [
        pytest.param("初级", "初级", True, id="初级-reaches-初级"),
        pytest.param("中级", "初级", True, id="中级-reaches-初级"),
        pytest.param("高级技师", "初级", True, id="高级技师-reaches-初级"),
        pytest.param("初级", "中级", False, id="初级-short-of-中级"),
        pytest.param("技师", "高级技师", False, id="技师-short-of-高级技师"),
    ],
)
def test_level_ordering_examples(level, minimum, expected):
    assert level_reaches(level, minimum) is expected


@pytest.mark.parametrize("level", [*LEVELS, "", "五级"])
def test_without_a_minimum_every_level_reaches(level):
    assert level_reaches(level, None) is True


@pytest.mark.parametrize("minimum", LEVELS)
@pytest.mark.parametrize("level", ["", "五级", "初级工"])
def test_no_level_or_an_unknown_level_reaches_no_minimum(level, minimum):
    assert level_reaches(level, minimum) is False


# --- certificate numbers --------------------------------------------------------------------

NUMBER_SHAPE = re.compile(r"([A-Z])(\d{6})(\d{2})-([0-9A-HJKMNP-TV-Z]{10})")


@pytest.mark.parametrize("kind", list(CertificateKind), ids=str)
def test_a_new_number_carries_kind_letter_region_and_year_and_parses_back(kind):
    number = new_number(kind, "140427", ISSUED)
    match = NUMBER_SHAPE.fullmatch(number)
    assert match, number
    assert match.group(1) == KIND_PREFIXES[kind]
    assert match.group(2) == "140427"
    assert match.group(3) == "26"
    assert parse_number(number) == number


@pytest.mark.parametrize(("issued_on", "year"), [(date(2000, 1, 1), "00"), (date(2009, 12, 31), "09"),
                                                 (date(2026, 3, 20), "26"), (date(2100, 6, 1), "00")])
def test_the_year_is_the_last_two_digits(issued_on, year):
    number = new_number(K.SPECIAL_ABILITY, "141124", issued_on)
    assert number[7:10] == f"{year}-"
    assert parse_number(number) == number


def test_numbers_are_not_repeated():
    assert len({new_number(K.SKILL_LEVEL, "140900", ISSUED) for _ in range(2000)}) == 2000


@pytest.mark.parametrize("region", ["1404", "14042", "1404270", "", "壶关县", "14042a"])
def test_a_number_needs_a_valid_region_code(region):
    with pytest.raises(ValidationFailed):
        new_number(K.SKILL_LEVEL, region, ISSUED)


@pytest.mark.parametrize("kind", list(CertificateKind), ids=str)
def test_lower_case_and_surrounding_space_are_normalised(kind):
    number = new_number(kind, "140427", ISSUED)
    assert parse_number(f"  {number.lower()}\t") == number


def test_o_i_and_l_are_read_as_0_1_and_1_everywhere_in_the_number():
    number = new_number(K.SKILL_LEVEL, "141021", date(2010, 1, 1))
    for one in ("I", "L", "i", "l"):
        typed = number.replace("0", "O").replace("1", one)
        assert parse_number(typed) == number, typed


@pytest.mark.parametrize("kind", list(CertificateKind), ids=str)
def test_every_single_mistyped_character_of_the_random_part_is_caught(kind):
    number = new_number(kind, "140427", ISSUED)
    head, body = number.split("-")
    for position, original in enumerate(body):
        for replacement in ALPHABET:
            if replacement == original:
                continue
            typo = f"{head}-{body[:position]}{replacement}{body[position + 1:]}"
            with pytest.raises(InvalidCertificateNumber):
                parse_number(typo)


def test_a_character_outside_the_alphabet_in_the_random_part_is_refused():
    number = new_number(K.SKILL_LEVEL, "140427", ISSUED)
    head, body = number.split("-")
    for bad in ("U", "*", " ", "Ａ", "é"):
        with pytest.raises(InvalidCertificateNumber):
            parse_number(f"{head}-{bad}{body[1:]}")


@pytest.mark.parametrize("letter", sorted(set("ABCDFGHJKMNRUVWXY") | set("0123456789")))
def test_a_letter_that_is_no_kind_s_prefix_is_refused(letter):
    number = new_number(K.SKILL_LEVEL, "140427", ISSUED)
    assert letter not in KIND_PREFIXES.values()
    with pytest.raises(InvalidCertificateNumber):
        parse_number(letter + number[1:])


def test_the_prefix_letters_checked_above_are_all_the_non_prefix_letters():
    """The table above leaves out only the real prefixes and O/I/L (read as digits)."""
    left_out = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ") - set("ABCDFGHJKMNRUVWXY")
    assert left_out == set(KIND_PREFIXES.values()) | set("OIL")


def _malformed(number: str) -> list:
    head, body = number.split("-")
    return [
        pytest.param(number.replace("-", ""), id="missing-dash"),
        pytest.param(number.replace("-", "_"), id="underscore-for-dash"),
        pytest.param(number.replace("-", " "), id="space-for-dash"),
        pytest.param(f"{head[:-1]}-{head[-1]}{body}", id="dash-one-early"),
        pytest.param(f"{head[0]}{head[2:]}-{body}", id="region-five-digits"),
        pytest.param(f"{head[:7]}0{head[7:]}-{body}", id="region-seven-digits"),
        pytest.param(f"{head[:7]}-{body}", id="no-year"),
        pytest.param(f"{head[:7]}2026-{body}", id="four-digit-year"),
        pytest.param(f"{head[0]}14042A{head[7:]}-{body}", id="letter-in-region"),
        pytest.param(f"{head[0]}１４０４２７{head[7:]}-{body}", id="full-width-region"),
        pytest.param(head[1:] + "-" + body, id="no-kind-letter"),
        pytest.param(f"SS{head[1:]}-{body}", id="two-kind-letters"),
        pytest.param(f"{head}-{body[:-1]}", id="random-part-short"),
        pytest.param(f"{head}-{body}0", id="random-part-long"),
        pytest.param(f"{head}-", id="no-random-part"),
        pytest.param(f"{head}--{body}", id="double-dash"),
        pytest.param(f"{number}-{body}", id="twice"),
        pytest.param(head, id="head-only"),
        pytest.param(body, id="random-part-only"),
    ]


@pytest.mark.parametrize("raw", _malformed(new_number(K.SKILL_LEVEL, "140427", ISSUED)))
def test_a_malformed_number_is_refused(raw):
    with pytest.raises(InvalidCertificateNumber) as refused:
        parse_number(raw)
    assert refused.value.code == "INVALID_CERTIFICATE_NUMBER"
    assert refused.value.details == {"number": raw[:40]}


@pytest.mark.parametrize("raw", [None, "", "   ", "-", "\n"], ids=repr)
def test_an_empty_number_is_refused(raw):
    with pytest.raises(InvalidCertificateNumber) as refused:
        parse_number(raw)
    assert refused.value.details == {"number": raw or ""}


def test_a_very_long_input_is_refused_and_echoed_only_in_part():
    with pytest.raises(InvalidCertificateNumber) as refused:
        parse_number("x" * 500)
    assert refused.value.details == {"number": "x" * 40}


# --- the signed token's claims --------------------------------------------------------------


def facts(**changes) -> CertificateFacts:
    base = {"number": "S14042726-7KQ4M2X9H3", "kind": K.SKILL_LEVEL, "holder_name": "王小明",
            "occupation": "中式烹调师", "level": "初级", "issuer": "忻州市职业技能鉴定中心",
            "issued_on": ISSUED}
    return CertificateFacts(**{**base, **changes})


def test_the_claims_are_short_and_mask_the_holder():
    assert claims(facts(), 1773964800) == {
        "c": "S14042726-7KQ4M2X9H3", "k": "skill_level", "h": "王**", "o": "中式烹调师", "l": "初级",
        "i": "忻州市职业技能鉴定中心", "d": "2026-03-20", "iat": 1773964800,
    }


def test_the_claims_never_carry_the_full_name_or_an_expiry():
    issued = claims(facts(), 1773964800)
    assert "王小明" not in json.dumps(issued, ensure_ascii=False)
    assert "exp" not in issued


@pytest.mark.parametrize(
    ("name", "masked"),
    [("王小明", "王**"), ("王明", "王*"), ("王", "王"), ("欧阳娜娜", "欧***"), ("", "")],
)
def test_the_holder_name_is_masked_after_its_first_character(name, masked):
    assert facts(holder_name=name).holder_masked == masked
    assert claims(facts(holder_name=name), 0)["h"] == masked


@pytest.mark.parametrize("kind", list(CertificateKind), ids=str)
def test_claims_round_trip_through_json_for_every_kind(kind):
    number = new_number(kind, "141124", ISSUED)
    level = "中级" if kind in LEVELLED_KINDS else ""
    original = facts(number=number, kind=kind, level=level, occupation="养老护理员",
                     issuer="吕梁市职业技能鉴定中心（临县考点）")
    wire = json.loads(json.dumps(claims(original, 1773964800), ensure_ascii=False))
    read = read_claims(wire)
    assert read == VerifiedClaims(number=number, kind=kind, holder_masked="王**", occupation="养老护理员",
                                  level=level, issuer="吕梁市职业技能鉴定中心（临县考点）", issued_on=ISSUED)
    assert read.kind is kind


def test_reading_claims_ignores_iat_and_extra_keys():
    wire = claims(facts(), 1773964800)
    del wire["iat"]
    wire["exp"] = 1
    wire["typ"] = "certificate"
    assert read_claims(wire).number == "S14042726-7KQ4M2X9H3"


def test_empty_texts_other_than_the_number_are_read_as_they_are():
    wire = claims(facts(level="", holder_name=""), 0)
    read = read_claims(wire)
    assert (read.level, read.holder_masked) == ("", "")


_DELETE = object()
CLAIM_KEYS = ("c", "k", "h", "o", "l", "i", "d")


def _broken(key: str, value) -> dict:
    wire = claims(facts(), 1773964800)
    if value is _DELETE:
        del wire[key]
    else:
        wire[key] = value
    return wire


@pytest.mark.parametrize(
    "raw",
    [
        *[pytest.param(_broken(key, _DELETE), id=f"missing-{key}") for key in CLAIM_KEYS],
        *[pytest.param(_broken(key, value), id=f"{key}-{label}") for key in CLAIM_KEYS
          for label, value in (("number", 7), ("null", None), ("list", ["x"]), ("bool", True))],
        pytest.param(_broken("c", ""), id="empty-number"),
        pytest.param(_broken("k", "diploma"), id="unknown-kind"),
        pytest.param(_broken("k", "职业技能等级证书"), id="kind-label-not-value"),
        pytest.param(_broken("k", "SKILL_LEVEL"), id="kind-member-name"),
        pytest.param(_broken("k", ""), id="empty-kind"),
        pytest.param(_broken("d", "2026-13-01"), id="no-such-month"),
        pytest.param(_broken("d", "2026-02-30"), id="no-such-day"),
        pytest.param(_broken("d", "20/03/2026"), id="date-not-iso"),
        pytest.param(_broken("d", ""), id="empty-date"),
        pytest.param(_broken("d", 20260320), id="date-a-number"),
        pytest.param({}, id="empty-object"),
    ],
)
def test_claims_that_are_missing_or_of_the_wrong_type_are_refused(raw):
    with pytest.raises(ValidationFailed) as refused:
        read_claims(raw)
    assert refused.value.code == "TOKEN_INVALID_CLAIMS"


@pytest.mark.parametrize("raw", [None, [], "S14042726-7KQ4M2X9H3", 7], ids=repr)
def test_claims_that_are_not_an_object_are_refused(raw):
    with pytest.raises(ValidationFailed) as refused:
        read_claims(raw)
    assert refused.value.code == "TOKEN_INVALID_CLAIMS"


# --- certificate rate (取证率) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("certified", "roster", "expected"),
    [
        pytest.param(0, 0, None, id="empty-roster"),
        pytest.param(3, 0, None, id="empty-roster-with-certificates"),
        pytest.param(0, 10, 0.0, id="none-certified"),
        pytest.param(10, 10, 100.0, id="all-certified"),
        pytest.param(5, 10, 50.0, id="half"),
        pytest.param(9, 10, 90.0, id="ninety"),
        pytest.param(1, 3, 33.3, id="a-third-rounds-down"),
        pytest.param(2, 3, 66.7, id="two-thirds-rounds-up"),
        pytest.param(1, 7, 14.3, id="a-seventh"),
        pytest.param(1, 8, 12.5, id="an-eighth-exact"),
        pytest.param(27, 30, 90.0, id="27-of-30"),
        pytest.param(26, 30, 86.7, id="26-of-30"),
        pytest.param(49, 99, 49.5, id="49-of-99"),
    ],
)
def test_the_rate_is_a_percentage_of_the_roster_to_one_decimal(certified, roster, expected):
    assert rate_percent(certified, roster) == expected
