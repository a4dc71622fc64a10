"""Class opening applications, approval, rosters, and scanning vouchers at class start."""

from __future__ import annotations

import itertools

from flask import Blueprint, make_response, request

from server.adapters import exports
from server.api import schemas as s
from server.api.errors import status_for
from server.api.http import parse_body, parse_query, person_out, respond
from server.api.openapi import documented
from server.api.security import current_principal, signed_in
from server.api.vouchers import export_response, voucher_out
from server.domain.access import Principal, Role, sees_full_id_numbers
from server.domain.classes import ClassState, missing_elements
from server.domain.eligibility import PROGRAMME_LABELS
from server.domain.errors import DomainError
from server.domain.identity import mask_id_number
from server.models import ClassVersion, TrainingClass
from server.services import classes, scans
from server.services import vouchers as voucher_service

bp = Blueprint("classes", __name__, url_prefix="/api/v1")

STATE_LABELS = {ClassState.DRAFT: "草稿", ClassState.SUBMITTED: "待审批", ClassState.REJECTED: "未通过",
                ClassState.APPROVED: "已开班", ClassState.FINISHED: "已结业"}
BUREAU = (Role.BUREAU_REVIEWER, Role.BUREAU_SUPERVISOR, Role.FINANCE, Role.ADMIN)


def class_out(k: TrainingClass, counts: tuple[int, int] = (0, 0)) -> s.ClassOut:
    return s.ClassOut(
        id=k.id, name=k.name, state=str(k.state), state_label=STATE_LABELS[k.state],
        institution=s.InstitutionRef(id=k.institution.id, name=k.institution.name),
        region_code=k.region_code, occupation_code=k.occupation_code, occupation_name=k.occupation.name,
        level=k.level, programme=str(k.programme),
        programme_label=PROGRAMME_LABELS[k.programme], start_date=k.start_date,
        end_date=k.end_date, approved_version=k.approved_version, roster_size=counts[0], scanned=counts[1])


def version_out(v: ClassVersion, viewer: Principal) -> s.VersionOut:
    """ID numbers in a proposal are shown in full only to roles that handle them."""
    proposal = dict(v.proposal)
    if not sees_full_id_numbers(viewer):
        proposal["roster"] = [mask_id_number(n) for n in proposal.get("roster", [])]
        proposal["teachers"] = [{**t, "id_number": mask_id_number(t["id_number"])}
                                for t in proposal.get("teachers", [])]
    return s.VersionOut(number=v.number, state=str(v.state), proposal=proposal,
                        missing=missing_elements(classes.proposal_from_json(v.proposal)),
                        created_at=v.created_at, submitted_at=v.submitted_at, decided_at=v.decided_at,
                        reason=v.reason)


def class_detail(k: TrainingClass, viewer: Principal) -> s.ClassDetail:
    roster = classes.roster(k)
    current, pending = classes.current_version(k), classes.open_version(k)
    scanned = sum(1 for _, _, v in roster if v.bound_class_id == k.id)
    return s.ClassDetail(
        **class_out(k, (len(roster), scanned)).model_dump(),
        current=version_out(current, viewer) if current else None,
        pending=version_out(pending, viewer) if pending else None,
        roster=[s.RosterOut(trainee=person_out(p, viewer), voucher_id=v.id, serial=v.serial,
                            voucher_state=str(v.state), scanned=v.bound_class_id == k.id,
                            bound_at=v.bound_at if v.bound_class_id == k.id else None)
                for _, p, v in roster],
        documents=[s.DocumentOut(id=d.id, kind=str(d.kind), filename=d.filename, media_type=d.media_type,
                                 size=d.size, sha256=d.sha256, uploaded_at=d.uploaded_at)
                   for d in classes.documents_of(k)],
    )


def _filter(q: s.ClassQuery) -> classes.ClassFilter:
    return classes.ClassFilter(state=q.state, occupation_code=q.occupation_code, programme=q.programme,
                               region_code=q.region, institution_id=q.institution_id, q=q.q,
                               pending_review=q.pending_review)


@bp.post("/classes")
@signed_in(Role.INSTITUTION_OPERATOR)
@documented("新建开班申请（草稿）", "classes", body=s.ClassCreate, response=s.ClassDetail, status=201)
def create_class():
    body = parse_body(s.ClassCreate)
    header = classes.ClassHeader(occupation_code=body.occupation_code, level=body.level,
                                 programme=body.programme, region_code=body.region_code)
    fields = body.model_dump(mode="json", include=set(s.ProposalIn.model_fields), exclude_none=True)
    klass = classes.create(current_principal(), header, fields)
    return respond(class_detail(klass, current_principal()), 201)


@bp.get("/classes")
@signed_in(Role.INSTITUTION_OPERATOR, *BUREAU)
@documented("班级列表（机构看本机构；人社局看本辖区；pending_review=true 为待审批）", "classes",
            query=s.ClassQuery, response=s.ClassList)
def list_classes():
    q = parse_query(s.ClassQuery)
    rows, total = classes.list_classes(current_principal(), _filter(q), limit=q.limit, offset=q.offset)
    counts = classes.scan_counts([k.id for k in rows])
    return respond(s.ClassList(items=[class_out(k, counts.get(k.id, (0, 0))) for k in rows], total=total))


CLASS_COLUMNS = [
    exports.Column("班级编号", 8, "int"), exports.Column("班级名称", 24), exports.Column("状态", 8),
    exports.Column("培训机构", 26), exports.Column("培训地区", 10), exports.Column("工种", 16),
    exports.Column("等级", 8), exports.Column("培训类型", 14), exports.Column("开班日期", 12, "date"),
    exports.Column("结业日期", 12, "date"), exports.Column("现行版本", 8, "int"),
    exports.Column("名册人数", 8, "int"), exports.Column("已验券", 8, "int"),
]


def _class_rows(principal: Principal, f: classes.ClassFilter):
    """The rows, streamed with scan counts fetched per batch of 500; a bad filter is refused
    here, before any file is started."""
    found = classes.iter_classes(principal, f)

    def rows():
        batch = list(itertools.islice(found, 500))
        while batch:
            counts = classes.scan_counts([k.id for k in batch])
            for k in batch:
                size, scanned = counts.get(k.id, (0, 0))
                yield [k.id, k.name, STATE_LABELS[k.state], k.institution.name, k.region_code,
                       k.occupation.name, k.level, PROGRAMME_LABELS[k.programme], k.start_date,
                       k.end_date, k.approved_version, size, scanned]
            batch = list(itertools.islice(found, 500))

    return rows()


@bp.get("/classes/export.<fmt>")
@signed_in(Role.INSTITUTION_OPERATOR, *BUREAU)
@documented("导出班级（CSV 或 XLSX，中文表头；筛选条件同列表）", "classes", query=s.ClassQuery,
            response_media="application/octet-stream")
def export_classes(fmt: str):
    q = parse_query(s.ClassQuery)
    return export_response(fmt, "开班", CLASS_COLUMNS, _class_rows(current_principal(), _filter(q)))


@bp.get("/classes/<int:class_id>")
@signed_in(Role.INSTITUTION_OPERATOR, *BUREAU)
@documented("班级详情：现行版本、待审版本、学员名册与验券情况、材料", "classes", response=s.ClassDetail,
            errors=(404,))
def get_class(class_id: int):
    principal = current_principal()
    return respond(class_detail(classes.visible_class(principal, class_id), principal))


@bp.get("/classes/<int:class_id>/versions")
@signed_in(Role.INSTITUTION_OPERATOR, *BUREAU)
@documented("开班申请的全部版本（每次变更均保留）", "classes", response=s.VersionList, errors=(404,))
def list_versions(class_id: int):
    principal = current_principal()
    klass = classes.visible_class(principal, class_id)
    return respond(s.VersionList(items=[version_out(v, principal) for v in classes.versions(klass)]))


@bp.patch("/classes/<int:class_id>/draft")
@signed_in(Role.INSTITUTION_OPERATOR)
@documented("修改开班申请草稿；已批准或未通过的班级由此开始一个须重新审批的新版本", "classes",
            body=s.ProposalIn, response=s.ClassDetail, errors=(404, 409))
def update_draft(class_id: int):
    body = parse_body(s.ProposalIn)
    fields = body.model_dump(mode="json", exclude_unset=True)
    classes.update_draft(current_principal(), class_id, fields)
    return respond(class_detail(classes.visible_class(current_principal(), class_id), current_principal()))


@bp.put("/classes/<int:class_id>/documents/<kind>")
@signed_in(Role.INSTITUTION_OPERATOR)
@documented("上传开班材料（teaching_plan 教学实施计划 / syllabus 教学大纲 / course_schedule 课程安排表）"
            "或结业材料（completion_report 培训结业申请报告 / completion_review_form 培训结业申请审核表；"
            "PDF、DOCX、XLSX，≤10 MB；按内容校验类型）。文件名放在 filename 查询参数", "classes",
            body_media="application/octet-stream", response=s.DocumentOut, status=201,
            errors=(404, 409, 413, 422))
def upload_document(class_id: int, kind: str):
    row = classes.upload_document(current_principal(), class_id, kind, request.args.get("filename", ""),
                                  request.get_data())
    return respond(s.DocumentOut(id=row.id, kind=str(row.kind), filename=row.filename,
                                 media_type=row.media_type, size=row.size, sha256=row.sha256,
                                 uploaded_at=row.uploaded_at), 201)


@bp.get("/classes/<int:class_id>/documents/<int:document_id>")
@signed_in(Role.INSTITUTION_OPERATOR, *BUREAU)
@documented("下载开班材料", "classes", response_media="application/octet-stream", errors=(404,))
def download_document(class_id: int, document_id: int):
    row, data = classes.document(current_principal(), class_id, document_id)
    response = make_response(data)
    response.headers["Content-Type"] = row.media_type
    response.headers["Content-Disposition"] = exports.content_disposition(row.filename)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.post("/classes/<int:class_id>/submit")
@signed_in(Role.INSTITUTION_OPERATOR)
@documented("提交开班申请（检查材料是否齐全、提前天数、学员是否持有匹配的电子券）", "classes",
            response=s.ClassDetail, errors=(404, 409, 422))
def submit(class_id: int):
    classes.submit(current_principal(), class_id)
    return respond(class_detail(classes.visible_class(current_principal(), class_id), current_principal()))


@bp.post("/classes/<int:class_id>/review")
@signed_in(*voucher_service.REVIEWERS)
@documented("审批开班申请（不通过须填写原因）", "classes", body=s.Review, response=s.ClassDetail,
            errors=(404, 409, 422))
def review(class_id: int):
    body = parse_body(s.Review)
    classes.decide(current_principal(), class_id, body.approve, body.reason)
    return respond(class_detail(classes.visible_class(current_principal(), class_id), current_principal()))


def _render_error(error: DomainError) -> tuple[int, dict]:
    return status_for(error), {"error": {"code": error.code, "message": error.message,
                                         "details": error.details}}


@bp.post("/classes/<int:class_id>/scans")
@signed_in(Role.INSTITUTION_OPERATOR)
@documented("开班验券：提交扫码所得令牌，验证后将电子券绑定到本班（同一 request_id 重试返回首次结果）",
            "classes", body=s.ScanRequest, response=s.ScanOut, errors=(404, 409, 422))
def scan(class_id: int):
    body = parse_body(s.ScanRequest)
    principal = current_principal()
    result = scans.scan(
        principal, class_id, body.token, request_id=body.request_id, device_id=body.device_id,
        render_error=_render_error,
        render_voucher=lambda v: s.ScanOut(outcome=scans.BOUND, voucher=voucher_out(v, principal))
        .model_dump(mode="json"))
    response = make_response(result.body, result.status)
    if result.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@bp.get("/classes/<int:class_id>/scans")
@signed_in(Role.INSTITUTION_OPERATOR, *BUREAU)
@documented("本班验券记录（含失败的尝试）", "classes", response=s.ScanLog, errors=(404,))
def scan_log(class_id: int):
    rows = scans.recent_scans(current_principal(), class_id)
    return respond(s.ScanLog(items=[s.ScanLogOut(id=r.id, operator_id=r.operator_id, device_id=r.device_id,
                                                 voucher_id=r.voucher_id, outcome=r.outcome, status=r.status,
                                                 created_at=r.created_at) for r in rows]))
