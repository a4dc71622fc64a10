"""Fixtures shared by the API tests."""

from __future__ import annotations

import pytest

from tests.api.claim_world import Api


@pytest.fixture
def api(client):
    """The test client, rolled back after each request as the app is (see claim_world.Api)."""
    return Api(client)
