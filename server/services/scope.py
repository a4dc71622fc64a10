"""SQL forms of the scope rules in domain/access.py, so lists are filtered in the database."""

from __future__ import annotations

from sqlalchemy import ColumnElement, false

from server.domain.access import Principal, Role, can_see_region
from server.domain.errors import Forbidden, ValidationFailed
from server.domain.regions import prefix_of
from server.extensions import db
from server.models import Region


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





def region_in_scope(principal: Principal, region_code: str, refusal: str) -> Region:
    """The region, if it exists and lies in the principal's region; otherwise a refusal
    (ValidationFailed for an unknown code, Forbidden with `refusal` for one out of scope)."""
    region = db.session.get(Region, region_code)
    if region is None:
        raise ValidationFailed("行政区划不存在", details={"region_code": region_code})
    if not can_see_region(principal, region_code):
        raise Forbidden(refusal, details={"region_code": region_code})
    return region
