"""Sign-in rules: lockout after repeated wrong passwords, SMS code constants, password strength."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from server.domain.accounts import (
    LOCK_AFTER_FAILURES,
    LOCK_DURATION,
    MIN_PASSWORD_LENGTH,
    SMS_CODE_LENGTH,
    SMS_CODE_MAX_ATTEMPTS,
    SMS_CODE_TTL,
    check_password_strength,
    is_locked,
    locked_until_after_failure,
)
from server.domain.errors import ValidationFailed

NOW = datetime(2024, 6, 15, 9, 30, tzinfo=UTC)
TICK = timedelta(microseconds=1)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        pytest.param("LOCK_AFTER_FAILURES", LOCK_AFTER_FAILURES, 10, id="lock-after-10"),
        pytest.param("LOCK_DURATION", LOCK_DURATION, timedelta(minutes=15), id="lock-15-minutes"),
        pytest.param("SMS_CODE_LENGTH", SMS_CODE_LENGTH, 6, id="sms-6-digits"),
        pytest.param("SMS_CODE_TTL", SMS_CODE_TTL, timedelta(minutes=5), id="sms-valid-5-minutes"),
        pytest.param("SMS_CODE_MAX_ATTEMPTS", SMS_CODE_MAX_ATTEMPTS, 5, id="sms-5-attempts"),
        pytest.param("MIN_PASSWORD_LENGTH", MIN_PASSWORD_LENGTH, 8, id="password-min-8"),
    ],
)
def test_published_constants(name, value, expected):
    assert value == expected, name


# ---------------------------------------------------------------- lockout


@pytest.mark.parametrize(
    ("failures", "locks"),
    [pytest.param(n, n >= 10, id=f"{n}-failures-{'locks' if n >= 10 else 'open'}") for n in range(0, 13)]
    + [pytest.param(100, True, id="100-failures-locks")],
)
def test_lock_starts_at_the_tenth_consecutive_failure(failures, locks):
    until = locked_until_after_failure(failures, NOW)
    assert until == (NOW + timedelta(minutes=15) if locks else None)


@pytest.mark.parametrize(
    ("locked_until", "now", "locked"),
    [
        pytest.param(None, NOW, False, id="never-locked"),
        pytest.param(NOW + LOCK_DURATION, NOW, True, id="just-locked"),
        pytest.param(NOW + LOCK_DURATION, NOW + LOCK_DURATION - TICK, True, id="one-tick-before-unlock"),
        pytest.param(NOW + LOCK_DURATION, NOW + LOCK_DURATION, False, id="exactly-at-unlock-time"),
        pytest.param(NOW + LOCK_DURATION, NOW + LOCK_DURATION + TICK, False, id="one-tick-after"),
        pytest.param(NOW + LOCK_DURATION, NOW + timedelta(days=1), False, id="next-day"),
        pytest.param(NOW - timedelta(days=1), NOW, False, id="stale-lock-in-the-past"),
    ],
)
def test_is_locked(locked_until, now, locked):
    assert is_locked(locked_until, now) is locked


def test_ten_wrong_passwords_lock_for_exactly_fifteen_minutes():
    failed_at = NOW
    for attempt in range(1, LOCK_AFTER_FAILURES):
        until = locked_until_after_failure(attempt, failed_at)
        assert not is_locked(until, failed_at), f"locked after only {attempt} failures"
    until = locked_until_after_failure(LOCK_AFTER_FAILURES, failed_at)
    assert is_locked(until, failed_at)
    assert is_locked(until, failed_at + timedelta(minutes=14, seconds=59))
    assert not is_locked(until, failed_at + timedelta(minutes=15))


# ---------------------------------------------------------------- password strength

TOO_SHORT = "密码至少 8 位"
NOT_MIXED = "密码需同时包含字母和数字"
REPEATED = "密码过于简单，请勿使用重复字符"


@pytest.mark.parametrize(
    "password",
    [
        pytest.param("abcd1234", id="8-letters-and-digits"),
        pytest.param("Passw0rd!", id="mixed-with-symbol"),
        pytest.param("1234567a", id="one-letter"),
        pytest.param("a1234567", id="letter-first"),
        pytest.param("ABCDEFG1", id="upper-case"),
        pytest.param("abcdefghijklmn1", id="15-mixed"),
        pytest.param("abcdefghijklmnop", id="16-letters-passphrase"),
        pytest.param("1234567890123456", id="16-digits-passphrase"),
        pytest.param("correct horse battery staple", id="long-passphrase-with-spaces"),
        pytest.param("!@#$%^&*()_+-=[]", id="16-symbols-passphrase"),
        pytest.param("培训券密码2024年", id="chinese-characters-count-as-letters"),
    ],
)
def test_strong_enough_passwords_pass(password):
    assert check_password_strength(password) is None


@pytest.mark.parametrize(
    ("password", "message"),
    [
        pytest.param("", TOO_SHORT, id="empty"),
        pytest.param("a1", TOO_SHORT, id="2-chars"),
        pytest.param("abc1234", TOO_SHORT, id="7-mixed"),
        pytest.param("abcdefg", TOO_SHORT, id="7-letters"),
        pytest.param(None, TOO_SHORT, id="none"),
        pytest.param(12345678, TOO_SHORT, id="int"),
        pytest.param(b"abcd1234", TOO_SHORT, id="bytes"),
        pytest.param("abcdefgh", NOT_MIXED, id="8-letters"),
        pytest.param("12345678", NOT_MIXED, id="8-digits"),
        pytest.param("!@#$%^&*", NOT_MIXED, id="8-symbols"),
        pytest.param("1234!@#$", NOT_MIXED, id="digits-and-symbols"),
        pytest.param("abcd!@#$", NOT_MIXED, id="letters-and-symbols"),
        pytest.param("abcdefghijklmno", NOT_MIXED, id="15-letters"),
        pytest.param("123456789012345", NOT_MIXED, id="15-digits"),
        pytest.param(" " * 16, REPEATED, id="16-spaces"),
        pytest.param("a" * 20, REPEATED, id="20-same-letter"),
        pytest.param("abababab12121212", REPEATED, id="four-distinct-characters"),
    ],
)
def test_weak_passwords_are_refused(password, message):
    with pytest.raises(ValidationFailed) as caught:
        check_password_strength(password)
    assert caught.value.code == "VALIDATION_FAILED"
    assert caught.value.message == message
    assert caught.value.details == {"field": "password"}
