"""Sign-in and sessions through the HTTP API, as a user or an attacker would see them: the status,
the stable error `code`, the headers, and that nothing else in the database changed.

The `ctx` fixture's application context is reused by every test-client request, so requests and
the test share one SQLAlchemy session. `call` rolls that session back after each request, as the
per-request teardown does in production, so a refusal's uncommitted work is discarded and later
reads see only what was committed.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime, timedelta

import jwt
import pytest
from flask import current_app
from sqlalchemy import func, select

from server.adapters import access_tokens
from server.domain import accounts as rules
from server.domain.access import Role
from server.extensions import db
from server.models import AuditEvent, OneTimeCode, RefreshToken, User
from server.models.types import utcnow
from tests.factories import PASSWORD, login, make_staff, make_trainee

API = "/api/v1"
LOGIN = f"{API}/auth/login"
SMS_CODE = f"{API}/auth/sms-code"
REFRESH = f"{API}/auth/refresh"
LOGOUT = f"{API}/auth/logout"
PASSWORD_CHANGE = f"{API}/auth/password"
ME = f"{API}/me"
WRONG = "Wr0ngPassword"
NEW_PASSWORD = "N3wPassphrase"


# --- helpers ----------------------------------------------------------------------------------


def call(client, method: str, path: str, **kwargs):
    response = client.open(path, method=method, **kwargs)
    db.session.rollback()
    return response


def post(client, path: str, body=None, *, token: str | None = None, **kwargs):
    headers = kwargs.pop("headers", {}) | ({"Authorization": f"Bearer {token}"} if token else {})
    if body is not None:
        kwargs["json"] = body
    return call(client, "POST", path, headers=headers, **kwargs)


def get_me(client, token: str | None = None, headers: dict | None = None):
    return call(client, "GET", ME, headers=headers or {"Authorization": f"Bearer {token}"})


def sign_in(client, **body) -> dict:
    response = post(client, LOGIN, body)
    assert response.status_code == 200, response.json
    return response.json


def refresh_with(client, refresh_token: str):
    return post(client, REFRESH, {"refresh_token": refresh_token})


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.json
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    return body["error"]


def retry_after(response) -> int:
    value = response.headers.get("Retry-After")
    assert value is not None, dict(response.headers)
    return int(value)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def audit_actions() -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))


def user_row(user_id: int) -> User:
    return db.session.get(User, user_id)


def state() -> dict:
    """Everything sign-in can change, to show that a refusal changed nothing."""
    return {
        "users": db.session.execute(select(
            User.id, User.password_hash, User.is_active, User.failed_logins, User.locked_until,
        ).order_by(User.id)).all(),
        "refresh_tokens": db.session.execute(select(
            RefreshToken.id, RefreshToken.used_at, RefreshToken.revoked_at,
        ).order_by(RefreshToken.id)).all(),
        "codes": db.session.execute(select(
            OneTimeCode.id, OneTimeCode.attempts, OneTimeCode.used_at,
        ).order_by(OneTimeCode.id)).all(),
        "audit": audit_actions(),
    }


def set_user(user_id: int, **values) -> None:
    user = user_row(user_id)
    for name, value in values.items():
        setattr(user, name, value)
    db.session.commit()


def a_minute_later() -> None:
    """The per-account limits are per minute; resetting the limiter stands in for waiting.
    The account's own state (failures, lock) lives in the database and is untouched."""
    for limiter in current_app.extensions["limiter"]:  # Flask-Limiter registers itself here
        limiter.reset()


def other_code(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


def spaced(mobile: str) -> str:
    return f"{mobile[:3]} {mobile[3:7]} {mobile[7:]}"


@pytest.fixture
def staff(ctx) -> User:
    return make_staff(Role.BUREAU_REVIEWER)


@pytest.fixture
def trainee(ctx) -> User:
    return make_trainee().user


# --- password sign-in ---------------------------------------------------------------------------


def test_staff_signs_in_with_username_and_password(client, staff):
    body = sign_in(client, username=staff.username, password=PASSWORD)

    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in", "user"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == current_app.config["ACCESS_TOKEN_MINUTES"] * 60
    assert body["access_token"] != body["refresh_token"]
    assert body["user"]["id"] == staff.id
    assert body["user"]["role"] == "bureau_reviewer"
    assert body["user"]["username"] == staff.username
    assert body["user"]["organisation"]["id"] == staff.organisation_id
    assert body["user"]["trainee_id"] is None

    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == body["expires_in"]
    assert set(claims) == {"iss", "sub", "role", "typ", "ver", "iat", "exp", "jti"}  # nothing secret

    me = get_me(client, body["access_token"])
    assert me.status_code == 200
    assert me.json["user"]["id"] == staff.id
    assert me.json["user"]["role"] == "bureau_reviewer"
    assert me.json["trainee"] is None

    assert count(RefreshToken) == 1
    assert audit_actions() == ["auth.login"]
    assert user_row(staff.id).failed_logins == 0


@pytest.mark.parametrize("shape", [
    lambda m: m,
    spaced,
    lambda m: f"+86{m}",
    lambda m: f"+86 {spaced(m)}",
    lambda m: f"{m[:3]}-{m[3:7]}-{m[7:]}",
    lambda m: f"  {m}  ",
], ids=["plain", "spaces", "+86", "+86-spaces", "dashes", "padded"])
def test_trainee_signs_in_with_mobile_in_any_common_shape(client, trainee, shape):
    body = sign_in(client, mobile=shape(trainee.mobile), password=PASSWORD)

    assert body["user"]["role"] == "trainee"
    assert body["user"]["id"] == trainee.id
    assert body["user"]["mobile"] == trainee.mobile  # their own number, unmasked
    assert body["user"]["trainee_id"] == trainee.trainee.id
    me = get_me(client, body["access_token"])
    assert me.status_code == 200
    assert me.json["trainee"]["id"] == trainee.trainee.id


def test_username_with_surrounding_spaces_still_signs_in(client, staff):
    assert sign_in(client, username=f"  {staff.username} ", password=PASSWORD)["user"]["id"] == staff.id


def test_wrong_password_is_401_and_counts_one_failure(client, staff):
    before = state()
    response = post(client, LOGIN, {"username": staff.username, "password": WRONG})

    error = assert_error(response, 401, "INVALID_CREDENTIALS")
    assert error["details"] == {}
    assert "access_token" not in response.get_data(as_text=True)
    after = state()
    assert user_row(staff.id).failed_logins == 1
    assert after["refresh_tokens"] == before["refresh_tokens"] == []
    assert after["audit"] == before["audit"] == []


def test_unknown_username_gets_the_same_answer_as_a_wrong_password(client, staff):
    wrong_password = post(client, LOGIN, {"username": staff.username, "password": WRONG})
    before = state()
    unknown = post(client, LOGIN, {"username": "nobody-here", "password": WRONG})

    assert_error(unknown, 401, "INVALID_CREDENTIALS")
    assert unknown.json == wrong_password.json
    assert state() == before


def test_unknown_mobile_and_passwordless_trainee_get_the_same_answer(client, ctx, trainee):
    sms_only = make_trainee(with_password=False).user
    wrong_password = post(client, LOGIN, {"mobile": trainee.mobile, "password": WRONG})
    unknown = post(client, LOGIN, {"mobile": "13700000000", "password": WRONG})
    no_password = post(client, LOGIN, {"mobile": sms_only.mobile, "password": PASSWORD})

    for response in (wrong_password, unknown, no_password):
        assert_error(response, 401, "INVALID_CREDENTIALS")
    assert unknown.json == wrong_password.json == no_password.json
    assert count(RefreshToken) == 0


def test_malformed_mobile_is_a_validation_error_not_a_lookup(client, ctx):
    error = assert_error(post(client, LOGIN, {"mobile": "12345", "password": PASSWORD}), 422,
                         "INVALID_MOBILE")
    assert error["message"]
    assert count(AuditEvent) == 0


@pytest.mark.parametrize("body, field", [
    ({}, "password"),
    ({"username": "someone"}, "password"),
    ({"mobile": "13900000000"}, "password"),
    ({"password": PASSWORD}, "password"),
    ({"username": "someone", "password": ""}, "password"),
    ({"username": "   ", "password": PASSWORD}, "password"),
    ({"sms_code": "123456"}, "mobile"),
    ({"username": "someone", "sms_code": "123456"}, "mobile"),
])
def test_missing_fields_are_422_validation_failed(client, staff, body, field):
    before = state()
    error = assert_error(post(client, LOGIN, body), 422, "VALIDATION_FAILED")
    assert error["details"] == {"field": field}
    assert state() == before


@pytest.mark.parametrize("body, field, problem", [
    ({"username": "u", "password": PASSWORD, "role": "admin"}, "role", "extra_forbidden"),
    ({"username": "u", "password": PASSWORD, "remember_me": True}, "remember_me", "extra_forbidden"),
    ({"username": 12345, "password": PASSWORD}, "username", "string_type"),
    ({"username": "u", "password": ["a", "b"]}, "password", "string_type"),
    ({"username": "u", "password": "x" * 257}, "password", "string_too_long"),
    ({"username": "u" * 65, "password": PASSWORD}, "username", "string_too_long"),
])
def test_unknown_or_ill_typed_fields_are_422(client, staff, body, field, problem):
    before = state()
    error = assert_error(post(client, LOGIN, body), 422, "VALIDATION_FAILED")
    assert {"field": field, "problem": problem} in [
        {"field": f["field"], "problem": f["problem"]} for f in error["details"]["fields"]
    ]
    assert state() == before


@pytest.mark.parametrize("kwargs", [
    {"data": "username=u&password=p", "content_type": "application/x-www-form-urlencoded"},
    {"data": '{"username": "u", "password": "p"}', "content_type": "text/plain"},
    {"data": '{"username": "u", "password": ', "content_type": "application/json"},
    {"data": '["u", "p"]', "content_type": "application/json"},
    {"data": '"just a string"', "content_type": "application/json"},
    {},
], ids=["form", "text-plain", "truncated-json", "json-array", "json-string", "no-body"])
def test_a_body_that_is_not_a_json_object_is_422_invalid_json(client, staff, kwargs):
    before = state()
    assert_error(post(client, LOGIN, **kwargs), 422, "INVALID_JSON")
    assert state() == before


def test_login_only_accepts_post(client, ctx):
    assert_error(call(client, "GET", LOGIN), 405, "METHOD_NOT_ALLOWED")


# --- lockout ------------------------------------------------------------------------------------


def test_nine_wrong_passwords_then_the_right_one_succeeds_and_resets_the_counter(client, staff):
    for _ in range(rules.LOCK_AFTER_FAILURES - 1):
        assert_error(post(client, LOGIN, {"username": staff.username, "password": WRONG}), 401,
                     "INVALID_CREDENTIALS")
    assert user_row(staff.id).failed_logins == 9
    assert user_row(staff.id).locked_until is None

    sign_in(client, username=staff.username, password=PASSWORD)
    assert user_row(staff.id).failed_logins == 0

    # The counter really restarted: nine more wrong passwords still do not lock.
    a_minute_later()
    for _ in range(rules.LOCK_AFTER_FAILURES - 1):
        assert_error(post(client, LOGIN, {"username": staff.username, "password": WRONG}), 401,
                     "INVALID_CREDENTIALS")
    assert user_row(staff.id).locked_until is None
    assert "account.locked" not in audit_actions()


def test_ten_wrong_passwords_lock_the_account_until_the_lock_expires(client, staff):
    creds = {"username": staff.username}
    for _ in range(rules.LOCK_AFTER_FAILURES - 1):
        assert_error(post(client, LOGIN, creds | {"password": WRONG}), 401, "INVALID_CREDENTIALS")

    started = utcnow()
    tenth = post(client, LOGIN, creds | {"password": WRONG})
    error = assert_error(tenth, 429, "ACCOUNT_LOCKED")
    locked_until = datetime.fromisoformat(error["details"]["locked_until"])
    lock_seconds = rules.LOCK_DURATION.total_seconds()
    assert started + rules.LOCK_DURATION - timedelta(seconds=5) <= locked_until
    assert locked_until <= utcnow() + rules.LOCK_DURATION
    assert lock_seconds - 5 <= retry_after(tenth) <= lock_seconds
    # The limiter re-renders Retry-After from its own clock, so it may be a second shorter.
    assert abs(error["details"]["retry_after"] - retry_after(tenth)) <= 1

    row = user_row(staff.id)
    assert row.locked_until == locked_until
    assert row.failed_logins == 0
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "account.locked")).all()
    assert len(events) == 1
    assert events[0].object_type == "user"
    assert events[0].object_id == str(staff.id)
    assert events[0].after == {"locked_until": locked_until.isoformat()}
    assert count(RefreshToken) == 0

    # Within the same minute the per-account rate limit (10/minute) answers first.
    assert_error(post(client, LOGIN, creds | {"password": PASSWORD}), 429, "RATE_LIMITED")

    # A minute later the account is still locked: even the right password is refused, and
    # neither it nor another wrong one moves the lock or issues anything.
    a_minute_later()
    before = state()
    right = post(client, LOGIN, creds | {"password": PASSWORD})
    error = assert_error(right, 429, "ACCOUNT_LOCKED")
    assert datetime.fromisoformat(error["details"]["locked_until"]) == locked_until
    assert 0 < retry_after(right) <= lock_seconds
    assert_error(post(client, LOGIN, creds | {"password": WRONG}), 429, "ACCOUNT_LOCKED")
    assert state() == before

    # Once the lock has run out the right password works, and the lock is cleared.
    set_user(staff.id, locked_until=utcnow() - timedelta(seconds=1))
    assert_error(post(client, LOGIN, creds | {"password": WRONG}), 401, "INVALID_CREDENTIALS")
    body = sign_in(client, **creds, password=PASSWORD)
    assert get_me(client, body["access_token"]).status_code == 200
    row = user_row(staff.id)
    assert row.locked_until is None
    assert row.failed_logins == 0
    assert audit_actions().count("account.locked") == 1


def test_a_locked_account_also_refuses_sms_code_sign_in(client, trainee, sms_outbox):
    set_user(trainee.id, locked_until=utcnow() + timedelta(minutes=5))
    assert post(client, SMS_CODE, {"mobile": trainee.mobile}).status_code == 202
    (_, code), = sms_outbox

    assert_error(post(client, LOGIN, {"mobile": trainee.mobile, "sms_code": code}), 429,
                 "ACCOUNT_LOCKED")
    assert count(RefreshToken) == 0


def test_reformatting_the_mobile_neither_escapes_the_lockout_nor_the_account_rate_limit(client, trainee):
    m = trainee.mobile
    shapes = [m, spaced(m), f"+86{m}", f"+86 {spaced(m)}", f" {m}"]
    for i in range(rules.LOCK_AFTER_FAILURES - 1):
        response = post(client, LOGIN, {"mobile": shapes[i % len(shapes)], "password": WRONG})
        assert_error(response, 401, "INVALID_CREDENTIALS")
    assert_error(post(client, LOGIN, {"mobile": f"+86-{m}", "password": WRONG}), 429,
                 "ACCOUNT_LOCKED")
    for shape in shapes:
        assert_error(post(client, LOGIN, {"mobile": shape, "password": PASSWORD}), 429, "RATE_LIMITED")


def test_the_account_rate_limit_counts_per_account_however_the_name_is_padded(client, staff):
    for _ in range(10):
        assert_error(post(client, LOGIN, {"username": staff.username}), 422, "VALIDATION_FAILED")

    for name in (staff.username, f" {staff.username}", f"{staff.username}  "):
        response = post(client, LOGIN, {"username": name, "password": PASSWORD})
        error = assert_error(response, 429, "RATE_LIMITED")
        assert error["details"] == {"limit": "10 per 1 minute"}
        assert 0 < retry_after(response) <= 60
    # An sms_code field does not move a username sign-in to another bucket either.
    response = post(client, LOGIN, {"username": staff.username, "mobile": "13700000000",
                                    "sms_code": " ", "password": PASSWORD})
    assert_error(response, 429, "RATE_LIMITED")
    assert count(RefreshToken) == 0

    # Another account is not affected.
    other = make_staff(Role.FINANCE)
    sign_in(client, username=other.username, password=PASSWORD)


def test_disabled_account_is_403_account_disabled(client, staff):
    set_user(staff.id, is_active=False)
    before = state()
    assert_error(post(client, LOGIN, {"username": staff.username, "password": PASSWORD}), 403,
                 "ACCOUNT_DISABLED")
    assert state() == before


def test_disabled_trainee_cannot_sign_in_by_password(client, trainee):
    set_user(trainee.id, is_active=False)
    assert_error(post(client, LOGIN, {"mobile": trainee.mobile, "password": PASSWORD}), 403,
                 "ACCOUNT_DISABLED")
    assert count(RefreshToken) == 0


# --- SMS codes ----------------------------------------------------------------------------------


def test_sms_code_for_a_registered_trainee_is_sent_once_and_stored_hashed(client, trainee, sms_outbox):
    response = post(client, SMS_CODE, {"mobile": f"+86 {spaced(trainee.mobile)}"})

    assert response.status_code == 202
    assert response.json == {"status": "sent", "message": "如该手机号已登记，验证码已发送"}
    assert len(sms_outbox) == 1
    mobile, code = sms_outbox[0]
    assert mobile == trainee.mobile
    assert len(code) == rules.SMS_CODE_LENGTH and code.isdigit()
    row = db.session.scalars(select(OneTimeCode)).one()
    assert row.mobile == trainee.mobile
    assert code not in row.code_hash
    assert row.used_at is None and row.attempts == 0
    assert audit_actions() == []


def test_sms_code_for_an_unknown_number_answers_the_same_and_sends_nothing(client, trainee, sms_outbox):
    known = post(client, SMS_CODE, {"mobile": trainee.mobile})
    sms_outbox.clear()
    unknown = post(client, SMS_CODE, {"mobile": "13700000000"})

    assert unknown.status_code == known.status_code == 202
    assert unknown.get_data() == known.get_data()
    assert sms_outbox == []
    assert db.session.scalar(select(func.count()).select_from(OneTimeCode)
                             .where(OneTimeCode.mobile == "13700000000")) == 0


def test_sms_code_for_a_disabled_trainee_answers_the_same_and_sends_nothing(client, trainee, sms_outbox):
    set_user(trainee.id, is_active=False)
    response = post(client, SMS_CODE, {"mobile": trainee.mobile})
    assert response.status_code == 202
    assert response.json["status"] == "sent"
    assert sms_outbox == []
    assert count(OneTimeCode) == 0


def test_staff_mobile_gets_no_sms_code_and_cannot_sign_in_by_one(client, ctx, sms_outbox):
    """SMS codes are the trainees' sign-in; staff sign in with username and password, so a
    staff account's phone alone must not be enough to take it over."""
    admin = make_staff(Role.ADMIN)
    set_user(admin.id, mobile="13600000001")

    response = post(client, SMS_CODE, {"mobile": "13600000001"})
    assert response.status_code == 202
    assert sms_outbox == []
    assert count(OneTimeCode) == 0

    # Even if a code row existed for the number (say, issued before the user became staff).
    db.session.add(OneTimeCode(mobile="13600000001",
                               code_hash=hashlib.sha256(b"13600000001:123456").hexdigest(),
                               expires_at=utcnow() + timedelta(minutes=5)))
    db.session.commit()
    assert_error(post(client, LOGIN, {"mobile": "13600000001", "sms_code": "123456"}), 401,
                 "INVALID_SMS_CODE")
    assert count(RefreshToken) == 0


@pytest.mark.parametrize("kwargs, status, code", [
    ({"body": {"mobile": "not-a-phone"}}, 422, "INVALID_MOBILE"),
    ({"body": {}}, 422, "VALIDATION_FAILED"),
    ({"body": {"mobile": "13900000000", "x": 1}}, 422, "VALIDATION_FAILED"),
    ({"data": "13900000000"}, 422, "INVALID_JSON"),
])
def test_sms_code_needs_a_well_formed_request(client, ctx, sms_outbox, kwargs, status, code):
    assert_error(post(client, SMS_CODE, **kwargs), status, code)
    assert sms_outbox == []
    assert count(OneTimeCode) == 0


def test_sms_code_signs_in_once_only(client, trainee, sms_outbox):
    post(client, SMS_CODE, {"mobile": trainee.mobile})
    (_, code), = sms_outbox

    body = sign_in(client, mobile=spaced(trainee.mobile), sms_code=code)
    assert body["user"]["id"] == trainee.id
    assert body["user"]["role"] == "trainee"
    assert get_me(client, body["access_token"]).status_code == 200
    assert db.session.scalars(select(OneTimeCode)).one().used_at is not None
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "auth.login")).one()
    assert event.after == {"method": "sms_code"}

    before = state()
    again = post(client, LOGIN, {"mobile": trainee.mobile, "sms_code": code})
    assert_error(again, 401, "INVALID_SMS_CODE")
    assert state() == before


def test_a_wrong_sms_code_is_401_and_counts_an_attempt(client, trainee, sms_outbox):
    post(client, SMS_CODE, {"mobile": trainee.mobile})
    (_, code), = sms_outbox

    error = assert_error(post(client, LOGIN, {"mobile": trainee.mobile, "sms_code": other_code(code)}),
                         401, "INVALID_SMS_CODE")
    assert error["details"] == {}
    assert db.session.scalars(select(OneTimeCode)).one().attempts == 1
    assert count(RefreshToken) == 0
    # A wrong code does not count towards the password lockout.
    assert user_row(trainee.id).failed_logins == 0

    sign_in(client, mobile=trainee.mobile, sms_code=code)


def test_after_too_many_wrong_sms_codes_even_the_right_one_is_refused(client, trainee, sms_outbox):
    post(client, SMS_CODE, {"mobile": trainee.mobile})
    (_, code), = sms_outbox
    for _ in range(rules.SMS_CODE_MAX_ATTEMPTS):
        assert_error(post(client, LOGIN, {"mobile": trainee.mobile, "sms_code": other_code(code)}),
                     401, "INVALID_SMS_CODE")

    assert_error(post(client, LOGIN, {"mobile": trainee.mobile, "sms_code": code}), 401,
                 "INVALID_SMS_CODE")
    assert count(RefreshToken) == 0
    assert db.session.scalars(select(OneTimeCode)).one().attempts == rules.SMS_CODE_MAX_ATTEMPTS


def test_one_wrong_sms_code_short_of_the_limit_the_right_one_still_works(client, trainee, sms_outbox):
    post(client, SMS_CODE, {"mobile": trainee.mobile})
    (_, code), = sms_outbox
    for _ in range(rules.SMS_CODE_MAX_ATTEMPTS - 1):
        post(client, LOGIN, {"mobile": trainee.mobile, "sms_code": other_code(code)})
    sign_in(client, mobile=trainee.mobile, sms_code=code)


def test_an_expired_sms_code_is_refused(client, trainee, sms_outbox):
    post(client, SMS_CODE, {"mobile": trainee.mobile})
    (_, code), = sms_outbox
    row = db.session.scalars(select(OneTimeCode)).one()
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()

    assert_error(post(client, LOGIN, {"mobile": trainee.mobile, "sms_code": code}), 401,
                 "INVALID_SMS_CODE")
    assert count(RefreshToken) == 0


def test_an_sms_code_is_good_for_its_own_mobile_only(client, ctx, trainee, sms_outbox):
    other = make_trainee().user
    post(client, SMS_CODE, {"mobile": trainee.mobile})
    (_, code), = sms_outbox

    assert_error(post(client, LOGIN, {"mobile": other.mobile, "sms_code": code}), 401,
                 "INVALID_SMS_CODE")
    sign_in(client, mobile=trainee.mobile, sms_code=code)


def test_a_new_sms_code_invalidates_the_old_one(client, trainee, sms_outbox, monkeypatch):
    from server.services import auth as auth_service

    # Fix the digits so the two codes always differ (random ones collide once in a million).
    digits = iter("111111" "222222")
    monkeypatch.setattr(auth_service.secrets, "choice", lambda _alphabet: next(digits))
    post(client, SMS_CODE, {"mobile": trainee.mobile})
    a_minute_later()
    assert post(client, SMS_CODE, {"mobile": trainee.mobile}).status_code == 202
    (_, old), (_, new) = sms_outbox
    assert (old, new) == ("111111", "222222")

    assert_error(post(client, LOGIN, {"mobile": trainee.mobile, "sms_code": old}), 401,
                 "INVALID_SMS_CODE")
    first, second = db.session.scalars(select(OneTimeCode).order_by(OneTimeCode.id)).all()
    assert first.used_at is not None and second.used_at is None
    sign_in(client, mobile=trainee.mobile, sms_code=new)


def test_a_second_sms_code_request_within_a_minute_is_rate_limited(client, trainee, sms_outbox):
    assert post(client, SMS_CODE, {"mobile": trainee.mobile}).status_code == 202

    for shape in (trainee.mobile, spaced(trainee.mobile), f"+86{trainee.mobile}", f" {trainee.mobile}"):
        response = post(client, SMS_CODE, {"mobile": shape})
        error = assert_error(response, 429, "RATE_LIMITED")
        assert error["details"] == {"limit": "1 per 1 minute"}
        assert 0 < retry_after(response) <= 60
    assert len(sms_outbox) == 1
    assert count(OneTimeCode) == 1


def test_the_sms_code_rate_limit_does_not_reveal_whether_a_number_is_registered(client, ctx, sms_outbox):
    for _ in range(2):
        post(client, SMS_CODE, {"mobile": "13700000000"})
    response = post(client, SMS_CODE, {"mobile": "13700000000"})
    assert_error(response, 429, "RATE_LIMITED")
    assert sms_outbox == []


# --- refresh tokens -----------------------------------------------------------------------------


def test_refresh_returns_a_new_pair_and_spends_the_old_refresh_token(client, staff):
    first = sign_in(client, username=staff.username, password=PASSWORD)

    response = refresh_with(client, first["refresh_token"])
    assert response.status_code == 200
    second = response.json
    assert set(second) == {"access_token", "refresh_token", "token_type", "expires_in", "user"}
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert second["user"]["id"] == staff.id
    assert get_me(client, second["access_token"]).status_code == 200

    rows = db.session.scalars(select(RefreshToken).order_by(RefreshToken.id)).all()
    assert len(rows) == 2
    assert rows[0].family_id == rows[1].family_id
    assert rows[0].used_at is not None and rows[1].used_at is None
    assert first["refresh_token"] not in {r.token_hash for r in rows}  # stored hashed

    # The new one can be rotated in turn.
    assert refresh_with(client, second["refresh_token"]).status_code == 200


def test_reusing_a_spent_refresh_token_revokes_the_whole_sign_in(client, staff):
    stolen = sign_in(client, username=staff.username, password=PASSWORD)
    other_device = sign_in(client, username=staff.username, password=PASSWORD)
    rotated = refresh_with(client, stolen["refresh_token"]).json

    replay = refresh_with(client, stolen["refresh_token"])
    error = assert_error(replay, 401, "TOKEN_INVALID")
    assert error["details"] == {"reason": "refresh_token_reused"}

    assert_error(refresh_with(client, rotated["refresh_token"]), 401, "TOKEN_INVALID")
    assert_error(refresh_with(client, stolen["refresh_token"]), 401, "TOKEN_INVALID")
    # Only that sign-in's family: the other device carries on.
    assert refresh_with(client, other_device["refresh_token"]).status_code == 200


@pytest.mark.parametrize("token", ["garbage", "", "x" * 256, "eyJhbGciOiJIUzI1NiJ9.e30.sig"])
def test_an_unknown_refresh_token_is_401(client, staff, token):
    sign_in(client, username=staff.username, password=PASSWORD)
    before = state()
    assert_error(refresh_with(client, token), 401, "TOKEN_INVALID")
    assert state() == before


def test_an_access_token_is_not_a_refresh_token(client, staff):
    pair = sign_in(client, username=staff.username, password=PASSWORD)
    assert_error(refresh_with(client, pair["access_token"]), 401, "TOKEN_INVALID")


def test_an_expired_refresh_token_is_401(client, staff):
    pair = sign_in(client, username=staff.username, password=PASSWORD)
    row = db.session.scalars(select(RefreshToken)).one()
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()

    assert_error(refresh_with(client, pair["refresh_token"]), 401, "TOKEN_INVALID")


def test_refresh_for_a_disabled_user_is_refused_and_spends_nothing(client, staff):
    pair = sign_in(client, username=staff.username, password=PASSWORD)
    set_user(staff.id, is_active=False)
    before = state()
    assert_error(refresh_with(client, pair["refresh_token"]), 403, "ACCOUNT_DISABLED")
    assert state() == before


def test_refresh_body_must_be_valid(client, ctx):
    assert_error(post(client, REFRESH, {}), 422, "VALIDATION_FAILED")
    assert_error(post(client, REFRESH, {"refresh_token": "a", "user_id": 1}), 422, "VALIDATION_FAILED")
    assert_error(post(client, REFRESH, {"refresh_token": "x" * 2049}), 422, "VALIDATION_FAILED")
    assert_error(post(client, REFRESH, data="token"), 422, "INVALID_JSON")


# --- logout -------------------------------------------------------------------------------------


def test_logout_revokes_that_sign_in_only(client, staff):
    session = sign_in(client, username=staff.username, password=PASSWORD)
    rotated = refresh_with(client, session["refresh_token"]).json
    other_device = sign_in(client, username=staff.username, password=PASSWORD)

    response = post(client, LOGOUT, {"refresh_token": rotated["refresh_token"]},
                    token=rotated["access_token"])
    assert response.status_code == 204
    assert response.get_data() == b""

    assert_error(refresh_with(client, rotated["refresh_token"]), 401, "TOKEN_INVALID")
    assert refresh_with(client, other_device["refresh_token"]).status_code == 200
    assert "auth.logout" in audit_actions()


def test_logout_without_a_bearer_token_is_401_and_revokes_nothing(client, staff):
    pair = sign_in(client, username=staff.username, password=PASSWORD)
    before = state()

    response = post(client, LOGOUT, {"refresh_token": pair["refresh_token"]})
    assert_error(response, 401, "NOT_AUTHENTICATED")
    assert state() == before
    assert refresh_with(client, pair["refresh_token"]).status_code == 200


def test_logout_cannot_revoke_someone_elses_sign_in(client, ctx, staff):
    victim = make_staff(Role.FINANCE)
    victim_pair = sign_in(client, username=victim.username, password=PASSWORD)
    mine = sign_in(client, username=staff.username, password=PASSWORD)

    response = post(client, LOGOUT, {"refresh_token": victim_pair["refresh_token"]},
                    token=mine["access_token"])
    assert response.status_code == 204  # unknown tokens are ignored, revealing nothing
    assert refresh_with(client, victim_pair["refresh_token"]).status_code == 200
    assert "auth.logout" not in audit_actions()


def test_logout_with_an_unknown_refresh_token_is_a_quiet_no_op(client, staff):
    pair = sign_in(client, username=staff.username, password=PASSWORD)
    before = state()
    assert post(client, LOGOUT, {"refresh_token": "nonsense"}, token=pair["access_token"]).status_code == 204
    assert state() == before


def test_logout_body_must_be_valid(client, staff):
    pair = sign_in(client, username=staff.username, password=PASSWORD)
    assert_error(post(client, LOGOUT, {}, token=pair["access_token"]), 422, "VALIDATION_FAILED")


# --- access tokens ------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _claims(user: User, **overrides) -> dict:
    now = utcnow()
    return {"iss": access_tokens.ISSUER, "sub": str(user.id), "role": str(user.role), "typ": "access",
            "iat": int(now.timestamp()), "exp": int((now + timedelta(minutes=5)).timestamp())} | overrides


def _secret() -> str:
    return current_app.config["SECRET_KEY"]


def _valid(user: User) -> str:
    return access_tokens.issue(_secret(), user_id=user.id, role=str(user.role), minutes=15)


def _expired(user: User) -> str:
    return access_tokens.issue(_secret(), user_id=user.id, role=str(user.role), minutes=15,
                               now=utcnow() - timedelta(minutes=16))


def _flipped_signature(user: User) -> str:
    header, payload, signature = _valid(user).split(".")
    raw = bytearray(_unb64(signature))
    raw[0] ^= 0xFF
    return f"{header}.{payload}.{_b64(bytes(raw))}"


def _forged_claims(user: User) -> str:
    header, payload, signature = _valid(user).split(".")
    claims = json.loads(_unb64(payload)) | {"role": "admin"}
    return f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"


def _wrong_secret(user: User) -> str:
    return access_tokens.issue("another-secret-that-is-long-enough-for-hs256-000000", user_id=user.id,
                               role=str(user.role), minutes=15)


def _alg_none(user: User) -> str:
    return jwt.encode(_claims(user), None, algorithm="none")


def _not_an_access_token(user: User) -> str:
    return jwt.encode(_claims(user, typ="refresh"), _secret(), algorithm="HS256")


def _wrong_issuer(user: User) -> str:
    return jwt.encode(_claims(user, iss="someone-else"), _secret(), algorithm="HS256")


def _no_expiry(user: User) -> str:
    claims = _claims(user)
    del claims["exp"]
    return jwt.encode(claims, _secret(), algorithm="HS256")


def _unknown_user(user: User) -> str:
    return access_tokens.issue(_secret(), user_id=user.id + 1000, role=str(user.role), minutes=15)


def _role_mismatch(user: User) -> str:
    return access_tokens.issue(_secret(), user_id=user.id, role="admin", minutes=15)


def test_a_freshly_issued_access_token_is_accepted(client, staff):
    assert get_me(client, _valid(staff)).json["user"]["id"] == staff.id


@pytest.mark.parametrize("make_token", [
    _expired, _flipped_signature, _forged_claims, _wrong_secret, _alg_none, _not_an_access_token,
    _wrong_issuer, _no_expiry, _unknown_user, _role_mismatch,
    lambda user: "not.a.jwt", lambda user: "garbage",
], ids=["expired", "tampered-signature", "tampered-claims", "wrong-secret", "alg-none", "typ-refresh",
        "wrong-issuer", "no-expiry", "unknown-user", "role-mismatch", "three-dots", "garbage"])
def test_a_bad_access_token_is_401_token_invalid(client, staff, make_token):
    response = get_me(client, make_token(staff))
    assert_error(response, 401, "TOKEN_INVALID")
    assert "user" not in response.json


@pytest.mark.parametrize("header", [
    lambda token: {"Authorization": token},
    lambda token: {"Authorization": f"Token {token}"},
    lambda token: {"Authorization": f"Basic {token}"},
    lambda token: {"Authorization": "Bearer "},
    lambda token: {"Authorization": "Bearer"},
    lambda token: {},
    lambda token: {"X-Access-Token": token},
], ids=["no-scheme", "token-scheme", "basic-scheme", "bearer-empty", "bearer-only", "none", "other-header"])
def test_an_access_token_outside_a_bearer_header_is_401_not_authenticated(client, staff, header):
    assert_error(get_me(client, headers=header(_valid(staff)) or {"Accept": "application/json"}), 401,
                 "NOT_AUTHENTICATED")


def test_bearer_scheme_is_case_insensitive(client, staff):
    assert get_me(client, headers={"Authorization": f"bearer {_valid(staff)}"}).status_code == 200


def test_an_access_token_stops_working_once_its_user_is_disabled(client, staff):
    pair = sign_in(client, username=staff.username, password=PASSWORD)
    assert get_me(client, pair["access_token"]).status_code == 200

    set_user(staff.id, is_active=False)
    assert_error(get_me(client, pair["access_token"]), 401, "TOKEN_INVALID")


def test_an_access_token_stops_working_once_its_users_role_changes(client, staff):
    pair = sign_in(client, username=staff.username, password=PASSWORD)
    set_user(staff.id, role=Role.BUREAU_SUPERVISOR)
    assert_error(get_me(client, pair["access_token"]), 401, "TOKEN_INVALID")


# --- password change ----------------------------------------------------------------------------


def test_password_change_with_the_wrong_old_password_is_401_and_only_counts_a_failure(client, staff):
    pair = sign_in(client, username=staff.username, password=PASSWORD)
    before = state()

    response = post(client, PASSWORD_CHANGE, {"old_password": WRONG, "new_password": NEW_PASSWORD},
                    token=pair["access_token"])
    assert_error(response, 401, "INVALID_CREDENTIALS")
    after = state()
    # The wrong old password counts towards the lockout, exactly as a wrong sign-in would.
    assert after["users"] == [(row[0], row[1], row[2], row[3] + 1, row[4]) for row in before["users"]]
    assert {k: v for k, v in after.items() if k != "users"} == {
        k: v for k, v in before.items() if k != "users"}
    assert refresh_with(client, pair["refresh_token"]).status_code == 200


def test_guessing_the_old_password_with_a_stolen_token_locks_the_account(client, app, staff):
    pair = sign_in(client, username=staff.username, password=PASSWORD)
    statuses = []
    for _ in range(10):
        for limiter in app.extensions["limiter"]:
            limiter.reset()  # stands in for the per-address limit's minute passing
        statuses.append(post(client, PASSWORD_CHANGE, {"old_password": WRONG,
                                                       "new_password": NEW_PASSWORD},
                             token=pair["access_token"]).json["error"]["code"])
    assert statuses == ["INVALID_CREDENTIALS"] * 9 + ["ACCOUNT_LOCKED"]
    assert_error(post(client, LOGIN, {"username": staff.username, "password": PASSWORD}),
                 429, "ACCOUNT_LOCKED")


def test_a_password_change_ends_access_tokens_already_issued(client, staff):
    pair = sign_in(client, username=staff.username, password=PASSWORD)
    response = post(client, PASSWORD_CHANGE, {"old_password": PASSWORD, "new_password": NEW_PASSWORD},
                    token=pair["access_token"])
    assert response.status_code == 204
    stale = client.get("/api/v1/me", headers={"Authorization": f"Bearer {pair['access_token']}"})
    assert_error(stale, 401, "TOKEN_INVALID")
    assert stale.headers["WWW-Authenticate"].startswith("Bearer")
    fresh = sign_in(client, username=staff.username, password=NEW_PASSWORD)
    assert client.get("/api/v1/me", headers={
        "Authorization": f"Bearer {fresh['access_token']}"}).status_code == 200


def test_disabling_an_account_ends_its_access_tokens_at_once(client, staff):
    from server.domain.access import Role
    from tests.factories import make_staff

    admin = make_staff(Role.ADMIN, staff.organisation)
    pair = sign_in(client, username=staff.username, password=PASSWORD)
    admin_pair = sign_in(client, username=admin.username, password=PASSWORD)
    response = client.patch(f"/api/v1/users/{staff.id}", json={"is_active": False},
                            headers={"Authorization": f"Bearer {admin_pair['access_token']}"})
    assert response.status_code == 200, response.json
    stale = client.get("/api/v1/me", headers={"Authorization": f"Bearer {pair['access_token']}"})
    assert_error(stale, 401, "TOKEN_INVALID")
    assert_error(refresh_with(client, pair["refresh_token"]), 401, "TOKEN_INVALID")


def test_a_disabled_account_is_revealed_only_to_someone_who_knows_its_password(client, staff):
    staff.is_active = False
    db.session.commit()
    assert_error(post(client, LOGIN, {"username": staff.username, "password": WRONG}),
                 401, "INVALID_CREDENTIALS")
    assert_error(post(client, LOGIN, {"username": staff.username, "password": PASSWORD}),
                 403, "ACCOUNT_DISABLED")


def test_staff_cannot_sign_in_by_mobile_number(client, staff):
    staff.mobile = "13700000009"
    db.session.commit()
    assert_error(post(client, LOGIN, {"mobile": "13700000009", "password": PASSWORD}),
                 401, "INVALID_CREDENTIALS")


@pytest.mark.parametrize("weak", ["short1", "abcdefgh", "12345678", "        ", "abc 123"])
def test_a_weak_new_password_is_422_and_changes_nothing(client, staff, weak):
    pair = sign_in(client, username=staff.username, password=PASSWORD)
    before = state()

    response = post(client, PASSWORD_CHANGE, {"old_password": PASSWORD, "new_password": weak},
                    token=pair["access_token"])
    error = assert_error(response, 422, "VALIDATION_FAILED")
    assert error["details"] == {"field": "password"}
    assert state() == before


def test_password_change_replaces_the_password_and_ends_every_sign_in(client, staff):
    first = sign_in(client, username=staff.username, password=PASSWORD)
    second = sign_in(client, username=staff.username, password=PASSWORD)
    rotated = refresh_with(client, second["refresh_token"]).json

    response = post(client, PASSWORD_CHANGE, {"old_password": PASSWORD, "new_password": NEW_PASSWORD},
                    token=first["access_token"])
    assert response.status_code == 204
    assert response.get_data() == b""

    assert db.session.scalar(select(func.count()).select_from(RefreshToken)
                             .where(RefreshToken.revoked_at.is_(None))) == 0
    assert_error(refresh_with(client, first["refresh_token"]), 401, "TOKEN_INVALID")
    assert_error(refresh_with(client, rotated["refresh_token"]), 401, "TOKEN_INVALID")
    assert "auth.password_changed" in audit_actions()

    assert_error(post(client, LOGIN, {"username": staff.username, "password": PASSWORD}), 401,
                 "INVALID_CREDENTIALS")
    assert login(client, username=staff.username, password=NEW_PASSWORD)


def test_password_change_leaves_other_users_sessions_alone(client, ctx, staff):
    other = make_staff(Role.FINANCE)
    theirs = sign_in(client, username=other.username, password=PASSWORD)
    mine = sign_in(client, username=staff.username, password=PASSWORD)

    post(client, PASSWORD_CHANGE, {"old_password": PASSWORD, "new_password": NEW_PASSWORD},
         token=mine["access_token"])
    assert refresh_with(client, theirs["refresh_token"]).status_code == 200


def test_password_change_needs_a_bearer_token_and_a_valid_body(client, staff):
    pair = sign_in(client, username=staff.username, password=PASSWORD)
    change = {"old_password": PASSWORD, "new_password": NEW_PASSWORD}
    before = state()

    assert_error(post(client, PASSWORD_CHANGE, change), 401, "NOT_AUTHENTICATED")
    assert_error(post(client, PASSWORD_CHANGE, change, token=_expired(staff)), 401, "TOKEN_INVALID")
    assert_error(post(client, PASSWORD_CHANGE, {"new_password": NEW_PASSWORD}, token=pair["access_token"]),
                 422, "VALIDATION_FAILED")
    assert_error(post(client, PASSWORD_CHANGE, change | {"user_id": 1}, token=pair["access_token"]), 422,
                 "VALIDATION_FAILED")
    assert_error(post(client, PASSWORD_CHANGE, data="x", token=pair["access_token"]), 422, "INVALID_JSON")
    assert state() == before


# --- per-address rate limit ---------------------------------------------------------------------


def test_login_is_limited_to_30_a_minute_per_address(client, staff):
    for i in range(30):
        # Different accounts, so only the per-address limit is in play; no password, so cheap.
        assert_error(post(client, LOGIN, {"username": f"probe{i}"}), 422, "VALIDATION_FAILED")

    response = post(client, LOGIN, {"username": staff.username, "password": PASSWORD})
    error = assert_error(response, 429, "RATE_LIMITED")
    assert error["details"] == {"limit": "30 per 1 minute"}
    assert 0 < retry_after(response) <= 60
    assert response.headers["X-RateLimit-Limit"] == "30"
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert count(RefreshToken) == 0

    # Another address is not affected.
    elsewhere = call(client, "POST", LOGIN, json={"username": staff.username, "password": PASSWORD},
                     environ_base={"REMOTE_ADDR": "203.0.113.7"})
    assert elsewhere.status_code == 200
