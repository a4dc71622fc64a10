"""Signing in and out: passwords, SMS codes, access and refresh tokens, lockout."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import bindparam, select, update

from server.adapters import access_tokens, passwords
from server.domain import accounts
from server.domain.access import Principal, Role
from server.domain.errors import (
    AccountDisabled,
    AccountLocked,
    InvalidCredentials,
    InvalidOneTimeCode,
    NotAuthenticated,
    TokenInvalid,
)
from server.domain.identity import normalise_mobile
from server.extensions import db, read_only_transaction
from server.models import OneTimeCode, Organisation, RefreshToken, TraineeProfile, User
from server.models.types import utcnow
from server.services import audit


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int  # seconds until the access token expires
    user: User


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _home_region(user: User) -> str | None:
    if user.trainee is not None:
        return user.trainee.home_region_code
    return user.organisation.region_code if user.organisation else None


def principal_of(user: User) -> Principal:
    org = user.organisation
    return Principal(
        user_id=user.id,
        role=user.role,
        organisation_id=org.id if org else None,
        region_code=org.region_code if org else None,
        trainee_id=user.trainee.id if user.trainee else None,
    )


def _issue_pair(user: User, family_id: str | None = None) -> TokenPair:
    cfg = current_app.config
    minutes = cfg["ACCESS_TOKEN_MINUTES"]
    refresh = secrets.token_urlsafe(32)
    db.session.add(RefreshToken(
        user_id=user.id,
        token_hash=_sha256(refresh),
        family_id=family_id or secrets.token_hex(16),
        expires_at=utcnow() + timedelta(days=cfg["REFRESH_TOKEN_DAYS"]),
    ))
    access = access_tokens.issue(cfg["SECRET_KEY"], user_id=user.id, role=str(user.role),
                                 version=user.token_version, minutes=minutes)
    return TokenPair(access, refresh, minutes * 60, user)


def _find_user(*, username: str | None, mobile: str | None) -> User | None:
    """Staff by username; trainees by mobile (a staff member's mobile is not a login name)."""
    if username:
        return db.session.scalar(select(User).where(User.username == username))
    return db.session.scalar(select(User).where(User.mobile == normalise_mobile(mobile or ""),
                                                User.role == Role.TRAINEE))


def _refuse_if_unusable(user: User, now: datetime) -> None:
    if not user.is_active:
        raise AccountDisabled()
    _refuse_if_locked(user, now)


def _refuse_if_locked(user: User, now: datetime) -> None:
    if accounts.is_locked(user.locked_until, now):
        raise AccountLocked(details={"locked_until": user.locked_until.isoformat(),
                                     "retry_after": int((user.locked_until - now).total_seconds())})


def _record_failure(user: User, now: datetime) -> None:
    """Count a wrong password in its own committed transaction (the refusal must not roll it
    back), by a conditional UPDATE so concurrent failures are all counted."""
    db.session.execute(
        update(User).where(User.id == user.id).values(failed_logins=User.failed_logins + 1)
    )
    db.session.refresh(user)
    until = accounts.locked_until_after_failure(user.failed_logins, now)
    if until is not None:
        user.locked_until = until
        user.failed_logins = 0
        audit.record(None, "account.locked", "user", user.id,
                     region_code=_home_region(user), after={"locked_until": until.isoformat()})
    db.session.commit()
    if until is not None:
        raise AccountLocked(details={"locked_until": until.isoformat(),
                                     "retry_after": int((until - now).total_seconds())})


def login_with_password(*, username: str | None, mobile: str | None, password: str) -> TokenPair:
    """Staff by username, trainees by mobile number; both with a password."""
    now = utcnow()
    user = _find_user(username=username, mobile=mobile)
    if user is None:
        passwords.verify_password(None, password)  # same cost as a real check
        raise InvalidCredentials()
    _refuse_if_locked(user, now)
    if not passwords.verify_password(user.password_hash, password):
        if user.is_active:
            _record_failure(user, now)
        raise InvalidCredentials()
    # Only someone who knows the password learns that the account is disabled.
    if not user.is_active:
        raise AccountDisabled()
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    return _succeed(user, "password")


def _succeed(user: User, method: str) -> TokenPair:
    user.failed_logins = 0
    user.locked_until = None
    pair = _issue_pair(user)
    audit.record(principal_of(user), "auth.login", "user", user.id,
                 region_code=_home_region(user), after={"method": method})
    db.session.commit()
    return pair


def send_sms_code(mobile: str) -> None:
    """Send a one-time code to a registered trainee's mobile. For an unknown number nothing
    is sent, but the answer is the same, so the endpoint does not reveal who is registered."""
    mobile = normalise_mobile(mobile)
    user = db.session.scalar(select(User).where(User.mobile == mobile))
    if user is None or not user.is_active or user.role is not Role.TRAINEE:
        return
    code = "".join(secrets.choice("0123456789") for _ in range(accounts.SMS_CODE_LENGTH))
    now = utcnow()
    # A new code replaces any outstanding one.
    db.session.execute(update(OneTimeCode).where(OneTimeCode.mobile == mobile,
                                                 OneTimeCode.used_at.is_(None))
                       .values(used_at=now))
    db.session.add(OneTimeCode(mobile=mobile, code_hash=_sha256(mobile + ":" + code),
                               expires_at=now + accounts.SMS_CODE_TTL))
    db.session.commit()
    current_app.extensions["sms_sender"].send_code(mobile, code)


def login_with_sms_code(*, mobile: str, code: str) -> TokenPair:
    mobile = normalise_mobile(mobile)
    now = utcnow()
    otp = db.session.scalar(
        select(OneTimeCode)
        .where(OneTimeCode.mobile == mobile, OneTimeCode.used_at.is_(None),
               OneTimeCode.expires_at > now)
        .order_by(OneTimeCode.id.desc()).limit(1)
    )
    if otp is None or otp.attempts >= accounts.SMS_CODE_MAX_ATTEMPTS:
        raise InvalidOneTimeCode()
    if not hmac.compare_digest(otp.code_hash, _sha256(mobile + ":" + (code or ""))):
        db.session.execute(update(OneTimeCode).where(OneTimeCode.id == otp.id)
                           .values(attempts=OneTimeCode.attempts + 1))
        db.session.commit()
        raise InvalidOneTimeCode()
    # Consume it at most once, even if two requests race with the same code.
    used = db.session.execute(
        update(OneTimeCode).where(OneTimeCode.id == otp.id, OneTimeCode.used_at.is_(None))
        .values(used_at=now)
    )
    if used.rowcount != 1:
        raise InvalidOneTimeCode()
    user = db.session.scalar(select(User).where(User.mobile == mobile))
    if user is None or user.role is not Role.TRAINEE:  # staff sign in with a password only
        raise InvalidOneTimeCode()
    _refuse_if_unusable(user, now)
    return _succeed(user, "sms_code")


def refresh(refresh_token: str) -> TokenPair:
    """Rotate: the presented token is spent and a new pair issued in the same family. A
    token presented a second time revokes its whole family."""
    now = utcnow()
    row = db.session.scalar(select(RefreshToken).where(
        RefreshToken.token_hash == _sha256(refresh_token or "")))
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise TokenInvalid()
    spent = db.session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == row.id, RefreshToken.used_at.is_(None),
               RefreshToken.revoked_at.is_(None))
        .values(used_at=now)
    )
    if spent.rowcount != 1:
        _revoke_family(row.family_id, now)
        db.session.commit()
        raise TokenInvalid("登录凭证已被使用过，为安全起见已退出登录",
                           details={"reason": "refresh_token_reused"})
    user = db.session.get(User, row.user_id)
    _refuse_if_unusable(user, now)
    pair = _issue_pair(user, family_id=row.family_id)
    db.session.commit()
    return pair


def _revoke_family(family_id: str, now: datetime) -> None:
    db.session.execute(update(RefreshToken)
                       .where(RefreshToken.family_id == family_id,
                              RefreshToken.revoked_at.is_(None))
                       .values(revoked_at=now))


def logout(principal: Principal, refresh_token: str) -> None:
    """Revoke the sign-in (the refresh token's family). Unknown tokens are ignored."""
    row = db.session.scalar(select(RefreshToken).where(
        RefreshToken.token_hash == _sha256(refresh_token or ""),
        RefreshToken.user_id == principal.user_id))
    if row is not None:
        _revoke_family(row.family_id, utcnow())
        audit.record(principal, "auth.logout", "user", principal.user_id)
    db.session.commit()


# Built once: every request runs it, and building a statement and its cache key costs more
# than running it (bench/RESULTS.md, check-ins).
_PRINCIPAL_COLUMNS = (
    select(User.role, User.is_active, User.token_version, User.organisation_id,
           Organisation.region_code, TraineeProfile.id)
    .outerjoin(Organisation, Organisation.id == User.organisation_id)
    .outerjoin(TraineeProfile, TraineeProfile.user_id == User.id)
    .where(User.id == bindparam("user_id")))


def principal_from_access_token(token: str | None) -> Principal:
    if not token:
        raise NotAuthenticated()
    try:
        claims = access_tokens.decode(current_app.config["SECRET_KEY"], token)
    except access_tokens.AccessTokenError:
        raise TokenInvalid() from None
    # Every request's first statement: the columns a Principal needs, in a read-only transaction
    # of its own (the request's work begins afterwards), not the User with its eager relations.
    with read_only_transaction():
        found = db.session.execute(_PRINCIPAL_COLUMNS, {"user_id": int(claims["sub"])}).first()
    if found is None:
        raise TokenInvalid()
    role, is_active, version, organisation_id, region_code, trainee_id = found
    if not is_active or str(role) != claims.get("role") or claims.get("ver") != version:
        raise TokenInvalid()
    return Principal(user_id=int(claims["sub"]), role=role, organisation_id=organisation_id,
                     region_code=region_code, trainee_id=trainee_id)


def end_all_sessions(user_id: int) -> None:
    """Revoke every refresh token and invalidate every access token already issued (their
    `ver` claim no longer matches). The caller commits."""
    db.session.execute(update(User).where(User.id == user_id)
                       .values(token_version=User.token_version + 1))
    db.session.execute(update(RefreshToken).where(RefreshToken.user_id == user_id,
                                                  RefreshToken.revoked_at.is_(None))
                       .values(revoked_at=utcnow()))


def change_password(principal: Principal, old_password: str, new_password: str) -> None:
    """Change one's own password. A wrong old password counts towards the lockout, as at
    sign-in, so a stolen access token cannot be used to guess it. Every session ends."""
    user = db.session.get(User, principal.user_id)
    now = utcnow()
    _refuse_if_locked(user, now)
    if not passwords.verify_password(user.password_hash, old_password):
        _record_failure(user, now)
        raise InvalidCredentials("原密码不正确")
    accounts.check_password_strength(new_password)
    user.password_hash = passwords.hash_password(new_password)
    user.failed_logins = 0
    end_all_sessions(user.id)
    audit.record(principal, "auth.password_changed", "user", user.id)
    db.session.commit()

