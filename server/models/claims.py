"""Subsidy claims (补贴申领) from filing to write-off: the claim and its lines, the two reviewers'
approvals, the public notice's objections, the disbursement, the ledger of what was paid,
recoveries, employment evidence and recorded video gaps (SPEC §6, §7; rules in domain/claims*.py
and domain/subsidy*.py)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from server.domain.claims import ClaimKind, ClaimState
from server.domain.claims_notice import ObjectionState
from server.extensions import db
from server.models.types import UTCDateTime, str_enum, utcnow

_LIVE_TRAINING_CLAIM = "kind = 'training' AND state <> 'withdrawn'"


class Claim(db.Model):
    """A claim (补贴申领) for one class (training) or for certificates (技能评价补贴).

    Its lines are the frozen computation of its current `version`; `digest` is the sha256 of
    that version, which each approval records (domain/claims_review.py)."""

    __tablename__ = "claims"
    __table_args__ = (
        # One live training claim per class and stage: two racing filings cannot both land
        # (startup training settles in two stages, 004 二(五)).
        Index("uq_claims_live_class_stage", "class_id", "stage", unique=True,
              sqlite_where=text(_LIVE_TRAINING_CLAIM), postgresql_where=text(_LIVE_TRAINING_CLAIM)),
        CheckConstraint("total_fen >= 0", name="total_not_negative"),
        CheckConstraint("kind <> 'training' OR class_id IS NOT NULL", name="training_has_class"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[ClaimKind] = mapped_column(str_enum(ClaimKind, "claim_kind"))
    state: Mapped[ClaimState] = mapped_column(str_enum(ClaimState, "claim_state"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)  # claimant
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    class_id: Mapped[int | None] = mapped_column(ForeignKey("training_classes.id"), index=True)
    stage: Mapped[int] = mapped_column(Integer, default=1)
    training_year: Mapped[int] = mapped_column(Integer)  # the statistical year it counts in
    version: Mapped[int] = mapped_column(Integer, default=1)
    digest: Mapped[str] = mapped_column(String(64))
    total_fen: Mapped[int] = mapped_column(BigInteger)
    policy_region_code: Mapped[str] = mapped_column(String(12))  # the policy file used
    policy_effective_from: Mapped[date] = mapped_column(Date)  # and its version
    basis: Mapped[dict] = mapped_column(JSON)  # the class-level counts and rates
    explanation: Mapped[list] = mapped_column(JSON)  # the computation in Chinese, line by line
    filed_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    returned_reason: Mapped[str | None] = mapped_column(String(200))
    notice_published_on: Mapped[date | None] = mapped_column(Date)
    notice_first_day: Mapped[date | None] = mapped_column(Date)
    notice_last_day: Mapped[date | None] = mapped_column(Date)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ClaimLine(db.Model):
    """One trainee's (or certificate's) line of a claim's current version, as the engine
    explained it; a line an upheld objection removed stays, marked, with amount kept for the record."""

    __tablename__ = "claim_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    trainee_id: Mapped[int] = mapped_column(ForeignKey("trainee_profiles.id"), index=True)
    voucher_id: Mapped[int | None] = mapped_column(ForeignKey("vouchers.id"), index=True)
    certificate_id: Mapped[int | None] = mapped_column(ForeignKey("certificates.id"))
    item: Mapped[str] = mapped_column(String(32))  # training, living_allowance, certificate, …
    half_days: Mapped[int] = mapped_column(Integer)
    gross_fen: Mapped[int] = mapped_column(BigInteger)
    cap_fen: Mapped[int | None] = mapped_column(BigInteger)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    reasons: Mapped[list] = mapped_column(JSON)  # reason codes (domain.subsidy.Reason)
    detail: Mapped[dict] = mapped_column(JSON)  # rate steps and adjustments
    explanation: Mapped[str] = mapped_column(Text)
    removed: Mapped[bool] = mapped_column(Boolean, default=False)
    removed_reason: Mapped[str | None] = mapped_column(String(200))


class ClaimApproval(db.Model):
    """A reviewer's signature on a version of a claim (经办审查签字). Two per version, by two
    people: the database refuses a second signature of the same person or step."""

    __tablename__ = "claim_approvals"
    __table_args__ = (UniqueConstraint("claim_id", "version", "step"),
                      UniqueConstraint("claim_id", "version", "reviewer_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    step: Mapped[int] = mapped_column(Integer)  # 1 初审, 2 复审
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    digest: Mapped[str] = mapped_column(String(64))  # what was approved
    approved_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ClaimObjection(db.Model):
    """An objection lodged during the public notice (公示异议); an open one holds the claim."""

    __tablename__ = "claim_objections"

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    state: Mapped[ObjectionState] = mapped_column(str_enum(ObjectionState, "objection_state"))
    text: Mapped[str] = mapped_column(Text)
    contact: Mapped[str | None] = mapped_column(String(100))
    lodged_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(String(200))
    removed_line_ids: Mapped[list] = mapped_column(JSON, default=list)


class Disbursement(db.Model):
    """Finance's payment of a claim (拨付): one per claim, enforced here."""

    __tablename__ = "disbursements"
    __table_args__ = (CheckConstraint("amount_fen > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), unique=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    paid_on: Mapped[date] = mapped_column(Date)
    reference: Mapped[str] = mapped_column(String(64))  # 拨付凭证号
    recorded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


_CERT_GRANT = "item = 'certificate'"


class SubsidyGrant(db.Model):
    """What has been paid, line by line, written with the disbursement. The unique indexes are
    the "never twice": a voucher's item is paid once (无券不补 and 核销 once), and a person's
    certificate subsidy once per kind and level (001, 002 第九条, 004 三)."""

    __tablename__ = "subsidy_grants"
    __table_args__ = (
        UniqueConstraint("voucher_id", "item"),
        Index("uq_subsidy_grants_certificate_level", "trainee_id", "cert_kind", "cert_level", unique=True,
              sqlite_where=text(_CERT_GRANT), postgresql_where=text(_CERT_GRANT)),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("claim_lines.id"), unique=True)
    trainee_id: Mapped[int] = mapped_column(ForeignKey("trainee_profiles.id"), index=True)
    voucher_id: Mapped[int | None] = mapped_column(ForeignKey("vouchers.id"))
    item: Mapped[str] = mapped_column(String(32))
    cert_kind: Mapped[str | None] = mapped_column(String(32))
    cert_level: Mapped[str | None] = mapped_column(String(16))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    year: Mapped[int] = mapped_column(Integer)
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Recovery(db.Model):
    """Money recovered from a paid claim found fraudulent (追回; 002 第十七条)."""

    __tablename__ = "recoveries"
    __table_args__ = (CheckConstraint("amount_fen > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(200))
    recorded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EmploymentEvidence(db.Model):
    """A trainee's employment proof for an order/project-type class (就业证明: 000 三(一); 003 四(三))."""

    __tablename__ = "employment_evidence"
    __table_args__ = (UniqueConstraint("class_id", "trainee_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("training_classes.id"), index=True)
    trainee_id: Mapped[int] = mapped_column(ForeignKey("trainee_profiles.id"))
    employer: Mapped[str] = mapped_column(String(128))
    social_credit_code: Mapped[str] = mapped_column(String(18))
    contract_start: Mapped[date | None] = mapped_column(Date)
    contract_months: Mapped[int | None] = mapped_column(Integer)
    proof_type: Mapped[str] = mapped_column(String(32))
    has_payroll: Mapped[bool] = mapped_column(Boolean, default=False)
    document_id: Mapped[int] = mapped_column(ForeignKey("class_documents.id"))
    recorded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class VideoGap(db.Model):
    """A half day of a class without usable video, recorded by the bureau (影像资料缺失;
    003 五(二): half a training day deducted for each)."""

    __tablename__ = "video_gaps"
    __table_args__ = (UniqueConstraint("class_id", "day", "half"),
                      CheckConstraint("half IN ('am', 'pm')", name="half_of_day"))

    id: Mapped[int] = mapped_column(primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("training_classes.id"), index=True)
    day: Mapped[date] = mapped_column(Date)
    half: Mapped[str] = mapped_column(String(2))
    reason: Mapped[str] = mapped_column(String(200))
    recorded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
