"""The public notice of subsidy claims (补贴公示) as pages anyone may open without signing in: the
claims now in notice, one claim's notice with its persons masked, and a plain HTML form to object
(000 三(二); 001 三(三); 002 第十五条). The JSON twins live in claims.py; these pages shape the same
`public_notice_out`, so a page and the API never disagree."""

from __future__ import annotations

import re

from flask import Blueprint, make_response, render_template, request
from flask_limiter.errors import RateLimitExceeded

from server.api.claims import public_notice_out
from server.api.errors import status_for
from server.api.openapi import documented
from server.domain.claims_notice import MAX_CONTACT, MAX_OBJECTION
from server.domain.errors import DomainError, RateLimited, ValidationFailed
from server.domain.subsidy_explain import chinese_date
from server.extensions import rate_limit
from server.services import claim_review, clock

bp = Blueprint("notices", __name__)

PER_PAGE = 20
_REGION = re.compile(r"\d{2,12}")
_PAGE = re.compile(r"[1-9]\d{0,5}")


@bp.context_processor
def _helpers() -> dict:
    return {"cn_date": chinese_date, "max_objection": MAX_OBJECTION, "max_contact": MAX_CONTACT}


def _list_args() -> tuple[str | None, int]:
    region = (request.args.get("region") or "").strip() or None
    page = (request.args.get("page") or "1").strip()
    if region is not None and not _REGION.fullmatch(region):
        raise ValidationFailed("地区代码格式不正确", code="INVALID_REGION", details={"region": region})
    if not _PAGE.fullmatch(page):
        raise ValidationFailed("页码不正确", code="INVALID_PAGE", details={"page": page})
    return region, int(page)


@bp.get("/notice")
@rate_limit("60/minute")  # per address, as /verify
@documented("补贴公示页（无需登录）：公示中的申领，最新在前，每页 20 项；?region=地区代码 筛选，?page=页码",
            "public", response_media="text/html", errors=(422, 429))
def notice_list():
    try:
        region, page = _list_args()
        views, total = claim_review.public_notices(region_code=region, limit=PER_PAGE,
                                                   offset=(page - 1) * PER_PAGE)
    except DomainError as error:
        return _page("claim_notice_list.html", status_for(error), error=error)
    return _page("claim_notice_list.html", 200, notices=[public_notice_out(v) for v in views], total=total,
                 region=region, page=page, pages=max(1, -(-total // PER_PAGE)))


@bp.get("/notice/<number>")
@rate_limit("60/minute")  # per address: the numbers must not be walked
@documented("一项补贴公示页（无需登录）：单位、培训内容、公示期、人员（姓名与身份证号打码）、标准、金额、合计，"
            "及异议表单", "public", response_media="text/html", errors=(404, 429))
def notice(number: str):
    try:
        found = public_notice_out(claim_review.public_notice(number))
    except DomainError as error:
        return _page("claim_notice.html", status_for(error), error=error)
    return _page("claim_notice.html", 200, found=found)


@bp.post("/notice/<number>/objection")
@rate_limit("10/hour")  # per address, as the JSON twin: anyone may object, no one may flood the bureau
@documented("对公示提出异议的表单提交（无需登录，表单编码 text=异议内容、contact=联系方式）：受理后申领暂停，"
            "返回受理页；被拒绝时返回说明原因的页面", "public",
            body_media="application/x-www-form-urlencoded", response_media="text/html", status=201,
            errors=(404, 409, 422, 429))
def lodge_objection(number: str):
    text, contact = _objection_fields()
    try:
        row = claim_review.lodge_objection(number, text, contact)
    except DomainError as error:
        # What the person can put right (the text) comes back in the form, as typed.
        return _page("claim_notice_objection.html", status_for(error), number=number, error=error,
                     correctable=isinstance(error, ValidationFailed), text=text, contact=contact)
    return _page("claim_notice_objection.html", 201, number=number, receipt=row,
                 lodged_at=row.lodged_at.astimezone(clock.CHINA))


def _objection_fields() -> tuple[str | None, str | None]:
    # A browser submits a textarea's line breaks as CRLF but counts them as one character
    # against maxlength: count them as the person typed them.
    text = request.form.get("text")
    return (text.replace("\r\n", "\n") if text is not None else None), request.form.get("contact")


@bp.errorhandler(RateLimitExceeded)
def rate_limited_page(_exc: RateLimitExceeded):
    """A person at a public page gets a page saying so, not JSON; what they typed is kept."""
    template = {"notices.notice_list": "claim_notice_list.html",
                "notices.lodge_objection": "claim_notice_objection.html"}.get(request.endpoint,
                                                                               "claim_notice.html")
    text, contact = _objection_fields()
    return _page(template, 429, error=RateLimited(), number=(request.view_args or {}).get("number"),
                 correctable=True, text=text, contact=contact)


def _page(template: str, status: int, **context):
    response = make_response(render_template(template, **context), status)
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    # An objection holds the claim and an upheld one notices it afresh: no cache may keep a page.
    response.headers["Cache-Control"] = "no-store"
    return response
