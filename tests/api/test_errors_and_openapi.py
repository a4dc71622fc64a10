"""One error shape everywhere, no stack traces, and an OpenAPI document true to the routes."""

from __future__ import annotations

import pytest
from openapi_spec_validator import validate

from server import create_app
from server.api.openapi import undocumented_routes
from server.config import Settings
from server.domain.access import Role
from server.models import TraineeProfile
from tests.factories import login, make_staff


def _assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status
    assert response.mimetype == "application/json"
    error = response.json["error"]
    assert error["code"] == code and error["message"] and isinstance(error["details"], dict)


def test_unknown_path_and_wrong_method_answer_json(client):
    _assert_error(client.get("/api/v1/no-such-thing"), 404, "NOT_FOUND")
    _assert_error(client.delete("/api/v1/regions"), 405, "METHOD_NOT_ALLOWED")


def test_an_oversized_body_is_413_json(client):
    response = client.post("/api/v1/auth/login", data=b"x" * (13 * 1024 * 1024),
                           content_type="application/json")
    _assert_error(response, 413, "PAYLOAD_TOO_LARGE")


def test_a_bad_body_names_the_fields_and_writes_nothing(client, ctx):
    headers = login(client, username=make_staff(Role.BUREAU_REVIEWER).username)
    response = client.post("/api/v1/trainees", headers=headers,
                           json={"real_name": "张三", "id_number": 12, "categories": "graduate"})
    _assert_error(response, 422, "VALIDATION_FAILED")
    fields = {f["field"] for f in response.json["error"]["details"]["fields"]}
    assert {"id_number", "mobile", "home_region_code", "categories"} <= fields
    assert TraineeProfile.query.count() == 0


@pytest.mark.parametrize("id_number, reason", [
    ("14042719900101001", "shape"),
    ("140427199002300012", "birth_date"),
    # the right check character for 14042719900101001 is 0, so 1 is wrong
    ("140427199001010011", "check_digit"),
])
def test_an_invalid_id_number_is_refused_with_its_reason(client, ctx, id_number, reason):
    headers = login(client, username=make_staff(Role.BUREAU_REVIEWER).username)
    response = client.post("/api/v1/trainees", headers=headers, json={
        "real_name": "张三", "id_number": id_number, "mobile": "13900001111",
        "home_region_code": "140427", "categories": []})
    _assert_error(response, 422, "INVALID_ID_NUMBER")
    assert response.json["error"]["details"]["reason"] == reason
    assert TraineeProfile.query.count() == 0


def test_an_unexpected_failure_is_a_json_500_without_a_stack_trace(client, monkeypatch):
    from server.services import directory

    def explode(*_args, **_kwargs):
        raise RuntimeError("secret internals: /srv/app/db.py line 12")

    monkeypatch.setattr(directory, "list_regions", explode)
    response = client.get("/api/v1/regions")
    _assert_error(response, 500, "INTERNAL_ERROR")
    assert "secret internals" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)


def test_health_is_503_when_the_database_does_not_answer(tmp_path):
    settings = Settings.from_env({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x" * 40})
    app = create_app({"SQLALCHEMY_DATABASE_URI": "postgresql://nobody@127.0.0.1:1/none",
                      "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"connect_timeout": 2}}},
                     settings=settings)
    response = app.test_client().get("/healthz")
    _assert_error(response, 503, "DATABASE_UNAVAILABLE")


def test_every_route_is_documented(app):
    assert undocumented_routes(app) == []


def test_the_openapi_document_is_valid_and_covers_every_route(client, app):
    document = client.get("/api/v1/openapi.json").json
    validate(document)
    documented = {(path, method) for path, ops in document["paths"].items() for method in ops}
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = rule.rule.replace("<int:", "{").replace("<path:", "{").replace("<", "{").replace(">", "}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method.lower()) in documented, (path, method)
    login_op = document["paths"]["/api/v1/auth/login"]["post"]
    schema_name = login_op["requestBody"]["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
    assert set(document["components"]["schemas"][schema_name]["properties"]) == {
        "username", "mobile", "password", "sms_code"}
    assert "bearerAuth" in str(document["paths"]["/api/v1/trainees"]["get"]["security"])
