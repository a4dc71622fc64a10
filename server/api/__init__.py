"""HTTP handlers: parse, authorise, call one service, shape the response."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from server.api import (
        accounts,
        auth,
        certificates,
        checkins,
        claims,
        classes,
        directory,
        notices,
        system,
        targets,
        vouchers,
    )

    for module in (system, auth, accounts, directory, vouchers, classes, checkins, certificates, claims,
                   notices, targets):
        app.register_blueprint(module.bp)
