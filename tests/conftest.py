"""Test harness: one schema per run (built by the real migrations), emptied after each test.

SQLite (a file in a temporary folder) by default; PostgreSQL when TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import os

import pytest
from sqlalchemy import text

from server import create_app
from server.config import Settings
from server.extensions import db

TEST_SECRET = "test-secret-key-that-is-long-enough-for-hs256-0123456789"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    return os.environ.get("TEST_DATABASE_URL") or (
        f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    )


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    instance = tmp_path_factory.mktemp("instance")
    settings = Settings.from_env({"INSTANCE_PATH": str(instance), "SECRET_KEY": TEST_SECRET})
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SMS_SENDER": "memory",
            "STORAGE_URL": f"file://{instance / 'storage'}",
        },
        settings=settings,
    )
    # The memory SMS sender is chosen at build time from config; rebuild it for tests.
    from server.adapters.sms import RecordingSmsSender

    app.extensions["sms_sender"] = RecordingSmsSender()
    with app.app_context():
        _fresh_schema()
    return app


def _fresh_schema() -> None:
    """Drop whatever a previous run left, then build the schema with the migrations."""
    from flask_migrate import upgrade

    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    upgrade()


def _empty_tables() -> None:
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    else:
        for name in tables:
            db.session.execute(text(f"DELETE FROM {name}"))
    db.session.commit()


@pytest.fixture(autouse=True)
def _clean(app):
    """Each test starts with reference data only, and a fresh rate limiter and SMS outbox."""
    from server.services.reference_data import load_reference_data

    with app.app_context():
        _empty_tables()
        load_reference_data()
    app.extensions["rate_limiter"].reset()
    app.extensions["sms_sender"].sent.clear()
    app.extensions.pop("clock", None)
    yield
    with app.app_context():
        db.session.remove()


@pytest.fixture
def ctx(app):
    """An application context, for service-level tests."""
    with app.app_context():
        yield
        db.session.rollback()


@pytest.fixture
def clock(app):
    """Set the time the rules see: `clock.set(datetime)`; real time until set."""
    from datetime import UTC, datetime, timedelta

    class Clock:
        def set(self, when: datetime) -> None:
            app.extensions["clock"] = lambda: when

        def advance(self, **delta) -> None:
            later = app.extensions.get("clock", lambda: datetime.now(UTC))() + timedelta(**delta)
            self.set(later)

    return Clock()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def sms_outbox(app):
    return app.extensions["sms_sender"].sent
