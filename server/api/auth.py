"""Sign-in, refresh, sign-out and the signed-in user."""

from __future__ import annotations

from flask import Blueprint, request

from server.api import schemas as s
from server.api.http import parse_body, respond, user_out
from server.api.openapi import documented
from server.api.security import current_principal, signed_in
from server.domain.errors import InvalidMobile, ValidationFailed
from server.domain.identity import normalise_mobile
from server.extensions import rate_limit
from server.services import auth as auth_service

bp = Blueprint("auth", __name__, url_prefix="/api/v1/auth")


def _account_key() -> str:
    """Rate-limit key for the account the request acts on, normalised the way the service
    looks it up, so `+86 139…`, `139 …` or ` name ` cannot each get a fresh allowance."""
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        return "account:-"
    # Strip as the request schemas do; a non-string is refused by the schema anyway.
    username, mobile, code = (v.strip() if isinstance(v, str) else ""
                              for v in map(payload.get, ("username", "mobile", "sms_code")))
    if mobile and (code or not username):  # the same choice the login handler makes
        try:
            return f"account:m:{normalise_mobile(mobile)}"
        except InvalidMobile:
            return f"account:m:{mobile[:64]}"
    return f"account:u:{username[:64] or '-'}"


def _token_response(pair: auth_service.TokenPair) -> s.TokenResponse:
    return s.TokenResponse(access_token=pair.access_token, refresh_token=pair.refresh_token,
                           expires_in=pair.expires_in,
                           user=user_out(pair.user, auth_service.principal_of(pair.user)))


@bp.post("/login")
@rate_limit("30/minute")  # per address
@rate_limit("10/minute", key_func=_account_key)
@documented("登录：工作人员用用户名+密码；学员用手机号+密码或手机号+短信验证码", "auth",
            body=s.LoginRequest, response=s.TokenResponse, errors=(401, 403, 429))
def login():
    body = parse_body(s.LoginRequest)
    if body.sms_code:
        if not body.mobile:
            raise ValidationFailed("短信验证码登录需要手机号", details={"field": "mobile"})
        pair = auth_service.login_with_sms_code(mobile=body.mobile, code=body.sms_code)
    else:
        if not body.password or not (body.username or body.mobile):
            raise ValidationFailed("请填写账号和密码", details={"field": "password"})
        pair = auth_service.login_with_password(username=body.username, mobile=body.mobile,
                                                password=body.password)
    return respond(_token_response(pair))


@bp.post("/sms-code")
@rate_limit("20/hour")  # per address
@rate_limit("1/minute;10/day", key_func=_account_key)
@documented("发送登录短信验证码（不透露手机号是否已登记）", "auth", body=s.SmsCodeRequest,
            response=s.Accepted, status=202, errors=(429,))
def sms_code():
    body = parse_body(s.SmsCodeRequest)
    auth_service.send_sms_code(body.mobile)
    return respond(s.Accepted(status="sent", message="如该手机号已登记，验证码已发送"), 202)


@bp.post("/refresh")
@rate_limit("60/minute")
@documented("用刷新令牌换取新的令牌对（旧刷新令牌随即失效）", "auth", body=s.RefreshRequest,
            response=s.TokenResponse, errors=(401,))
def refresh():
    body = parse_body(s.RefreshRequest)
    return respond(_token_response(auth_service.refresh(body.refresh_token)))


@bp.post("/logout")
@signed_in()
@documented("退出登录：吊销该次登录的刷新令牌", "auth", body=s.RefreshRequest, status=204)
def logout():
    body = parse_body(s.RefreshRequest)
    auth_service.logout(current_principal(), body.refresh_token)
    return "", 204


@bp.post("/password")
@rate_limit("10/minute")  # per address; wrong old passwords also count towards the lockout
@signed_in()
@documented("修改密码（所有登录会话随即失效，需重新登录）", "auth", body=s.ChangePasswordRequest,
            status=204, errors=(401, 429))
def change_password():
    body = parse_body(s.ChangePasswordRequest)
    auth_service.change_password(current_principal(), body.old_password, body.new_password)
    return "", 204
