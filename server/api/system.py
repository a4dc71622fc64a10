"""Health and the API description."""

from __future__ import annotations

from flask import Blueprint, current_app, make_response

from server.api import schemas as s
from server.api.errors import error_response
from server.api.http import respond
from server.api.openapi import build_document, documented
from server.services import directory

bp = Blueprint("system", __name__)
VERSION = "0.1.0"


@bp.get("/healthz")
@documented("服务健康检查：数据库可用时返回 ok", "system", response=s.Health, errors=(503,))
def healthz():
    if not directory.database_answers():
        return error_response(503, "DATABASE_UNAVAILABLE", "数据库不可用")
    return respond(s.Health(status="ok", database="ok", version=VERSION))


@bp.get("/api/v1/openapi.json")
@documented("OpenAPI 3.1 接口文档", "system")
def openapi_document():
    return build_document(current_app)


@bp.get("/.well-known/jwks.json")
@documented("验证电子券和证书令牌的公钥（JWKS，Ed25519）", "system", response=s.Jwks)
def jwks():
    response = make_response(current_app.extensions["keyring"].public_jwks())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
