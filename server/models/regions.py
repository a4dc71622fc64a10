from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from server.domain.regions import RegionLevel
from server.extensions import db
from server.models.types import str_enum


class Region(db.Model):
    """An administrative division (行政区划), GB/T 2260 code."""

    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(String(9), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    level: Mapped[RegionLevel] = mapped_column(str_enum(RegionLevel, "region_level"))
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"), index=True)
