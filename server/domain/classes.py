"""Class opening applications (开班申请) and their approval (SPEC §3).

An opening is filed as a *version*: the whole proposal (dates, timetable, site, teachers,
documents, assessment plan, roster). The first approved version opens the class; any change
after that is a new version that must be approved again, and every version is kept.

The elements an application must have come from 000 二(二)(2), 001 三(一) and 002 第十条;
the lead time and who approves come from each region's policy (domain/policy.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, time, timedelta
from enum import StrEnum

from server.domain.errors import DomainError, InvalidIdNumber, ValidationFailed
from server.domain.geofence import Datum
from server.domain.identity import mask_id_number, parse_id_number
from server.domain.policy import Sourced


class ClassState(StrEnum):
    DRAFT = "draft"  # 草稿：首次申请尚未提交
    SUBMITTED = "submitted"  # 待审批
    REJECTED = "rejected"  # 未通过（可修改后重新提交）
    APPROVED = "approved"  # 已批准开班：可以验券
    FINISHED = "finished"  # 已结业（结业申请批准后）


class VersionState(StrEnum):
    DRAFT = "draft"  # 草稿
    SUBMITTED = "submitted"  # 待审批
    APPROVED = "approved"  # 现行版本
    REJECTED = "rejected"  # 未通过
    SUPERSEDED = "superseded"  # 已被新的批准版本取代


OPEN_VERSION_STATES = frozenset({VersionState.DRAFT, VersionState.SUBMITTED})


class SessionKind(StrEnum):
    THEORY = "theory"  # 理论
    PRACTICE = "practice"  # 实操


class DocumentKind(StrEnum):
    TEACHING_PLAN = "teaching_plan"  # 培训教学实施计划
    SYLLABUS = "syllabus"  # 教学大纲
    COURSE_SCHEDULE = "course_schedule"  # 课程安排表
    COMPLETION_REPORT = "completion_report"  # 培训结业申请报告
    COMPLETION_REVIEW_FORM = "completion_review_form"  # 培训结业申请审核表
    EMPLOYMENT_PROOF = "employment_proof"  # 就业证明材料 (a subsidy claim's; 000 三(一), 003 四(三))


# The documents of an opening application (000 二(二)(2)); a change to them is a new version.
DOCUMENT_LABELS = {
    DocumentKind.TEACHING_PLAN: "培训教学实施计划",
    DocumentKind.SYLLABUS: "教学大纲",
    DocumentKind.COURSE_SCHEDULE: "课程安排表",
}
# The documents of a completion filing (000 二(二)(3)): they do not touch the opening's versions.
COMPLETION_DOCUMENT_LABELS = {
    DocumentKind.COMPLETION_REPORT: "培训结业申请报告",
    DocumentKind.COMPLETION_REVIEW_FORM: "培训结业申请审核表",
}
# A subsidy claim's documents: uploaded once the class has run, never part of an opening version.
CLAIM_DOCUMENT_LABELS = {DocumentKind.EMPLOYMENT_PROOF: "就业证明材料"}

# The elements 000 二(二)(2) and 001 三(一) / 002 第十条 require, with the label shown to
# the institution when one is missing.
ELEMENT_LABELS = {
    "roster": "培训学员名册",
    "sessions": "课程安排（课时）",
    "site": "培训场地",
    "teachers": "授课教师",
    "assessment_plan": "考核方案",
    **{f"documents.{kind}": label for kind, label in DOCUMENT_LABELS.items()},
}

MAX_CLASS_DAYS = 366
MAX_SESSIONS = 400
MAX_ROSTER = 200
MIN_RADIUS_M, MAX_RADIUS_M = 30, 2000  # smaller than GPS error on a cheap phone; larger is no fence
# Mainland China's bounding box: a site outside it is a typo (swapped latitude and longitude).
LATITUDE_RANGE, LONGITUDE_RANGE = (18.0, 54.0), (73.0, 136.0)


@dataclass(frozen=True)
class Session:
    day: date
    starts: time
    ends: time
    kind: SessionKind


@dataclass(frozen=True)
class Site:
    address: str
    latitude: float
    longitude: float
    radius_m: int
    datum: str = "wgs84"  # as typed in: GCJ-02 from Amap/Tencent, BD-09 from Baidu (domain/geofence.py)


@dataclass(frozen=True)
class Teacher:
    name: str
    id_number: str
    certificate_no: str  # 资质证书编号


@dataclass(frozen=True)
class Proposal:
    """One version of an opening application, as the institution filed it."""

    name: str
    start_date: date
    end_date: date
    sessions: tuple[Session, ...] = ()
    site: Site | None = None
    teachers: tuple[Teacher, ...] = ()
    documents: dict[str, int] = field(default_factory=dict)  # DocumentKind value -> document id
    assessment_plan: str = ""
    roster: tuple[str, ...] = ()  # trainees' resident ID numbers


class IncompleteApplication(ValidationFailed):
    code = "INCOMPLETE_APPLICATION"
    message = "开班申请材料不全"


class LateApplication(ValidationFailed):
    code = "LATE_APPLICATION"
    message = "开班申请提交过晚"


class InvalidTimetable(ValidationFailed):
    code = "INVALID_TIMETABLE"
    message = "课程安排不正确"


class InvalidSite(ValidationFailed):
    code = "INVALID_SITE"
    message = "培训场地位置或范围不正确"


class InvalidRoster(ValidationFailed):
    code = "INVALID_ROSTER"
    message = "学员名册不正确"


class InvalidTeacher(ValidationFailed):
    code = "INVALID_TEACHER"
    message = "授课教师信息不正确"


class ClassNotOpen(DomainError):
    code = "CLASS_NOT_OPEN"
    message = "该班级未获批准开班或已结束"


def _timetable(p: Proposal) -> None:
    if p.end_date < p.start_date:
        raise InvalidTimetable("结束日期早于开始日期", details={"field": "end_date"})
    if (p.end_date - p.start_date).days + 1 > MAX_CLASS_DAYS:
        raise InvalidTimetable("培训周期不能超过一年", details={"field": "end_date"})
    if len(p.sessions) > MAX_SESSIONS:
        raise InvalidTimetable(f"课时不能超过 {MAX_SESSIONS} 节", details={"field": "sessions"})
    ordered = sorted(enumerate(p.sessions), key=lambda pair: (pair[1].day, pair[1].starts))
    previous: Session | None = None
    for index, session in ordered:
        where = {"field": "sessions", "index": index}
        if not p.start_date <= session.day <= p.end_date:
            raise InvalidTimetable("课时日期不在培训起止日期内", details=where)
        if session.ends <= session.starts:
            raise InvalidTimetable("课时结束时间应晚于开始时间", details=where)
        if previous and previous.day == session.day and session.starts < previous.ends:
            raise InvalidTimetable("课时时间重叠", details=where)
        previous = session


def _site(site: Site | None) -> None:
    if site is None:
        return
    if not site.address.strip():
        raise InvalidSite("请填写培训场地地址", details={"field": "site.address"})
    if not (LATITUDE_RANGE[0] <= site.latitude <= LATITUDE_RANGE[1]
            and LONGITUDE_RANGE[0] <= site.longitude <= LONGITUDE_RANGE[1]):
        raise InvalidSite("培训场地经纬度不在中国境内，请检查是否填反",
                          details={"field": "site.latitude"})
    if site.datum not in Datum.__members__.values():
        raise InvalidSite("坐标系应为 wgs84、gcj02 或 bd09", details={"field": "site.datum"})
    if not MIN_RADIUS_M <= site.radius_m <= MAX_RADIUS_M:
        raise InvalidSite(f"打卡范围应为 {MIN_RADIUS_M}–{MAX_RADIUS_M} 米",
                          details={"field": "site.radius_m"})


def _teachers(teachers: tuple[Teacher, ...]) -> None:
    for index, teacher in enumerate(teachers):
        where = {"field": "teachers", "index": index}
        if not 2 <= len(teacher.name.strip()) <= 32:
            raise InvalidTeacher("教师姓名应为 2 到 32 个字", details=where)
        try:
            parse_id_number(teacher.id_number)
        except InvalidIdNumber:
            raise InvalidTeacher("教师身份证号码不正确", details=where) from None
        if not teacher.certificate_no.strip():
            raise InvalidTeacher("请填写教师资质证书编号", details=where)


def normalised_roster(roster: tuple[str, ...]) -> tuple[str, ...]:
    """The roster's ID numbers in canonical form; an invalid or repeated one is refused with
    its position (and the number masked: the message may be logged)."""
    if len(roster) > MAX_ROSTER:
        raise InvalidRoster(f"一个班最多 {MAX_ROSTER} 名学员", code="ROSTER_TOO_LARGE")
    seen: dict[str, int] = {}
    out = []
    for index, raw in enumerate(roster):
        try:
            number = parse_id_number(raw).number
        except InvalidIdNumber:
            raise InvalidRoster("学员名册中有身份证号码不正确", code="INVALID_ROSTER_ID_NUMBER",
                                details={"index": index, "id_number": mask_id_number(str(raw)[:18])}
                                ) from None
        if number in seen:
            raise InvalidRoster("学员名册中有重复的人员", code="DUPLICATE_ROSTER_ENTRY",
                                details={"index": index, "first_index": seen[number]})
        seen[number] = index
        out.append(number)
    return tuple(out)


def check_proposal(p: Proposal) -> Proposal:
    """Refuses a proposal that is wrong (not merely unfinished: a draft may lack elements);
    returns it with the roster normalised."""
    if not 2 <= len(p.name.strip()) <= 64:
        raise ValidationFailed("班级名称应为 2 到 64 个字", details={"field": "name"})
    _timetable(p)
    _site(p.site)
    _teachers(p.teachers)
    unknown = set(p.documents) - set(DOCUMENT_LABELS)
    if unknown:
        raise ValidationFailed("未知的材料类型", details={"unknown_documents": sorted(unknown)})
    return replace(p, roster=normalised_roster(p.roster))


def missing_elements(p: Proposal) -> list[str]:
    """The elements the application still lacks, in the order ELEMENT_LABELS lists them."""
    present = {
        "roster": bool(p.roster),
        "sessions": bool(p.sessions),
        "site": p.site is not None,
        "teachers": bool(p.teachers),
        "assessment_plan": bool(p.assessment_plan.strip()),
        **{f"documents.{kind}": kind in p.documents for kind in DOCUMENT_LABELS},
    }
    return [element for element in ELEMENT_LABELS if not present[element]]


def require_complete(p: Proposal) -> None:
    missing = missing_elements(p)
    if missing:
        labels = "、".join(ELEMENT_LABELS[m] for m in missing)
        raise IncompleteApplication(f"开班申请材料不全：缺少{labels}", details={"missing": missing})


def require_lead_time(start_date: date, today: date, lead: Sourced) -> None:
    """The application must reach the bureau `lead` days before the class starts."""
    days = int(lead.value)
    earliest = today + timedelta(days=days)
    if start_date < earliest:
        raise LateApplication(
            f"开班申请须在开班前 {days} 天提交，最早可于 {earliest.isoformat()} 开班",
            details={"lead_days": days, "earliest_start": earliest.isoformat(), "source": lead.source},
        )


def can_scan(state: ClassState, end_date: date, today: date) -> bool:
    """Vouchers may be verified for an approved class that has not finished (001 三(一))."""
    return state is ClassState.APPROVED and today <= end_date
