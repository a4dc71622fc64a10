"""Assessment results and certificates (评价 · 证书; SPEC §8).

An evaluation institution records each trainee's theory and practice scores after the
completion filing is approved (000 二(二)(3)(4)); it must not evaluate a batch it trained
(002 第十四条: 严禁评价机构组织开展同批次评价对象技能培训). Certificates are issued to those who
passed: skill certificates by the evaluator, the 培训合格证书 by the training institution, which
records institution, programme and dates (002 第十二条). Each certificate has a number with a
check character and a signed token; one found fraudulent is revoked with a reason (002 第十四条:
取消评价结果、宣布证书作废).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from server.domain import serials
from server.domain.access import OrgKind
from server.domain.errors import Conflict, Forbidden, NotFound, ValidationFailed
from server.domain.identity import mask_name
from server.domain.regions import validate_code


class CertificateKind(StrEnum):
    SKILL_LEVEL = "skill_level"  # 职业技能等级证书
    VOCATIONAL_QUALIFICATION = "vocational_qualification"  # 职业资格证书
    SPECIAL_ABILITY = "special_ability"  # 专项职业能力证书
    SPECIAL_OPERATION = "special_operation"  # 特种作业操作证
    SPECIAL_EQUIPMENT = "special_equipment"  # 特种设备作业人员证
    TRAINING_QUALIFICATION = "training_qualification"  # 培训合格证书


KIND_LABELS = {
    CertificateKind.SKILL_LEVEL: "职业技能等级证书",
    CertificateKind.VOCATIONAL_QUALIFICATION: "职业资格证书",
    CertificateKind.SPECIAL_ABILITY: "专项职业能力证书",
    CertificateKind.SPECIAL_OPERATION: "特种作业操作证",
    CertificateKind.SPECIAL_EQUIPMENT: "特种设备作业人员证",
    CertificateKind.TRAINING_QUALIFICATION: "培训合格证书",
}

# The first letter of a certificate number says its kind, so a number read aloud is checkable.
KIND_PREFIXES = {
    CertificateKind.SKILL_LEVEL: "S",
    CertificateKind.VOCATIONAL_QUALIFICATION: "Q",
    CertificateKind.SPECIAL_ABILITY: "Z",
    CertificateKind.SPECIAL_OPERATION: "T",
    CertificateKind.SPECIAL_EQUIPMENT: "E",
    CertificateKind.TRAINING_QUALIFICATION: "P",
}
_KIND_OF_PREFIX = {prefix: kind for kind, prefix in KIND_PREFIXES.items()}

# Kinds that carry a skill level (五级/初级工 … 一级/高级技师); the others certify one ability.
LEVELLED_KINDS = frozenset({CertificateKind.SKILL_LEVEL, CertificateKind.VOCATIONAL_QUALIFICATION})
LEVELS = ("初级", "中级", "高级", "技师", "高级技师")  # lowest first

# 002 第十二条: the training institution issues the 培训合格证书; every other kind is the
# evaluator's (000 二(二)(4), 002 第十四条).
ISSUED_BY_TRAINER = frozenset({CertificateKind.TRAINING_QUALIFICATION})


class CertificateState(StrEnum):
    VALID = "valid"  # 有效
    REVOKED = "revoked"  # 已作废


STATE_LABELS = {CertificateState.VALID: "有效", CertificateState.REVOKED: "已作废"}

# Scores are out of 100 with at most one decimal; a subject passes at 60. No seed sets the mark:
# it is the national rule for 职业技能等级认定 (理论、实操均百分制，皆达 60 分及以上者为合格).
MAX_SCORE = Decimal(100)
PASS_MARK = Decimal(60)


class ScoreOutOfRange(ValidationFailed):
    code = "SCORE_OUT_OF_RANGE"
    message = "成绩应为 0 到 100 分，最多一位小数"


class EvaluatorIsTrainer(Forbidden):
    code = "EVALUATOR_IS_TRAINER"
    message = "评价机构不得评价本机构（或同一法人）培训的班级"


class NotAnEvaluator(ValidationFailed):
    code = "NOT_AN_EVALUATION_INSTITUTION"
    message = "所选机构不是评价机构"


class CertificateExists(Conflict):
    code = "CERTIFICATE_EXISTS"
    message = "该学员已持有同一职业、同一类别和等级的有效证书"


class NotPassed(ValidationFailed):
    code = "RESULT_NOT_PASSED"
    message = "考核不合格或尚未录入成绩，不能发证"


class InvalidCertificateNumber(ValidationFailed):
    code = "INVALID_CERTIFICATE_NUMBER"
    message = "证书编号格式不正确"


class CertificateNotFound(NotFound):
    code = "CERTIFICATE_NOT_FOUND"
    message = "证书不存在"


class CertificateRevoked(Conflict):
    code = "CERTIFICATE_REVOKED"
    message = "证书已作废"


# --- scores ---------------------------------------------------------------------------------


def score(value: object, field: str) -> Decimal:
    """A score of 0–100 with at most one decimal place, as an exact Decimal."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ScoreOutOfRange(details={"field": field})
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ScoreOutOfRange(details={"field": field}) from None
    # The range first: quantizing 1e30 to tenths would overflow Decimal's precision.
    if not number.is_finite() or not 0 <= number <= MAX_SCORE or number != number.quantize(Decimal("0.1")):
        raise ScoreOutOfRange(details={"field": field, "value": str(value)[:20]})
    return number.quantize(Decimal("0.1"))


def passed(theory: Decimal, practice: Decimal) -> bool:
    """Both theory (理论) and practice (实操) must reach the mark (002 第十二条: 兼顾理论和实操能力)."""
    return theory >= PASS_MARK and practice >= PASS_MARK


# --- who may evaluate -----------------------------------------------------------------------


@dataclass(frozen=True)
class OrgFacts:
    id: int
    kind: OrgKind
    social_credit_code: str | None


def _code(social_credit_code: str | None) -> str:
    return (social_credit_code or "").strip().upper()


def check_evaluator(evaluator: OrgFacts, trainer: OrgFacts) -> None:
    """The evaluator must be an evaluation institution that is neither the training institution
    nor the same legal entity (the same 统一社会信用代码) (002 第十四条)."""
    same_entity = bool(evaluator.social_credit_code) and (
        _code(evaluator.social_credit_code) == _code(trainer.social_credit_code))
    if evaluator.id == trainer.id or same_entity:
        raise EvaluatorIsTrainer(details={"evaluator_id": evaluator.id, "institution_id": trainer.id,
                                          "same_legal_entity": same_entity})
    if evaluator.kind is not OrgKind.EVALUATION_INSTITUTION:
        raise NotAnEvaluator(details={"organisation_id": evaluator.id})


# --- issuing --------------------------------------------------------------------------------


def level_for(kind: CertificateKind, result_level: str | None) -> str:
    """The level a certificate of `kind` records: the assessed level for a levelled kind, none
    ("") otherwise. '' rather than NULL so the one-per-level unique index sees it."""
    if kind not in LEVELLED_KINDS:
        return ""
    if result_level not in LEVELS:
        raise ValidationFailed("该类证书须有职业技能等级", code="LEVEL_REQUIRED",
                               details={"kind": str(kind)})
    return result_level


def level_reaches(level: str, minimum: str | None) -> bool:
    if minimum is None:
        return True
    return level in LEVELS and LEVELS.index(level) >= LEVELS.index(minimum)


def check_issue(kind: CertificateKind, *, issuer_is_trainer: bool, has_passed: bool | None) -> None:
    """Who issues a kind (002 第十二条 / 第十四条), and only to a trainee who passed."""
    if (kind in ISSUED_BY_TRAINER) != issuer_is_trainer:
        who = "培训机构" if kind in ISSUED_BY_TRAINER else "评价机构"
        raise Forbidden(f"{KIND_LABELS[kind]}由{who}颁发", code="WRONG_ISSUER", details={"kind": str(kind)})
    if not has_passed:
        raise NotPassed()


# --- numbers --------------------------------------------------------------------------------

# <kind letter><region code><two-digit year>-<9 random characters><check character>,
# e.g. S14042726-7KQ4M2X9H3: 45 random bits; the unique constraint refuses a collision.
_RANDOM_LENGTH = 9


def new_number(kind: CertificateKind, region_code: str, issued_on: date) -> str:
    """`region_code` is the class's county or city (six digits)."""
    if len(validate_code(region_code)) != 6:
        raise ValueError("a certificate number carries a six-digit county or city code")
    return f"{KIND_PREFIXES[kind]}{region_code}{issued_on.year % 100:02d}-{serials.new_body(_RANDOM_LENGTH)}"


def parse_number(raw: str) -> str:
    """The canonical number (upper case, O/I/L read as 0/1/1), or INVALID_CERTIFICATE_NUMBER:
    a mistyped number is caught here, before any lookup."""
    text = serials.normalised(raw)
    head, _, body = text.partition("-")
    ok = (len(head) == 9 and head[0] in _KIND_OF_PREFIX and head[1:].isascii() and head[1:].isdigit()
          and serials.is_valid_body(body, _RANDOM_LENGTH))
    if not ok:
        raise InvalidCertificateNumber(details={"number": (raw or "")[:40]})
    return text


# --- the signed token -----------------------------------------------------------------------

TOKEN_TYPE = "certificate"
MAX_TOKEN_LENGTH = 2048


@dataclass(frozen=True)
class CertificateFacts:
    """What a certificate says publicly: the token's claims and the verification page."""

    number: str
    kind: CertificateKind
    holder_name: str
    occupation: str
    level: str
    issuer: str
    issued_on: date

    @property
    def holder_masked(self) -> str:
        return mask_name(self.holder_name) or ""


def claims(facts: CertificateFacts, issued_at: int) -> dict:
    """Short claim names keep the QR small; no `exp`: a certificate does not expire, and a
    revocation is known only online (pwa/js/certificate-verify.js says so)."""
    return {"c": facts.number, "k": str(facts.kind), "h": facts.holder_masked, "o": facts.occupation,
            "l": facts.level, "i": facts.issuer, "d": facts.issued_on.isoformat(), "iat": issued_at}


@dataclass(frozen=True)
class VerifiedClaims:
    number: str
    kind: CertificateKind
    holder_masked: str
    occupation: str
    level: str
    issuer: str
    issued_on: date


def read_claims(raw: dict) -> VerifiedClaims:
    """The claims of a token whose signature has been verified, or TOKEN_INVALID_CLAIMS."""
    try:
        fields = {key: raw[key] for key in ("c", "k", "h", "o", "l", "i", "d")}
        if not all(isinstance(value, str) for value in fields.values()) or not fields["c"]:
            raise ValueError
        return VerifiedClaims(number=fields["c"], kind=CertificateKind(fields["k"]),
                              holder_masked=fields["h"], occupation=fields["o"], level=fields["l"],
                              issuer=fields["i"], issued_on=date.fromisoformat(fields["d"]))
    except (KeyError, TypeError, ValueError):
        raise ValidationFailed("证书二维码内容不完整", code="TOKEN_INVALID_CLAIMS") from None


# --- certificate rate (取证率) ---------------------------------------------------------------


def rate_percent(certified: int, roster: int) -> float | None:
    """Certified trainees as a percentage of the completion roster, to one decimal."""
    return None if roster == 0 else round(100 * certified / roster, 1)
