"""Refusals the domain can make. Each has a stable `code`; the HTTP status lives in api/errors.py."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A rule said no. `code` is stable for clients; `message` is for people (Chinese)."""

    code = "DOMAIN_ERROR"
    message = "请求不符合业务规则"

    def __init__(self, message: str | None = None, *, details: dict[str, Any] | None = None,
                 code: str | None = None) -> None:
        if message is not None:
            self.message = message
        if code is not None:
            self.code = code
        self.details = details or {}
        super().__init__(self.message)


class ValidationFailed(DomainError):
    code = "VALIDATION_FAILED"
    message = "提交的数据不正确"


class InvalidIdNumber(ValidationFailed):
    code = "INVALID_ID_NUMBER"
    message = "居民身份证号码不正确"


class InvalidMobile(ValidationFailed):
    code = "INVALID_MOBILE"
    message = "手机号码应为 11 位数字"


class NotAuthenticated(DomainError):
    code = "NOT_AUTHENTICATED"
    message = "请先登录"


class InvalidCredentials(DomainError):
    code = "INVALID_CREDENTIALS"
    message = "账号或密码不正确"


class InvalidOneTimeCode(DomainError):
    code = "INVALID_SMS_CODE"
    message = "短信验证码不正确或已过期"


class AccountLocked(DomainError):
    code = "ACCOUNT_LOCKED"
    message = "密码连续输错次数过多，账户已临时锁定"


class AccountDisabled(DomainError):
    code = "ACCOUNT_DISABLED"
    message = "账户已停用"


class TokenInvalid(DomainError):
    code = "TOKEN_INVALID"
    message = "登录凭证无效或已过期，请重新登录"


class Forbidden(DomainError):
    code = "FORBIDDEN"
    message = "无权执行此操作"


class NotFound(DomainError):
    code = "NOT_FOUND"
    message = "记录不存在"


class Conflict(DomainError):
    code = "CONFLICT"
    message = "与现有记录冲突"


class DuplicateIdNumber(Conflict):
    code = "DUPLICATE_ID_NUMBER"
    message = "该身份证号码已登记"


class DuplicateMobile(Conflict):
    code = "DUPLICATE_MOBILE"
    message = "该手机号码已登记"


class DuplicateUsername(Conflict):
    code = "DUPLICATE_USERNAME"
    message = "该用户名已存在"


class RateLimited(DomainError):
    code = "RATE_LIMITED"
    message = "操作过于频繁，请稍后再试"


class InvalidImage(ValidationFailed):
    code = "INVALID_IMAGE"
    message = "图片无法识别，请上传 JPEG、PNG 或 WebP 照片"


class PayloadTooLarge(DomainError):
    code = "PAYLOAD_TOO_LARGE"
    message = "上传内容过大"
