"""Class opening applications (开班申请), their documents and versions, approval, rosters
(SPEC §3). The rules live in domain/classes.py and domain/policy.py."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import date, time

from flask import current_app
from sqlalchemy import func, select, update

from server.adapters import documents
from server.domain import classes as rules
from server.domain.access import Principal, Role, require_role
from server.domain.claims import require_not_suspended
from server.domain.classes import ClassState, DocumentKind, Proposal, VersionState
from server.domain.errors import Conflict, Forbidden, NotFound, PayloadTooLarge, ValidationFailed
from server.domain.geofence import Datum, to_wgs84
from server.domain.identity import mask_id_number
from server.domain.policy import approver_can_decide
from server.domain.regions import is_within, prefix_of
from server.domain.vouchers import ReasonRequired, VoucherState
from server.extensions import db
from server.models import (
    Checkin,
    ClassDocument,
    ClassSession,
    ClassSite,
    ClassVersion,
    Organisation,
    RosterEntry,
    TraineeProfile,
    TrainingClass,
    Voucher,
    VoucherSignin,
)
from server.services import audit, clock, policies
from server.services.scope import class_clause
from server.services.vouchers import REVIEWERS, _programme, occupation_and_level, training_region

DOCUMENT_MAX_BYTES = 10 * 1024 * 1024


class VersionConflict(Conflict):
    code = "CLASS_VERSION_CONFLICT"


# --- proposals as JSON --------------------------------------------------------------------


def proposal_to_json(p: Proposal) -> dict:
    out = asdict(p)
    out["start_date"], out["end_date"] = p.start_date.isoformat(), p.end_date.isoformat()
    out["sessions"] = [{"day": s.day.isoformat(), "starts": s.starts.strftime("%H:%M"),
                        "ends": s.ends.strftime("%H:%M"), "kind": str(s.kind)} for s in p.sessions]
    out["roster"] = list(p.roster)
    out["teachers"] = [asdict(t) for t in p.teachers]
    return out


def proposal_from_json(doc: dict) -> Proposal:
    """The domain proposal from its stored (or submitted) JSON form; a malformed value is a
    VALIDATION_FAILED naming the field."""
    field = "proposal"
    try:
        field = "start_date"
        start, end = date.fromisoformat(doc["start_date"]), date.fromisoformat(doc["end_date"])
        field = "sessions"
        sessions = tuple(rules.Session(day=date.fromisoformat(s["day"]),
                                       starts=time.fromisoformat(s["starts"]),
                                       ends=time.fromisoformat(s["ends"]), kind=rules.SessionKind(s["kind"]))
                         for s in doc.get("sessions") or ())
        field = "site"
        site = doc.get("site")
        if site:
            site = rules.Site(address=str(site["address"]), latitude=float(site["latitude"]),
                              longitude=float(site["longitude"]), radius_m=int(site["radius_m"]),
                              datum=str(site.get("datum") or "wgs84"))
        field = "teachers"
        teachers = tuple(rules.Teacher(name=str(t["name"]), id_number=str(t["id_number"]),
                                       certificate_no=str(t["certificate_no"]))
                         for t in doc.get("teachers") or ())
        field = "documents"
        docs = {str(k): int(v) for k, v in (doc.get("documents") or {}).items()}
        field = "roster"
        roster = tuple(str(n) for n in doc.get("roster") or ())
        return Proposal(name=str(doc.get("name") or ""), start_date=start, end_date=end, sessions=sessions,
                        site=site, teachers=teachers, documents=docs,
                        assessment_plan=str(doc.get("assessment_plan") or ""), roster=roster)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise ValidationFailed("开班申请内容格式不正确", details={"field": field}) from None


# --- finding classes and versions ---------------------------------------------------------


def visible_class(principal: Principal, class_id: int) -> TrainingClass:
    klass = db.session.scalar(select(TrainingClass).where(TrainingClass.id == class_id,
                                                          class_clause(principal)))
    if klass is None:
        raise NotFound("班级不存在", code="CLASS_NOT_FOUND")
    return klass


def own_class(principal: Principal, class_id: int) -> TrainingClass:
    require_role(principal, Role.INSTITUTION_OPERATOR)
    return visible_class(principal, class_id)


def versions(klass: TrainingClass) -> list[ClassVersion]:
    return list(db.session.scalars(select(ClassVersion).where(ClassVersion.class_id == klass.id)
                                   .order_by(ClassVersion.number)))


def open_version(klass: TrainingClass) -> ClassVersion | None:
    return db.session.scalar(select(ClassVersion).where(
        ClassVersion.class_id == klass.id, ClassVersion.state.in_(rules.OPEN_VERSION_STATES)))


def latest_version(klass: TrainingClass) -> ClassVersion:
    return db.session.scalar(select(ClassVersion).where(ClassVersion.class_id == klass.id)
                             .order_by(ClassVersion.number.desc()).limit(1))


def current_version(klass: TrainingClass) -> ClassVersion | None:
    """The approved version in force, if any."""
    if klass.approved_version is None:
        return None
    return db.session.scalar(select(ClassVersion).where(ClassVersion.class_id == klass.id,
                                                        ClassVersion.number == klass.approved_version))


# --- filing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClassHeader:
    """What a class is for; fixed for its life (vouchers are matched against it)."""

    occupation_code: str
    level: str
    programme: str
    region_code: str


def _checked(doc: dict, klass: TrainingClass | None) -> dict:
    proposal = rules.check_proposal(proposal_from_json(doc))
    if klass is not None:
        known = {d.id: d.kind for d in db.session.scalars(
            select(ClassDocument).where(ClassDocument.class_id == klass.id))}
        wrong = {k: v for k, v in proposal.documents.items() if known.get(v) != k}
        if wrong:
            raise ValidationFailed("材料不属于本班或类型不符", code="UNKNOWN_DOCUMENT",
                                   details={"documents": wrong})
    elif proposal.documents:
        raise ValidationFailed("请先创建班级再上传材料", code="UNKNOWN_DOCUMENT")
    return proposal_to_json(proposal)


def create(principal: Principal, header: ClassHeader, fields: dict) -> TrainingClass:
    """An institution starts an opening application (version 1, a draft)."""
    require_role(principal, Role.INSTITUTION_OPERATOR)
    programme = _programme(header.programme)
    occupation_and_level(header.occupation_code, header.level)
    training_region(header.region_code)
    institution = db.session.get(Organisation, principal.organisation_id)
    if institution.suspended_from is not None:  # 002 第十七条: no new classes while suspended
        require_not_suspended(clock.today(), [(institution.suspended_from, None)])
    # An institution runs classes in its own city (a county school may not open in another city).
    if not is_within(header.region_code, institution.region_code[:4] + "00"):
        raise Forbidden("只能在本机构所在市内开班", code="CLASS_REGION_OUT_OF_AREA",
                        details={"region_code": header.region_code})
    proposal = _checked(fields, None)
    klass = TrainingClass(institution_id=institution.id, region_code=header.region_code,
                          occupation_code=header.occupation_code, level=header.level, programme=programme,
                          state=ClassState.DRAFT, name=proposal["name"],
                          start_date=date.fromisoformat(proposal["start_date"]),
                          end_date=date.fromisoformat(proposal["end_date"]), created_by=principal.user_id)
    db.session.add(klass)
    db.session.flush()
    db.session.add(ClassVersion(class_id=klass.id, number=1, state=VersionState.DRAFT, proposal=proposal,
                                created_by=principal.user_id))
    audit.record(principal, "class.created", "class", klass.id, region_code=klass.region_code,
                 after={"name": klass.name, **asdict(header)})
    db.session.commit()
    return klass


def _editable_version(principal: Principal, klass: TrainingClass) -> ClassVersion:
    """The draft to edit: the open one, or a new amendment copied from the latest version."""
    if klass.state is ClassState.FINISHED:
        raise VersionConflict("班级已结业，不能修改", code="CLASS_FINISHED")
    version = open_version(klass)
    if version is not None and version.state is VersionState.SUBMITTED:
        raise VersionConflict("申请正在审批中，不能修改", code="VERSION_UNDER_REVIEW")
    if version is None:
        latest = latest_version(klass)
        version = ClassVersion(class_id=klass.id, number=latest.number + 1, state=VersionState.DRAFT,
                               proposal=dict(latest.proposal), created_by=principal.user_id)
        db.session.add(version)
        if klass.state is ClassState.REJECTED:
            klass.state = ClassState.DRAFT
    return version


def update_draft(principal: Principal, class_id: int, fields: dict) -> ClassVersion:
    """Change the open draft (fields given replace those in it); on an approved or rejected
    class this starts a new version that must be approved again (变更须重新审批)."""
    klass = own_class(principal, class_id)
    version = _editable_version(principal, klass)
    version.proposal = _checked({**version.proposal, **fields}, klass)
    if klass.approved_version is None:
        klass.name = version.proposal["name"]
        klass.start_date = date.fromisoformat(version.proposal["start_date"])
        klass.end_date = date.fromisoformat(version.proposal["end_date"])
    db.session.flush()
    audit.record(principal, "class.draft_saved", "class", klass.id, region_code=klass.region_code,
                 after={"version": version.number, "fields": sorted(fields)})
    db.session.commit()
    return version


DOCUMENT_REFUSALS = {
    "empty": "上传的文件是空的",
    "unsupported_extension": "只接受 PDF、DOCX、XLSX 文件",
    "content_mismatch": "文件内容与扩展名不符",
    "corrupt": "文件已损坏，无法读取",
    "unsafe_archive": "文件结构异常，已拒绝",
}


def upload_document(principal: Principal, class_id: int, kind: str, filename: str, data: bytes
                    ) -> ClassDocument:
    klass = own_class(principal, class_id)
    try:
        kind = DocumentKind(kind)
    except ValueError:
        raise ValidationFailed("材料类型不正确", code="INVALID_DOCUMENT_KIND",
                               details={"allowed": [str(k) for k in DocumentKind]}) from None
    # An opening document changes the application (a new version); a completion or claim one does not.
    completion = kind in rules.COMPLETION_DOCUMENT_LABELS
    claim = kind in rules.CLAIM_DOCUMENT_LABELS
    if completion and klass.state is not ClassState.APPROVED:
        raise VersionConflict("班级开班获批后、结业前方可上传结业材料", code="CLASS_NOT_OPEN")
    if claim and klass.state not in (ClassState.APPROVED, ClassState.FINISHED):
        raise VersionConflict("班级开班获批后方可上传就业证明材料", code="CLASS_NOT_OPEN")
    version = None if completion or claim else _editable_version(principal, klass)
    try:
        doc = documents.inspect(data, filename or "", max_bytes=DOCUMENT_MAX_BYTES)
    except documents.DocumentRejected as exc:
        if exc.reason == "too_large":
            raise PayloadTooLarge("文件不能超过 10 MB", code="DOCUMENT_TOO_LARGE",
                                  details={"max_bytes": DOCUMENT_MAX_BYTES}) from None
        raise ValidationFailed(DOCUMENT_REFUSALS.get(exc.reason, "文件不符合要求"),
                               code=f"DOCUMENT_{exc.reason.upper()}") from None
    key = f"class-documents/{klass.id}/{secrets.token_hex(16)}.{doc.extension}"
    current_app.extensions["store"].put(key, data, doc.media_type)
    row = ClassDocument(class_id=klass.id, kind=kind, filename=doc.filename, media_type=doc.media_type,
                        size=doc.size, sha256=doc.sha256, storage_key=key, uploaded_by=principal.user_id)
    db.session.add(row)
    db.session.flush()
    if version is not None:
        version.proposal = {**version.proposal,
                            "documents": {**version.proposal.get("documents", {}), str(kind): row.id}}
    audit.record(principal, "class.document_uploaded", "class", klass.id, region_code=klass.region_code,
                 after={"version": version.number if version else None, "kind": str(kind),
                        "sha256": doc.sha256, "size": doc.size})
    db.session.commit()
    return row


def documents_of(klass: TrainingClass) -> list[ClassDocument]:
    return list(db.session.scalars(select(ClassDocument).where(ClassDocument.class_id == klass.id)
                                   .order_by(ClassDocument.id)))


def document(principal: Principal, class_id: int, document_id: int) -> tuple[ClassDocument, bytes]:
    klass = visible_class(principal, class_id)
    row = db.session.scalar(select(ClassDocument).where(ClassDocument.id == document_id,
                                                        ClassDocument.class_id == klass.id))
    if row is None:
        raise NotFound("材料不存在", code="DOCUMENT_NOT_FOUND")
    return row, current_app.extensions["store"].get(row.storage_key)


# --- rosters ------------------------------------------------------------------------------


def resolve_roster(klass: TrainingClass, id_numbers: tuple[str, ...]) -> list[tuple[TraineeProfile, Voucher]]:
    """Each trainee on the roster with the voucher that admits them to this class: issued
    (or already bound here), same occupation, level and programme, issued for the class's
    area. Refuses the roster naming each entry without one; an unregistered person and one
    without a matching voucher read the same, so the roster is no oracle of who is registered."""
    profiles = {p.id_number: p for p in db.session.scalars(
        select(TraineeProfile).where(TraineeProfile.id_number.in_(id_numbers)))}
    candidates: dict[int, Voucher] = {}
    if profiles:
        for voucher in db.session.scalars(select(Voucher).where(
                Voucher.trainee_id.in_([p.id for p in profiles.values()]),
                Voucher.occupation_code == klass.occupation_code, Voucher.level == klass.level,
                Voucher.programme == klass.programme,
                (Voucher.state == VoucherState.ISSUED)
                | ((Voucher.state == VoucherState.BOUND) & (Voucher.bound_class_id == klass.id)))):
            if is_within(klass.region_code, voucher.region_code):
                candidates[voucher.trainee_id] = voucher
    resolved, problems = [], []
    for index, number in enumerate(id_numbers):
        profile = profiles.get(number)
        voucher = candidates.get(profile.id) if profile else None
        if voucher is None:
            problems.append({"index": index, "id_number": mask_id_number(number)})
        else:
            resolved.append((profile, voucher))
    if problems:
        raise ValidationFailed(f"学员名册中有 {len(problems)} 人没有与本班匹配的已发放电子券",
                               code="ROSTER_WITHOUT_VOUCHER", details={"entries": problems})
    return resolved


def roster(klass: TrainingClass) -> list[tuple[RosterEntry, TraineeProfile, Voucher]]:
    return list(db.session.execute(
        select(RosterEntry, TraineeProfile, Voucher)
        .join(TraineeProfile, TraineeProfile.id == RosterEntry.trainee_id)
        .join(Voucher, Voucher.id == RosterEntry.voucher_id)
        .where(RosterEntry.class_id == klass.id).order_by(RosterEntry.id)).tuples())


def on_roster(class_id: int, voucher_id: int) -> bool:
    return db.session.scalar(select(RosterEntry.id).where(RosterEntry.class_id == class_id,
                                                          RosterEntry.voucher_id == voucher_id)) is not None


# --- submission and approval --------------------------------------------------------------


def submit(principal: Principal, class_id: int) -> ClassVersion:
    """File the open draft: complete, on time (the region's lead time), every trainee holding
    a matching voucher."""
    klass = own_class(principal, class_id)
    version = open_version(klass)
    if version is None or version.state is not VersionState.DRAFT:
        raise VersionConflict("没有待提交的申请", code="NO_DRAFT")
    proposal = proposal_from_json(version.proposal)
    rules.require_complete(proposal)
    if klass.approved_version is None or proposal.start_date != klass.start_date:
        lead = policies.for_region(klass.region_code).class_opening.lead_days_for(klass.programme)
        rules.require_lead_time(proposal.start_date, clock.today(), lead)
    resolve_roster(klass, proposal.roster)
    moved = db.session.execute(
        update(ClassVersion).where(ClassVersion.id == version.id, ClassVersion.state == VersionState.DRAFT)
        .values(state=VersionState.SUBMITTED, submitted_at=clock.now())
        .execution_options(synchronize_session=False)).rowcount
    if moved != 1:
        raise VersionConflict("申请已被提交", code="NO_DRAFT")
    if klass.state in (ClassState.DRAFT, ClassState.REJECTED):
        klass.state = ClassState.SUBMITTED
    audit.record(principal, "class.submitted", "class", klass.id, region_code=klass.region_code,
                 after={"version": version.number, "roster_size": len(proposal.roster)})
    db.session.commit()
    db.session.refresh(version)
    return version


def decide(principal: Principal, class_id: int, approve: bool, reason: str | None = None) -> ClassVersion:
    """The bureau approves or rejects the submitted version. Order/project-type openings in
    some regions need a city bureau (002 第六条); others the county's."""
    require_role(principal, *REVIEWERS)
    klass = visible_class(principal, class_id)
    version = open_version(klass)
    if version is None or version.state is not VersionState.SUBMITTED:
        raise VersionConflict("没有待审批的开班申请", code="NOTHING_TO_REVIEW")
    check_decision(principal, klass, approve, reason, "该类培训的开班由市级人社部门批准")
    proposal = proposal_from_json(version.proposal)
    resolved = resolve_roster(klass, proposal.roster) if approve else []
    decided = VersionState.APPROVED if approve else VersionState.REJECTED
    if not record_decision(ClassVersion, version.id, VersionState.SUBMITTED, decided, principal, reason):
        raise VersionConflict("该申请已被他人审批", code="NOTHING_TO_REVIEW")
    if approve:
        _put_in_force(klass, version, proposal, resolved)
    elif klass.state is ClassState.SUBMITTED:
        klass.state = ClassState.REJECTED
    audit.record(principal, "class.approved" if approve else "class.rejected", "class", klass.id,
                 region_code=klass.region_code,
                 after={"version": version.number, **({} if approve else {"reason": reason.strip()})})
    db.session.commit()
    db.session.refresh(version)
    return version


def check_decision(principal: Principal, klass: TrainingClass, approve: bool, reason: str | None,
                   city_refusal: str) -> None:
    """A bureau decides a filing of a class in its area, a county bureau only when the policy
    leaves the programme to the county (002 第六条); a rejection says why."""
    level = policies.for_region(klass.region_code).class_opening.approval_level(klass.programme)
    if not approver_can_decide(principal.region_code, klass.region_code, level):
        raise Forbidden(city_refusal, code="CITY_APPROVAL_REQUIRED")
    if not approve and not (reason and reason.strip()):
        raise ReasonRequired(details={"action": "reject"})


def record_decision(model, row_id: int, submitted, decided, principal: Principal, reason: str | None) -> bool:
    """Move one submitted filing to `decided`, with who, when and why, as a conditional UPDATE:
    of two reviewers deciding at once, one wins and the other is told."""
    return db.session.execute(
        update(model).where(model.id == row_id, model.state == submitted)
        .values(state=decided, decided_by=principal.user_id, decided_at=clock.now(),
                reason=(reason or "").strip() or None)
        .execution_options(synchronize_session=False)).rowcount == 1


def _put_in_force(klass: TrainingClass, version: ClassVersion, p: Proposal,
                  resolved: list[tuple[TraineeProfile, Voucher]]) -> None:
    """Make an approved version the class's: supersede the old one, copy its timetable, site
    and roster into their tables (what scans and check-ins read)."""
    if klass.approved_version is not None:
        db.session.execute(update(ClassVersion).where(
            ClassVersion.class_id == klass.id, ClassVersion.number == klass.approved_version)
            .values(state=VersionState.SUPERSEDED).execution_options(synchronize_session=False))
    klass.name, klass.start_date, klass.end_date = p.name, p.start_date, p.end_date
    klass.approved_version, klass.approved_at = version.number, clock.now()
    if klass.state is not ClassState.FINISHED:
        klass.state = ClassState.APPROVED
    _sync_sessions(klass, p)
    site = db.session.get(ClassSite, klass.id) or ClassSite(class_id=klass.id)
    site.address, site.latitude, site.longitude, site.radius_m, site.datum = (
        p.site.address, p.site.latitude, p.site.longitude, p.site.radius_m, p.site.datum)
    # The fence is measured against phones' WGS-84 fixes: convert a site typed from a Chinese map.
    site.fence_latitude, site.fence_longitude = to_wgs84(p.site.latitude, p.site.longitude,
                                                         Datum(p.site.datum))
    db.session.add(site)
    keep = {voucher.id for _, voucher in resolved}
    existing = {e.voucher_id: e for e in db.session.scalars(
        select(RosterEntry).where(RosterEntry.class_id == klass.id))}
    for voucher_id, entry in existing.items():
        bound_here = db.session.get(Voucher, voucher_id).bound_class_id == klass.id
        if voucher_id not in keep and not bound_here:  # a trainee already scanned in stays
            db.session.delete(entry)
    db.session.flush()
    db.session.add_all(RosterEntry(class_id=klass.id, voucher_id=voucher.id, trainee_id=profile.id)
                       for profile, voucher in resolved if voucher.id not in existing)


def _sync_sessions(klass: TrainingClass, p: Proposal) -> None:
    """Match the timetable to the approved version, session by (day, start): a kept session
    keeps its id (check-ins point at it); one that already has check-ins cannot be dropped."""
    existing = {(row.day, row.starts): row for row in db.session.scalars(
        select(ClassSession).where(ClassSession.class_id == klass.id))}
    wanted = {(s.day, s.starts): s for s in p.sessions}
    for key, row in existing.items():
        if key in wanted:
            row.ends, row.kind = wanted[key].ends, wanted[key].kind
            continue
        used = db.session.scalar(select(Checkin.id).where(Checkin.session_id == row.id).limit(1)) or \
            db.session.scalar(select(VoucherSignin.id).where(VoucherSignin.session_id == row.id).limit(1))
        if used:
            raise Conflict("已有打卡记录的课时不能删除或改期", code="SESSION_HAS_CHECKINS",
                           details={"day": row.day.isoformat(), "starts": row.starts.strftime("%H:%M")})
        db.session.delete(row)
    db.session.add_all(ClassSession(class_id=klass.id, day=s.day, starts=s.starts, ends=s.ends, kind=s.kind)
                       for key, s in wanted.items() if key not in existing)


# --- lists --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClassFilter:
    state: str | None = None
    occupation_code: str | None = None
    programme: str | None = None
    region_code: str | None = None
    institution_id: int | None = None
    q: str | None = None  # class name
    pending_review: bool = False  # bureau: a version awaits a decision


def _filtered(principal: Principal, f: ClassFilter):
    stmt = select(TrainingClass).where(class_clause(principal))
    if f.state:
        try:
            stmt = stmt.where(TrainingClass.state == ClassState(f.state))
        except ValueError:
            raise ValidationFailed("班级状态不正确", code="INVALID_STATE",
                                   details={"allowed": [str(s) for s in ClassState]}) from None
    if f.occupation_code:
        stmt = stmt.where(TrainingClass.occupation_code == f.occupation_code)
    if f.programme:
        stmt = stmt.where(TrainingClass.programme == _programme(f.programme))
    if f.region_code:
        stmt = stmt.where(TrainingClass.region_code.like(prefix_of(f.region_code) + "%"))
    if f.institution_id:
        stmt = stmt.where(TrainingClass.institution_id == f.institution_id)
    if f.q:
        stmt = stmt.where(TrainingClass.name.contains(f.q, autoescape=True))
    if f.pending_review:
        stmt = stmt.where(TrainingClass.id.in_(select(ClassVersion.class_id).where(
            ClassVersion.state == VersionState.SUBMITTED)))
    return stmt


def list_classes(principal: Principal, f: ClassFilter, *, limit: int = 50, offset: int = 0
                 ) -> tuple[list[TrainingClass], int]:
    stmt = _filtered(principal, f)
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = db.session.scalars(stmt.order_by(TrainingClass.id.desc()).limit(limit).offset(offset)).all()
    return list(rows), total


def iter_classes(principal: Principal, f: ClassFilter) -> Iterator[TrainingClass]:
    """Streamed for exports; the filter is checked now, before a file is started."""
    return iter(db.session.scalars(_filtered(principal, f).order_by(TrainingClass.id)
                                   .execution_options(yield_per=500)))


def scan_counts(class_ids: list[int]) -> dict[int, tuple[int, int]]:
    """(roster size, vouchers bound) per class, for lists."""
    if not class_ids:
        return {}
    rows = db.session.execute(
        select(RosterEntry.class_id, func.count(RosterEntry.id),
               func.count(Voucher.id).filter(Voucher.bound_class_id == RosterEntry.class_id))
        .join(Voucher, Voucher.id == RosterEntry.voucher_id)
        .where(RosterEntry.class_id.in_(class_ids)).group_by(RosterEntry.class_id))
    return {class_id: (size, bound) for class_id, size, bound in rows}
