from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.domain.targets import TargetKind
from server.extensions import db
from server.models.types import UTCDateTime, str_enum, utcnow


class Target(db.Model):
    """A target handed down (目标任务): how many of `kind` a region is to reach in a year, with
    the seed clause it comes from (000 一(一); 001 附件2; 004 一)."""

    __tablename__ = "targets"
    __table_args__ = (
        # One figure per region, year and kind: loading the seed tables again updates, never adds.
        UniqueConstraint("region_code", "year", "kind"),
        CheckConstraint("value >= 0", name="value_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"))  # led by the unique index
    year: Mapped[int] = mapped_column(Integer)
    kind: Mapped[TargetKind] = mapped_column(str_enum(TargetKind, "target_kind"))
    value: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(200))  # e.g. "001 附件2 龙泉镇 补贴性技能培训计划任务数"
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
