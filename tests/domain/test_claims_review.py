"""Two-person review (两人以上经办审查签字; 000 四(二)3, 001 三(三), 002 第十五条): who may approve,
the second approval of the same content by someone else, returns, and the digest of what is
approved."""

from __future__ import annotations

import hashlib
from decimal import Decimal

import pytest

from server.domain.access import Principal, Role
from server.domain.claims import ClaimantCannotReview, ClaimFacts, ClaimState, ClaimStateConflict
from server.domain.claims_review import (
    DIGEST_FIELDS,
    MAX_REASON,
    Approval,
    ClaimChangedSinceApproval,
    SameReviewer,
    check_approval,
    check_return,
    claim_digest,
)
from server.domain.errors import Conflict, Forbidden, ValidationFailed

S = ClaimState
CLAIM_ORG, CLAIM_REGION = 50, "140427"
WANG = Principal(user_id=4, role=Role.BUREAU_REVIEWER, organisation_id=10, region_code="140427")
LI = Principal(user_id=8, role=Role.BUREAU_REVIEWER, organisation_id=10, region_code="140400")
FINANCE = Principal(user_id=6, role=Role.FINANCE, organisation_id=11, region_code="140427")


def claim(state: ClaimState) -> ClaimFacts:
    return ClaimFacts(state=state, organisation_id=CLAIM_ORG, region_code=CLAIM_REGION)


def version(**changes) -> dict:
    base = {
        "policy_version": "140427/2024-05-24",
        "lines": [
            {"voucher_id": 1001, "trainee": "张三", "amount_fen": 150_000,
             "reasons": ["前10天每人每天150元 × 10天 (001 二(六))"]},
            {"voucher_id": 1002, "trainee": "李四", "amount_fen": 120_000,
             "reasons": ["前10天每人每天150元 × 8天 (001 二(六))"]},
        ],
        "totals": {"persons": 2, "amount_fen": 270_000},
    }
    return {**base, **changes}


DIGEST = claim_digest(version())


# --- approving -------------------------------------------------------------------------------


def test_the_first_approval():
    assert check_approval(WANG, claim(S.SUBMITTED), [], DIGEST) == 1


def test_the_second_approval_by_someone_else_of_the_same_content():
    assert check_approval(LI, claim(S.FIRST_APPROVED), [Approval(WANG.user_id, DIGEST)], DIGEST) == 2


def test_the_same_reviewer_cannot_approve_twice():
    with pytest.raises(SameReviewer) as refused:
        check_approval(WANG, claim(S.FIRST_APPROVED), [Approval(WANG.user_id, DIGEST)], DIGEST)
    assert isinstance(refused.value, Conflict)
    assert refused.value.code == "SAME_REVIEWER"
    assert refused.value.details == {"user_id": WANG.user_id}


def test_the_same_reviewer_is_named_even_when_the_content_changed_too():
    with pytest.raises(SameReviewer):
        check_approval(WANG, claim(S.FIRST_APPROVED), [Approval(WANG.user_id, "0" * 64)], DIGEST)


def test_content_changed_since_the_first_approval_needs_approving_again():
    changed = claim_digest(version(totals={"persons": 2, "amount_fen": 280_000}))
    with pytest.raises(ClaimChangedSinceApproval) as refused:
        check_approval(LI, claim(S.FIRST_APPROVED), [Approval(WANG.user_id, DIGEST)], changed)
    assert refused.value.code == "CLAIM_CHANGED_SINCE_APPROVAL"
    assert refused.value.details == {"approved_digest": DIGEST, "current_digest": changed}


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.BUREAU_REVIEWER], ids=str)
def test_only_a_bureau_reviewer_approves(role):
    actor = Principal(user_id=9, role=role, organisation_id=CLAIM_ORG, region_code=CLAIM_REGION)
    with pytest.raises(Forbidden) as refused:
        check_approval(actor, claim(S.SUBMITTED), [], DIGEST)
    assert refused.value.code == "FORBIDDEN"


def test_a_reviewer_of_another_city_is_refused():
    xinzhou = Principal(user_id=9, role=Role.BUREAU_REVIEWER, organisation_id=12, region_code="140900")
    with pytest.raises(Forbidden) as refused:
        check_approval(xinzhou, claim(S.SUBMITTED), [], DIGEST)
    assert refused.value.code == "CLAIM_OUTSIDE_REGION"


def test_a_reviewer_of_a_county_below_the_claim_is_refused():
    """A county reviewer does not see a city-level claim: regions below, not above."""
    county = Principal(user_id=9, role=Role.BUREAU_REVIEWER, organisation_id=12, region_code="140427")
    city_claim = ClaimFacts(state=S.SUBMITTED, organisation_id=CLAIM_ORG, region_code="140400")
    with pytest.raises(Forbidden) as refused:
        check_approval(county, city_claim, [], DIGEST)
    assert refused.value.code == "CLAIM_OUTSIDE_REGION"


def test_a_member_of_the_claiming_organisation_cannot_approve():
    insider = Principal(user_id=9, role=Role.BUREAU_REVIEWER, organisation_id=CLAIM_ORG,
                        region_code=CLAIM_REGION)
    with pytest.raises(ClaimantCannotReview) as refused:
        check_approval(insider, claim(S.SUBMITTED), [], DIGEST)
    assert refused.value.code == "CLAIMANT_CANNOT_REVIEW"


@pytest.mark.parametrize("state", [S.IN_NOTICE, S.OBJECTED, S.NOTICED, S.PAID, S.RETURNED, S.WITHDRAWN],
                         ids=str)
def test_approval_outside_review_is_a_state_conflict(state):
    with pytest.raises(ClaimStateConflict) as refused:
        check_approval(WANG, claim(state), [], DIGEST)
    assert refused.value.code == "CLAIM_STATE_CONFLICT"


@pytest.mark.parametrize(("state", "approvals"), [
    (S.SUBMITTED, [Approval(8, DIGEST)]),
    (S.FIRST_APPROVED, []),
    (S.FIRST_APPROVED, [Approval(8, DIGEST), Approval(9, DIGEST)]),
], ids=["submitted-with-one", "first-approved-with-none", "first-approved-with-two"])
def test_approvals_that_do_not_match_the_state_are_a_caller_error(state, approvals):
    with pytest.raises(ValueError):
        check_approval(WANG, claim(state), approvals, DIGEST)


# --- returning -------------------------------------------------------------------------------


@pytest.mark.parametrize(("actor", "state"), [
    (WANG, S.SUBMITTED), (WANG, S.FIRST_APPROVED), (WANG, S.OBJECTED), (FINANCE, S.NOTICED),
], ids=["reviewer-submitted", "reviewer-first-approved", "reviewer-objected", "finance-noticed"])
def test_a_return_gives_its_reason(actor, state):
    assert check_return(actor, claim(state), "  花名册缺少签字  ") == "花名册缺少签字"


@pytest.mark.parametrize(("actor", "state"), [
    (FINANCE, S.SUBMITTED), (FINANCE, S.OBJECTED), (WANG, S.NOTICED),
], ids=["finance-before-its-review", "finance-during-objection", "reviewer-at-finance"])
def test_each_returns_only_at_its_own_step(actor, state):
    with pytest.raises(Forbidden):
        check_return(actor, claim(state), "原因")


@pytest.mark.parametrize("state", [S.IN_NOTICE, S.PAID, S.RETURNED, S.WITHDRAWN], ids=str)
def test_no_return_from_the_notice_or_after(state):
    with pytest.raises(ClaimStateConflict):
        check_return(WANG, claim(state), "原因")


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_a_return_needs_a_reason(reason):
    with pytest.raises(ValidationFailed) as refused:
        check_return(WANG, claim(S.SUBMITTED), reason)
    assert refused.value.code == "REASON_REQUIRED"


def test_a_return_reason_is_bounded():
    assert MAX_REASON == 200
    assert check_return(WANG, claim(S.SUBMITTED), " " + "缺" * 200 + " ") == "缺" * 200
    with pytest.raises(ValidationFailed) as refused:
        check_return(WANG, claim(S.SUBMITTED), "缺" * 201)
    assert refused.value.code == "TEXT_TOO_LONG"


# --- the digest of what is approved ------------------------------------------------------------


def test_the_digest_is_sha256_of_compact_sorted_utf8_json():
    small = {"policy_version": "v1", "lines": [{"amount_fen": 40000, "reason": "初级证书"}],
             "totals": {"amount_fen": 40000}}
    canonical = ('{"lines":[{"amount_fen":40000,"reason":"初级证书"}],'
                 '"policy_version":"v1","totals":{"amount_fen":40000}}')
    assert claim_digest(small) == hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def test_key_order_does_not_matter():
    reordered = {
        "totals": {"amount_fen": 270_000, "persons": 2},
        "lines": [{"reasons": line["reasons"], "amount_fen": line["amount_fen"], "trainee": line["trainee"],
                   "voucher_id": line["voucher_id"]} for line in version()["lines"]],
        "policy_version": "140427/2024-05-24",
    }
    assert claim_digest(reordered) == DIGEST


def test_line_order_does_not_matter():
    assert claim_digest(version(lines=list(reversed(version()["lines"])))) == DIGEST


def _with_line(index: int, **changes) -> dict:
    lines = [dict(line) for line in version()["lines"]]
    lines[index].update(changes)
    return version(lines=lines)


@pytest.mark.parametrize("changed", [
    _with_line(0, amount_fen=149_999),
    _with_line(1, reasons=["前10天每人每天150元 × 7天 (001 二(六))"]),
    _with_line(1, voucher_id=1003),
    version(lines=version()["lines"][:1]),
    version(lines=[*version()["lines"], {"voucher_id": 1004, "trainee": "王五", "amount_fen": 1,
                                         "reasons": []}]),
    version(totals={"persons": 2, "amount_fen": 270_001}),
    version(policy_version="140427/2025-01-01"),
    version(kind="training"),
], ids=["amount", "reason", "voucher", "line-removed", "line-added", "total", "policy-version",
        "extra-field"])
def test_any_change_changes_the_digest(changed):
    assert claim_digest(changed) != DIGEST


@pytest.mark.parametrize("bad", [
    _with_line(0, amount_fen=1500.0),
    version(totals={"persons": 2, "amount_fen": 2700.5}),
    version(totals={"persons": 2, "amount_fen": Decimal("2700.00")}),
    version(lines=[{"amount_fen": 1, "reasons": [{"days": 1.5}]}]),
], ids=["line-float", "total-float", "decimal", "nested-float"])
def test_numbers_other_than_integers_are_refused(bad):
    with pytest.raises(ValueError, match="integer fen"):
        claim_digest(bad)


@pytest.mark.parametrize("field", DIGEST_FIELDS)
def test_a_version_names_what_is_approved(field):
    incomplete = {k: v for k, v in version().items() if k != field}
    with pytest.raises(ValueError, match=field):
        claim_digest(incomplete)


def test_malformed_versions_are_refused():
    with pytest.raises(TypeError):
        claim_digest(version(lines={"1001": 150_000}))
    with pytest.raises(TypeError):
        claim_digest(version(totals={1: 270_000}))

