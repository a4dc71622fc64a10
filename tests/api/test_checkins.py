"""Phone check-ins through the API: the geofence in each map datum, idempotent retries, every
bad input (no row, no file left), flags, reviews, selfie links and purging."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from server.domain.geofence import Datum
from server.extensions import db
from server.models import Checkin
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
