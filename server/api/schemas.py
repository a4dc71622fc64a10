"""Request and response bodies: parsed and emitted by the handlers, and the OpenAPI schemas."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated, Literal

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


# --- vouchers -----------------------------------------------------------------------------


class VoucherApply(Strict):
    """A trainee applies for themself; bureau staff name the trainee (兜底服务: issued at once)."""

    occupation_code: str = Field(max_length=16)
    level: str = Field(max_length=16)
    programme: str = Field(max_length=16, description="puhui|order|project|enterprise|startup|apprentice")
    region_code: str | None = Field(default=None, max_length=9, description="默认为户籍所在县")
    trainee_id: int | None = None


class Review(Strict):
    approve: bool
    reason: str | None = Field(default=None, max_length=200, description="不通过时必填")


class Revoke(Strict):
    reason: str = Field(max_length=200)


class PersonOut(BaseModel):
    id: int
    real_name: str
    id_number: str = Field(description="除人社局经办、监管和管理员外均打码")


class VoucherOut(BaseModel):
    id: int
    serial: str
    state: str
    state_label: str
    trainee: PersonOut
    occupation_code: str
    occupation_name: str
    level: str
    programme: str
    programme_label: str
    region_code: str
    year: int
    expires_on: date | None
    reason: str | None
    applied_at: datetime
    decided_at: datetime | None
    bound_class_id: int | None
    bound_at: datetime | None
    allowed_actions: list[str]


class VoucherList(BaseModel):
    items: list[VoucherOut]
    total: int


class VoucherQuery(Strict):
    serial: str | None = Field(default=None, max_length=24, description="券号包含")
    state: str | None = Field(default=None, max_length=16)
    occupation_code: str | None = Field(default=None, max_length=16)
    programme: str | None = Field(default=None, max_length=16)
    region: str | None = Field(default=None, max_length=9)
    institution_id: int | None = Field(default=None, description="已绑定到该机构的班级")
    trainee_id: int | None = None
    q: str | None = Field(default=None, max_length=32, description="学员姓名包含")
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0)


class VoucherToken(BaseModel):
    token: str = Field(description="EdDSA 签名的电子券令牌（二维码内容）")
    kid: str
    expires_at: datetime


# --- classes ------------------------------------------------------------------------------


class SessionIn(Strict):
    day: date
    starts: time
    ends: time
    kind: Literal["theory", "practice"] = Field(description="theory 理论 / practice 实操")


class SiteIn(Strict):
    address: str = Field(max_length=200)
    latitude: float = Field(description="WGS-84")
    longitude: float
    radius_m: int = Field(description="打卡范围（米）")
    datum: Literal["wgs84", "gcj02", "bd09"] = Field(
        default="wgs84", description="坐标系：wgs84（GPS）、gcj02（高德、腾讯地图）、bd09（百度地图）")


class TeacherIn(Strict):
    name: str = Field(max_length=32)
    id_number: str = Field(max_length=18)
    certificate_no: str = Field(max_length=64, description="资质证书编号")


class ProposalIn(Strict):
    """The fields of an opening application; on a draft, those given replace those in it."""

    name: str | None = Field(default=None, max_length=64)
    start_date: date | None = None
    end_date: date | None = None
    sessions: list[SessionIn] | None = Field(default=None, max_length=400)
    site: SiteIn | None = None
    teachers: list[TeacherIn] | None = Field(default=None, max_length=50)
    documents: dict[str, int] | None = Field(default=None, description="材料类型 → 已上传材料 id")
    assessment_plan: str | None = Field(default=None, max_length=4000, description="考核方案")
    roster: list[Annotated[str, Field(max_length=32)]] | None = Field(
        default=None, max_length=200, description="学员身份证号码")


class ClassCreate(ProposalIn):
    occupation_code: str = Field(max_length=16)
    level: str = Field(max_length=16)
    programme: str = Field(max_length=16)
    region_code: str = Field(max_length=9, description="培训所在县（区）")
    name: str = Field(max_length=64)
    start_date: date
    end_date: date


class InstitutionRef(BaseModel):
    id: int
    name: str


class ClassOut(BaseModel):
    id: int
    name: str
    state: str
    state_label: str
    institution: InstitutionRef
    region_code: str
    occupation_code: str
    occupation_name: str
    level: str
    programme: str
    programme_label: str
    start_date: date
    end_date: date
    approved_version: int | None
    roster_size: int
    scanned: int


class ClassList(BaseModel):
    items: list[ClassOut]
    total: int


class ClassQuery(Strict):
    state: str | None = Field(default=None, max_length=16)
    occupation_code: str | None = Field(default=None, max_length=16)
    programme: str | None = Field(default=None, max_length=16)
    region: str | None = Field(default=None, max_length=9)
    institution_id: int | None = None
    q: str | None = Field(default=None, max_length=32, description="班级名称包含")
    pending_review: bool = Field(default=False, description="只看待审批的申请")
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0)


class VersionOut(BaseModel):
    number: int
    state: str
    proposal: dict = Field(description="申请内容；身份证号码按权限打码")
    missing: list[str] = Field(description="尚缺的申请要素")
    created_at: datetime
    submitted_at: datetime | None
    decided_at: datetime | None
    reason: str | None


class DocumentOut(BaseModel):
    id: int
    kind: str
    filename: str
    media_type: str
    size: int
    sha256: str
    uploaded_at: datetime


class RosterOut(BaseModel):
    trainee: PersonOut
    voucher_id: int
    serial: str
    voucher_state: str
    scanned: bool = Field(description="已在本班验券")
    bound_at: datetime | None


class ClassDetail(ClassOut):
    current: VersionOut | None = Field(description="现行（已批准）版本")
    pending: VersionOut | None = Field(description="草稿或待审批的版本")
    roster: list[RosterOut]
    documents: list[DocumentOut]


class VersionList(BaseModel):
    items: list[VersionOut]


class ScanRequest(Strict):
    token: str = Field(max_length=8192, description="扫码所得的电子券令牌")
    request_id: str | None = Field(default=None, max_length=64, description="重试时保持不变")
    device_id: str | None = Field(default=None, max_length=64)


class ScanOut(BaseModel):
    outcome: str
    voucher: VoucherOut


class ScanLogOut(BaseModel):
    id: int
    operator_id: int
    device_id: str | None
    voucher_id: int | None
    outcome: str
    status: int
    created_at: datetime


class ScanLog(BaseModel):
    items: list[ScanLogOut]


# --- check-ins and supervision --------------------------------------------------------------


class ConsentIn(Strict):
    give: bool = Field(description="true 同意，false 撤回")


class ConsentOut(BaseModel):
    given: bool
    text_version: str
    given_at: datetime | None


class DayQuery(Strict):
    day: date | None = Field(default=None, description="日期 YYYY-MM-DD（默认今天，北京时间）")


class SessionOut(BaseModel):
    id: int
    class_id: int
    class_name: str
    day: date
    starts: time
    ends: time
    kind: str


class FenceOut(BaseModel):
    """The site's geofence in WGS-84, the datum phones report (converted at approval)."""

    address: str
    latitude: float
    longitude: float
    radius_m: int


class MySessionOut(SessionOut):
    site: FenceOut


class SessionList(BaseModel):
    items: list[SessionOut]


class MySessionList(BaseModel):
    items: list[MySessionOut]


class CheckinOut(BaseModel):
    id: int
    session_id: int
    class_id: int
    trainee_id: int
    kind: str = Field(description="check_in 签到 / sign_out 签退")
    received_at: datetime = Field(description="服务器收到的时间（以此为准）")
    counted_at: datetime = Field(description="计入的时间：收到时间；离线补传为拍摄时间")
    captured_at: datetime
    offline: bool
    device_id: str
    latitude: float
    longitude: float
    accuracy_m: float
    distance_m: float
    placement: str = Field(description="inside / outside / uncertain")
    flags: list[str]
    flag_labels: list[str]
    review: str = Field(description="none / accepted / rejected")
    review_reason: str | None
    has_selfie: bool


class VoucherSigninIn(Strict):
    token: str = Field(max_length=8192)
    device_id: str | None = Field(default=None, max_length=64)


class VoucherSigninOut(BaseModel):
    id: int
    session_id: int
    trainee_id: int
    voucher_id: int
    received_at: datetime


class CheckinReview(Strict):
    decision: Literal["accepted", "rejected"]
    reason: str = Field(max_length=200)


class SelfieQuery(Strict):
    size: Literal["full", "thumbnail"] = "full"


class LinkOut(BaseModel):
    url: str
    expires_at: datetime


class BoardRow(BaseModel):
    session: SessionOut
    institution: str
    region_code: str
    expected: int = Field(description="应到（已验券人数）")
    checked_in: int
    flagged: int


class BoardOut(BaseModel):
    items: list[BoardRow]


class PageQuery(Strict):
    limit: int = Field(default=100, ge=1, le=500)
    offset: int = Field(default=0, ge=0)


class MatrixCell(BaseModel):
    session_id: int
    status: str = Field(description="present / flagged / rejected / incomplete / absent / upcoming")
    label: str
    flags: list[str]


class MatrixRow(BaseModel):
    trainee: PersonOut
    voucher_id: int
    cells: list[MatrixCell]


class MatrixOut(BaseModel):
    class_id: int
    class_name: str
    total_trainees: int
    sessions: list[SessionOut]
    rows: list[MatrixRow]


class SessionCheckinQuery(PageQuery):
    flag: str | None = Field(default=None, max_length=32, description="只看带此疑点的记录")
    flagged_only: bool = False


class CheckinRow(BaseModel):
    checkin: CheckinOut
    trainee: PersonOut


class SessionCheckins(BaseModel):
    session: SessionOut
    total: int
    items: list[CheckinRow]


class TimelineItem(BaseModel):
    checkin: CheckinOut
    session: SessionOut


class Timeline(BaseModel):
    trainee: PersonOut
    total: int
    items: list[TimelineItem]


# --- completion, assessment, certificates -------------------------------------------------


class CompletionExclusion(Strict):
    trainee_id: int
    reason: str = Field(max_length=200, description="未列入结业花名册的原因")


class CompletionFile(Strict):
    evaluator_id: int | None = Field(default=None, description="评价机构（不得与培训机构为同一法人）")
    assessment_plan: str = Field(default="", max_length=5000, description="结业考核方案")
    documents: dict[str, int] = Field(
        default_factory=dict,
        description="completion_report 培训结业申请报告 / completion_review_form 培训结业申请审核表"
                    " → 已上传材料编号")
    exclusions: list[CompletionExclusion] = Field(default_factory=list, max_length=200)


class CompletionEntryOut(BaseModel):
    trainee: PersonOut
    voucher_id: int
    on_roster: bool
    exclusion_reason: str | None
    attended_days: int = Field(description="每节课均有效的天数（存疑未核实的不计）")
    planned_days: int
    present_sessions: int
    total_sessions: int
    pending_sessions: int = Field(description="存疑待核的课时数")


class CompletionOut(BaseModel):
    class_id: int
    number: int
    state: str
    state_label: str
    evaluator: InstitutionRef
    assessment_plan: str
    documents: dict[str, int]
    filed_at: datetime
    decided_at: datetime | None
    reason: str | None
    roster_size: int
    entries: list[CompletionEntryOut]


class ResultIn(Strict):
    trainee_id: int
    theory_score: float = Field(description="理论成绩，0–100，最多一位小数")
    practice_score: float = Field(description="实操成绩，0–100，最多一位小数")
    level: str | None = Field(default=None, max_length=16, description="评价等级，默认为班级等级")


class ResultsIn(Strict):
    results: list[ResultIn] = Field(min_length=1, max_length=200)


class ResultOut(BaseModel):
    trainee: PersonOut
    theory_score: float
    practice_score: float
    passed: bool
    level: str
    recorded_at: datetime


class ResultList(BaseModel):
    items: list[ResultOut]


class IssueRequest(Strict):
    kind: str = Field(max_length=32, description=(
        "skill_level 职业技能等级证书 / vocational_qualification 职业资格证书 / "
        "special_ability 专项职业能力证书 / special_operation 特种作业操作证 / "
        "special_equipment 特种设备作业人员证 / training_qualification 培训合格证书"))
    trainee_ids: list[int] | None = Field(default=None, max_length=200,
                                          description="不填则为全部合格且未发证的学员")


class CertificateOut(BaseModel):
    id: int
    number: str
    kind: str
    kind_label: str
    state: str
    state_label: str
    holder: PersonOut
    class_id: int
    class_name: str
    occupation_code: str
    occupation_name: str
    level: str
    issuer: InstitutionRef
    issued_on: date
    revoked_reason: str | None
    revoked_at: datetime | None
    verify_url: str


class CertificateList(BaseModel):
    items: list[CertificateOut]
    total: int


class CertificateQuery(Strict):
    class_id: int | None = None
    kind: str | None = Field(default=None, max_length=32)
    state: str | None = Field(default=None, max_length=16)
    number: str | None = Field(default=None, max_length=32)
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0)


class PublicCertificate(BaseModel):
    """What anyone may see of a certificate: the holder's name masked, no ID number."""

    number: str
    valid: bool
    state: str
    state_label: str
    kind: str
    kind_label: str
    holder: str = Field(description="持证人姓名（打码）")
    occupation: str
    level: str
    issuer: str
    issued_on: date
    revoked_reason: str | None
    revoked_at: datetime | None


class TokenCheck(Strict):
    token: str = Field(max_length=4096, description="证书二维码链接 # 之后的令牌")


class TargetOut(BaseModel):
    name: str
    target_percent: int
    source: str
    certified: int
    rate_percent: float | None
    met: bool | None


class ClassRateOut(BaseModel):
    class_id: int
    class_name: str
    institution: InstitutionRef
    region_code: str
    programme: str
    occupation_name: str
    roster: int
    certified: int
    rate_percent: float | None
    targets: list[TargetOut]


class ClassRateList(BaseModel):
    items: list[ClassRateOut]
    total: int


class RateQuery(Strict):
    region: str | None = Field(default=None, max_length=9)
    limit: int = Field(default=100, ge=1, le=500)
    offset: int = Field(default=0, ge=0)
