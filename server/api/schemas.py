"""Request and response bodies: parsed and emitted by the handlers, and the OpenAPI schemas."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from server.domain.access import OrgKind, Role


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ErrorDetail(BaseModel):
    code: str = Field(description="稳定的错误代码，如 INVALID_CREDENTIALS")
    message: str = Field(description="给用户看的中文说明")
    details: dict = Field(default_factory=dict)


class ErrorBody(BaseModel):
    error: ErrorDetail


class Health(BaseModel):
    status: str
    database: str
    version: str


class Jwk(BaseModel):
    kty: str
    crv: str
    x: str
    kid: str
    use: str
    alg: str


class Jwks(BaseModel):
    keys: list[Jwk]


# --- auth ---------------------------------------------------------------------------------


class LoginRequest(Strict):
    """Staff: username + password. Trainees: mobile + password, or mobile + sms_code."""

    username: str | None = Field(default=None, max_length=64)
    mobile: str | None = Field(default=None, max_length=20)
    password: str | None = Field(default=None, max_length=256)
    sms_code: str | None = Field(default=None, max_length=12)


class SmsCodeRequest(Strict):
    mobile: str = Field(max_length=20)


class RefreshRequest(Strict):
    refresh_token: str = Field(max_length=2048)


class ChangePasswordRequest(Strict):
    old_password: str = Field(max_length=256)
    new_password: str = Field(max_length=256)


class OrganisationOut(BaseModel):
    id: int
    name: str
    kind: OrgKind
    region_code: str
    region_name: str
    social_credit_code: str | None


class UserOut(BaseModel):
    id: int
    username: str | None
    display_name: str
    role: Role
    mobile: str | None = Field(description="对无权查看的角色打码")
    is_active: bool
    organisation: OrganisationOut | None
    trainee_id: int | None


class TokenResponse(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "Bearer"
    expires_in: int
    user: UserOut


class Accepted(BaseModel):
    status: str
    message: str


# --- regions, organisations, occupations ------------------------------------------------------


class RegionOut(BaseModel):
    code: str
    name: str
    level: str
    parent_code: str | None


class RegionList(BaseModel):
    items: list[RegionOut]


class RegionQuery(Strict):
    parent: str | None = Field(default=None, description="只列出该代码的下级区划")


class OrganisationList(BaseModel):
    items: list[OrganisationOut]


class OrganisationQuery(Strict):
    kind: OrgKind | None = None


class OrganisationCreate(Strict):
    name: str = Field(max_length=128)
    kind: OrgKind
    region_code: str = Field(max_length=9)
    social_credit_code: str | None = Field(default=None, max_length=18)


class OccupationOut(BaseModel):
    code: str
    name: str
    levels: list[str]


class OccupationList(BaseModel):
    items: list[OccupationOut]


class OccupationQuery(Strict):
    q: str | None = Field(default=None, max_length=32, description="名称或代码前缀")


# --- trainees and staff --------------------------------------------------------------------


class TraineeCreate(Strict):
    real_name: str = Field(max_length=32)
    id_number: str = Field(max_length=18)
    mobile: str = Field(max_length=20)
    home_region_code: str = Field(max_length=9)
    categories: list[str] = Field(default_factory=list, max_length=12)
    password: str | None = Field(default=None, max_length=256)


class TraineeUpdate(Strict):
    mobile: str | None = Field(default=None, max_length=20)
    home_region_code: str | None = Field(default=None, max_length=9)
    categories: list[str] | None = Field(default=None, max_length=12)


class TraineeOut(BaseModel):
    id: int
    user_id: int
    real_name: str
    id_number: str = Field(description="居民身份证号码；除人社局经办、监管和管理员外均打码")
    id_number_masked: bool
    birth_date: date
    sex: str
    mobile: str | None
    home_region_code: str
    categories: list[str]
    has_photo: bool
    created_at: datetime


class TraineeList(BaseModel):
    items: list[TraineeOut]
    total: int


class TraineeQuery(Strict):
    region: str | None = Field(default=None, max_length=9)
    q: str | None = Field(default=None, max_length=32, description="姓名包含")
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0)


class StaffCreate(Strict):
    username: str = Field(max_length=64)
    display_name: str = Field(max_length=64)
    role: Role
    organisation_id: int
    password: str = Field(max_length=256)
    mobile: str | None = Field(default=None, max_length=20)


class StaffUpdate(Strict):
    is_active: bool


class UserList(BaseModel):
    items: list[UserOut]


# --- audit ---------------------------------------------------------------------------------


class AuditEventOut(BaseModel):
    seq: int
    occurred_at: datetime
    actor_user_id: int | None
    actor_role: str | None
    action: str
    object_type: str
    object_id: str
    region_code: str | None
    before: dict | None
    after: dict | None
    hash: str


class AuditList(BaseModel):
    items: list[AuditEventOut]


class AuditQuery(Strict):
    after_seq: int = Field(default=0, ge=0)
    limit: int = Field(default=100, ge=1, le=1000)
    object_type: str | None = Field(default=None, max_length=32)
    object_id: str | None = Field(default=None, max_length=64)


class AuditVerifyOut(BaseModel):
    ok: bool
    events_checked: int
    head_hash: str
    problem: dict | None
