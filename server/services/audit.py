"""Appending to and verifying the audit chain."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import select, text

from server.domain.access import Principal, Role, require_role
from server.domain.audit import GENESIS_HASH, ChainProblem, link_hash, verify_chain
from server.domain.regions import RegionLevel, level_of
from server.extensions import db
from server.models import AuditEvent
from server.models.types import utcnow
from server.services.scope import region_clause


def _lock_chain_head() -> None:
    """Serialise appenders. PostgreSQL: a transaction-scoped advisory lock. SQLite: every
    transaction already begins IMMEDIATE (see server/__init__.py), so writers queue."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(7310001)"))


def record(
    actor: Principal | None,
    action: str,
    object_type: str,
    object_id: Any,
    *,
    region_code: str | None = None,
    before: dict | None = None,
    after: dict | None = None,
) -> AuditEvent:
    """Add one event to the chain inside the caller's transaction (the caller commits)."""
    _lock_chain_head()
    head = db.session.execute(
        select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    seq, prev_hash = (head.seq + 1, head.hash) if head else (1, GENESIS_HASH)
    event = AuditEvent(
        seq=seq,
        occurred_at=utcnow(),
        actor_user_id=actor.user_id if actor else None,
        actor_role=str(actor.role) if actor else None,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        region_code=region_code if region_code is not None else (actor.region_code if actor else None),
        before=before,
        after=after,
        prev_hash=prev_hash,
    )
    event.hash = link_hash(prev_hash, event.to_entry())
    db.session.add(event)
    db.session.flush()
    return event


def _entries(batch: int = 1000) -> Iterator:
    last = 0
    while True:
        rows = db.session.scalars(
            select(AuditEvent).where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(batch)
        ).all()
        if not rows:
            return
        for row in rows:
            yield row.to_entry()
        last = rows[-1].seq
        db.session.expunge_all()


def verify() -> tuple[ChainProblem | None, int, str]:
    """Check the whole chain; returns (first problem or None, events checked, head hash)."""
    count = 0
    head = GENESIS_HASH

    def counted():
        nonlocal count, head
        for entry in _entries():
            count += 1
            head = entry.hash
            yield entry

    problem = verify_chain(counted())
    return problem, count, head


def list_events(principal: Principal, *, after_seq: int = 0, limit: int = 100,
                object_type: str | None = None, object_id: str | None = None) -> list[AuditEvent]:
    """Admins read the trail of their region; events with no region only at province level."""
    require_role(principal, Role.ADMIN)
    visible = region_clause(principal, AuditEvent.region_code)
    if principal.region_code and level_of(principal.region_code) is RegionLevel.PROVINCE:
        visible = visible | AuditEvent.region_code.is_(None)
    stmt = select(AuditEvent).where(visible, AuditEvent.seq > after_seq)
    if object_type:
        stmt = stmt.where(AuditEvent.object_type == object_type)
    if object_id:
        stmt = stmt.where(AuditEvent.object_id == object_id)
    return list(db.session.scalars(stmt.order_by(AuditEvent.seq).limit(limit)).all())
