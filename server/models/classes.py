from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Time, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.domain.classes import ClassState, DocumentKind, SessionKind, VersionState
from server.domain.eligibility import ProgrammeType
from server.extensions import db
from server.models.occupations import Occupation
from server.models.organisations import Organisation
from server.models.types import UTCDateTime, str_enum, utcnow

_OPEN_VERSION = "state IN ('draft', 'submitted')"


class TrainingClass(db.Model):
    """A class (培训班): opened by an approved opening application (开班申请)."""

    __tablename__ = "training_classes"

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)  # the county
    occupation_code: Mapped[str] = mapped_column(ForeignKey("occupations.code"))
    level: Mapped[str] = mapped_column(String(16))
    programme: Mapped[ProgrammeType] = mapped_column(str_enum(ProgrammeType, "programme"))
    state: Mapped[ClassState] = mapped_column(str_enum(ClassState, "class_state"), index=True)
    # From the approved version (or the first draft until one is approved), for lists and scans.
    name: Mapped[str] = mapped_column(String(64))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    approved_version: Mapped[int | None] = mapped_column(Integer)  # its number
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    institution: Mapped[Organisation] = relationship(lazy="joined")
    occupation: Mapped[Occupation] = relationship(lazy="joined")


class ClassVersion(db.Model):
    """One version of an opening application; every version is kept."""

    __tablename__ = "class_versions"
    __table_args__ = (
        UniqueConstraint("class_id", "number"),
        # At most one version in the works per class: amendments queue, they do not fork.
        Index("uq_class_versions_open", "class_id", unique=True,
              sqlite_where=text(_OPEN_VERSION), postgresql_where=text(_OPEN_VERSION)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("training_classes.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    state: Mapped[VersionState] = mapped_column(str_enum(VersionState, "class_version_state"))
    proposal: Mapped[dict] = mapped_column(JSON)  # domain.classes.Proposal, as JSON
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(String(200))


class ClassSession(db.Model):
    """A session of the approved timetable (课时): where check-ins will attach."""

    __tablename__ = "class_sessions"
    __table_args__ = (UniqueConstraint("class_id", "day", "starts"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("training_classes.id"), index=True)
    day: Mapped[date] = mapped_column(Date)
    starts: Mapped[time] = mapped_column(Time)
    ends: Mapped[time] = mapped_column(Time)
    kind: Mapped[SessionKind] = mapped_column(str_enum(SessionKind, "session_kind"))


class ClassSite(db.Model):
    """The approved training site and its geofence (one per class)."""

    __tablename__ = "class_sites"

    class_id: Mapped[int] = mapped_column(ForeignKey("training_classes.id"), primary_key=True)
    address: Mapped[str] = mapped_column(String(200))
    latitude: Mapped[float]  # as entered, in `datum`
    longitude: Mapped[float]
    datum: Mapped[str] = mapped_column(String(8), default="wgs84", server_default="wgs84")
    # The fence centre in WGS-84, what phones report: converted from `datum` at approval.
    fence_latitude: Mapped[float] = mapped_column(default=0.0, server_default="0")
    fence_longitude: Mapped[float] = mapped_column(default=0.0, server_default="0")
    radius_m: Mapped[int] = mapped_column(Integer)


class ClassDocument(db.Model):
    """An uploaded document of an opening application, kept in storage."""

    __tablename__ = "class_documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("training_classes.id"), index=True)
    kind: Mapped[DocumentKind] = mapped_column(str_enum(DocumentKind, "document_kind"))
    filename: Mapped[str] = mapped_column(String(160))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(255), unique=True)
    uploaded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RosterEntry(db.Model):
    """A trainee on an approved class roster (培训学员名册), with the voucher they hold."""

    __tablename__ = "class_roster"
    __table_args__ = (UniqueConstraint("class_id", "voucher_id"),
                      UniqueConstraint("class_id", "trainee_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("training_classes.id"), index=True)
    voucher_id: Mapped[int] = mapped_column(ForeignKey("vouchers.id"), index=True)
    trainee_id: Mapped[int] = mapped_column(ForeignKey("trainee_profiles.id"), index=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
