"""Phone check-ins, the e-voucher sign-in, consent, supervisors' reviews and views."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, make_response, request

from server.adapters import exports
from server.api import schemas as s
from server.api.http import parse_body, parse_query, person_out, respond
from server.api.openapi import documented
from server.api.security import current_principal, signed_in
from server.api.vouchers import export_response
from server.domain.access import Principal, Role
from server.domain.attendance import CELL_LABELS
from server.domain.checkins import FLAG_LABELS, Flag
from server.domain.errors import ValidationFailed
from server.models import Checkin, ClassSession
from server.services import checkins, supervision

bp = Blueprint("checkins", __name__, url_prefix="/api/v1")

STAFF = (Role.INSTITUTION_OPERATOR, Role.BUREAU_REVIEWER, Role.BUREAU_SUPERVISOR, Role.FINANCE, Role.ADMIN)


def checkin_out(c: Checkin) -> s.CheckinOut:
    return s.CheckinOut(
        id=c.id, session_id=c.session_id, class_id=c.class_id, trainee_id=c.trainee_id, kind=str(c.kind),
        received_at=c.received_at, counted_at=c.counted_at, captured_at=c.captured_at, offline=c.offline,
        device_id=c.device_id, latitude=c.latitude, longitude=c.longitude, accuracy_m=c.accuracy_m,
        distance_m=round(c.distance_m, 1), placement=c.placement, flags=list(c.flags),
        flag_labels=[FLAG_LABELS[Flag(f)] for f in c.flags], review=str(c.review),
        review_reason=c.review_reason, has_selfie=c.selfie_key is not None,
    )


def session_out(session: ClassSession, class_name: str) -> s.SessionOut:
    return s.SessionOut(id=session.id, class_id=session.class_id, class_name=class_name, day=session.day,
                        starts=session.starts, ends=session.ends, kind=str(session.kind))


def _number(text: str | None):
    """A form field as a float when it reads as one; otherwise as given, for the domain to refuse
    with its own code (INVALID_COORDINATES, INVALID_ACCURACY)."""
    try:
        return float(text)
    except (TypeError, ValueError):
        return text


@bp.put("/me/face-consent")
@signed_in(Role.TRAINEE)
@documented("同意或撤回使用自拍照打卡（人脸信息单独同意；不同意时由培训机构扫电子券签到）", "check-ins",
            body=s.ConsentIn, response=s.ConsentOut)
def face_consent():
    body = parse_body(s.ConsentIn)
    row = checkins.consent(current_principal(), body.give)
    return respond(s.ConsentOut(given=checkins.has_consent(current_principal().trainee_id),
                                text_version=checkins.CONSENT_TEXT_VERSION,
                                given_at=row.given_at if row else None))


@bp.get("/me/sessions")
@signed_in(Role.TRAINEE)
@documented("我的课时（已验券班级；可按日期），含培训场地的电子围栏（WGS-84），供打卡前显示距离", "check-ins",
            query=s.DayQuery, response=s.MySessionList)
def my_sessions():
    q = parse_query(s.DayQuery)
    rows = supervision.my_sessions(current_principal(), q.day)
    return respond(s.MySessionList(items=[
        s.MySessionOut(**session_out(sess, k.name).model_dump(), site=s.FenceOut(
            address=site.address, latitude=site.fence_latitude, longitude=site.fence_longitude,
            radius_m=site.radius_m)) for sess, k, site in rows]))


@bp.post("/sessions/<int:session_id>/checkins")
@signed_in(Role.TRAINEE)
@documented("手机打卡：multipart 表单（kind, latitude, longitude, accuracy_m, captured_at, device_id, "
            "idempotency_key, offline）加自拍照文件 selfie（JPEG/PNG/WebP ≤5 MB）。同一 idempotency_key "
            "重试返回首次结果", "check-ins", body_media="multipart/form-data", response=s.CheckinOut,
            status=201, errors=(404, 409, 413, 422))
def check_in(session_id: int):
    form = request.form
    upload = request.files.get("selfie")
    try:
        captured = datetime.fromisoformat(form.get("captured_at", ""))
    except ValueError:
        raise ValidationFailed("手机时间格式不正确", code="INVALID_CLIENT_TIME") from None
    data = checkins.CheckinInput(
        kind=form.get("kind", "check_in"), latitude=_number(form.get("latitude")),
        longitude=_number(form.get("longitude")), accuracy_m=_number(form.get("accuracy_m")),
        captured_at=captured, device_id=form.get("device_id", "").strip()[:64],
        idempotency_key=form.get("idempotency_key") or request.headers.get("Idempotency-Key", ""),
        offline=form.get("offline", "false").lower() in ("1", "true", "yes"))
    if not data.device_id:
        raise ValidationFailed("缺少设备标识", code="INVALID_DEVICE_ID")
    selfie = upload.read() if upload else b""
    row, replayed = checkins.check_in(current_principal(), session_id, data, selfie,
                                      upload.mimetype if upload else None)
    response = make_response(checkin_out(row).model_dump(mode="json"), 200 if replayed else 201)
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@bp.post("/sessions/<int:session_id>/voucher-signins")
@signed_in(Role.INSTITUTION_OPERATOR)
@documented("电子券签到：培训机构在课时扫学员的电子券（003 三(四) 双签到；也是不用自拍的替代方式）",
            "check-ins", body=s.VoucherSigninIn, response=s.VoucherSigninOut, status=201,
            errors=(404, 409, 422))
def voucher_signin(session_id: int):
    body = parse_body(s.VoucherSigninIn)
    row = checkins.voucher_signin(current_principal(), session_id, body.token, body.device_id)
    return respond(s.VoucherSigninOut(id=row.id, session_id=row.session_id, trainee_id=row.trainee_id,
                                      voucher_id=row.voucher_id, received_at=row.received_at), 201)


@bp.get("/checkins/<int:checkin_id>")
@signed_in()
@documented("打卡记录", "check-ins", response=s.CheckinOut, errors=(404,))
def get_checkin(checkin_id: int):
    return respond(checkin_out(checkins.visible_checkin(current_principal(), checkin_id)))


@bp.post("/checkins/<int:checkin_id>/review")
@signed_in(*checkins.REVIEWERS)
@documented("核实存疑打卡：accepted 或 rejected，须填写意见（记入审计）", "check-ins",
            body=s.CheckinReview, response=s.CheckinOut, errors=(404, 409, 422))
def review_checkin(checkin_id: int):
    body = parse_body(s.CheckinReview)
    return respond(checkin_out(checkins.review(current_principal(), checkin_id, body.decision, body.reason)))


@bp.get("/checkins/<int:checkin_id>/selfie")
@signed_in(Role.TRAINEE, *checkins.SELFIE_ROLES)
@documented("自拍照的短时链接（5 分钟；size=thumbnail 为缩略图）；仅本人及本辖区人社局工作人员",
            "check-ins", query=s.SelfieQuery, response=s.LinkOut, errors=(404,))
def selfie_link(checkin_id: int):
    q = parse_query(s.SelfieQuery)
    url, expires = checkins.selfie_link(current_principal(), checkin_id, q.size == "thumbnail")
    return respond(s.LinkOut(url=url, expires_at=expires))


@bp.get("/media/<token>")
@documented("短时签名链接所指的文件（链接即授权，5 分钟内有效）", "check-ins", response_media="image/jpeg",
            errors=(404,))
def media(token: str):
    response = make_response(checkins.media(token))
    response.headers["Content-Type"] = "image/jpeg"
    response.headers["Cache-Control"] = "private, max-age=300"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


# --- supervision -----------------------------------------------------------------------------


@bp.get("/supervision/board")
@signed_in(*STAFF)
@documented("今日课时看板：应到、已打卡、存疑人数（本辖区或本机构）", "supervision", query=s.DayQuery,
            response=s.BoardOut)
def board():
    q = parse_query(s.DayQuery)
    rows = supervision.board(current_principal(), q.day)
    return respond(s.BoardOut(items=[s.BoardRow(
        session=session_out(r.session, r.klass.name), institution=r.klass.institution.name,
        region_code=r.klass.region_code, expected=r.expected, checked_in=r.checked_in, flagged=r.flagged)
        for r in rows]))


@bp.get("/classes/<int:class_id>/attendance")
@signed_in(*STAFF)
@documented("考勤矩阵：学员 × 课时，每格状态与疑点（按学员分页）", "supervision", query=s.PageQuery,
            response=s.MatrixOut, errors=(404,))
def attendance_matrix(class_id: int):
    q = parse_query(s.PageQuery)
    principal = current_principal()
    m = supervision.matrix(principal, class_id, limit=q.limit, offset=q.offset)
    return respond(s.MatrixOut(
        class_id=m.klass.id, class_name=m.klass.name, total_trainees=m.total_trainees,
        sessions=[session_out(sess, m.klass.name) for sess in m.sessions],
        rows=[s.MatrixRow(trainee=person_out(t, principal), voucher_id=v.id, cells=[
            s.MatrixCell(session_id=sess.id, status=str(m.cells[(t.id, sess.id)][0]),
                         label=CELL_LABELS[m.cells[(t.id, sess.id)][0]], flags=m.cells[(t.id, sess.id)][1])
            for sess in m.sessions]) for t, v in m.trainees]))


@bp.get("/sessions/<int:session_id>/checkins")
@signed_in(*STAFF)
@documented("课时打卡记录（可按疑点筛选），含缩略图链接权限判断后另取", "supervision",
            query=s.SessionCheckinQuery, response=s.SessionCheckins, errors=(404,))
def list_session_checkins(session_id: int):
    q = parse_query(s.SessionCheckinQuery)
    principal = current_principal()
    session, klass, rows, total = supervision.session_checkins(
        principal, session_id, flag=q.flag, flagged_only=q.flagged_only, limit=q.limit, offset=q.offset)
    return respond(s.SessionCheckins(session=session_out(session, klass.name), total=total, items=[
        s.CheckinRow(checkin=checkin_out(c), trainee=person_out(p, principal)) for c, p in rows]))


@bp.get("/trainees/<int:trainee_id>/checkins")
@signed_in()
@documented("学员打卡时间线（跨课时，最新在前）", "supervision", query=s.PageQuery, response=s.Timeline,
            errors=(404,))
def trainee_timeline(trainee_id: int):
    q = parse_query(s.PageQuery)
    principal = current_principal()
    profile, rows, total = supervision.timeline(principal, trainee_id, limit=q.limit, offset=q.offset)
    return respond(s.Timeline(trainee=person_out(profile, principal), total=total, items=[
        s.TimelineItem(checkin=checkin_out(c), session=session_out(sess, "")) for c, sess in rows]))


EXPORT_COLUMNS = [
    exports.Column("日期", 12, "date"), exports.Column("课时开始", 8), exports.Column("姓名", 10),
    exports.Column("身份证号码", 20), exports.Column("类型", 6), exports.Column("打卡时间", 17, "datetime"),
    exports.Column("距场地（米）", 10, "int"), exports.Column("定位精度（米）", 10, "int"),
    exports.Column("位置判定", 8), exports.Column("疑点", 30), exports.Column("核实结论", 8),
    exports.Column("核实意见", 24), exports.Column("离线补传", 8),
]
PLACEMENTS = {"inside": "场地内", "outside": "场地外", "uncertain": "不确定"}
KINDS = {"check_in": "签到", "sign_out": "签退"}
REVIEWS = {"none": "", "accepted": "核实无误", "rejected": "核实无效"}


def _export_rows(principal: Principal, class_id: int):
    _, found = supervision.class_checkins(principal, class_id)
    for c, p, sess in found:
        person = person_out(p, principal)
        yield [sess.day, sess.starts.strftime("%H:%M"), person.real_name, person.id_number,
               KINDS[str(c.kind)], c.counted_at, round(c.distance_m), round(c.accuracy_m),
               PLACEMENTS.get(c.placement, c.placement), "、".join(FLAG_LABELS[Flag(f)] for f in c.flags),
               REVIEWS[str(c.review)], c.review_reason, "是" if c.offline else ""]


@bp.get("/classes/<int:class_id>/checkins/export.<fmt>")
@signed_in(*STAFF)
@documented("导出本班打卡记录（CSV 或 XLSX，中文表头）", "supervision",
            response_media="application/octet-stream", errors=(404,))
def export_checkins(class_id: int, fmt: str):
    principal = current_principal()
    supervision.visible_class(principal, class_id)  # 404 before a file is started
    return export_response(fmt, "打卡记录", EXPORT_COLUMNS, _export_rows(principal, class_id))

