"""The voucher state machine, every legal and illegal transition, and serial numbers."""

from __future__ import annotations

import itertools
import re

import pytest

from server.domain.errors import ValidationFailed
from server.domain.vouchers import (
    FINAL_STATES,
    REASON_REQUIRED,
    TRANSITIONS,
    IllegalVoucherTransition,
    ReasonRequired,
    VoucherAction,
    VoucherState,
    allowed_actions,
    new_serial,
    next_state,
    parse_serial,
)

S, A = VoucherState, VoucherAction

# The closed loop as the seeds state it, written out independently of TRANSITIONS.
EXPECTED = {
    (S.APPLIED, A.ISSUE): S.ISSUED,
    (S.APPLIED, A.REJECT): S.REJECTED,
    (S.ISSUED, A.BIND): S.BOUND,
    (S.ISSUED, A.REVOKE): S.REVOKED,
    (S.ISSUED, A.EXPIRE): S.EXPIRED,
    (S.BOUND, A.COMPLETE): S.TRAINED,
    (S.BOUND, A.REVOKE): S.REVOKED,
    (S.TRAINED, A.REDEEM): S.REDEEMED,
    (S.TRAINED, A.REVOKE): S.REVOKED,
    (S.REDEEMED, A.WRITE_OFF): S.WRITTEN_OFF,
}
ALL_PAIRS = list(itertools.product(VoucherState, VoucherAction))


def test_the_table_is_exactly_the_closed_loop():
    assert TRANSITIONS == EXPECTED


@pytest.mark.parametrize(("state", "action"), list(EXPECTED), ids=lambda v: str(v))
def test_every_legal_transition(state, action):
    assert next_state(state, action, reason="材料不全") == EXPECTED[(state, action)]


@pytest.mark.parametrize(("state", "action"), [p for p in ALL_PAIRS if p not in EXPECTED],
                         ids=lambda v: str(v))
def test_every_illegal_transition_is_refused_naming_state_and_action(state, action):
    with pytest.raises(IllegalVoucherTransition) as refused:
        next_state(state, action, reason="原因")
    assert refused.value.code == "ILLEGAL_VOUCHER_TRANSITION"
    assert refused.value.details == {"state": str(state), "action": str(action)}


@pytest.mark.parametrize("action", sorted(REASON_REQUIRED))
@pytest.mark.parametrize("reason", [None, "", "   "])
def test_rejecting_and_revoking_need_a_reason(action, reason):
    state = next(s for (s, a) in EXPECTED if a == action)
    with pytest.raises(ReasonRequired):
        next_state(state, action, reason=reason)


def test_no_voucher_is_bound_redeemed_or_written_off_twice():
    """Every path through the machine uses each action at most once (the table has no cycles)."""

    def paths(state, seen):
        yield seen
        for action in allowed_actions(state):
            yield from paths(TRANSITIONS[(state, action)], [*seen, action])

    all_paths = list(paths(S.APPLIED, []))
    assert all(len(p) == len(set(p)) for p in all_paths)
    assert [A.ISSUE, A.BIND, A.COMPLETE, A.REDEEM, A.WRITE_OFF] in all_paths


def test_final_states_allow_nothing():
    assert {S.WRITTEN_OFF, S.REJECTED, S.REVOKED, S.EXPIRED} == FINAL_STATES
    assert all(allowed_actions(s) == [] for s in FINAL_STATES)


def test_money_states_cannot_be_revoked_or_expired():
    """Once redeemed into a claim, a voucher leaves only by write-off (recovery is a claim matter)."""
    assert allowed_actions(S.REDEEMED) == [A.WRITE_OFF]


# --- serial numbers -------------------------------------------------------------------------


def test_a_serial_carries_the_region_and_parses_back():
    serial = new_serial("140427")
    assert re.fullmatch(r"140427-[0-9A-HJKMNP-TV-Z]{11}", serial)
    assert parse_serial(serial) == ("140427", serial)
    assert parse_serial(f"  {serial.lower()} ") == ("140427", serial)


def test_serials_are_not_repeated():
    assert len({new_serial("141124") for _ in range(2000)}) == 2000


def test_confusable_letters_are_read_as_digits():
    serial = new_serial("140900")
    region, body = serial.split("-")
    typed = region + "-" + body.replace("0", "O").replace("1", "l")
    assert parse_serial(typed) == ("140900", serial)


def test_every_single_mistyped_character_is_caught():
    serial = new_serial("140427")
    region, body = serial.split("-")
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    for position, original in enumerate(body):
        for replacement in alphabet:
            if replacement == original:
                continue
            typo = f"{region}-{body[:position]}{replacement}{body[position + 1:]}"
            with pytest.raises(ValidationFailed):
                parse_serial(typo)


@pytest.mark.parametrize("raw", [None, "", "140427", "140427-", "14042-ABCDEFGHJK0",
                                 "140427-ABCDEFGHJK", "140427-ABCDEFGHJKMN", "140427_ABCDEFGHJK0",
                                 "140427-ABCDEFGHJU0", "１４０４２７-ABCDEFGHJK0", "x" * 500])
def test_malformed_serials_are_refused(raw):
    with pytest.raises(ValidationFailed) as refused:
        parse_serial(raw)
    assert refused.value.code == "INVALID_SERIAL"


def test_a_serial_needs_a_valid_region_code():
    with pytest.raises(ValidationFailed):
        new_serial("1404")
