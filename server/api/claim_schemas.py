"""Request and response bodies of subsidy claims, their review, notice and payment."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from server.api.schemas import PersonOut, Strict


class StepOut(BaseModel):
    half_days: int
    days: float = Field(description="天数（半天计 0.5）")
    daily_rate_fen: int
    amount_fen: int


class AdjustmentOut(BaseModel):
    reason: str
    amount_fen: int
    note: str


class LineOut(BaseModel):
    id: int | None = Field(default=None, description="申领明细编号（预览时为空）")
    trainee: PersonOut | None = None
    trainee_id: int
    voucher_id: int | None = None
    certificate_id: int | None = None
    item: str
    half_days: int
    steps: list[StepOut]
    gross_fen: int
    cap_fen: int | None
    adjustments: list[AdjustmentOut]
    amount_fen: int
    reasons: list[str]
    reason_labels: list[str]
    explanation: str
    removed: bool = False
    removed_reason: str | None = None


class ComputationOut(BaseModel):
    """The engine's breakdown: what the institution sees before it files."""

    region_code: str
    policy_effective_from: date
    programme: str
    basis: dict
    lines: list[LineOut]
    total_fen: int
    explanation: list[str]


class ApprovalOut(BaseModel):
    step: int
    reviewer_id: int
    reviewer_name: str
    digest: str
    approved_at: datetime


class ObjectionOut(BaseModel):
    id: int
    claim_id: int
    state: str
    state_label: str
    text: str
    contact: str | None
    lodged_at: datetime
    decided_at: datetime | None
    reason: str | None
    removed_line_ids: list[int]


class DisbursementOut(BaseModel):
    amount_fen: int
    paid_on: date
    reference: str
    recorded_at: datetime


class RecoveryOut(BaseModel):
    id: int
    amount_fen: int
    reason: str
    recorded_at: datetime


class NoticeOut(BaseModel):
    published_on: date
    first_day: date
    last_day: date
    working_days: int
    ended: bool
    remaining_working_days: int


class ClaimOut(BaseModel):
    id: int
    number: str
    kind: str
    kind_label: str
    state: str
    state_label: str
    organisation_id: int
    organisation_name: str
    region_code: str
    class_id: int | None
    training_year: int
    version: int
    digest: str
    total_fen: int
    total_yuan: str
    policy_region_code: str
    policy_effective_from: date
    filed_at: datetime
    returned_reason: str | None
    notice: NoticeOut | None
    paid_at: datetime | None
    allowed_actions: list[str]


class ClaimDetail(ClaimOut):
    basis: dict
    explanation: list[str]
    lines: list[LineOut]
    approvals: list[ApprovalOut]
    objections: list[ObjectionOut]
    disbursement: DisbursementOut | None
    recoveries: list[RecoveryOut]
    recovered_fen: int


class ClaimList(BaseModel):
    items: list[ClaimOut]
    total: int


class ClaimQuery(Strict):
    state: str | None = Field(default=None, max_length=32)
    kind: str | None = Field(default=None, max_length=32)
    class_id: int | None = None
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0)


class StageQuery(Strict):
    stage: int = Field(default=1, ge=1, le=2, description="创业培训的期次：1 首期（80%），2 二期（20%）")


class CertificateClaimIn(Strict):
    certificate_ids: list[int] = Field(max_length=1000, description="本单位颁发的证书")


class ReasonIn(Strict):
    reason: str | None = Field(default=None, max_length=1000)


class DisbursementIn(Strict):
    amount_fen: int = Field(description="拨付金额（分），须等于申领核定总额")
    paid_on: date
    reference: str | None = Field(default=None, max_length=200, description="拨付凭证号")


class RecoveryIn(Strict):
    amount_fen: int
    reason: str | None = Field(default=None, max_length=1000)


class ObjectionDecisionIn(Strict):
    outcome: str = Field(max_length=16, description="upheld 异议成立 / dismissed 异议不成立")
    reason: str | None = Field(default=None, max_length=1000)
    removed_line_ids: list[int] = Field(default_factory=list, max_length=1000)


class EmploymentIn(Strict):
    employer: str = Field(max_length=128)
    social_credit_code: str = Field(max_length=32, description="用人单位统一社会信用代码")
    contract_start: date | None = None
    contract_months: int | None = Field(default=None, ge=0, le=600)
    proof_type: str = Field(max_length=32, description="contract / wage / social_insurance / payroll / "
                                                        "business_licence")
    has_payroll: bool = False
    document_id: int


class EmploymentOut(BaseModel):
    trainee_id: int
    employer: str
    social_credit_code: str
    contract_start: date | None
    contract_months: int | None
    proof_type: str
    has_payroll: bool
    document_id: int
    recorded_at: datetime


class EmploymentList(BaseModel):
    items: list[EmploymentOut]


class VideoGapIn(Strict):
    day: date
    half: str = Field(max_length=2, description="am 上午 / pm 下午")
    reason: str | None = Field(default=None, max_length=1000)


class VideoGapOut(BaseModel):
    id: int
    day: date
    half: str
    reason: str
    recorded_at: datetime


class VideoGapList(BaseModel):
    items: list[VideoGapOut]


class SuspensionIn(Strict):
    reason: str | None = Field(default=None, max_length=1000)


class SuspensionOut(BaseModel):
    organisation_id: int
    suspended_from: date | None
    suspended_reason: str | None


# --- the public notice (公示): no sign-in ----------------------------------------------------


class NoticeEntryOut(BaseModel):
    organisation_name: str
    person_name: str = Field(description="姓名（打码）")
    id_number: str = Field(description="身份证号（打码）")
    standard: str
    amount_fen: int
    amount_yuan: str
    training_content: str


class PublicNotice(BaseModel):
    number: str
    kind_label: str
    organisation_name: str
    region_code: str
    training_content: str
    state: str
    state_label: str
    notice: NoticeOut
    total_fen: int
    total_yuan: str
    entries: list[NoticeEntryOut]


class PublicNoticeList(BaseModel):
    items: list[PublicNotice]
    total: int


class NoticeQuery(Strict):
    region: str | None = Field(default=None, max_length=12)
    limit: int = Field(default=20, ge=1, le=100)
    offset: int = Field(default=0, ge=0)


class ObjectionIn(Strict):
    text: str | None = Field(default=None, max_length=2000)
    contact: str | None = Field(default=None, max_length=200)


class ObjectionReceipt(BaseModel):
    id: int
    lodged_at: datetime
    message: str
