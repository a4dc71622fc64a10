from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from server.domain.audit import AuditEntry
from server.extensions import db
from server.models.types import UTCDateTime


class AuditEvent(db.Model):
    """Append-only, hash-chained record of every state change. `seq` and `prev_hash` are
    unique, so two writers can never both extend the chain from the same head."""

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor_user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    actor_role: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64), index=True)
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(64))
    # The region the event concerns, so bureau admins read only their own region's trail.
    region_code: Mapped[str | None] = mapped_column(String(9), index=True)
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)

    def to_entry(self) -> AuditEntry:
        return AuditEntry(
            seq=self.seq,
            occurred_at=self.occurred_at.isoformat(),
            actor_user_id=self.actor_user_id,
            actor_role=self.actor_role,
            action=self.action,
            object_type=self.object_type,
            object_id=self.object_id,
            region_code=self.region_code,
            before=self.before,
            after=self.after,
            prev_hash=self.prev_hash,
            hash=self.hash,
        )
