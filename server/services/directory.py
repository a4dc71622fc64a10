"""Reference data: regions, organisations, the occupation catalogue."""

from __future__ import annotations

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from server.domain.access import OrgKind, Principal, Role, require_role
from server.domain.errors import Conflict, NotFound, ValidationFailed
from server.extensions import db
from server.models import Occupation, Organisation, Region
from server.services import audit
from server.services.scope import organisation_clause, region_in_scope


def database_answers() -> bool:
    try:
        db.session.execute(text("SELECT 1"))
        return True
    except Exception:  # any driver error means "not healthy", never a crash
        db.session.rollback()
        return False


def list_regions(parent_code: str | None = None) -> list[Region]:
    stmt = select(Region).order_by(Region.code)
    if parent_code:
        stmt = stmt.where(Region.parent_code == parent_code)
    return list(db.session.scalars(stmt).all())


def get_region(code: str) -> Region:
    region = db.session.get(Region, code)
    if region is None:
        raise NotFound("行政区划不存在")
    return region


def list_occupations(query: str | None = None) -> list[Occupation]:
    stmt = select(Occupation).order_by(Occupation.code)
    if query:
        stmt = stmt.where(Occupation.name.contains(query) | Occupation.code.startswith(query))
    return list(db.session.scalars(stmt).all())


def list_organisations(principal: Principal, kind: OrgKind | None = None) -> list[Organisation]:
    stmt = select(Organisation).where(organisation_clause(principal, Organisation))
    if kind:
        stmt = stmt.where(Organisation.kind == kind)
    return list(db.session.scalars(stmt.order_by(Organisation.id)).all())


def visible_organisation(principal: Principal, org_id: int) -> Organisation:
    org = db.session.scalar(select(Organisation).where(
        Organisation.id == org_id, organisation_clause(principal, Organisation)))
    if org is None:
        raise NotFound()
    return org


def create_organisation(principal: Principal, *, name: str, kind: OrgKind, region_code: str,
                        social_credit_code: str | None = None) -> Organisation:
    require_role(principal, Role.ADMIN)
    region_in_scope(principal, region_code, "只能在本辖区内登记机构")
    name = (name or "").strip()
    if not 2 <= len(name) <= 128:
        raise ValidationFailed("机构名称应为 2 到 128 个字", details={"field": "name"})
    if social_credit_code is not None and len(social_credit_code) != 18:
        raise ValidationFailed("统一社会信用代码应为 18 位", details={"field": "social_credit_code"})
    org = Organisation(name=name, kind=kind, region_code=region_code,
                       social_credit_code=social_credit_code)
    db.session.add(org)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("该统一社会信用代码已登记为同类机构", code="DUPLICATE_SOCIAL_CREDIT_CODE") from None
    audit.record(principal, "organisation.created", "organisation", org.id,
                 after={"name": name, "kind": str(kind), "region_code": region_code})
    db.session.commit()
    return org
