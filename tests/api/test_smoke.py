from server.domain.access import Role
from tests.factories import login, make_staff, make_trainee


def test_health_answers_ok_when_the_database_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json["status"] == "ok"


def test_staff_and_trainee_sign_in(client, ctx):
    staff = make_staff(Role.BUREAU_REVIEWER)
    trainee = make_trainee()
    headers = login(client, username=staff.username)
    assert client.get("/api/v1/me", headers=headers).json["user"]["role"] == "bureau_reviewer"
    headers = login(client, mobile=trainee.user.mobile)
    me = client.get("/api/v1/me", headers=headers).json
    assert me["trainee"]["id"] == trainee.id
