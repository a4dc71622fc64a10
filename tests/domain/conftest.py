"""The domain is pure: its tests need no application and no database.

tests/conftest.py has an autouse `_clean` fixture that builds the app and empties the
database before every test. Overriding it here keeps these tests away from both (the
session-scoped `app` fixture is then never built when only tests/domain runs).
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _clean():
    yield
