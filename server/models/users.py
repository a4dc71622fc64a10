from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.domain.access import Role
from server.extensions import db
from server.models.organisations import Organisation
from server.models.types import UTCDateTime, str_enum, utcnow


class User(db.Model):
    """A sign-in account. Staff sign in by username, trainees by mobile number."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str | None] = mapped_column(String(64), unique=True)
    mobile: Mapped[str | None] = mapped_column(String(11), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(64))
    role: Mapped[Role] = mapped_column(str_enum(Role, "role"))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Carried in access tokens as `ver`; raised to end every session at once.
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    organisation: Mapped[Organisation | None] = relationship(lazy="joined")
    trainee: Mapped[TraineeProfile | None] = relationship(back_populates="user", lazy="joined")


class TraineeProfile(db.Model):
    """A trainee's real-name record (实名制): the identity every subsidy traces to."""

    __tablename__ = "trainee_profiles"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    real_name: Mapped[str] = mapped_column(String(64))
    id_number: Mapped[str] = mapped_column(String(18), unique=True)
    birth_date: Mapped[date] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(1))
    home_region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    photo_key: Mapped[str | None] = mapped_column(String(255))  # enrolment photo, in storage
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(back_populates="trainee", lazy="joined")
