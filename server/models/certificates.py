from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from server.domain.certificates import CertificateKind, CertificateState
from server.extensions import db
from server.models.types import UTCDateTime, str_enum, utcnow

_VALID = "state = 'valid'"


class Certificate(db.Model):
    """A certificate (证书) issued after assessment; verifiable by anyone from its number or QR."""

    __tablename__ = "certificates"
    __table_args__ = (
        # One valid certificate of a kind and level per person and occupation; a revoked one
        # does not block its re-issue. `level` is '' for kinds without one, so NULLs never slip by.
        Index("uq_certificates_valid_kind_level", "trainee_id", "occupation_code", "kind", "level",
              unique=True, sqlite_where=text(_VALID), postgresql_where=text(_VALID)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(24), unique=True)
    kind: Mapped[CertificateKind] = mapped_column(str_enum(CertificateKind, "certificate_kind"))
    trainee_id: Mapped[int] = mapped_column(ForeignKey("trainee_profiles.id"), index=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("training_classes.id"), index=True)
    result_id: Mapped[int] = mapped_column(ForeignKey("assessment_results.id"))
    issuer_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)  # the class's
    occupation_code: Mapped[str] = mapped_column(ForeignKey("occupations.code"))
    level: Mapped[str] = mapped_column(String(16))
    issued_on: Mapped[date] = mapped_column(Date)
    token: Mapped[str] = mapped_column(Text)  # signed at issue: the printed QR never changes
    state: Mapped[CertificateState] = mapped_column(str_enum(CertificateState, "certificate_state"),
                                                    index=True)
    issued_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_reason: Mapped[str | None] = mapped_column(String(200))
    revoked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
