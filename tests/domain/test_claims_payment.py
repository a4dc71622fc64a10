"""Finance's disbursement of a noticed claim (财政复核 · 拨付; 000 三(二)) and recovery of money paid
for what is later found in breach (追回; 002 第十七条), and one claim walked through the whole
lifecycle."""

from __future__ import annotations

from datetime import date

import pytest

from server.domain.access import Principal, Role
from server.domain.claims import (
    NEW_NOTICE,
    ClaimAction,
    ClaimFacts,
    ClaimState,
    ClaimStateConflict,
    authorise,
    next_state,
)
from server.domain.claims_notice import (
    check_end_notice,
    check_objection,
    check_objection_decision,
    open_notice,
)
from server.domain.claims_payment import MAX_REFERENCE, check_disbursement, check_recovery
from server.domain.claims_review import Approval, check_approval, claim_digest
from server.domain.errors import ValidationFailed

S = ClaimState
TODAY = date(2024, 10, 21)
TOTAL = 270_000


def disburse(**changes):
    args = {"state": S.NOTICED, "amount_fen": TOTAL, "claim_total_fen": TOTAL,
            "paid_on": date(2024, 10, 18), "reference": " 壶财拨〔2024〕0381号 ", "today": TODAY}
    return check_disbursement(**{**args, **changes})


# --- disbursement --------------------------------------------------------------------------------


def test_a_noticed_claim_is_paid_its_total():
    assert disburse() == "壶财拨〔2024〕0381号"
    assert disburse(paid_on=TODAY) == "壶财拨〔2024〕0381号"  # paid today


@pytest.mark.parametrize("state", [s for s in ClaimState if s is not S.NOTICED], ids=str)
def test_only_a_noticed_claim_is_paid(state):
    with pytest.raises(ClaimStateConflict) as refused:
        disburse(state=state)
    assert refused.value.code == "CLAIM_STATE_CONFLICT"


@pytest.mark.parametrize("amount", [0, -100, 2700.0, True, "270000"], ids=repr)
def test_the_amount_is_positive_integer_fen(amount):
    with pytest.raises(ValidationFailed) as refused:
        disburse(amount_fen=amount)
    assert refused.value.code == "INVALID_AMOUNT"


@pytest.mark.parametrize("amount", [TOTAL - 1, TOTAL + 1, TOTAL * 100])
def test_the_amount_is_the_claims_total(amount):
    with pytest.raises(ValidationFailed) as refused:
        disburse(amount_fen=amount)
    assert refused.value.code == "AMOUNT_MISMATCH"
    assert refused.value.details == {"amount_fen": amount, "claim_total_fen": TOTAL}
    assert "2700元" in refused.value.message


def test_a_payment_is_not_dated_in_the_future():
    with pytest.raises(ValidationFailed) as refused:
        disburse(paid_on=date(2024, 10, 22))
    assert refused.value.code == "PAID_ON_IN_FUTURE"
    assert refused.value.details == {"paid_on": "2024-10-22"}


@pytest.mark.parametrize("reference", [None, "", "  "])
def test_a_payment_names_its_voucher_number(reference):
    with pytest.raises(ValidationFailed) as refused:
        disburse(reference=reference)
    assert refused.value.code == "REFERENCE_REQUIRED"


def test_the_reference_is_bounded():
    assert MAX_REFERENCE == 64
    assert disburse(reference="A" * 64) == "A" * 64
    with pytest.raises(ValidationFailed) as refused:
        disburse(reference="A" * 65)
    assert refused.value.code == "TEXT_TOO_LONG"
    assert refused.value.details == {"field": "reference", "max_length": 64}


# --- recovery (追回) -------------------------------------------------------------------------------


def test_a_recovery_gives_its_reason():
    assert check_recovery(150_000, TOTAL, 0, " 张三冒名顶替参训 ") == "张三冒名顶替参训"
    assert check_recovery(120_000, TOTAL, 150_000, "李四未实际参训") == "李四未实际参训"  # the rest, exactly


@pytest.mark.parametrize(("amount", "paid", "recovered"), [
    (TOTAL + 1, TOTAL, 0),  # more than was paid
    (120_001, TOTAL, 150_000),  # more than is left
    (1, TOTAL, TOTAL),  # everything already recovered
    (1, 0, 0),  # nothing was paid
], ids=["over-paid", "over-left", "all-recovered", "unpaid"])
def test_never_more_than_was_paid(amount, paid, recovered):
    with pytest.raises(ValidationFailed) as refused:
        check_recovery(amount, paid, recovered, "原因")
    assert refused.value.code == "RECOVERY_EXCEEDS_PAID"
    assert refused.value.details == {"amount_fen": amount, "paid_fen": paid,
                                     "already_recovered_fen": recovered}


@pytest.mark.parametrize("amount", [0, -1, 1.5, False], ids=repr)
def test_a_recovery_is_positive_integer_fen(amount):
    with pytest.raises(ValidationFailed) as refused:
        check_recovery(amount, TOTAL, 0, "原因")
    assert refused.value.code == "INVALID_AMOUNT"


def test_a_recovery_needs_a_bounded_reason():
    with pytest.raises(ValidationFailed) as refused:
        check_recovery(100, TOTAL, 0, " ")
    assert refused.value.code == "REASON_REQUIRED"
    with pytest.raises(ValidationFailed) as refused:
        check_recovery(100, TOTAL, 0, "因" * 201)
    assert refused.value.code == "TEXT_TOO_LONG"


# --- one claim, start to finish --------------------------------------------------------------------


def test_a_claim_from_submission_to_payment():
    """Two reviewers, a notice across National Day, an upheld objection that removes a line and
    starts the notice again, the end of the second notice, and payment of the recomputed total."""
    wang = Principal(user_id=4, role=Role.BUREAU_REVIEWER, organisation_id=10, region_code="140427")
    li = Principal(user_id=8, role=Role.BUREAU_REVIEWER, organisation_id=10, region_code="140427")
    finance = Principal(user_id=6, role=Role.FINANCE, organisation_id=11, region_code="140427")
    lines = [{"line_id": 1, "amount_fen": 150_000, "reasons": ["10天"]},
             {"line_id": 2, "amount_fen": 120_000, "reasons": ["8天"]}]
    version = {"lines": lines, "totals": {"amount_fen": 270_000}, "policy_version": "140427/1"}
    digest = claim_digest(version)

    def facts(state):
        return ClaimFacts(state=state, organisation_id=50, region_code="140427")

    state = S.SUBMITTED
    assert check_approval(wang, facts(state), [], digest) == 1
    state = next_state(state, ClaimAction.APPROVE)
    assert check_approval(li, facts(state), [Approval(wang.user_id, digest)], digest) == 2
    assert (state, ClaimAction.APPROVE) in NEW_NOTICE
    state = next_state(state, ClaimAction.APPROVE)
    notice = open_notice(date(2024, 9, 29))
    assert state is S.IN_NOTICE and notice.last_day == date(2024, 10, 10)

    check_objection(notice, date(2024, 10, 8), "李四只参加了 6 天", None)
    state = next_state(state, ClaimAction.LODGE_OBJECTION)
    # the states as plain strings, the way a request or a row may carry them
    decision = check_objection_decision("open", "upheld", "核实李四出勤 6 天，另行申领", [2], [1, 2])
    authorise(wang, facts(state), decision.action)
    state = next_state(state, decision.action, changed=True)
    # The changed claim is a version no one signed: both reviewers sign it again, and the second
    # signature publishes a fresh notice.
    version = {**version, "lines": lines[:1], "totals": {"amount_fen": 150_000}}
    digest = claim_digest(version)
    assert state is S.SUBMITTED
    assert check_approval(wang, facts(state), [], digest) == 1
    state = next_state(state, ClaimAction.APPROVE)
    assert check_approval(li, facts(state), [Approval(wang.user_id, digest)], digest) == 2
    assert (state, ClaimAction.APPROVE) in NEW_NOTICE
    state = next_state(state, ClaimAction.APPROVE)
    notice = open_notice(date(2024, 10, 9))
    assert state is S.IN_NOTICE and notice.last_day == date(2024, 10, 14)  # 9–12 (Sat), 14 October

    check_end_notice(state, notice, date(2024, 10, 15))
    state = next_state(state, ClaimAction.END_NOTICE)
    authorise(finance, facts(state), ClaimAction.DISBURSE)
    assert check_disbursement(state, 150_000, version["totals"]["amount_fen"], date(2024, 10, 18),
                              "壶财拨〔2024〕0381号", TODAY) == "壶财拨〔2024〕0381号"
    assert next_state(state, ClaimAction.DISBURSE) is S.PAID
