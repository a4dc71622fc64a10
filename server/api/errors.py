"""The one error shape, `{"error": {"code", "message", "details"}}`, and the only place
that maps a domain refusal to an HTTP status."""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from flask_limiter.errors import RateLimitExceeded
from pydantic import ValidationError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from server.domain import errors as e
from server.domain.classes import ClassNotOpen
from server.domain.vouchers import IllegalVoucherTransition, VoucherUnavailable
from server.domain.workdays import HolidayCalendarMissing

log = logging.getLogger("skillvoucher.api")

# Most specific class first: the first isinstance match wins.
STATUS_BY_ERROR: list[tuple[type[e.DomainError], int]] = [
    (e.NotAuthenticated, 401),
    (e.InvalidCredentials, 401),
    (e.InvalidOneTimeCode, 401),
    (e.TokenInvalid, 401),
    (e.AccountLocked, 429),
    (e.AccountDisabled, 403),
    (e.Forbidden, 403),
    (e.NotFound, 404),
    (e.Conflict, 409),
    (IllegalVoucherTransition, 409),
    (VoucherUnavailable, 409),  # the voucher's state forbids binding; a mismatch stays 422
    (ClassNotOpen, 409),
    (e.RateLimited, 429),
    (e.PayloadTooLarge, 413),
    (e.ValidationFailed, 422),
    # The installed holiday calendar stops before the year asked: an operations problem to fix
    # by updating chinese-calendar, not the caller's mistake.
    (HolidayCalendarMissing, 503),
]

HTTP_CODES = {
    400: ("BAD_REQUEST", "请求格式不正确"),
    401: ("NOT_AUTHENTICATED", "请先登录"),
    403: ("FORBIDDEN", "无权执行此操作"),
    404: ("NOT_FOUND", "地址不存在"),
    405: ("METHOD_NOT_ALLOWED", "不支持该请求方法"),
    413: ("PAYLOAD_TOO_LARGE", "上传内容过大"),
    415: ("UNSUPPORTED_MEDIA_TYPE", "请求内容类型不支持"),
    429: ("RATE_LIMITED", "操作过于频繁，请稍后再试"),
}


def status_for(error: e.DomainError) -> int:
    for cls, status in STATUS_BY_ERROR:
        if isinstance(error, cls):
            return status
    return 422


def rate_limited(exc: RateLimitExceeded):
    return error_response(429, "RATE_LIMITED", "操作过于频繁，请稍后再试", {"limit": str(exc.limit.limit)})


def error_response(status: int, code: str, message: str, details: dict | None = None):
    response = jsonify({"error": {"code": code, "message": message, "details": details or {}}})
    response.status_code = status
    return response


def _pydantic_details(exc: ValidationError) -> dict:
    return {"fields": [
        {"field": ".".join(str(p) for p in err["loc"]), "problem": err["type"], "message": err["msg"]}
        for err in exc.errors(include_url=False, include_input=False)
    ]}


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(e.DomainError)
    def domain_error(exc: e.DomainError):
        response = error_response(status_for(exc), exc.code, exc.message, exc.details)
        if isinstance(exc, e.NotAuthenticated | e.TokenInvalid):
            response.headers["WWW-Authenticate"] = 'Bearer realm="skillvoucher"'
        retry_after = exc.details.get("retry_after")
        if retry_after is not None:
            response.headers["Retry-After"] = str(max(1, int(retry_after)))
        return response

    @app.errorhandler(ValidationError)
    def validation_error(exc: ValidationError):
        return error_response(422, "VALIDATION_FAILED", "提交的数据不正确", _pydantic_details(exc))

    app.register_error_handler(RateLimitExceeded, rate_limited)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        code, message = HTTP_CODES.get(exc.code or 500, ("HTTP_ERROR", exc.name))
        return error_response(exc.code or 500, code, message)

    @app.errorhandler(OperationalError)
    def database_unavailable(exc: OperationalError):
        # The database could not be reached or timed out: nothing was confirmed, so nothing
        # was done (a scan fails closed). 503 tells clients to queue and retry.
        log.error("database unavailable: %s", type(exc.orig).__name__ if exc.orig else exc)
        response = error_response(503, "DATABASE_UNAVAILABLE", "系统暂时无法确认，请稍后重试")
        response.headers["Retry-After"] = "5"
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error")
        return error_response(500, "INTERNAL_ERROR", "服务器内部错误，请稍后再试")
