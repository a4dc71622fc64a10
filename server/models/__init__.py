"""SQLAlchemy models, one module per aggregate. Importing this registers them all."""

from server.models.audit import AuditEvent
from server.models.auth import OneTimeCode, RefreshToken
from server.models.occupations import Occupation
from server.models.organisations import Organisation
from server.models.regions import Region
from server.models.users import TraineeProfile, User

__all__ = [
    "AuditEvent",
    "Occupation",
    "OneTimeCode",
    "Organisation",
    "RefreshToken",
    "Region",
    "TraineeProfile",
    "User",
]
