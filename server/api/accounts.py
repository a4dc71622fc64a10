"""The signed-in user, trainees' real-name records, staff accounts."""

from __future__ import annotations

from flask import Blueprint, make_response, request

from server.api import schemas as s
from server.api.http import parse_body, parse_query, respond, trainee_out, user_out
from server.api.openapi import documented
from server.api.security import current_principal, signed_in
from server.domain.access import Role
from server.extensions import db
from server.models import User
from server.services import accounts

bp = Blueprint("accounts", __name__, url_prefix="/api/v1")

BUREAU_ROLES = (Role.BUREAU_REVIEWER, Role.BUREAU_SUPERVISOR, Role.FINANCE, Role.ADMIN)


class MeOut(s.BaseModel):
    user: s.UserOut
    trainee: s.TraineeOut | None


@bp.get("/me")
@signed_in()
@documented("当前登录用户（学员附带实名信息）", "accounts", response=MeOut)
def me():
    principal = current_principal()
    user = db.session.get(User, principal.user_id)
    trainee = trainee_out(user.trainee, principal) if user.trainee else None
    return respond(MeOut(user=user_out(user, principal), trainee=trainee))


@bp.get("/trainees")
@signed_in()
@documented("参训人员列表（按权限范围过滤）", "trainees", query=s.TraineeQuery,
            response=s.TraineeList)
def list_trainees():
    q = parse_query(s.TraineeQuery)
    principal = current_principal()
    rows, total = accounts.list_trainees(principal, region_code=q.region, query=q.q,
                                         limit=q.limit, offset=q.offset)
    return respond(s.TraineeList(items=[trainee_out(r, principal) for r in rows], total=total))


@bp.post("/trainees")
@signed_in(*accounts.TRAINEE_REGISTRARS)
@documented("实名登记参训人员（人社局经办）", "trainees", body=s.TraineeCreate,
            response=s.TraineeOut, status=201, errors=(409,))
def register_trainee():
    body = parse_body(s.TraineeCreate)
    profile = accounts.register_trainee(current_principal(), accounts.TraineeInput(**body.model_dump()))
    return respond(trainee_out(profile, current_principal()), 201)


@bp.get("/trainees/<int:trainee_id>")
@signed_in()
@documented("参训人员详情", "trainees", response=s.TraineeOut, errors=(404,))
def get_trainee(trainee_id: int):
    principal = current_principal()
    return respond(trainee_out(accounts.visible_trainee(principal, trainee_id), principal))


@bp.patch("/trainees/<int:trainee_id>")
@signed_in(*accounts.TRAINEE_REGISTRARS)
@documented("修改参训人员的手机号、户籍地或人员类别", "trainees", body=s.TraineeUpdate,
            response=s.TraineeOut, errors=(404, 409))
def update_trainee(trainee_id: int):
    body = parse_body(s.TraineeUpdate)
    profile = accounts.update_trainee(current_principal(), trainee_id,
                                      **body.model_dump(exclude_unset=True))
    return respond(trainee_out(profile, current_principal()))


@bp.put("/trainees/<int:trainee_id>/photo")
@signed_in()
@documented("上传登记照（JPEG/PNG/WebP，≤5 MB；去除 EXIF 等元数据后保存）", "trainees",
            response=s.TraineeOut, errors=(404, 413, 422))
def put_enrolment_photo(trainee_id: int):
    profile = accounts.set_enrolment_photo(current_principal(), trainee_id, request.get_data())
    return respond(trainee_out(profile, current_principal()))


@bp.get("/trainees/<int:trainee_id>/photo")
@signed_in()
@documented("查看登记照（本人及本辖区人社局工作人员）", "trainees", response_media="image/jpeg",
            errors=(404,))
def get_enrolment_photo(trainee_id: int):
    data = accounts.enrolment_photo(current_principal(), trainee_id)
    response = make_response(data)
    response.headers["Content-Type"] = "image/jpeg"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/users")
@signed_in(Role.ADMIN)
@documented("本辖区工作人员账号", "users", response=s.UserList)
def list_users():
    principal = current_principal()
    return respond(s.UserList(items=[user_out(u, principal)
                                     for u in accounts.list_staff_users(principal)]))


@bp.post("/users")
@signed_in(Role.ADMIN)
@documented("创建工作人员账号", "users", body=s.StaffCreate, response=s.UserOut, status=201,
            errors=(404, 409))
def create_user():
    body = parse_body(s.StaffCreate)
    user = accounts.create_staff_user(current_principal(), accounts.StaffInput(**body.model_dump()))
    return respond(user_out(user, current_principal()), 201)


@bp.patch("/users/<int:user_id>")
@signed_in(Role.ADMIN)
@documented("停用或启用工作人员账号（启用时同时解锁）", "users", body=s.StaffUpdate,
            response=s.UserOut, errors=(404,))
def update_user(user_id: int):
    body = parse_body(s.StaffUpdate)
    user = accounts.set_user_active(current_principal(), user_id, body.is_active)
    return respond(user_out(user, current_principal()))
