"""E-vouchers: apply, review, revoke, the QR and print page, lists and exports."""

from __future__ import annotations

from datetime import UTC, datetime

import jwt
from flask import Blueprint, make_response, render_template, request

from server.adapters import exports
from server.api import schemas as s
from server.api.http import parse_body, parse_query, person_out, respond
from server.api.openapi import documented
from server.api.security import current_principal, signed_in
from server.domain.access import Principal, Role
from server.domain.errors import NotFound
from server.domain.identity import mask_id_number, mask_name
from server.domain.vouchers import VoucherState, allowed_actions
from server.models import Voucher
from server.services import clock, vouchers

bp = Blueprint("vouchers", __name__, url_prefix="/api/v1")

STATE_LABELS = {
    VoucherState.APPLIED: "待审核", VoucherState.ISSUED: "已发券", VoucherState.BOUND: "已验券",
    VoucherState.TRAINED: "已结业", VoucherState.REDEEMED: "已兑现", VoucherState.WRITTEN_OFF: "已核销",
    VoucherState.REJECTED: "未通过", VoucherState.REVOKED: "已作废", VoucherState.EXPIRED: "已过期",
}


def voucher_out(v: Voucher, viewer: Principal) -> s.VoucherOut:
    return s.VoucherOut(
        id=v.id, serial=v.serial, state=str(v.state), state_label=STATE_LABELS[v.state],
        trainee=person_out(v.trainee, viewer), occupation_code=v.occupation_code,
        occupation_name=v.occupation.name, level=v.level, programme=str(v.programme),
        programme_label=vouchers.programme_label(v), region_code=v.region_code, year=v.year,
        expires_on=v.expires_on, reason=v.reason, applied_at=v.applied_at, decided_at=v.decided_at,
        bound_class_id=v.bound_class_id, bound_at=v.bound_at,
        allowed_actions=[str(a) for a in allowed_actions(v.state)],
    )


def _filter(q: s.VoucherQuery) -> vouchers.VoucherFilter:
    return vouchers.VoucherFilter(serial=q.serial, state=q.state, occupation_code=q.occupation_code,
                                  programme=q.programme, region_code=q.region,
                                  institution_id=q.institution_id, trainee_id=q.trainee_id, q=q.q)


def _format(fmt: str, allowed: tuple[str, ...]) -> None:
    if fmt not in allowed:
        raise NotFound("不支持的格式", code="UNSUPPORTED_FORMAT", details={"allowed": list(allowed)})


@bp.post("/vouchers")
@signed_in(Role.TRAINEE, *vouchers.REVIEWERS)
@documented("申领电子券（学员本人；人社局经办代为申领并直接发券）", "vouchers", body=s.VoucherApply,
            response=s.VoucherOut, status=201, errors=(404,))
def apply():
    body = parse_body(s.VoucherApply)
    voucher = vouchers.apply(current_principal(), vouchers.ApplicationInput(**body.model_dump()))
    return respond(voucher_out(voucher, current_principal()), 201)


@bp.get("/vouchers")
@signed_in()
@documented("电子券列表（按权限范围；可按券号、状态、工种、机构搜索）", "vouchers", query=s.VoucherQuery,
            response=s.VoucherList)
def list_vouchers():
    q = parse_query(s.VoucherQuery)
    principal = current_principal()
    rows, total = vouchers.list_vouchers(principal, _filter(q), limit=q.limit, offset=q.offset)
    return respond(s.VoucherList(items=[voucher_out(v, principal) for v in rows], total=total))


EXPORT_COLUMNS = [
    exports.Column("券号", 20), exports.Column("状态", 8), exports.Column("姓名", 10),
    exports.Column("身份证号码", 20), exports.Column("工种", 16), exports.Column("等级", 8),
    exports.Column("培训类型", 14), exports.Column("发券地区", 10), exports.Column("年度", 6, "int"),
    exports.Column("有效期至", 12, "date"), exports.Column("申领时间", 17, "datetime"),
    exports.Column("验券班级", 10, "int"), exports.Column("验券时间", 17, "datetime"),
    exports.Column("原因", 24),
]


def _export_row(v: Voucher, principal: Principal) -> list:
    person = person_out(v.trainee, principal)
    return [v.serial, STATE_LABELS[v.state], person.real_name, person.id_number, v.occupation.name,
            v.level, vouchers.programme_label(v), v.region_code, v.year, v.expires_on, v.applied_at,
            v.bound_class_id, v.bound_at, v.reason]


def export_rows(principal: Principal, f: vouchers.VoucherFilter):
    """The rows, streamed; a bad filter is refused here, before any file is started."""
    found = vouchers.iter_vouchers(principal, f)
    return (_export_row(v, principal) for v in found)


@bp.get("/vouchers/export.<fmt>")
@signed_in(Role.BUREAU_REVIEWER, Role.BUREAU_SUPERVISOR, Role.FINANCE, Role.ADMIN,
           Role.INSTITUTION_OPERATOR)
@documented("导出电子券（CSV 或 XLSX，中文表头；筛选条件同列表）", "vouchers", query=s.VoucherQuery,
            response_media="application/octet-stream")
def export_vouchers(fmt: str):
    q = parse_query(s.VoucherQuery)
    rows = export_rows(current_principal(), _filter(q))
    return export_response(fmt, "电子券", EXPORT_COLUMNS, rows)


def export_response(fmt: str, title: str, columns, rows):
    _format(fmt, ("csv", "xlsx"))
    stamp = clock.today().strftime("%Y%m%d")  # the date in China, as the bureau files it
    if fmt == "csv":
        data, media = exports.csv_bytes(columns, rows), exports.CSV_MEDIA_TYPE
    else:
        data, media = exports.xlsx_bytes(title, columns, rows), exports.XLSX_MEDIA_TYPE
    response = make_response(data)
    response.headers["Content-Type"] = media
    response.headers["Content-Disposition"] = exports.content_disposition(f"{title}-{stamp}.{fmt}")
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/vouchers/<int:voucher_id>")
@signed_in()
@documented("电子券详情", "vouchers", response=s.VoucherOut, errors=(404,))
def get_voucher(voucher_id: int):
    principal = current_principal()
    return respond(voucher_out(vouchers.visible_voucher(principal, voucher_id), principal))


@bp.post("/vouchers/<int:voucher_id>/review")
@signed_in(*vouchers.REVIEWERS)
@documented("审核电子券申请：通过即发券，不通过须填写原因", "vouchers", body=s.Review,
            response=s.VoucherOut, errors=(404, 409))
def review(voucher_id: int):
    body = parse_body(s.Review)
    voucher = vouchers.review(current_principal(), voucher_id, body.approve, body.reason)
    return respond(voucher_out(voucher, current_principal()))


@bp.post("/vouchers/<int:voucher_id>/revoke")
@signed_in(*vouchers.REVIEWERS)
@documented("作废电子券（须填写原因）", "vouchers", body=s.Revoke, response=s.VoucherOut,
            errors=(404, 409))
def revoke(voucher_id: int):
    body = parse_body(s.Revoke)
    voucher = vouchers.revoke(current_principal(), voucher_id, body.reason)
    return respond(voucher_out(voucher, current_principal()))


@bp.get("/vouchers/<int:voucher_id>/token")
@signed_in()
@documented("电子券令牌（学员端离线显示二维码用）", "vouchers", response=s.VoucherToken, errors=(404, 422))
def voucher_token(voucher_id: int):
    voucher = vouchers.visible_voucher(current_principal(), voucher_id)
    token = vouchers.token(voucher)
    claims = jwt.decode(token, options={"verify_signature": False})
    return respond(s.VoucherToken(token=token, kid=jwt.get_unverified_header(token)["kid"],
                                  expires_at=datetime.fromtimestamp(claims["exp"], UTC)))


@bp.get("/vouchers/<int:voucher_id>/qr.<fmt>")
@signed_in()
@documented("电子券二维码（PNG 或 SVG，纠错等级 M）", "vouchers", response_media="image/png",
            errors=(404, 422))
def voucher_qr(voucher_id: int, fmt: str):
    _format(fmt, ("png", "svg"))
    voucher = vouchers.visible_voucher(current_principal(), voucher_id)
    etag = vouchers.qr_etag(voucher, fmt)
    if etag in request.if_none_match:
        response = make_response("", 304)
    else:
        response = make_response(vouchers.qr_image(voucher, fmt))
        response.headers["Content-Type"] = "image/png" if fmt == "png" else "image/svg+xml"
    response.set_etag(etag)
    # Private: the code admits its holder to a class. Short: a revoked voucher's code goes stale.
    response.headers["Cache-Control"] = "private, max-age=300"
    return response


@bp.get("/vouchers/<int:voucher_id>/print")
@signed_in()
@documented("A6 纸质电子券（兜底服务：无智能手机的学员打印使用；个人信息打码）", "vouchers",
            response_media="text/html", errors=(404, 422))
def voucher_print(voucher_id: int):
    voucher = vouchers.visible_voucher(current_principal(), voucher_id)
    svg = vouchers.qr_image(voucher, "svg")
    html = render_template(
        "voucher_print.html", voucher=voucher, qr_svg=svg.decode().split("?>", 1)[-1],
        name=mask_name(voucher.trainee.real_name), id_number=mask_id_number(voucher.trainee.id_number),
        programme=vouchers.programme_label(voucher), state=STATE_LABELS[voucher.state])
    response = make_response(html)
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    response.headers["Cache-Control"] = "private, no-store"
    return response
