"""Phone check-ins at every session (手机打卡), the institution's e-voucher sign-in, consent to
selfies, supervisors' reviews, selfie links and purging (SPEC §4). The rules live in
domain/geofence.py, domain/checkins.py and domain/attendance.py."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from flask import current_app
from sqlalchemy import and_, bindparam, select, update
from sqlalchemy.exc import IntegrityError

from server.adapters import selfies
from server.domain import checkins as rules
from server.domain import geofence
from server.domain.access import Principal, Role, require_role
from server.domain.attendance import CheckinKind, Review, check_review
from server.domain.errors import Conflict, Forbidden, NotFound, PayloadTooLarge, ValidationFailed
from server.domain.regions import prefix_of
from server.domain.vouchers import IN_TRAINING, VoucherState
from server.extensions import db, read_only_transaction
from server.models import (
    Checkin,
    ClassSession,
    ClassSite,
    FaceConsent,
    TrainingClass,
    Voucher,
    VoucherSignin,
)
from server.services import audit, clock, policies
from server.services import classes as class_service
from server.services.scans import verified_voucher_id
from server.services.scope import class_clause

CONSENT_TEXT_VERSION = "2026-11"
SELFIE_ROLES = (Role.BUREAU_REVIEWER, Role.BUREAU_SUPERVISOR, Role.ADMIN)
REVIEWERS = (Role.BUREAU_SUPERVISOR, Role.BUREAU_REVIEWER, Role.ADMIN)
LINK_SECONDS = 300
HISTORY_LIMIT = 200  # a trainee's earlier check-ins compared for reused selfies and travel
CLASS_SELFIES_LIMIT = 2000  # other trainees' recent selfies in the class, for passed-around photos

SELFIE_REFUSALS = {
    "empty": ("SELFIE_MISSING", "请拍摄自拍照"),
    "not_an_image": ("SELFIE_NOT_AN_IMAGE", "上传的不是图片"),
    "type_mismatch": ("SELFIE_TYPE_MISMATCH", "图片格式与声明不符，只接受 JPEG、PNG、WebP"),
    "too_many_pixels": ("SELFIE_TOO_MANY_PIXELS", "图片尺寸过大"),
    "corrupt": ("SELFIE_CORRUPT", "图片已损坏"),
    "too_small": ("SELFIE_TOO_SMALL", "图片太小，无法辨认"),
}


# --- consent (人脸信息单独同意) -----------------------------------------------------------


def consent(principal: Principal, give: bool) -> FaceConsent | None:
    """A trainee gives (or withdraws) separate consent to selfie check-ins. Without it they
    are signed in by the institution's e-voucher scan instead (the non-face alternative)."""
    require_role(principal, Role.TRAINEE)
    row = db.session.get(FaceConsent, principal.trainee_id)
    now = clock.now()
    if give:
        if row is None:
            row = FaceConsent(trainee_id=principal.trainee_id, text_version=CONSENT_TEXT_VERSION,
                              given_at=now)
            db.session.add(row)
        else:
            row.text_version, row.given_at, row.withdrawn_at = CONSENT_TEXT_VERSION, now, None
    elif row is not None:
        row.withdrawn_at = now
    audit.record(principal, "trainee.face_consent_given" if give else "trainee.face_consent_withdrawn",
                 "trainee", principal.trainee_id, region_code=None,
                 after={"text_version": CONSENT_TEXT_VERSION})
    db.session.commit()
    return row


# Consent is in force when it was given and not withdrawn (also true of an outer-joined row).
_CONSENT_IN_FORCE = and_(FaceConsent.trainee_id.is_not(None), FaceConsent.withdrawn_at.is_(None))


def has_consent(trainee_id: int) -> bool:
    return bool(db.session.scalar(select(_CONSENT_IN_FORCE).select_from(FaceConsent)
                                  .where(FaceConsent.trainee_id == trainee_id)))  # None: never given


# --- checking in --------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckinInput:
    kind: str
    latitude: object
    longitude: object
    accuracy_m: object
    captured_at: datetime
    device_id: str
    idempotency_key: str
    offline: bool = False


def _body_digest(session_id: int, data: CheckinInput, selfie: bytes) -> str:
    """What makes a retry the same request: the session and every field, the capture time as an
    instant (the same moment in another UTC offset is the same), and the selfie's bytes."""
    captured = data.captured_at.astimezone(UTC).isoformat() if data.captured_at.tzinfo else "naive"
    canonical = "|".join(str(v) for v in (session_id, data.kind, data.latitude, data.longitude,
                                          data.accuracy_m, captured, data.device_id, data.offline))
    return hashlib.sha256(canonical.encode() + b"|" + hashlib.sha256(selfie).digest()).hexdigest()


def _thresholds(region_code: str) -> rules.Thresholds:
    policy = policies.for_region(region_code).checkins
    return rules.Thresholds(poor_accuracy_m=float(policy.flag_accuracy_m.value))


def check_in(principal: Principal, session_id: int, data: CheckinInput, selfie: bytes,
             media_type: str | None) -> tuple[Checkin, bool]:
    """Record a check-in (or sign-out) at a session; (the check-in, whether it is a replay).
    Everything is checked before anything is stored; a refusal leaves no row and no file.

    Three steps, so that no database transaction is open while the selfie is worked on: the
    checks in a read-only transaction (on SQLite it takes no write lock), ended before the
    selfie is processed and stored, then the flags and the row in a short writing one. Two
    arrivals at once are kept apart by the unique constraints, not by the checks."""
    require_role(principal, Role.TRAINEE)
    key = (data.idempotency_key or "").strip()
    if not 8 <= len(key) <= 64:
        raise ValidationFailed("请求标识应为 8 到 64 个字符", code="INVALID_IDEMPOTENCY_KEY")
    digest = _body_digest(session_id, data, selfie)
    with read_only_transaction():
        earlier = db.session.scalar(_EARLIER_ATTEMPT, {"trainee_id": principal.trainee_id, "key": key})
        if earlier is not None:
            if earlier.body_sha256 != digest:
                raise Conflict("该请求标识已用于另一次打卡", code="IDEMPOTENCY_KEY_REUSED")
            db.session.expunge(earlier)  # answered as read, after the transaction has ended
            return earlier, True
        row = _checked(principal, session_id, data, selfie)
    row.idempotency_key, row.body_sha256 = key, digest

    try:
        photo = selfies.process(selfie, media_type)
    except selfies.SelfieRejected as exc:
        code, message = SELFIE_REFUSALS.get(exc.reason, ("SELFIE_INVALID", "自拍照不符合要求"))
        raise ValidationFailed(message, code=code) from None
    row.phash = photo.phash
    store = current_app.extensions["store"]
    stem = f"selfies/{row.class_id}/{row.session_id}/{secrets.token_hex(16)}"
    row.selfie_key, row.thumbnail_key = f"{stem}.jpg", f"{stem}.thumb.jpg"
    store.put(row.selfie_key, photo.data, "image/jpeg")
    store.put(row.thumbnail_key, photo.thumbnail, "image/jpeg")
    try:
        row.flags = [str(f) for f in _flags_for_new(row)]
        row.flagged = bool(row.flags)
        db.session.add(row)
        db.session.flush()
        db.session.expunge(row)  # the answer is the row as written: no read-back after the commit
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        store.delete(row.selfie_key)
        store.delete(row.thumbnail_key)
        raced = db.session.scalar(_EARLIER_ATTEMPT, {"trainee_id": principal.trainee_id, "key": key})
        if raced is not None and raced.body_sha256 == digest:
            return raced, True
        raise Conflict("本课时已打过卡", code="CHECKIN_DUPLICATE") from None
    except BaseException:
        db.session.rollback()
        store.delete(row.selfie_key)
        store.delete(row.thumbnail_key)
        raise
    return row, False


def _checked(principal: Principal, session_id: int, data: CheckinInput, selfie: bytes) -> Checkin:
    """Every check that needs the database, in the order a trainee would want to hear them;
    the new row (not yet added to the session), without its selfie and flags."""
    try:
        kind = CheckinKind(data.kind)
    except ValueError:
        kind = None  # refused below, after the checks a trainee would rather hear first
    found = _checkin_context(principal.trainee_id, session_id, kind or CheckinKind.CHECK_IN)
    if found is None:
        raise NotFound("课时不存在", code="SESSION_NOT_FOUND")
    if found.voucher_id is None:
        raise Forbidden("您没有在本班验券，不能打卡", code="CHECKIN_NOT_IN_CLASS")
    if found.voucher_state is VoucherState.REVOKED:
        raise Conflict("您的电子券已作废，不能打卡", code="CHECKIN_VOUCHER_REVOKED")
    if found.voucher_state not in IN_TRAINING:
        raise Conflict("培训已结束，不能打卡", code="CHECKIN_VOUCHER_CLOSED",
                       details={"state": str(found.voucher_state)})
    if kind is None:
        raise ValidationFailed("打卡类型不正确", code="INVALID_CHECKIN_KIND")
    if not found.consent_in_force:
        raise Conflict("请先同意使用人脸照片打卡，或请培训机构扫电子券签到", code="FACE_CONSENT_REQUIRED")
    fix = geofence.check_fix(data.latitude, data.longitude, data.accuracy_m)
    if data.captured_at.tzinfo is None:
        raise ValidationFailed("手机时间应带时区", code="INVALID_CLIENT_TIME")
    policy = policies.for_region(found.region_code).checkins
    received = clock.now()
    starts, ends = clock.span(found.day, found.starts, found.ends)
    if kind is CheckinKind.CHECK_IN:
        window = rules.window(starts, ends, int(policy.window_before_min.value),
                              int(policy.window_after_start_min.value))
    else:
        window = rules.signout_window(ends, int(policy.signout_before_min.value),
                                      int(policy.signout_after_min.value))
    counted = rules.accepted_time(window, received, data.captured_at, data.offline,
                                  int(policy.max_offline_hours.value) * 3600)
    if geofence.accuracy_too_poor(fix, float(policy.refuse_accuracy_m.value)):
        raise ValidationFailed(f"定位精度太差（{fix.accuracy_m:.0f} 米），请到室外或打开 GPS 后重试",
                               code="ACCURACY_TOO_POOR", details={"limit_m": policy.refuse_accuracy_m.value})
    fence = geofence.Fence(found.fence_latitude, found.fence_longitude, found.radius_m)
    located = geofence.locate(fence, fix)
    if located.placement is geofence.Placement.UNCERTAIN and policy.uncertain.value == "refuse":
        raise ValidationFailed("定位不够准确，无法确认在培训场地内，请稍后重试", code="POSITION_UNCERTAIN",
                               details={"distance_m": round(located.distance_m)})
    if found.already_checked_in:
        raise Conflict("本课时已打过卡", code="CHECKIN_DUPLICATE")
    if len(selfie) > selfies.MAX_BYTES:
        raise PayloadTooLarge("自拍照不能超过 5 MB", code="SELFIE_TOO_LARGE")
    return Checkin(session_id=session_id, class_id=found.class_id, region_code=found.region_code,
                   trainee_id=principal.trainee_id, voucher_id=found.voucher_id, kind=kind,
                   received_at=received.astimezone(UTC), counted_at=counted.astimezone(UTC),
                   captured_at=data.captured_at.astimezone(UTC), offline=data.offline,
                   device_id=data.device_id.strip()[:64], latitude=fix.latitude, longitude=fix.longitude,
                   accuracy_m=fix.accuracy_m, distance_m=located.distance_m, placement=str(located.placement),
                   flags=[], flagged=False, review=Review.NONE, review_reason=None)


# The check-in path's statements are built once, with bound parameters: building a statement
# and its cache key on every request cost more than running it (bench/RESULTS.md, check-ins).
_TRAINEE, _SESSION = bindparam("trainee_id"), bindparam("session_id")

_EARLIER_ATTEMPT = select(Checkin).where(Checkin.trainee_id == _TRAINEE,
                                         Checkin.idempotency_key == bindparam("key"))

_CONTEXT = (
    select(ClassSession.class_id, ClassSession.day, ClassSession.starts, ClassSession.ends,
           TrainingClass.region_code, ClassSite.fence_latitude, ClassSite.fence_longitude,
           ClassSite.radius_m, Voucher.id.label("voucher_id"), Voucher.state.label("voucher_state"),
           _CONSENT_IN_FORCE.label("consent_in_force"),
           select(Checkin.id).where(Checkin.session_id == ClassSession.id, Checkin.trainee_id == _TRAINEE,
                                    Checkin.kind == bindparam("kind")).exists().label("already_checked_in"))
    .join(TrainingClass, TrainingClass.id == ClassSession.class_id)
    .join(ClassSite, ClassSite.class_id == ClassSession.class_id)
    .outerjoin(Voucher, and_(Voucher.trainee_id == _TRAINEE, Voucher.bound_class_id == ClassSession.class_id))
    .outerjoin(FaceConsent, FaceConsent.trainee_id == _TRAINEE)
    .where(ClassSession.id == _SESSION))


def _checkin_context(trainee_id: int, session_id: int, kind: CheckinKind):
    """In one query: the session and its class's region and fence, the trainee's voucher bound
    to the class (None columns if none), their face consent, and whether they already have a
    check-in of `kind` at the session. None if there is no such session."""
    return db.session.execute(_CONTEXT, {"trainee_id": trainee_id, "session_id": session_id,
                                         "kind": kind}).first()


_FACT_COLUMNS = (Checkin.id, Checkin.trainee_id, Checkin.session_id, Checkin.received_at,
                 Checkin.captured_at, Checkin.offline, Checkin.device_id, Checkin.latitude,
                 Checkin.longitude, Checkin.accuracy_m, Checkin.placement, Checkin.phash)


def _facts(c) -> rules.CheckinFacts:
    """A check-in (a row, or a tuple of _FACT_COLUMNS) as the flag rules see it."""
    return rules.CheckinFacts(key=c.id, trainee_id=c.trainee_id, session_id=c.session_id,
                              received_at=c.received_at, captured_at=c.captured_at, offline=c.offline,
                              device_id=c.device_id, latitude=c.latitude, longitude=c.longitude,
                              accuracy_m=c.accuracy_m, placement=c.placement, phash=c.phash)


_SAME_SESSION = select(*_FACT_COLUMNS).where(
    Checkin.session_id == _SESSION, Checkin.kind == bindparam("kind"), Checkin.trainee_id != _TRAINEE)
_OWN_HISTORY = (select(*_FACT_COLUMNS).where(Checkin.trainee_id == _TRAINEE)
                .order_by(Checkin.id.desc()).limit(HISTORY_LIMIT))
_CLASS_SELFIES = (select(Checkin.trainee_id, Checkin.phash)
                  .where(Checkin.class_id == bindparam("class_id"), Checkin.trainee_id != _TRAINEE,
                         Checkin.phash.is_not(None))
                  .order_by(Checkin.id.desc()).limit(CLASS_SELFIES_LIMIT))


def _flags_for_new(row: Checkin) -> list[rules.Flag]:
    """The new check-in's flags against the session's others, the trainee's own recent ones and
    the class's recent selfies: only the columns the rules read."""
    params = {"trainee_id": row.trainee_id, "session_id": row.session_id, "kind": row.kind,
              "class_id": row.class_id}
    same_session = db.session.execute(_SAME_SESSION, params)
    own = db.session.execute(_OWN_HISTORY, params)
    others = db.session.execute(_CLASS_SELFIES, params).tuples().all()
    new = _facts(row)
    return rules.flags_for(new, [_facts(c) for c in same_session], [_facts(c) for c in own],
                           _thresholds(row.region_code), other_selfies=list(others))


def recompute_flags(class_id: int) -> int:
    """Recompute every check-in's flags of a class against all the others (the command a
    supervisor runs after late arrivals); returns how many changed."""
    klass = db.session.get(TrainingClass, class_id)
    if klass is None:
        raise NotFound("班级不存在", code="CLASS_NOT_FOUND")
    rows = {c.id: c for c in db.session.scalars(select(Checkin).where(Checkin.class_id == class_id))}
    computed = rules.recompute([_facts(c) for c in rows.values()], _thresholds(klass.region_code))
    changed = 0
    for key, flags in computed.items():
        row = rows[key]
        values = [str(f) for f in flags]
        if values != list(row.flags):
            row.flags, row.flagged = values, bool(values)
            changed += 1
    audit.record(None, "class.flags_recomputed", "class", class_id, region_code=klass.region_code,
                 after={"checkins": len(rows), "changed": changed})
    db.session.commit()
    return changed


# --- the institution's e-voucher sign-in (003 三(四)) --------------------------------------


def voucher_signin(principal: Principal, session_id: int, token: str, device_id: str | None) -> VoucherSignin:
    """The institution scans a trainee's voucher at a session: the e-voucher sign-in that
    Wenshui asks for beside the trainee's own, and the non-face alternative everywhere."""
    require_role(principal, Role.INSTITUTION_OPERATOR)
    session = db.session.get(ClassSession, session_id)
    if session is None:
        raise NotFound("课时不存在", code="SESSION_NOT_FOUND")
    klass = class_service.own_class(principal, session.class_id)
    voucher = db.session.get(Voucher, verified_voucher_id(token))
    if voucher is None or voucher.bound_class_id != klass.id:
        raise ValidationFailed("该电子券未在本班验券", code="VOUCHER_NOT_IN_CLASS")
    if voucher.state not in IN_TRAINING:
        raise Conflict("电子券当前状态不能签到", code="VOUCHER_UNAVAILABLE",
                       details={"state": str(voucher.state)})
    policy = policies.for_region(klass.region_code).checkins
    starts, ends = clock.span(session.day, session.starts, session.ends)
    window = rules.Window(starts - timedelta(minutes=int(policy.window_before_min.value)),
                          ends + timedelta(minutes=int(policy.signout_after_min.value)))
    rules.accepted_time(window, clock.now(), clock.now(), False, 0)
    row = VoucherSignin(session_id=session.id, class_id=klass.id, voucher_id=voucher.id,
                        trainee_id=voucher.trainee_id, operator_id=principal.user_id,
                        device_id=(device_id or "")[:64] or None, received_at=clock.now())
    db.session.add(row)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("本课时已扫券签到", code="VOUCHER_SIGNIN_DUPLICATE") from None
    return row


# --- supervisors ---------------------------------------------------------------------------


def visible_checkin(principal: Principal, checkin_id: int) -> Checkin:
    stmt = select(Checkin).where(Checkin.id == checkin_id)
    if principal.role is Role.TRAINEE:
        stmt = stmt.where(Checkin.trainee_id == principal.trainee_id)
    else:
        stmt = stmt.where(Checkin.class_id.in_(select(TrainingClass.id).where(class_clause(principal))))
    row = db.session.scalar(stmt)
    if row is None:
        raise NotFound("打卡记录不存在", code="CHECKIN_NOT_FOUND")
    return row


def review(principal: Principal, checkin_id: int, decision: str, reason: str | None) -> Checkin:
    """A supervisor accepts or rejects a flagged check-in, once, with a reason (audited);
    the decision later decides whether the day is paid."""
    require_role(principal, *REVIEWERS)
    row = visible_checkin(principal, checkin_id)
    try:
        verdict = Review(decision)
    except ValueError:
        raise ValidationFailed("请选择核实结论", code="INVALID_DECISION") from None
    text = check_review(row.flagged, row.review, verdict, reason)
    moved = db.session.execute(
        update(Checkin).where(Checkin.id == row.id, Checkin.review == Review.NONE)
        .values(review=verdict, review_reason=text, reviewed_by=principal.user_id, reviewed_at=clock.now())
        .execution_options(synchronize_session=False)).rowcount
    if moved != 1:
        raise Conflict("该记录已核实", code="CHECKIN_ALREADY_REVIEWED")
    audit.record(principal, f"checkin.{verdict}", "checkin", row.id, region_code=row.region_code,
                 after={"flags": list(row.flags), "reason": text})
    db.session.commit()
    db.session.refresh(row)
    return row


# --- selfies: short-lived links, purging ---------------------------------------------------


def selfie_link(principal: Principal, checkin_id: int, thumbnail: bool) -> tuple[str, datetime]:
    """A link valid for five minutes to the selfie (or its thumbnail), for the trainee and
    bureau staff of the region only; never a guessable URL."""
    row = visible_checkin(principal, checkin_id)
    if principal.role is not Role.TRAINEE:
        require_role(principal, *SELFIE_ROLES)
    if row.selfie_purged_at is not None or row.selfie_key is None:
        raise NotFound("自拍照已过保存期限并删除", code="SELFIE_PURGED")
    key = row.thumbnail_key if thumbnail else row.selfie_key
    expires = clock.now() + timedelta(seconds=LINK_SECONDS)
    url = current_app.extensions["store"].signed_url(key, LINK_SECONDS)
    if url is None:  # local storage: the app serves it through a signed token
        token = jwt.encode({"k": key, "exp": int(expires.timestamp())},
                           current_app.config["SECRET_KEY"], algorithm="HS256", headers={"typ": "media"})
        url = f"/api/v1/media/{token}"
    return url, expires


def media(token: str) -> bytes:
    try:
        # Expiry is checked against the app's clock below (the one that signed the link).
        claims = jwt.decode(token, current_app.config["SECRET_KEY"], algorithms=["HS256"],
                            options={"require": ["exp", "k"], "verify_exp": False})
        if jwt.get_unverified_header(token).get("typ") != "media" or not isinstance(claims["exp"], int):
            raise jwt.InvalidTokenError("not a media link")
    except jwt.PyJWTError:
        raise NotFound("链接无效", code="LINK_INVALID") from None
    if claims["exp"] <= int(clock.now().timestamp()):
        raise NotFound("链接已过期", code="LINK_EXPIRED")
    try:
        return current_app.extensions["store"].get(claims["k"])
    except Exception:
        raise NotFound("文件不存在", code="LINK_INVALID") from None


def purge_selfies(today=None) -> int:
    """Delete selfies older than their region's evidence period, keeping the check-in rows
    (the attendance stays provable) and recording the purge."""
    today = today or clock.today()
    store = current_app.extensions["store"]
    purged = 0
    for code, policy in policies.all_policies().items():
        cutoff = datetime.combine(today - timedelta(days=int(policy.checkins.evidence_days.value)),
                                  datetime.min.time(), tzinfo=clock.CHINA)
        rows = db.session.scalars(select(Checkin).where(
            Checkin.region_code.like(prefix_of(code) + "%"), Checkin.selfie_purged_at.is_(None),
            Checkin.selfie_key.is_not(None), Checkin.received_at < cutoff)).all()
        # A region nested in another with its own policy is governed by the nearer one.
        governed = [row for row in rows if policies.for_region(row.region_code).region_code == code]
        for row in governed:
            for key in (row.selfie_key, row.thumbnail_key):
                if key:
                    store.delete(key)
            row.selfie_key = row.thumbnail_key = None
            row.selfie_purged_at = clock.now()
        if governed:
            audit.record(None, "checkin.selfies_purged", "region", code, region_code=code,
                         after={"count": len(governed), "before": cutoff.date().isoformat()})
        purged += len(governed)
    db.session.commit()
    return purged

