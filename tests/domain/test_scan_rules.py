"""Scanning a voucher at class start (验券): every reason a voucher cannot be bound to a class,
the refusals for a token that is not a voucher, and the yearly limit groups."""

from __future__ import annotations

import base64
import itertools
import json
import re
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest

from server.domain.eligibility import YEARLY_GROUPS, ProgrammeType, yearly_group
from server.domain.errors import DomainError, TokenInvalid, ValidationFailed
from server.domain.vouchers import (
    MAX_TOKEN_LENGTH,
    TOKEN_REFUSALS,
    ClassFacts,
    ScanRefused,
    VoucherFacts,
    VoucherMismatch,
    VoucherState,
    VoucherTokenRejected,
    VoucherUnavailable,
    check_scan,
    token_refusal,
    voucher_id_from_claims,
)

S = VoucherState
TODAY = date(2026, 3, 2)
KLASS = ClassFacts(id=7, region_code="140427", occupation_code="4-03-02-01", level="初级", programme="puhui")
VOUCHER = VoucherFacts(state=S.ISSUED, region_code="140427", occupation_code="4-03-02-01", level="初级",
                       programme="puhui", expires_on=TODAY + timedelta(days=90), bound_class_id=None)


def scan(voucher: VoucherFacts = VOUCHER, klass: ClassFacts = KLASS, on_roster: bool = True,
         today: date = TODAY) -> ScanRefused | None:
    """The refusal check_scan raises, or None when the voucher may be bound."""
    try:
        check_scan(voucher, klass, on_roster, today)
    except ScanRefused as refused:
        return refused
    return None


# --- the voucher's state --------------------------------------------------------------------

# Every state and the refusal it gives an otherwise good voucher, written out from the seeds.
STATE_REFUSALS = {
    S.ISSUED: None,
    S.APPLIED: "VOUCHER_NOT_ISSUED",
    S.REJECTED: "VOUCHER_NOT_ISSUED",
    S.BOUND: "VOUCHER_ALREADY_BOUND",
    S.TRAINED: "VOUCHER_ALREADY_BOUND",
    S.REDEEMED: "VOUCHER_ALREADY_BOUND",
    S.WRITTEN_OFF: "VOUCHER_ALREADY_BOUND",
    S.REVOKED: "VOUCHER_REVOKED",
    S.EXPIRED: "VOUCHER_EXPIRED",
}


def test_every_state_has_an_expected_outcome():
    assert set(STATE_REFUSALS) == set(VoucherState)


def test_an_issued_matching_voucher_on_the_roster_may_be_bound():
    assert scan() is None


@pytest.mark.parametrize("state", list(VoucherState), ids=str)
def test_every_state_gives_its_refusal(state):
    bound_to = KLASS.id + 1 if STATE_REFUSALS[state] == "VOUCHER_ALREADY_BOUND" else None
    refused = scan(replace(VOUCHER, state=state, bound_class_id=bound_to))
    expected = STATE_REFUSALS[state]
    if expected is None:
        assert refused is None
        return
    assert refused.code == expected
    assert isinstance(refused, VoucherUnavailable)  # 409: the voucher's state, not the request
    assert not isinstance(refused, VoucherMismatch)
    assert refused.message and refused.message != VoucherUnavailable.message


@pytest.mark.parametrize("state", [S.APPLIED, S.REJECTED], ids=str)
def test_a_voucher_not_yet_issued_names_its_state(state):
    refused = scan(replace(VOUCHER, state=state))
    assert refused.details == {"state": str(state)}
    assert "尚未发放" in refused.message


@pytest.mark.parametrize(
    ("state", "bound_class_id", "same_class", "says"),
    [
        *[pytest.param(state, KLASS.id, True, "本班", id=f"{state}-this-class")
          for state in (S.BOUND, S.TRAINED, S.REDEEMED, S.WRITTEN_OFF)],
        *[pytest.param(state, KLASS.id + 1, False, "其他班级", id=f"{state}-another-class")
          for state in (S.BOUND, S.TRAINED, S.REDEEMED, S.WRITTEN_OFF)],
        pytest.param(S.BOUND, None, False, "其他班级", id="bound-no-class-recorded"),
    ],
)
def test_an_already_bound_voucher_says_whether_it_was_this_class(state, bound_class_id, same_class, says):
    refused = scan(replace(VOUCHER, state=state, bound_class_id=bound_class_id))
    assert refused.code == "VOUCHER_ALREADY_BOUND"
    assert isinstance(refused, VoucherUnavailable)
    assert refused.details == {"same_class": same_class}
    assert says in refused.message


def test_a_revoked_voucher_says_so():
    refused = scan(replace(VOUCHER, state=S.REVOKED))
    assert refused.code == "VOUCHER_REVOKED"
    assert "作废" in refused.message


@pytest.mark.parametrize(
    ("state", "expires_on", "code"),
    [
        pytest.param(S.ISSUED, TODAY, None, id="issued-expires-today-still-good"),
        pytest.param(S.ISSUED, TODAY + timedelta(days=1), None, id="issued-expires-tomorrow"),
        pytest.param(S.ISSUED, TODAY - timedelta(days=1), "VOUCHER_EXPIRED", id="issued-expired-yesterday"),
        pytest.param(S.ISSUED, TODAY - timedelta(days=400), "VOUCHER_EXPIRED", id="issued-expired-long-ago"),
        pytest.param(S.EXPIRED, TODAY + timedelta(days=30), "VOUCHER_EXPIRED", id="expired-state"),
    ],
)
def test_an_expired_voucher_is_refused_even_before_the_nightly_job_marks_it(state, expires_on, code):
    refused = scan(replace(VOUCHER, state=state, expires_on=expires_on))
    if code is None:
        assert refused is None
        return
    assert refused.code == code
    assert isinstance(refused, VoucherUnavailable)
    assert "过期" in refused.message


# --- the voucher against the class ----------------------------------------------------------


@pytest.mark.parametrize(
    ("voucher_region", "class_region", "code"),
    [
        pytest.param("140427", "140427", None, id="same-county"),
        pytest.param("140427", "140427100", None, id="county-voucher-township-class"),
        pytest.param("140300", "140302", None, id="city-voucher-good-in-its-district"),
        pytest.param("140300", "140321", None, id="city-voucher-good-in-its-county"),
        pytest.param("140300", "140300", None, id="city-voucher-city-class"),
        pytest.param("140000", "140427", None, id="province-voucher-anywhere-in-province"),
        pytest.param("141124", "140427", "VOUCHER_OTHER_REGION", id="lin-voucher-at-huguan"),
        pytest.param("140302", "140321", "VOUCHER_OTHER_REGION", id="district-voucher-at-neighbour-county"),
        pytest.param("140302", "140300", "VOUCHER_OTHER_REGION", id="district-voucher-at-city-class"),
        pytest.param("140900", "140427", "VOUCHER_OTHER_REGION", id="xinzhou-voucher-at-huguan"),
        pytest.param("140427", "150102", "VOUCHER_OTHER_REGION", id="other-province"),
    ],
)
def test_a_voucher_is_good_in_its_region_and_below(voucher_region, class_region, code):
    refused = scan(replace(VOUCHER, region_code=voucher_region), replace(KLASS, region_code=class_region))
    if code is None:
        assert refused is None
        return
    assert refused.code == code
    assert isinstance(refused, VoucherMismatch)  # 422
    assert not isinstance(refused, VoucherUnavailable)
    assert "本地区" in refused.message


DIFFERENT = {"occupation_code": "4-10-01-05", "level": "中级", "programme": "order"}
SUBSETS = [list(c) for n in (1, 2, 3) for c in itertools.combinations(DIFFERENT, n)]


@pytest.mark.parametrize("fields", SUBSETS, ids=lambda f: "+".join(f))
def test_a_mismatch_names_exactly_the_fields_that_differ(fields):
    refused = scan(replace(VOUCHER, **{name: DIFFERENT[name] for name in fields}))
    assert refused.code == "VOUCHER_CLASS_MISMATCH"
    assert isinstance(refused, VoucherMismatch)
    assert not isinstance(refused, VoucherUnavailable)
    assert refused.details == {"fields": fields}
    assert "不符" in refused.message


def test_a_trainee_not_on_the_roster_is_refused():
    refused = scan(on_roster=False)
    assert refused.code == "NOT_ON_ROSTER"
    assert isinstance(refused, VoucherMismatch)
    assert "名册" in refused.message


# Which refusal wins when several apply: the voucher's state first, then where it is good,
# then what it is for, then the roster.
@pytest.mark.parametrize(
    ("voucher", "on_roster", "code"),
    [
        pytest.param(replace(VOUCHER, state=S.REVOKED, region_code="141124", level="中级"), False,
                     "VOUCHER_REVOKED", id="revoked-elsewhere-mismatched-off-roster"),
        pytest.param(replace(VOUCHER, expires_on=TODAY - timedelta(days=1), region_code="141124"), False,
                     "VOUCHER_EXPIRED", id="expired-elsewhere-off-roster"),
        pytest.param(replace(VOUCHER, region_code="141124", level="中级"), False,
                     "VOUCHER_OTHER_REGION", id="elsewhere-mismatched-off-roster"),
        pytest.param(replace(VOUCHER, programme="order"), False,
                     "VOUCHER_CLASS_MISMATCH", id="mismatched-off-roster"),
    ],
)
def test_the_first_reason_is_the_one_given(voucher, on_roster, code):
    assert scan(voucher, on_roster=on_roster).code == code


def test_scan_refusals_are_domain_errors_but_not_validation_failures():
    for refused in (scan(replace(VOUCHER, state=S.REVOKED)), scan(on_roster=False)):
        assert isinstance(refused, DomainError)
        assert not isinstance(refused, ValidationFailed)


# --- a token that is not a voucher ----------------------------------------------------------

SIGNING = Path(__file__).resolve().parents[2] / "server" / "adapters" / "signing.py"
SIGNING_REASONS = ["malformed", "wrong_algorithm", "wrong_type", "unknown_key", "expired",
                   "invalid_claims", "bad_signature"]
REASONS = [*SIGNING_REASONS, "too_long"]


def test_the_reasons_listed_are_every_reason_the_verifier_gives():
    raised = set(re.findall(r'TokenRejected\("([a-z_]+)"\)', SIGNING.read_text(encoding="utf-8")))
    assert raised == set(SIGNING_REASONS)


@pytest.mark.parametrize("reason", REASONS)
def test_each_token_reason_has_its_own_code(reason):
    refused = token_refusal(reason)
    assert isinstance(refused, VoucherTokenRejected)
    assert isinstance(refused, ValidationFailed)
    assert refused.code == TOKEN_REFUSALS[reason][0]
    assert refused.code.startswith("TOKEN_")
    assert refused.code == f"TOKEN_{reason.upper()}"
    assert refused.message and refused.message != VoucherTokenRejected.message


def test_token_codes_are_distinct_and_none_is_the_login_expiry_code():
    """A client logs the user out on TOKEN_INVALID (the login token); a bad QR code must not."""
    codes = [token_refusal(reason).code for reason in REASONS]
    assert len(set(codes)) == len(REASONS)
    assert TokenInvalid.code not in codes
    assert set(TOKEN_REFUSALS) == set(REASONS)


@pytest.mark.parametrize("reason", ["", "format", "MALFORMED", "expired "], ids=repr)
def test_an_unknown_reason_is_reported_as_malformed(reason):
    refused = token_refusal(reason)
    assert isinstance(refused, VoucherTokenRejected)
    assert refused.code == "TOKEN_MALFORMED"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_the_largest_real_voucher_token_is_well_under_the_length_limit():
    """An EdDSA JWT as the service signs it, with the largest id, kid and expiry it can carry:
    a genuine voucher is never refused as TOKEN_TOO_LONG."""
    header = {"alg": "EdDSA", "kid": "f" * 32, "typ": "voucher"}
    claims = {"v": 2**63 - 1, "exp": 9_999_999_999}
    token = ".".join([_b64(json.dumps(header).encode()), _b64(json.dumps(claims).encode()), _b64(bytes(64))])
    assert len(token) * 3 < MAX_TOKEN_LENGTH


@pytest.mark.parametrize(("claims", "voucher_id"), [({"v": 5}, 5), ({"v": 1, "exp": 1}, 1),
                                                    ({"v": 2**40}, 2**40)], ids=["5", "1-with-exp", "large"])
def test_the_voucher_id_comes_from_claim_v(claims, voucher_id):
    assert voucher_id_from_claims(claims) == voucher_id


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({}, id="missing"),
        pytest.param({"voucher": 5}, id="other-name"),
        pytest.param({"v": None}, id="null"),
        pytest.param({"v": 0}, id="zero"),
        pytest.param({"v": -1}, id="negative"),
        pytest.param({"v": True}, id="boolean-true"),
        pytest.param({"v": False}, id="boolean-false"),
        pytest.param({"v": "5"}, id="string"),
        pytest.param({"v": 1.5}, id="fraction"),
        pytest.param({"v": 5.0}, id="float-whole"),
        pytest.param({"v": [5]}, id="list"),
    ],
)
def test_claims_without_a_positive_integer_v_are_refused(claims):
    with pytest.raises(VoucherTokenRejected) as refused:
        voucher_id_from_claims(claims)
    assert refused.value.code == "TOKEN_INVALID_CLAIMS"
    assert isinstance(refused.value, ValidationFailed)


# --- the yearly limit groups (004 五(三)) ----------------------------------------------------

P = ProgrammeType
EXPECTED_GROUPS = {
    P.PUHUI: "puhui",
    P.ORDER: "order_project",
    P.PROJECT: "order_project",
    P.ENTERPRISE: None,
    P.STARTUP: None,
    P.APPRENTICE: None,
}


def test_every_programme_has_an_expected_group():
    assert set(EXPECTED_GROUPS) == set(ProgrammeType)


@pytest.mark.parametrize("programme", list(ProgrammeType), ids=str)
def test_yearly_group(programme):
    assert yearly_group(programme) == EXPECTED_GROUPS[programme]


@pytest.mark.parametrize(("a", "b"), list(itertools.product(ProgrammeType, repeat=2)), ids=str)
def test_programmes_share_a_group_exactly_when_they_count_against_each_other(a, b):
    counted_together = b in YEARLY_GROUPS.get(a, frozenset())
    assert (yearly_group(a) is not None and yearly_group(a) == yearly_group(b)) == counted_together
