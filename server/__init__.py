"""SkillVoucher (技能培训电子券): the application factory. Importing this package does nothing."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask, send_from_directory
from sqlalchemy import event
from sqlalchemy.engine import Engine

from server.config import PROJECT_ROOT, Settings, normalise_database_url
from server.extensions import reading_only

PWA_DIR = PROJECT_ROOT / "pwa"


def _install_sqlite_hooks(engine: Engine) -> None:
    """SQLite: WAL, a busy timeout, enforced foreign keys, and SQLAlchemy's documented
    pysqlite recipe (driver autocommit off, our own BEGIN) so SAVEPOINTs and transactions
    behave. Transactions begin IMMEDIATE so concurrent writers queue on the busy timeout
    instead of failing when a read lock cannot be upgraded; those of a read_only_transaction
    block begin DEFERRED and take no lock. synchronous=NORMAL is SQLite's advice for WAL: a
    commit is not fsynced, so the write lock is held for less; the database stays consistent
    whatever happens, and only a power cut can lose the last commits (an app crash cannot)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN" if reading_only() else "BEGIN IMMEDIATE")


def create_app(config: dict | None = None, settings: Settings | None = None) -> Flask:
    """Build the app. `config` overrides Flask config keys (tests use this)."""
    settings = settings or Settings.from_env()
    app = Flask(__name__, instance_path=str(settings.instance_path), static_folder=None)
    app.config.from_mapping(settings.as_flask())
    if config:
        app.config.update(config)
    app.config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(
        app.config["SQLALCHEMY_DATABASE_URI"])
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # A server may drop an idle connection; a SQLite file cannot, so no ping per checkout.
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_pre_ping": True,
                                                   **app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {})}
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from server import models  # noqa: F401  (registers the tables on the metadata)
    from server.adapters.signing import KeyRing
    from server.adapters.sms import sender_from_setting
    from server.adapters.storage import store_from_url
    from server.extensions import db, install_rate_limits, migrate

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        db_file = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
        if db_file and db_file != ":memory:":
            Path(db_file).parent.mkdir(parents=True, exist_ok=True)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"))
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            _install_sqlite_hooks(db.engine)

    app.extensions["sms_sender"] = sender_from_setting(app.config["SMS_SENDER"])
    app.extensions["store"] = store_from_url(app.config["STORAGE_URL"])
    app.extensions["keyring"] = KeyRing(Path(app.config["KEYS_DIR"])).ensure()

    from server.api import register_blueprints
    from server.api.errors import register_error_handlers

    register_error_handlers(app)
    register_blueprints(app)
    _register_pwa(app)
    install_rate_limits(app)

    from server.cli import register_commands

    register_commands(app)
    return app


# The trainee app's policy: nothing inline, nothing from elsewhere (README, "The trainee app (PWA)").
PWA_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
           "connect-src 'self'; worker-src 'self'; manifest-src 'self'; object-src 'none'; "
           "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
PWA_TYPES = {".mjs": "text/javascript", ".js": "text/javascript",
             ".webmanifest": "application/manifest+json"}


def _register_pwa(app: Flask) -> None:
    from server.api.openapi import documented

    def pwa_file(filename: str, cache_control: str = "no-cache"):
        """A file of the PWA with its policy. `no-cache`: the browser revalidates (ETag) before
        using its copy; the service worker's precache, not the HTTP cache, is what works offline."""
        # PWA_DIR (config) may point elsewhere: the update test serves a changed copy from it.
        directory = app.config.get("PWA_DIR", PWA_DIR)
        response = send_from_directory(directory, filename)
        mimetype = PWA_TYPES.get(Path(filename).suffix)
        if mimetype:
            response.mimetype = mimetype
        response.headers["Content-Security-Policy"] = PWA_CSP
        response.headers["Cache-Control"] = cache_control
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    @app.get("/")
    @documented("学员端 PWA 外壳页面", "pwa", response_media="text/html")
    def pwa_shell():
        return pwa_file("index.html")

    @app.get("/sw.js")
    @documented("学员端 PWA 的 Service Worker（作用域为站点根路径）", "pwa",
                response_media="text/javascript")
    def pwa_service_worker():
        # Served from the root so its scope covers the shell at "/"; never cached by HTTP, so
        # the browser's update check always sees the current version.
        return pwa_file("sw.js", "no-store")

    @app.get("/pwa/<path:filename>")
    @documented("PWA 静态资源", "pwa", response_media="application/octet-stream", errors=(404,))
    def pwa_asset(filename: str):
        return pwa_file(filename)
