"""SQL forms of the scope rules in domain/access.py, so lists are filtered in the database."""

from __future__ import annotations

from sqlalchemy import ColumnElement, false, or_, select

from server.domain.access import Principal, Role, can_see_region
from server.domain.completion import OPEN_STATES
from server.domain.errors import Forbidden, ValidationFailed
from server.domain.regions import prefix_of
from server.extensions import db
from server.models import (
    Certificate,
    CompletionEntry,
    CompletionFiling,
    Region,
    RosterEntry,
    TrainingClass,
    Voucher,
)


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


def _own_class_ids(principal: Principal):
    return select(TrainingClass.id).where(TrainingClass.institution_id == principal.organisation_id)


def _evaluated_class_ids(principal: Principal):
    """The classes whose open completion filing names the evaluator's institution."""
    return select(CompletionFiling.class_id).where(CompletionFiling.evaluator_id == principal.organisation_id,
                                                   CompletionFiling.state.in_(OPEN_STATES))


def trainee_clause(principal: Principal, profile_model) -> ColumnElement[bool]:
    """Trainees a principal may see. An institution sees the trainees on its class rosters, an
    evaluator those on the completion rosters of the batches it evaluates."""
    if principal.role is Role.TRAINEE:
        return profile_model.id == principal.trainee_id if principal.trainee_id else false()
    if principal.is_region_wide:
        return region_clause(principal, profile_model.home_region_code)
    if principal.role is Role.INSTITUTION_OPERATOR and principal.organisation_id is not None:
        return profile_model.id.in_(select(RosterEntry.trainee_id)
                                    .where(RosterEntry.class_id.in_(_own_class_ids(principal))))
    if principal.role is Role.EVALUATOR and principal.organisation_id is not None:
        return profile_model.id.in_(
            select(CompletionEntry.trainee_id)
            .join(CompletionFiling, CompletionFiling.id == CompletionEntry.filing_id)
            .where(CompletionFiling.class_id.in_(_evaluated_class_ids(principal))))
    return false()


def class_clause(principal: Principal) -> ColumnElement[bool]:
    """Classes: bureau staff those held in their region, an institution its own, an evaluator
    those it evaluates."""
    if principal.is_region_wide:
        return region_clause(principal, TrainingClass.region_code)
    if principal.role is Role.INSTITUTION_OPERATOR and principal.organisation_id is not None:
        return TrainingClass.institution_id == principal.organisation_id
    if principal.role is Role.EVALUATOR and principal.organisation_id is not None:
        return TrainingClass.id.in_(_evaluated_class_ids(principal))
    return false()


def certificate_clause(principal: Principal) -> ColumnElement[bool]:
    """Certificates: a trainee their own, bureau staff those of classes in their region, an
    institution those of its classes, an evaluator those it issued or whose batch it evaluates."""
    if principal.role is Role.TRAINEE:
        return Certificate.trainee_id == principal.trainee_id if principal.trainee_id else false()
    if principal.is_region_wide:
        return region_clause(principal, Certificate.region_code)
    if principal.role is Role.INSTITUTION_OPERATOR and principal.organisation_id is not None:
        return Certificate.class_id.in_(_own_class_ids(principal))
    if principal.role is Role.EVALUATOR and principal.organisation_id is not None:
        return or_(Certificate.issuer_id == principal.organisation_id,
                   Certificate.class_id.in_(_evaluated_class_ids(principal)))
    return false()


def voucher_clause(principal: Principal) -> ColumnElement[bool]:
    """Vouchers: a trainee their own, bureau staff those issued in their region, an
    institution those on its rosters or bound to its classes."""
    if principal.role is Role.TRAINEE:
        return Voucher.trainee_id == principal.trainee_id if principal.trainee_id else false()
    if principal.is_region_wide:
        return region_clause(principal, Voucher.region_code)
    if principal.role is Role.INSTITUTION_OPERATOR and principal.organisation_id is not None:
        own = _own_class_ids(principal)
        return or_(Voucher.bound_class_id.in_(own),
                   Voucher.id.in_(select(RosterEntry.voucher_id).where(RosterEntry.class_id.in_(own))))
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
