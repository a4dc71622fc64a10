from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.domain.eligibility import ProgrammeType
from server.domain.vouchers import VoucherState
from server.extensions import db
from server.models.occupations import Occupation
from server.models.types import UTCDateTime, str_enum, utcnow
from server.models.users import TraineeProfile

# The rules that must never be broken twice are unique indexes over the vouchers still "in
# use", so two racing applications cannot both pass the eligibility check (SQLite and
# PostgreSQL both have partial indexes).
_OPEN = "state IN ('applied', 'issued', 'bound')"
_COUNTED = "state IN ('applied', 'issued', 'bound', 'trained', 'redeemed', 'written_off')"
_HOLDS_CLASS = "state NOT IN ('bound', 'trained', 'redeemed', 'written_off') OR bound_class_id IS NOT NULL"


def _partial(name: str, *columns: str, where: str) -> Index:
    return Index(name, *columns, unique=True, sqlite_where=text(where), postgresql_where=text(where))


class Voucher(db.Model):
    """A trainee's e-voucher (电子培训券): the spine of every subsidy (无券不补)."""

    __tablename__ = "vouchers"
    __table_args__ = (
        # One open voucher per occupation (product rule, domain/eligibility.py).
        _partial("uq_vouchers_open_occupation", "trainee_id", "occupation_code", where=_OPEN),
        # 004 五(三): one 普惠制 and one project/order-type subsidy a year.
        _partial("uq_vouchers_yearly_group", "trainee_id", "year", "yearly_group",
                 where=f"yearly_group IS NOT NULL AND {_COUNTED}"),
        # 002 第四条: enterprise training of an occupation and level once a year.
        _partial("uq_vouchers_enterprise_repeat", "trainee_id", "occupation_code", "level", "year",
                 where=f"programme = 'enterprise' AND {_COUNTED}"),
        CheckConstraint(_HOLDS_CLASS, name="bound_has_class"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    serial: Mapped[str] = mapped_column(String(24), unique=True)
    trainee_id: Mapped[int] = mapped_column(ForeignKey("trainee_profiles.id"), index=True)
    occupation_code: Mapped[str] = mapped_column(ForeignKey("occupations.code"))
    level: Mapped[str] = mapped_column(String(16))
    programme: Mapped[ProgrammeType] = mapped_column(str_enum(ProgrammeType, "programme"))
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    year: Mapped[int] = mapped_column(Integer)  # the training year it counts in
    yearly_group: Mapped[str | None] = mapped_column(String(16))  # see uq_vouchers_yearly_group
    state: Mapped[VoucherState] = mapped_column(str_enum(VoucherState, "voucher_state"), index=True)
    reason: Mapped[str | None] = mapped_column(String(200))  # why it was rejected or revoked
    eligibility: Mapped[dict] = mapped_column(JSON, default=dict)  # the facts the decision saw

    applied_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    applied_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: issued automatically
    expires_on: Mapped[date | None] = mapped_column(Date)  # last day it may be scanned
    bound_class_id: Mapped[int | None] = mapped_column(ForeignKey("training_classes.id"), index=True)
    bound_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    bound_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # revoked or expired
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    trained_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    redeemed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    written_off_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    trainee: Mapped[TraineeProfile] = relationship(lazy="joined")
    occupation: Mapped[Occupation] = relationship(lazy="joined")


class VoucherScan(db.Model):
    """Every scan attempt at class start, refused ones included, so supervisors can see a
    scanner trying tokens; (operator, request id) makes a retried scan return its first outcome."""

    __tablename__ = "voucher_scans"
    __table_args__ = (UniqueConstraint("operator_id", "request_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    request_id: Mapped[str] = mapped_column(String(64))
    device_id: Mapped[str | None] = mapped_column(String(64))
    class_id: Mapped[int] = mapped_column(Integer, index=True)  # as asked: may name no class
    voucher_id: Mapped[int | None] = mapped_column(Integer, index=True)  # from a verified token
    token_sha256: Mapped[str] = mapped_column(String(64))  # never the token itself
    outcome: Mapped[str] = mapped_column(String(40))  # "BOUND" or the refusal code
    status: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
