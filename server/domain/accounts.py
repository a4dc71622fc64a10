"""Sign-in rules: lockout after repeated wrong passwords, one-time SMS codes, password strength."""

from __future__ import annotations

from datetime import datetime, timedelta

from server.domain.errors import ValidationFailed

LOCK_AFTER_FAILURES = 10  # the tenth wrong password in a row locks the account
LOCK_DURATION = timedelta(minutes=15)
SMS_CODE_LENGTH = 6
SMS_CODE_TTL = timedelta(minutes=5)
SMS_CODE_MAX_ATTEMPTS = 5
MIN_PASSWORD_LENGTH = 8
MIN_DISTINCT_CHARACTERS = 5


def locked_until_after_failure(failures_so_far: int, now: datetime) -> datetime | None:
    """Given the consecutive failures *including* this one, when the account unlocks."""
    return now + LOCK_DURATION if failures_so_far >= LOCK_AFTER_FAILURES else None


def is_locked(locked_until: datetime | None, now: datetime) -> bool:
    return locked_until is not None and locked_until > now


def check_password_strength(password: str) -> None:
    """At least 8 characters mixing letters and digits; long passphrases pass regardless,
    but never one made of a few repeated characters (16 spaces, "aaaa…")."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed("密码至少 8 位", details={"field": "password"})
    if len(set(password.strip())) < MIN_DISTINCT_CHARACTERS:
        raise ValidationFailed("密码过于简单，请勿使用重复字符", details={"field": "password"})
    if len(password) < 16 and not (
        any(c.isdigit() for c in password) and any(c.isalpha() for c in password)
    ):
        raise ValidationFailed("密码需同时包含字母和数字", details={"field": "password"})
