"""Extensions, created unbound; `create_app` binds them."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Named constraints so Alembic migrations (and SQLite batch mode) can address them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate(render_as_batch=True, compare_type=True)


def rate_limit(spec: str, key_func: Callable[[], str] | None = None):
    """Declare a rate limit on a view (e.g. "10/minute"); `install_rate_limits` enforces it.

    Flask-Limiter keeps its storage on the Limiter object, so one module-level Limiter shared
    by several apps in a process (tests, scripts) would follow whichever app was built last.
    Each app therefore gets its own Limiter, and views only carry the declaration."""

    def decorate(view):
        view.rate_limits = [*getattr(view, "rate_limits", []), (spec, key_func)]
        return view

    return decorate


def install_rate_limits(app: Flask) -> Limiter:
    limiter = Limiter(key_func=get_remote_address, default_limits=[])
    limiter.init_app(app)
    for endpoint, view in list(app.view_functions.items()):
        wrapped = view
        for spec, key_func in getattr(view, "rate_limits", []):
            wrapped = limiter.limit(spec, key_func=key_func)(wrapped)
        app.view_functions[endpoint] = wrapped
    app.extensions["rate_limiter"] = limiter
    return limiter
