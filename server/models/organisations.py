from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.domain.access import OrgKind
from server.extensions import db
from server.models.regions import Region
from server.models.types import UTCDateTime, str_enum, utcnow


class Organisation(db.Model):
    """A training or evaluation institution, a bureau, a finance bureau or an enterprise."""

    __tablename__ = "organisations"
    # A legal entity registers once per kind: a school may both train and (through its
    # evaluation centre, the same 统一社会信用代码) evaluate, but never the same batch.
    __table_args__ = (UniqueConstraint("social_credit_code", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[OrgKind] = mapped_column(str_enum(OrgKind, "org_kind"))
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    # 统一社会信用代码: an evaluator sharing the legal entity of a trainer is refused (002 第十四条)
    social_credit_code: Mapped[str | None] = mapped_column(String(18))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Suspended for fraud (002 第十七条): no new class or claim from `suspended_from` until lifted.
    suspended_from: Mapped[date | None] = mapped_column(Date)
    suspended_reason: Mapped[str | None] = mapped_column(String(200))

    region: Mapped[Region] = relationship(lazy="joined")
