"""SQL forms of the scope rules in domain/access.py, so lists are filtered in the database."""

from __future__ import annotations

from sqlalchemy import ColumnElement, false

from server.domain.access import Principal, Role
from server.domain.regions import prefix_of


def region_clause(principal: Principal, region_column) -> ColumnElement[bool]:
    """Rows whose region is the principal's region or below it (bureau-wide roles only)."""
    if not principal.is_region_wide or not principal.region_code:
        return false()
    return region_column.like(prefix_of(principal.region_code) + "%")


def organisation_clause(principal: Principal, org_model) -> ColumnElement[bool]:
    if principal.is_region_wide:
        return region_clause(principal, org_model.region_code)
    if principal.organisation_id is not None:
        return org_model.id == principal.organisation_id
    return false()


def trainee_clause(principal: Principal, profile_model) -> ColumnElement[bool]:
    """Trainees a principal may see. Institutions and evaluators see the trainees on their
    class rosters; rosters arrive with class openings, so until then they see none."""
    if principal.role is Role.TRAINEE:
        return profile_model.id == principal.trainee_id if principal.trainee_id else false()
    if principal.is_region_wide:
        return region_clause(principal, profile_model.home_region_code)
    return false()



