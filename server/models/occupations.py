from __future__ import annotations

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from server.extensions import db


class Occupation(db.Model):
    """An occupation of the national catalogue (工种目录, 《中华人民共和国职业分类大典》)."""

    __tablename__ = "occupations"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)  # e.g. 4-10-01-01
    name: Mapped[str] = mapped_column(String(64), unique=True)
    levels: Mapped[list[str]] = mapped_column(JSON, default=list)  # e.g. ["初级", "中级", "高级"]
