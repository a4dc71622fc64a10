"""Who may do what, and over which records (SPEC §1).

Roles are coarse permissions; *scope* narrows them to records: a bureau user sees its own
region and the regions below it, an institution only its own, a trainee only themself.
These functions take plain facts so the rules are tested without a database.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from server.domain.errors import Forbidden
from server.domain.regions import is_within


class Role(StrEnum):
    TRAINEE = "trainee"  # 参训人员
    INSTITUTION_OPERATOR = "institution_operator"  # 培训机构经办
    EVALUATOR = "evaluator"  # 评价机构
    BUREAU_REVIEWER = "bureau_reviewer"  # 人社局经办
    BUREAU_SUPERVISOR = "bureau_supervisor"  # 人社局监管
    FINANCE = "finance"  # 财政局
    ADMIN = "admin"  # 系统管理员


class OrgKind(StrEnum):
    TRAINING_INSTITUTION = "training_institution"  # 培训机构
    EVALUATION_INSTITUTION = "evaluation_institution"  # 评价机构
    BUREAU = "bureau"  # 人社局
    FINANCE_BUREAU = "finance_bureau"  # 财政局
    ENTERPRISE = "enterprise"  # 企业


# Which organisation kind a staff role must belong to. Admin belongs to a bureau.
ROLE_ORG_KINDS: dict[Role, frozenset[OrgKind]] = {
    Role.INSTITUTION_OPERATOR: frozenset({OrgKind.TRAINING_INSTITUTION, OrgKind.ENTERPRISE}),
    Role.EVALUATOR: frozenset({OrgKind.EVALUATION_INSTITUTION}),
    Role.BUREAU_REVIEWER: frozenset({OrgKind.BUREAU}),
    Role.BUREAU_SUPERVISOR: frozenset({OrgKind.BUREAU}),
    Role.FINANCE: frozenset({OrgKind.FINANCE_BUREAU}),
    Role.ADMIN: frozenset({OrgKind.BUREAU}),
}

REGION_WIDE_ROLES = frozenset(
    {Role.BUREAU_REVIEWER, Role.BUREAU_SUPERVISOR, Role.FINANCE, Role.ADMIN}
)

# Roles that handle full resident ID numbers: bureau staff verify identity (000 二(三) 制券).
# Everyone else sees them masked.
SEES_FULL_ID_NUMBERS = frozenset({Role.BUREAU_REVIEWER, Role.BUREAU_SUPERVISOR, Role.ADMIN})


@dataclass(frozen=True)
class Principal:
    """The signed-in actor, as the rules need it."""

    user_id: int
    role: Role
    organisation_id: int | None = None
    region_code: str | None = None  # the organisation's region; None for trainees
    trainee_id: int | None = None

    @property
    def is_region_wide(self) -> bool:
        return self.role in REGION_WIDE_ROLES


def role_fits_organisation(role: Role, org_kind: OrgKind | None) -> bool:
    if role is Role.TRAINEE:
        return org_kind is None
    return org_kind in ROLE_ORG_KINDS[role]


def require_role(principal: Principal, *roles: Role) -> None:
    if principal.role not in roles:
        raise Forbidden(details={"required_roles": sorted(roles)})


def can_see_region(principal: Principal, region_code: str) -> bool:
    return bool(
        principal.is_region_wide
        and principal.region_code
        and is_within(region_code, principal.region_code)
    )


def can_see_organisation(principal: Principal, org_id: int, org_region_code: str) -> bool:
    if principal.organisation_id == org_id:
        return True
    return can_see_region(principal, org_region_code)


def can_see_trainee(
    principal: Principal,
    trainee_id: int,
    home_region_code: str,
    institution_ids: frozenset[int] = frozenset(),
) -> bool:
    """A trainee sees themself; bureau staff their region; an institution the trainees
    enrolled with it (`institution_ids`, from class rosters)."""
    if principal.role is Role.TRAINEE:
        return principal.trainee_id == trainee_id
    if principal.role is Role.INSTITUTION_OPERATOR:
        return principal.organisation_id in institution_ids
    return can_see_region(principal, home_region_code)


def sees_full_id_numbers(principal: Principal) -> bool:
    return principal.role in SEES_FULL_ID_NUMBERS
