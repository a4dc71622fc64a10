"""Phone check-ins through the API: the geofence in each map datum, idempotent retries, every
bad input (no row, no file left), flags, reviews, selfie links and purging."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from server.domain.geofence import Datum
from server.extensions import db
from server.models import Checkin
from server.services import clock as app_clock
from tests.api.checkin_world import check_in, offset, open_class


@pytest.fixture
def world(client, ctx, clock):
    return open_class(client, clock)


def _count() -> int:
    return db.session.scalar(select(func.count()).select_from(Checkin))


def test_a_trainee_at_the_site_checks_in(client, world):
    response = check_in(client, world.headers.trainees[0], world.sessions[0].id)
    assert response.status_code == 201, response.json
    body = response.json
    assert body["placement"] == "inside" and body["flags"] == [] and body["distance_m"] < 5
    assert _count() == 1


def test_the_answer_to_a_check_in_is_what_was_stored(client, world):
    """The 201 is built from the row as written (no read-back): reading it again says the same,
    the phone's time given in China time comes back as the same instant."""
    phone_time = app_clock.now().astimezone(app_clock.CHINA)
    created = check_in(client, world.headers.trainees[0], world.sessions[0].id, captured=phone_time)
    assert created.status_code == 201, created.json
    again = client.get(f"/api/v1/checkins/{created.json['id']}", headers=world.headers.trainees[0])
    assert again.status_code == 200 and again.json == created.json
    assert created.json["review"] == "none" and created.json["has_selfie"] is True


def test_a_check_in_holds_sqlites_write_lock_only_to_write_its_row(client, world):
    """The token's user and the checks are read in DEFERRED transactions, the selfie is worked
    on with no transaction open, and the only IMMEDIATE one (the write lock) writes the row."""
    from sqlalchemy import event

    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        if statement.startswith(("BEGIN", "INSERT", "UPDATE", "DELETE")):
            seen.append(statement.split(" (")[0].split(" SET")[0])

    session_id = world.sessions[0].id
    db.session.rollback()  # the test's app context is the request's: begin with none open, as a request does
    event.listen(db.engine, "before_cursor_execute", record)
    try:
        response = check_in(client, world.headers.trainees[0], session_id)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert response.status_code == 201, response.json
    if db.engine.dialect.name == "sqlite":
        assert seen == ["BEGIN", "BEGIN", "BEGIN IMMEDIATE", "INSERT INTO checkins"]
    else:
        assert seen == ["INSERT INTO checkins"]


@pytest.mark.parametrize("datum", list(Datum))
@pytest.mark.parametrize("metres,placement", [(0, "inside"), (150, "inside"), (195, "uncertain"),
                                              (1000, "outside")])
def test_the_fence_is_measured_in_wgs84_whatever_map_the_site_came_from(client, ctx, clock, datum,
                                                                        metres, placement):
    world = open_class(client, clock, trainees=1, datum=datum)
    response = check_in(client, world.headers.trainees[0], world.sessions[0].id,
                        position=offset(metres, 45), accuracy=15)
    assert response.status_code == 201, response.json
    assert response.json["placement"] == placement
    assert abs(response.json["distance_m"] - metres) < 2


def test_my_sessions_carry_the_sites_fence_in_wgs84_whatever_datum_it_was_typed_in(client, world):
    """The phone compares its GPS fix (WGS-84) with the fence before sending: the site was typed
    from a GCJ-02 map, ~500 m off, so the answer must be the converted centre."""
    from tests.api.checkin_world import RADIUS_M, SITE

    response = client.get("/api/v1/me/sessions", headers=world.headers.trainees[0])
    assert response.status_code == 200, response.json
    items = response.json["items"]
    assert [i["id"] for i in items] == [s.id for s in world.sessions]
    site = items[0]["site"]
    assert site["radius_m"] == RADIUS_M and site["address"] == "壶关县龙泉镇职教中心"
    assert abs(site["latitude"] - SITE[0]) < 1e-5 and abs(site["longitude"] - SITE[1]) < 1e-5
