"""Remote supervision (远程巡查, 查看手机签到记录): the region board, a class's attendance
matrix, a session's check-ins, a trainee's timeline, exports. Scoped like classes: bureau staff
their region, an institution its own classes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select

from server.domain import attendance
from server.domain.access import Principal, Role
from server.domain.errors import NotFound
from server.domain.vouchers import VoucherState
from server.extensions import db
from server.models import (
    Checkin,
    ClassSession,
    ClassSite,
    TraineeProfile,
    TrainingClass,
    Voucher,
    VoucherSignin,
)
from server.services import clock, policies
from server.services.classes import visible_class
from server.services.scope import class_clause, trainee_clause


@dataclass(frozen=True)
class BoardRow:
    session: ClassSession
    klass: TrainingClass
    expected: int
    checked_in: int
    flagged: int


def board(principal: Principal, day: date | None = None) -> list[BoardRow]:
    """Today's sessions in my area with expected, checked-in and flagged counts (four queries
    whatever the number of sessions)."""
    day = day or clock.today()
    rows = db.session.execute(
        select(ClassSession, TrainingClass).join(TrainingClass, TrainingClass.id == ClassSession.class_id)
        .where(ClassSession.day == day, class_clause(principal))
        .order_by(ClassSession.starts, TrainingClass.id)).tuples().all()
    class_ids = sorted({k.id for _, k in rows})
    session_ids = [s.id for s, _ in rows]
    expected = dict(db.session.execute(
        select(Voucher.bound_class_id, func.count()).where(Voucher.bound_class_id.in_(class_ids),
                                                           Voucher.state != VoucherState.REVOKED)
        .group_by(Voucher.bound_class_id)).tuples().all()) if class_ids else {}
    counts = {sid: (n, f) for sid, n, f in db.session.execute(
        select(Checkin.session_id, func.count(), func.count().filter(Checkin.flagged.is_(True)))
        .where(Checkin.session_id.in_(session_ids), Checkin.kind == attendance.CheckinKind.CHECK_IN)
        .group_by(Checkin.session_id)).tuples()} if session_ids else {}
    return [BoardRow(s, k, expected.get(k.id, 0), *counts.get(s.id, (0, 0))) for s, k in rows]


@dataclass(frozen=True)
class Matrix:
    klass: TrainingClass
    sessions: list[ClassSession]
    trainees: list[tuple[TraineeProfile, Voucher]]
    # (trainee id, session id) → the cell's status and the flags on its records
    cells: dict[tuple[int, int], tuple[attendance.CellStatus, list[str]]]
    total_trainees: int


def attendance_cells(klass: TrainingClass, sessions: list[ClassSession], trainee_ids: list[int]
                     ) -> dict[tuple[int, int], tuple[attendance.CellStatus, list[str]]]:
    """(trainee id, session id) → the cell's status and the flags on its records (two queries)."""
    policy = policies.for_region(klass.region_code).checkins
    records: dict[tuple[int, int], list[Checkin]] = {}
    for c in db.session.scalars(select(Checkin).where(Checkin.class_id == klass.id,
                                                      Checkin.trainee_id.in_(trainee_ids))):
        records.setdefault((c.trainee_id, c.session_id), []).append(c)
    signed = set(db.session.execute(select(VoucherSignin.trainee_id, VoucherSignin.session_id)
                                    .where(VoucherSignin.class_id == klass.id,
                                           VoucherSignin.trainee_id.in_(trainee_ids))).tuples())
    now = clock.now()
    cells = {}
    for session in sessions:
        starts, ends = clock.span(session.day, session.starts, session.ends)
        for trainee_id in trainee_ids:
            found = records.get((trainee_id, session.id), [])
            status = attendance.cell(
                [attendance.Record(c.kind, c.flagged, c.review) for c in found],
                voucher_signed=(trainee_id, session.id) in signed,
                signout_required=bool(policy.signout_required.value),
                voucher_signin_required=bool(policy.voucher_signin_required.value),
                session_over=now > ends, session_started=now >= starts)
            cells[(trainee_id, session.id)] = (status, sorted({f for c in found for f in c.flags}))
    return cells


def class_sessions(klass: TrainingClass) -> list[ClassSession]:
    return list(db.session.scalars(select(ClassSession).where(ClassSession.class_id == klass.id)
                                   .order_by(ClassSession.day, ClassSession.starts)))


def matrix(principal: Principal, class_id: int, *, limit: int = 100, offset: int = 0) -> Matrix:
    """Trainees (those bound to the class, paged) × every session, each cell's status and flags."""
    klass = visible_class(principal, class_id)
    sessions = class_sessions(klass)
    bound = (select(TraineeProfile, Voucher).join(Voucher, Voucher.trainee_id == TraineeProfile.id)
             .where(Voucher.bound_class_id == klass.id, Voucher.state != VoucherState.REVOKED))
    total = db.session.scalar(select(func.count()).select_from(bound.subquery()))
    trainees = db.session.execute(bound.order_by(TraineeProfile.id).limit(limit).offset(offset)
                                  ).tuples().all()
    cells = attendance_cells(klass, sessions, [t.id for t, _ in trainees])
    return Matrix(klass, sessions, list(trainees), cells, total)


def visible_session(principal: Principal, session_id: int) -> tuple[ClassSession, TrainingClass]:
    session = db.session.get(ClassSession, session_id)
    if session is None:
        raise NotFound("课时不存在", code="SESSION_NOT_FOUND")
    return session, visible_class(principal, session.class_id)


def session_checkins(principal: Principal, session_id: int, *, flag: str | None = None,
                     flagged_only: bool = False, limit: int = 100, offset: int = 0
                     ) -> tuple[ClassSession, TrainingClass, list[tuple[Checkin, TraineeProfile]], int]:
    session, klass = visible_session(principal, session_id)
    stmt = (select(Checkin, TraineeProfile).join(TraineeProfile, TraineeProfile.id == Checkin.trainee_id)
            .where(Checkin.session_id == session.id))
    if flagged_only:
        stmt = stmt.where(Checkin.flagged.is_(True))
    rows = db.session.execute(stmt.order_by(Checkin.received_at, Checkin.id)).tuples().all()
    if flag:  # flags are a JSON list: filter here (a session holds at most a few hundred rows)
        rows = [(c, p) for c, p in rows if flag in c.flags]
    return session, klass, rows[offset:offset + limit], len(rows)


def timeline(principal: Principal, trainee_id: int, *, limit: int = 200, offset: int = 0
             ) -> tuple[TraineeProfile, list[tuple[Checkin, ClassSession]], int]:
    """A trainee's check-ins across sessions, newest first (the trainee sees their own)."""
    profile = db.session.scalar(select(TraineeProfile).where(TraineeProfile.id == trainee_id,
                                                             trainee_clause(principal, TraineeProfile)))
    if profile is None:
        raise NotFound()
    stmt = (select(Checkin, ClassSession).join(ClassSession, ClassSession.id == Checkin.session_id)
            .where(Checkin.trainee_id == trainee_id))
    if principal.role is not Role.TRAINEE:
        stmt = stmt.where(Checkin.class_id.in_(select(TrainingClass.id).where(class_clause(principal))))
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = db.session.execute(stmt.order_by(Checkin.received_at.desc()).limit(limit).offset(offset)).tuples()
    return profile, list(rows), total


def class_checkins(principal: Principal, class_id: int):
    """Every check-in of a class with its trainee and session, streamed (exports)."""
    klass = visible_class(principal, class_id)
    return klass, iter(db.session.execute(
        select(Checkin, TraineeProfile, ClassSession)
        .join(TraineeProfile, TraineeProfile.id == Checkin.trainee_id)
        .join(ClassSession, ClassSession.id == Checkin.session_id)
        .where(Checkin.class_id == klass.id).order_by(ClassSession.day, ClassSession.starts, Checkin.id)
        .execution_options(yield_per=500)).tuples())


def my_sessions(principal: Principal, day: date | None = None
                ) -> list[tuple[ClassSession, TrainingClass, ClassSite]]:
    """The sessions of the classes a trainee's vouchers are bound to (on `day`, or all), with the
    class's site: the phone shows the distance to its fence before a check-in is sent."""
    stmt = (select(ClassSession, TrainingClass, ClassSite)
            .join(TrainingClass, TrainingClass.id == ClassSession.class_id)
            .join(ClassSite, ClassSite.class_id == ClassSession.class_id)
            .where(TrainingClass.id.in_(select(Voucher.bound_class_id).where(
                Voucher.trainee_id == principal.trainee_id, Voucher.bound_class_id.is_not(None)))))
    if day:
        stmt = stmt.where(ClassSession.day == day)
    return list(db.session.execute(stmt.order_by(ClassSession.day, ClassSession.starts)).tuples())
