"""The attendance cell (trainee × session) and the review of a flagged check-in."""

from __future__ import annotations

import itertools

import pytest

from server.domain.attendance import CellStatus, CheckinKind, Record, Review, cell, check_review
from server.domain.errors import Conflict, ValidationFailed

IN, OUT = CheckinKind.CHECK_IN, CheckinKind.SIGN_OUT


def _cell(records, *, voucher_signed=False, signout_required=False, voucher_signin_required=False,
          session_over=True, session_started=True):
    return cell(records, voucher_signed=voucher_signed, signout_required=signout_required,
                voucher_signin_required=voucher_signin_required, session_over=session_over,
                session_started=session_started)


@pytest.mark.parametrize("records,options,expected", [
    pytest.param([Record(IN, False, Review.NONE)], {}, CellStatus.PRESENT, id="clean-check-in"),
    pytest.param([], {}, CellStatus.ABSENT, id="nothing-after-start"),
    pytest.param([], {"session_started": False, "session_over": False}, CellStatus.UPCOMING,
                 id="not-started"),
    pytest.param([Record(IN, True, Review.NONE)], {}, CellStatus.FLAGGED, id="flag-pending"),
    pytest.param([Record(IN, True, Review.ACCEPTED)], {}, CellStatus.PRESENT, id="flag-accepted"),
    pytest.param([Record(IN, True, Review.REJECTED)], {}, CellStatus.REJECTED, id="flag-rejected"),
    pytest.param([Record(IN, False, Review.NONE), Record(OUT, True, Review.REJECTED)], {},
                 CellStatus.REJECTED, id="rejected-sign-out-spoils-the-session"),
    pytest.param([Record(IN, False, Review.NONE)], {"signout_required": True}, CellStatus.INCOMPLETE,
                 id="sign-out-missing-after-end"),
    pytest.param([Record(IN, False, Review.NONE)], {"signout_required": True, "session_over": False},
                 CellStatus.PRESENT, id="sign-out-not-due-yet"),
    pytest.param([Record(IN, False, Review.NONE), Record(OUT, False, Review.NONE)],
                 {"signout_required": True}, CellStatus.PRESENT, id="signed-out"),
    pytest.param([Record(IN, False, Review.NONE)], {"voucher_signin_required": True}, CellStatus.INCOMPLETE,
                 id="wenshui-without-voucher-sign-in"),
    pytest.param([Record(IN, False, Review.NONE)], {"voucher_signin_required": True, "voucher_signed": True},
                 CellStatus.PRESENT, id="wenshui-both-sign-ins"),
    pytest.param([], {"voucher_signed": True}, CellStatus.PRESENT, id="voucher-sign-in-instead-of-selfie"),
    pytest.param([], {"voucher_signed": True, "voucher_signin_required": True}, CellStatus.INCOMPLETE,
                 id="wenshui-voucher-sign-in-alone"),
])
def test_cell(records, options, expected):
    assert _cell(records, **options) is expected


def test_every_combination_gives_one_status():
    for flags in itertools.product([False, True], repeat=5):
        assert _cell([Record(IN, False, Review.NONE)], voucher_signed=flags[0], signout_required=flags[1],
                     voucher_signin_required=flags[2], session_over=flags[3],
                     session_started=flags[4]) in set(CellStatus)


def test_a_flagged_record_is_reviewed_once_with_a_reason():
    assert check_review(True, Review.NONE, Review.ACCEPTED, "  本人在场，定位漂移  ") == "本人在场，定位漂移"


@pytest.mark.parametrize("flagged,current,decision,reason,code", [
    (False, Review.NONE, Review.ACCEPTED, "x", "CHECKIN_NOT_FLAGGED"),
    (True, Review.NONE, Review.NONE, "x", "INVALID_DECISION"),
    (True, Review.ACCEPTED, Review.REJECTED, "x", "CHECKIN_ALREADY_REVIEWED"),
    (True, Review.NONE, Review.REJECTED, "  ", "REASON_REQUIRED"),
    (True, Review.NONE, Review.REJECTED, None, "REASON_REQUIRED"),
])
def test_bad_reviews_are_refused(flagged, current, decision, reason, code):
    with pytest.raises((ValidationFailed, Conflict)) as refused:
        check_review(flagged, current, decision, reason)
    assert refused.value.code == code
