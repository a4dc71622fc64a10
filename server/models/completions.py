from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from server.domain.completion import CompletionState
from server.extensions import db
from server.models.types import UTCDateTime, str_enum, utcnow

_OPEN_FILING = "state IN ('submitted', 'approved')"


class CompletionFiling(db.Model):
    """A completion application (结业申请); a rejected one is kept and a new one filed."""

    __tablename__ = "completion_filings"
    __table_args__ = (
        UniqueConstraint("class_id", "number"),
        # One filing awaiting a decision or approved per class: two racing filings cannot both land.
        Index("uq_completion_filings_open", "class_id", unique=True,
              sqlite_where=text(_OPEN_FILING), postgresql_where=text(_OPEN_FILING)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("training_classes.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)  # 1, 2, … per class
    state: Mapped[CompletionState] = mapped_column(str_enum(CompletionState, "completion_state"))
    evaluator_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)  # 评价机构
    assessment_plan: Mapped[str] = mapped_column(Text)  # 结业考核方案
    documents: Mapped[dict] = mapped_column(JSON)  # DocumentKind value -> class document id
    filed_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(String(200))


class CompletionEntry(db.Model):
    """A trainee of the class on a filing: on the completion roster (培训结业花名册) with the
    days attended, or left off with a reason."""

    __tablename__ = "completion_entries"
    __table_args__ = (UniqueConstraint("filing_id", "trainee_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    filing_id: Mapped[int] = mapped_column(ForeignKey("completion_filings.id"), index=True)
    trainee_id: Mapped[int] = mapped_column(ForeignKey("trainee_profiles.id"), index=True)
    voucher_id: Mapped[int] = mapped_column(ForeignKey("vouchers.id"))
    on_roster: Mapped[bool] = mapped_column(Boolean)
    exclusion_reason: Mapped[str | None] = mapped_column(String(200))
    # Attendance when the filing was made, refreshed when it is decided (domain/completion.py).
    attended_days: Mapped[int] = mapped_column(Integer)
    planned_days: Mapped[int] = mapped_column(Integer)
    present_sessions: Mapped[int] = mapped_column(Integer)
    total_sessions: Mapped[int] = mapped_column(Integer)
    pending_sessions: Mapped[int] = mapped_column(Integer)
    # Half days (morning, afternoon) on which every session was present: what subsidies count.
    attended_half_days: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    planned_half_days: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class AssessmentResult(db.Model):
    """A trainee's result (评价结果), recorded by the evaluator the approved filing names."""

    __tablename__ = "assessment_results"
    __table_args__ = (UniqueConstraint("class_id", "trainee_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("training_classes.id"), index=True)
    filing_id: Mapped[int] = mapped_column(ForeignKey("completion_filings.id"))
    trainee_id: Mapped[int] = mapped_column(ForeignKey("trainee_profiles.id"), index=True)
    evaluator_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    theory_score: Mapped[Decimal] = mapped_column(Numeric(4, 1))
    practice_score: Mapped[Decimal] = mapped_column(Numeric(4, 1))
    passed: Mapped[bool] = mapped_column(Boolean)
    level: Mapped[str] = mapped_column(String(16))  # '' when the class's occupation has no level
    recorded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
