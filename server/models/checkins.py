from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.domain.attendance import CheckinKind, Review
from server.extensions import db
from server.models.types import UTCDateTime, str_enum, utcnow


class Checkin(db.Model):
    """A trainee's phone check-in (or sign-out) at a session: position, selfie, flags (手机打卡).
    The row is the evidence and is kept; the selfie is purged after the evidence period."""

    __tablename__ = "checkins"
    __table_args__ = (
        # One check-in and one sign-out per trainee and session: a second is refused.
        UniqueConstraint("session_id", "trainee_id", "kind"),
        # A retried request (same key) finds the first instead of writing again.
        UniqueConstraint("trainee_id", "idempotency_key"),
        Index("ix_checkins_class_session", "class_id", "session_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("class_sessions.id"))
    class_id: Mapped[int] = mapped_column(ForeignKey("training_classes.id"))
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)  # the class's
    trainee_id: Mapped[int] = mapped_column(ForeignKey("trainee_profiles.id"), index=True)
    voucher_id: Mapped[int] = mapped_column(ForeignKey("vouchers.id"))
    kind: Mapped[CheckinKind] = mapped_column(str_enum(CheckinKind, "checkin_kind"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    counted_at: Mapped[datetime] = mapped_column(UTCDateTime)  # received, or captured if queued offline
    captured_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the phone's clock
    offline: Mapped[bool] = mapped_column(Boolean, default=False)
    device_id: Mapped[str] = mapped_column(String(64))
    latitude: Mapped[float] = mapped_column(Float)  # WGS-84, as the phone reported
    longitude: Mapped[float] = mapped_column(Float)
    accuracy_m: Mapped[float] = mapped_column(Float)
    distance_m: Mapped[float] = mapped_column(Float)  # from the site, after datum conversion
    placement: Mapped[str] = mapped_column(String(16))  # inside | outside | uncertain
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    flagged: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    selfie_key: Mapped[str | None] = mapped_column(String(255))
    thumbnail_key: Mapped[str | None] = mapped_column(String(255))
    phash: Mapped[str | None] = mapped_column(String(16))
    selfie_purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    idempotency_key: Mapped[str] = mapped_column(String(64))
    body_sha256: Mapped[str] = mapped_column(String(64))
    review: Mapped[Review] = mapped_column(str_enum(Review, "checkin_review"), default=Review.NONE)
    review_reason: Mapped[str | None] = mapped_column(String(200))
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class VoucherSignin(db.Model):
    """The institution's e-voucher sign-in of a trainee at a session (电子券签到, 003 三(四))."""

    __tablename__ = "voucher_signins"
    __table_args__ = (UniqueConstraint("session_id", "voucher_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("class_sessions.id"), index=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("training_classes.id"), index=True)
    voucher_id: Mapped[int] = mapped_column(ForeignKey("vouchers.id"))
    trainee_id: Mapped[int] = mapped_column(ForeignKey("trainee_profiles.id"))
    operator_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    device_id: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FaceConsent(db.Model):
    """A trainee's separate consent to selfie check-ins (人脸信息单独同意), once, recorded with
    the text version they agreed to; withdrawing it leaves the institution's voucher sign-in."""

    __tablename__ = "face_consents"

    trainee_id: Mapped[int] = mapped_column(ForeignKey("trainee_profiles.id"), primary_key=True)
    text_version: Mapped[str] = mapped_column(String(16))
    given_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
