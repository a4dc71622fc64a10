"""Every endpoint checks role and scope; a forbidden read leaks nothing."""

from __future__ import annotations

import json

import pytest

from server.domain.access import OrgKind, Role
from server.extensions import db
from server.models import AuditEvent, TraineeProfile
from tests.factories import login, make_id_number, make_org, make_staff, make_trainee


@pytest.fixture
def world(client, ctx):
    """Two counties of Lüliang (Wenshui, Lin) and Huguan in Changzhi, with staff and trainees."""
    lin_bureau = make_org(OrgKind.BUREAU, "141124", name="临县人社局")
    wenshui_bureau = make_org(OrgKind.BUREAU, "141121", name="文水县人社局")
    luliang_bureau = make_org(OrgKind.BUREAU, "141100", name="吕梁市人社局")
    huguan_bureau = make_org(OrgKind.BUREAU, "140427", name="壶关县人社局")
    institution = make_org(OrgKind.TRAINING_INSTITUTION, "141124", name="临县职业培训学校")
    w = {
        "lin_reviewer": make_staff(Role.BUREAU_REVIEWER, lin_bureau),
        "lin_admin": make_staff(Role.ADMIN, lin_bureau),
        "wenshui_reviewer": make_staff(Role.BUREAU_REVIEWER, wenshui_bureau),
        "luliang_supervisor": make_staff(Role.BUREAU_SUPERVISOR, luliang_bureau),
        "huguan_admin": make_staff(Role.ADMIN, huguan_bureau),
        "operator": make_staff(Role.INSTITUTION_OPERATOR, institution),
        "lin_finance": make_staff(Role.FINANCE, make_org(OrgKind.FINANCE_BUREAU, "141124")),
        "lin_trainee": make_trainee("141124", real_name="李四"),
        "wenshui_trainee": make_trainee("141121", real_name="赵六"),
        "huguan_trainee": make_trainee("140427100", real_name="张三"),
        "institution": institution,
        "lin_bureau": lin_bureau,
        "wenshui_bureau": wenshui_bureau,
    }
    w["headers"] = {}
    for key, value in list(w.items()):
        if hasattr(value, "username") and value.username:
            w["headers"][key] = login(client, username=value.username)
        elif isinstance(value, TraineeProfile):
            w["headers"][key] = login(client, mobile=value.user.mobile)
    return w


def _ids(response) -> set[int]:
    return {item["id"] for item in response.json["items"]}


def test_a_county_reviewer_lists_only_trainees_of_its_county(client, world):
    response = client.get("/api/v1/trainees", headers=world["headers"]["lin_reviewer"])
    assert response.status_code == 200
    assert _ids(response) == {world["lin_trainee"].id}


def test_a_city_supervisor_sees_every_county_of_its_city_but_not_other_cities(client, world):
    response = client.get("/api/v1/trainees", headers=world["headers"]["luliang_supervisor"])
    assert _ids(response) == {world["lin_trainee"].id, world["wenshui_trainee"].id}


def test_a_county_admin_sees_trainees_of_its_townships(client, world):
    response = client.get("/api/v1/trainees", headers=world["headers"]["huguan_admin"])
    assert _ids(response) == {world["huguan_trainee"].id}


def test_a_trainee_sees_only_themself(client, world):
    headers = world["headers"]["lin_trainee"]
    assert _ids(client.get("/api/v1/trainees", headers=headers)) == {world["lin_trainee"].id}
    own = client.get(f"/api/v1/trainees/{world['lin_trainee'].id}", headers=headers)
    assert own.status_code == 200


@pytest.mark.parametrize("viewer", ["lin_trainee", "wenshui_reviewer", "operator", "huguan_admin"])
def test_reading_someone_out_of_scope_is_404_and_leaks_nothing(client, world, viewer):
    target = world["lin_trainee"] if viewer != "lin_trainee" else world["wenshui_trainee"]
    response = client.get(f"/api/v1/trainees/{target.id}", headers=world["headers"][viewer])
    missing = client.get("/api/v1/trainees/999999", headers=world["headers"][viewer])
    assert response.status_code == 404
    # Indistinguishable from a trainee that does not exist: same status, same body.
    assert response.json == missing.json
    body = json.dumps(response.json, ensure_ascii=False)
    assert target.real_name not in body and target.id_number[-4:] not in body


def test_an_institution_sees_no_trainee_that_is_not_on_its_rosters(client, world):
    response = client.get("/api/v1/trainees", headers=world["headers"]["operator"])
    assert response.status_code == 200 and response.json == {"items": [], "total": 0}


def test_id_numbers_are_full_for_bureau_reviewers_and_masked_for_others(client, world):
    trainee = world["lin_trainee"]
    full = client.get(f"/api/v1/trainees/{trainee.id}", headers=world["headers"]["lin_reviewer"]).json
    assert full["id_number"] == trainee.id_number and full["id_number_masked"] is False
    for viewer in ("lin_finance", "lin_trainee"):
        seen = client.get(f"/api/v1/trainees/{trainee.id}", headers=world["headers"][viewer]).json
        assert seen["id_number"] == trainee.id_number[:4] + "*" * 10 + trainee.id_number[-4:]
        assert seen["id_number_masked"] is True


@pytest.mark.parametrize("viewer", ["lin_trainee", "operator", "lin_finance", "luliang_supervisor"])
def test_only_bureau_reviewers_and_admins_register_trainees(client, world, viewer):
    body = {"real_name": "钱七", "id_number": make_id_number("141124"), "mobile": "13711112222",
            "home_region_code": "141124", "categories": ["graduate"]}
    response = client.post("/api/v1/trainees", json=body, headers=world["headers"][viewer])
    assert response.status_code == 403
    assert response.json["error"]["code"] == "FORBIDDEN"
    assert db.session.query(TraineeProfile).filter_by(real_name="钱七").count() == 0


def test_a_reviewer_registers_a_trainee_of_its_county_but_not_of_the_next(client, world):
    headers = world["headers"]["lin_reviewer"]
    body = {"real_name": "钱七", "id_number": make_id_number("141124"), "mobile": "13711112222",
            "home_region_code": "141124", "categories": ["graduate", "poverty_alleviated"]}
    created = client.post("/api/v1/trainees", json=body, headers=headers)
    assert created.status_code == 201, created.json
    assert created.json["categories"] == ["poverty_alleviated", "graduate"]
    elsewhere = client.post("/api/v1/trainees", headers=headers, json=body | {
        "id_number": make_id_number("141121"), "mobile": "13711113333", "home_region_code": "141121"})
    assert elsewhere.status_code == 403
    assert db.session.query(TraineeProfile).filter_by(home_region_code="141121").count() == 1


def test_organisations_are_scoped(client, world):
    own = client.get("/api/v1/organisations", headers=world["headers"]["operator"])
    assert _ids(own) == {world["institution"].id}
    other = client.get(f"/api/v1/organisations/{world['wenshui_bureau'].id}",
                       headers=world["headers"]["operator"])
    assert other.status_code == 404
    city = client.get("/api/v1/organisations", headers=world["headers"]["luliang_supervisor"])
    assert {world["lin_bureau"].id, world["wenshui_bureau"].id, world["institution"].id} <= _ids(city)


def test_staff_accounts_are_managed_only_by_admins_of_the_region(client, world):
    body = {"username": "lin.reviewer3", "display_name": "新经办", "role": "bureau_reviewer",
            "organisation_id": world["lin_bureau"].id, "password": "Strong123pass"}
    assert client.post("/api/v1/users", json=body,
                       headers=world["headers"]["lin_reviewer"]).status_code == 403
    assert client.post("/api/v1/users", json=body,
                       headers=world["headers"]["huguan_admin"]).status_code == 404
    created = client.post("/api/v1/users", json=body, headers=world["headers"]["lin_admin"])
    assert created.status_code == 201, created.json
    login(client, username="lin.reviewer3", password="Strong123pass")
    again = client.post("/api/v1/users", json=body, headers=world["headers"]["lin_admin"])
    assert again.status_code == 409 and again.json["error"]["code"] == "DUPLICATE_USERNAME"


def test_a_role_must_fit_its_organisation(client, world):
    body = {"username": "odd.one", "display_name": "x", "role": "finance",
            "organisation_id": world["lin_bureau"].id, "password": "Strong123pass"}
    response = client.post("/api/v1/users", json=body, headers=world["headers"]["lin_admin"])
    assert response.status_code == 422


def test_the_audit_trail_is_region_scoped(client, world):
    headers = world["headers"]["lin_admin"]
    events = client.get("/api/v1/audit", headers=headers).json["items"]
    assert events and all(e["region_code"] is None or e["region_code"].startswith("141124")
                          for e in events)
    assert db.session.query(AuditEvent).filter(AuditEvent.region_code == "140427").count() > 0
    assert not any(e.get("region_code") == "140427" for e in events)
    assert client.get("/api/v1/audit", headers=world["headers"]["lin_reviewer"]).status_code == 403
