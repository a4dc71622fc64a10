"""Real-name trainee records and staff accounts."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from server.adapters import images, passwords
from server.domain import accounts
from server.domain.access import Principal, Role, require_role, role_fits_organisation
from server.domain.eligibility import parse_categories
from server.domain.errors import (
    DuplicateIdNumber,
    DuplicateMobile,
    DuplicateUsername,
    InvalidImage,
    NotFound,
    PayloadTooLarge,
    ValidationFailed,
)
from server.domain.identity import mask_id_number, normalise_mobile, parse_id_number
from server.domain.regions import prefix_of
from server.extensions import db
from server.models import Organisation, TraineeProfile, User
from server.services import audit, auth
from server.services.scope import organisation_clause, region_in_scope, trainee_clause

TRAINEE_REGISTRARS = (Role.BUREAU_REVIEWER, Role.ADMIN)


@dataclass(frozen=True)
class TraineeInput:
    real_name: str
    id_number: str
    mobile: str
    home_region_code: str
    categories: list[str]
    password: str | None = None


OUT_OF_REGION = "只能登记本辖区的参训人员"


def _summary(profile: TraineeProfile) -> dict:
    """What the audit log keeps of a trainee: never the full ID number."""
    return {
        "real_name": profile.real_name,
        "id_number": mask_id_number(profile.id_number),
        "home_region_code": profile.home_region_code,
        "categories": list(profile.categories),
    }


def register_trainee(principal: Principal, data: TraineeInput) -> TraineeProfile:
    """Bureau staff record a trainee's real-name identity (实名登记) in their region."""
    require_role(principal, *TRAINEE_REGISTRARS)
    resident = parse_id_number(data.id_number)
    mobile = normalise_mobile(data.mobile)
    categories = parse_categories(data.categories)
    real_name = (data.real_name or "").strip()
    if not 2 <= len(real_name) <= 32:
        raise ValidationFailed("姓名应为 2 到 32 个字", details={"field": "real_name"})
    region_in_scope(principal, data.home_region_code, OUT_OF_REGION)
    if data.password is not None:
        accounts.check_password_strength(data.password)

    user = User(mobile=mobile, display_name=real_name, role=Role.TRAINEE,
                password_hash=passwords.hash_password(data.password) if data.password else None)
    profile = TraineeProfile(user=user, real_name=real_name, id_number=resident.number,
                             birth_date=resident.birth_date, sex=resident.sex,
                             home_region_code=data.home_region_code,
                             categories=[str(c) for c in categories])
    db.session.add_all([user, profile])
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        _raise_duplicate(resident.number, mobile)
        raise
    audit.record(principal, "trainee.registered", "trainee", profile.id,
                 region_code=profile.home_region_code, after=_summary(profile))
    db.session.commit()
    return profile


def _raise_duplicate(id_number: str, mobile: str) -> None:
    """After a unique-constraint failure, say which value was taken."""
    if db.session.scalar(select(TraineeProfile.id).where(TraineeProfile.id_number == id_number)):
        raise DuplicateIdNumber()
    if db.session.scalar(select(User.id).where(User.mobile == mobile)):
        raise DuplicateMobile()


def visible_trainee(principal: Principal, trainee_id: int) -> TraineeProfile:
    """The trainee, if the principal may see them; otherwise NotFound (no hint it exists)."""
    profile = db.session.scalar(
        select(TraineeProfile).where(TraineeProfile.id == trainee_id,
                                     trainee_clause(principal, TraineeProfile))
    )
    if profile is None:
        raise NotFound()
    return profile


def list_trainees(principal: Principal, *, region_code: str | None = None,
                  query: str | None = None, limit: int = 50, offset: int = 0
                  ) -> tuple[list[TraineeProfile], int]:
    stmt = select(TraineeProfile).where(trainee_clause(principal, TraineeProfile))
    if region_code:
        stmt = stmt.where(TraineeProfile.home_region_code.like(prefix_of(region_code) + "%"))
    if query:
        stmt = stmt.where(TraineeProfile.real_name.contains(query, autoescape=True))
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = db.session.scalars(stmt.order_by(TraineeProfile.id).limit(limit).offset(offset)).all()
    return list(rows), total


def update_trainee(principal: Principal, trainee_id: int, *, mobile: str | None = None,
                   categories: list[str] | None = None,
                   home_region_code: str | None = None) -> TraineeProfile:
    require_role(principal, *TRAINEE_REGISTRARS)
    profile = visible_trainee(principal, trainee_id)
    before = _summary(profile) | {"mobile": profile.user.mobile}
    if categories is not None:
        profile.categories = [str(c) for c in parse_categories(categories)]
    if home_region_code is not None:
        region_in_scope(principal, home_region_code, OUT_OF_REGION)
        profile.home_region_code = home_region_code
    if mobile is not None:
        profile.user.mobile = normalise_mobile(mobile)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise DuplicateMobile() from None
    audit.record(principal, "trainee.updated", "trainee", profile.id, before=before,
                 region_code=profile.home_region_code,
                 after=_summary(profile) | {"mobile": profile.user.mobile})
    db.session.commit()
    return profile


MAX_PHOTO_BYTES = 5 * 1024 * 1024


def set_enrolment_photo(principal: Principal, trainee_id: int, raw: bytes) -> TraineeProfile:
    """Store a trainee's enrolment photo (登记照), normalised and stripped of metadata.
    Bureau staff take it at registration; a trainee may upload their own."""
    profile = visible_trainee(principal, trainee_id)
    if principal.role is not Role.TRAINEE:
        require_role(principal, *TRAINEE_REGISTRARS)
    if len(raw) > MAX_PHOTO_BYTES:
        raise PayloadTooLarge(details={"max_bytes": MAX_PHOTO_BYTES})
    try:
        photo = images.normalise(raw, longest_side=1024)
    except images.ImageRejected as exc:
        raise InvalidImage(details={"reason": exc.reason}) from None
    key = f"enrolment-photos/{profile.id}/{secrets.token_hex(16)}.jpg"
    current_app.extensions["store"].put(key, photo.data, "image/jpeg")
    old_key, profile.photo_key = profile.photo_key, key
    audit.record(principal, "trainee.photo_set", "trainee", profile.id,
                 region_code=profile.home_region_code,
                 after={"width": photo.width, "height": photo.height})
    db.session.commit()
    if old_key:
        current_app.extensions["store"].delete(old_key)
    return profile


def enrolment_photo(principal: Principal, trainee_id: int) -> bytes:
    """The photo, for the trainee themself and bureau staff of their region only."""
    profile = visible_trainee(principal, trainee_id)
    if principal.role is not Role.TRAINEE:
        require_role(principal, Role.BUREAU_REVIEWER, Role.BUREAU_SUPERVISOR, Role.ADMIN)
    if profile.photo_key is None:
        raise NotFound("尚未上传登记照", code="PHOTO_NOT_FOUND")
    return current_app.extensions["store"].get(profile.photo_key)


@dataclass(frozen=True)
class StaffInput:
    username: str
    display_name: str
    role: Role
    organisation_id: int
    password: str
    mobile: str | None = None


def create_staff_user(principal: Principal, data: StaffInput) -> User:
    """An admin creates a staff account for an organisation in their region."""
    require_role(principal, Role.ADMIN)
    org = db.session.scalar(select(Organisation).where(
        Organisation.id == data.organisation_id, organisation_clause(principal, Organisation)))
    if org is None:
        raise NotFound("机构不存在", details={"organisation_id": data.organisation_id})
    if data.role is Role.TRAINEE or not role_fits_organisation(data.role, org.kind):
        raise ValidationFailed("该角色不能属于此类机构",
                               details={"role": str(data.role), "organisation_kind": str(org.kind)})
    accounts.check_password_strength(data.password)
    username = (data.username or "").strip()
    if not 3 <= len(username) <= 64:
        raise ValidationFailed("用户名应为 3 到 64 个字符", details={"field": "username"})
    user = User(username=username, display_name=data.display_name.strip() or username,
                role=data.role, organisation_id=org.id,
                mobile=normalise_mobile(data.mobile) if data.mobile else None,
                password_hash=passwords.hash_password(data.password))
    db.session.add(user)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        if db.session.scalar(select(User.id).where(User.username == username)):
            raise DuplicateUsername() from None
        raise DuplicateMobile() from None
    audit.record(principal, "user.created", "user", user.id,
                 after={"username": username, "role": str(data.role), "organisation_id": org.id})
    db.session.commit()
    return user


def list_staff_users(principal: Principal) -> list[User]:
    require_role(principal, Role.ADMIN)
    return list(db.session.scalars(
        select(User).join(Organisation).where(organisation_clause(principal, Organisation))
        .order_by(User.id)).all())


def set_user_active(principal: Principal, user_id: int, active: bool) -> User:
    """Disable or re-enable a staff account (and unlock it)."""
    require_role(principal, Role.ADMIN)
    user = db.session.scalar(select(User).join(Organisation).where(
        User.id == user_id, organisation_clause(principal, Organisation)))
    if user is None:
        raise NotFound()
    before = {"is_active": user.is_active}
    user.is_active = active
    user.failed_logins = 0
    user.locked_until = None
    if not active:
        auth.end_all_sessions(user.id)
    audit.record(principal, "user.activated" if active else "user.disabled", "user", user.id,
                 before=before, after={"is_active": active})
    db.session.commit()
    return user
