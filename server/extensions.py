"""Extensions, created unbound; `create_app` binds them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, event
from sqlalchemy.orm import DeclarativeBase, Session

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

_reading_only: ContextVar[bool] = ContextVar("reading_only", default=False)


def reading_only() -> bool:
    """Whether the statements now being run are in a `read_only_transaction` block."""
    return _reading_only.get()


@contextmanager
def read_only_transaction() -> Iterator[None]:
    """Run a block that only reads in a transaction of its own, ended (rolled back: there is
    nothing to keep) when the block ends; objects loaded in it are expired then.

    Why: on SQLite every other transaction begins IMMEDIATE and holds the database's one write
    lock until it ends (see create_app); this one begins DEFERRED, so reads such as the access
    token's user and a check-in's checks do not queue behind, or hold up, the writers. On
    PostgreSQL it only ends the transaction early. Begun inside a transaction already open, the
    block is simply part of it and ends nothing. A flush inside the block is a programming error
    and raises."""
    if db.session().in_transaction():
        yield
        return
    token = _reading_only.set(True)
    try:
        yield
    finally:
        _reading_only.reset(token)
        db.session.rollback()


@event.listens_for(Session, "before_flush")
def _refuse_writes_while_reading(session, _flush_context, _instances):
    if _reading_only.get() and (session.new or session.dirty or session.deleted):
        raise RuntimeError("a write inside read_only_transaction() would be rolled back")


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
