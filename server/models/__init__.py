"""SQLAlchemy models, one module per aggregate. Importing this registers them all."""

from server.models.audit import AuditEvent
from server.models.auth import OneTimeCode, RefreshToken
from server.models.certificates import Certificate
from server.models.checkins import Checkin, FaceConsent, VoucherSignin
from server.models.claims import (
    Claim,
    ClaimApproval,
    ClaimLine,
    ClaimObjection,
    Disbursement,
    EmploymentEvidence,
    Recovery,
    SubsidyGrant,
    VideoGap,
)
from server.models.classes import (
    ClassDocument,
    ClassSession,
    ClassSite,
    ClassVersion,
    RosterEntry,
    TrainingClass,
)
from server.models.completions import AssessmentResult, CompletionEntry, CompletionFiling
from server.models.occupations import Occupation
from server.models.organisations import Organisation
from server.models.regions import Region
from server.models.targets import Target
from server.models.users import TraineeProfile, User
from server.models.vouchers import Voucher, VoucherScan

__all__ = [
    "AssessmentResult",
    "AuditEvent",
    "Certificate",
    "Checkin",
    "Claim",
    "ClaimApproval",
    "ClaimLine",
    "ClaimObjection",
    "ClassDocument",
    "ClassSession",
    "ClassSite",
    "ClassVersion",
    "CompletionEntry",
    "CompletionFiling",
    "Disbursement",
    "EmploymentEvidence",
    "FaceConsent",
    "Occupation",
    "OneTimeCode",
    "Organisation",
    "Recovery",
    "RefreshToken",
    "Region",
    "RosterEntry",
    "SubsidyGrant",
    "Target",
    "TraineeProfile",
    "TrainingClass",
    "User",
    "VideoGap",
    "Voucher",
    "VoucherScan",
    "VoucherSignin",
]
