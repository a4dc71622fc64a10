"""HTTP handlers: parse, authorise, call one service, shape the response."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from server.api import accounts, auth, directory, system

    for module in (system, auth, accounts, directory):
        app.register_blueprint(module.bp)
