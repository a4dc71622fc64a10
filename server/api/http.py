"""Parsing requests and shaping responses, shared by the blueprints."""

from __future__ import annotations

from typing import TypeVar

from flask import request
from pydantic import BaseModel

from server.api import schemas as s
from server.domain.access import Principal, Role, sees_full_id_numbers
from server.domain.errors import ValidationFailed
from server.domain.identity import mask_id_number, mask_mobile
from server.models import Organisation, TraineeProfile, User

M = TypeVar("M", bound=BaseModel)


def parse_body(model: type[M]) -> M:
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        raise ValidationFailed("请求体应为 JSON 对象", code="INVALID_JSON")
    return model.model_validate(payload)


def parse_query(model: type[M]) -> M:
    return model.model_validate(request.args.to_dict())


def respond(body: BaseModel, status: int = 200):
    return body.model_dump(mode="json"), status


def organisation_out(org: Organisation) -> s.OrganisationOut:
    return s.OrganisationOut(id=org.id, name=org.name, kind=org.kind, region_code=org.region_code,
                             region_name=org.region.name, social_credit_code=org.social_credit_code)


def user_out(user: User, viewer: Principal) -> s.UserOut:
    own = viewer.user_id == user.id
    full = own or viewer.role in (Role.ADMIN, Role.BUREAU_REVIEWER, Role.BUREAU_SUPERVISOR)
    return s.UserOut(
        id=user.id, username=user.username, display_name=user.display_name, role=user.role,
        mobile=user.mobile if full else mask_mobile(user.mobile), is_active=user.is_active,
        organisation=organisation_out(user.organisation) if user.organisation else None,
        trainee_id=user.trainee.id if user.trainee else None,
    )


def trainee_out(profile: TraineeProfile, viewer: Principal) -> s.TraineeOut:
    """Full ID numbers only to bureau roles; trainees see their own masked too, as the voucher
    and certificate screens do, so a shoulder-surfer learns nothing."""
    full = sees_full_id_numbers(viewer)
    own = viewer.trainee_id == profile.id
    return s.TraineeOut(
        id=profile.id, user_id=profile.user_id, real_name=profile.real_name,
        id_number=profile.id_number if full else mask_id_number(profile.id_number),
        id_number_masked=not full, birth_date=profile.birth_date, sex=profile.sex,
        mobile=profile.user.mobile if (full or own) else mask_mobile(profile.user.mobile),
        home_region_code=profile.home_region_code, categories=list(profile.categories),
        has_photo=profile.photo_key is not None, created_at=profile.created_at,
    )


def person_out(profile: TraineeProfile, viewer: Principal) -> s.PersonOut:
    """A trainee as lists show them: the ID number masked unless the viewer's role needs it."""
    full = sees_full_id_numbers(viewer)
    return s.PersonOut(id=profile.id, real_name=profile.real_name,
                       id_number=profile.id_number if full else mask_id_number(profile.id_number))
