"""The audit chain records state changes and exposes tampering."""

from __future__ import annotations

from sqlalchemy import text

from server.domain.access import Role
from server.extensions import db
from server.models import AuditEvent
from server.services import audit
from tests.factories import login, make_id_number, make_staff


def _register_three_trainees(client) -> None:
    headers = login(client, username=make_staff(Role.BUREAU_REVIEWER).username)
    for n in range(3):
        response = client.post("/api/v1/trainees", headers=headers, json={
            "real_name": f"学员{n}", "id_number": make_id_number("140427"),
            "mobile": f"1390000000{n}", "home_region_code": "140427", "categories": ["veteran"]})
        assert response.status_code == 201


def test_state_changes_are_recorded_with_actor_and_masked_summaries(client, ctx):
    _register_three_trainees(client)
    events = db.session.query(AuditEvent).order_by(AuditEvent.seq).all()
    actions = [e.action for e in events]
    assert actions == ["auth.login"] + ["trainee.registered"] * 3
    registered = events[1]
    assert registered.actor_role == "bureau_reviewer" and registered.region_code == "140427"
    assert "*" in registered.after["id_number"]  # never the full ID number


def test_an_intact_chain_verifies(client, ctx):
    _register_three_trainees(client)
    problem, count, head = audit.verify()
    assert problem is None and count == 4 and head == db.session.get(AuditEvent, 4).hash


def test_a_modified_event_is_reported_at_its_position(client, ctx):
    _register_three_trainees(client)
    db.session.execute(text("UPDATE audit_events SET action = 'trainee.deleted' WHERE seq = 3"))
    db.session.commit()
    problem, _, _ = audit.verify()
    assert (problem.seq, problem.kind) == (3, "modified")


def test_a_deleted_event_is_reported(client, ctx):
    _register_three_trainees(client)
    db.session.execute(text("DELETE FROM audit_events WHERE seq = 2"))
    db.session.commit()
    problem, _, _ = audit.verify()
    assert problem.seq == 3 and problem.kind == "sequence_gap"


def test_the_cli_reports_the_first_bad_event_and_fails(app, client, ctx):
    _register_three_trainees(client)
    runner = app.test_cli_runner()
    ok = runner.invoke(args=["audit", "verify"])
    assert ok.exit_code == 0 and "OK: 4 events" in ok.output
    db.session.execute(text("UPDATE audit_events SET after = NULL WHERE seq = 2"))
    db.session.commit()
    broken = runner.invoke(args=["audit", "verify"])
    assert broken.exit_code == 1 and "event 2" in broken.output


def test_the_verify_endpoint_is_for_admins(client, ctx):
    admin = make_staff(Role.ADMIN)
    response = client.get("/api/v1/audit/verify", headers=login(client, username=admin.username))
    assert response.status_code == 200 and response.json["ok"] is True
