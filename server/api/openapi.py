"""The OpenAPI 3.1 document, built by walking the app's routes.

Each view carries `@documented(...)` metadata; request and response bodies are the pydantic
models the handlers really parse and emit, so the document cannot drift from the code. A test
fails if any route lacks metadata.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from flask import Flask
from pydantic import BaseModel

from server.api.schemas import ErrorBody

_CONVERTER = re.compile(r"<(?:(?P<conv>[a-z]+):)?(?P<name>\w+)>")
_PARAM_TYPES = {"int": {"type": "integer"}, "string": {"type": "string"}, None: {"type": "string"},
                "path": {"type": "string"}}
SKIPPED_ENDPOINTS = {"static"}


@dataclass
class Operation:
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    query: type[BaseModel] | None = None
    errors: tuple[int, ...] = ()
    response_media: str = "application/json"
    body_media: str | None = None  # a raw upload (not JSON): its media type
    extra: dict = field(default_factory=dict)


def documented(summary: str, tag: str, **kwargs):
    def decorate(view):
        view.openapi = Operation(summary=summary, tag=tag, **kwargs)
        return view

    return decorate


def _openapi_path(rule: str) -> tuple[str, list[dict]]:
    params = []
    for match in _CONVERTER.finditer(rule):
        params.append({"name": match["name"], "in": "path", "required": True,
                       "schema": _PARAM_TYPES.get(match["conv"], {"type": "string"})})
    return _CONVERTER.sub(lambda m: "{" + m["name"] + "}", rule), params


class _Components:
    def __init__(self) -> None:
        self.schemas: dict[str, dict] = {}

    def ref(self, model: type[BaseModel]) -> dict:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}",
                                         mode="serialization")
        for name, definition in schema.pop("$defs", {}).items():
            self.schemas[name] = definition
        self.schemas[model.__name__] = schema
        return {"$ref": f"#/components/schemas/{model.__name__}"}


def undocumented_routes(app: Flask) -> list[str]:
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in SKIPPED_ENDPOINTS:
            continue
        if getattr(app.view_functions[rule.endpoint], "openapi", None) is None:
            missing.append(f"{sorted(rule.methods - {'HEAD', 'OPTIONS'})} {rule.rule}")
    return missing


def build_document(app: Flask) -> dict:
    components = _Components()
    error_ref = components.ref(ErrorBody)
    paths: dict[str, dict] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        view = app.view_functions[rule.endpoint]
        op: Operation | None = getattr(view, "openapi", None)
        if rule.endpoint in SKIPPED_ENDPOINTS or op is None:
            continue
        path, params = _openapi_path(rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            operation: dict = {"summary": op.summary, "tags": [op.tag],
                               "operationId": f"{rule.endpoint}.{method.lower()}"}
            parameters = list(params)
            if op.query is not None:
                for name, info in op.query.model_fields.items():
                    parameters.append({"name": name, "in": "query", "required": info.is_required(),
                                       "schema": {"type": "string"},
                                       "description": info.description or ""})
            if parameters:
                operation["parameters"] = parameters
            if op.body is not None:
                operation["requestBody"] = {"required": True, "content": {
                    "application/json": {"schema": components.ref(op.body)}}}
            elif op.body_media is not None:
                operation["requestBody"] = {"required": True, "content": {
                    op.body_media: {"schema": {"type": "string", "format": "binary"}}}}
            ok: dict = {"description": "成功"}
            if op.response is not None:
                ok["content"] = {op.response_media: {"schema": components.ref(op.response)}}
            elif op.response_media != "application/json":
                ok["content"] = {op.response_media: {"schema": {"type": "string",
                                                                 "format": "binary"}}}
            responses = {str(op.status): ok}
            statuses = set(op.errors) | ({401, 403} if getattr(view, "requires_auth", False) else set())
            if op.body is not None:
                statuses |= {400, 422}
            for status in sorted(statuses):
                responses[str(status)] = {"description": "错误",
                                          "content": {"application/json": {"schema": error_ref}}}
            operation["responses"] = responses
            if getattr(view, "requires_auth", False):
                operation["security"] = [{"bearerAuth": []}]
                roles = getattr(view, "allowed_roles", [])
                if roles:
                    operation["description"] = "允许的角色: " + ", ".join(roles)
            paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "SkillVoucher 技能培训电子券 API", "version": "1.0.0"},
        "paths": paths,
        "components": {
            "schemas": components.schemas,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                               "bearerFormat": "JWT"}},
        },
    }
