"""The voucher service below the API: the later transitions (complete, redeem, write off) each
once with their timestamp and audit event, the bind guard on the expiry date, and racing
applications, which the partial unique indexes keep to one (SPEC §2)."""

from __future__ import annotations

import contextlib
import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from server.domain.access import Principal, Role
from server.domain.eligibility import ProgrammeType, yearly_group
from server.domain.vouchers import IllegalVoucherTransition, VoucherAction, VoucherState
from server.extensions import db
from server.models import AuditEvent, TrainingClass, Voucher
from server.services import audit, auth
from server.services import vouchers as voucher_service
from tests.factories import LEVEL, OCCUPATION, make_org, make_staff, make_trainee

LIN, HUGUAN = "141124", "140427"
OTHER_OCCUPATION = "4-10-01-02"
T0 = datetime(2025, 3, 3, 1, 0, tzinfo=UTC)  # 09:00 on 3 March in China


def audit_count(action: str | None = None) -> int:
    stmt = select(func.count()).select_from(AuditEvent)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    return db.session.scalar(stmt)


def fresh(voucher_id: int) -> Voucher:
    db.session.expire_all()
    return db.session.get(Voucher, voucher_id)


def issued_voucher(region: str = HUGUAN) -> Voucher:
    """A voucher applied for by a new trainee and issued at once (Huguan) or by a reviewer."""
    profile = make_trainee(region_code=region)
    principal = auth.principal_of(profile.user)
    voucher = voucher_service.apply(principal, voucher_service.ApplicationInput(
        occupation_code=OCCUPATION, level=LEVEL, programme="puhui"))
    if voucher.state is VoucherState.APPLIED:
        reviewer = make_staff(Role.BUREAU_REVIEWER, region_code=region)
        voucher = voucher_service.review(auth.principal_of(reviewer), voucher.id, True)
    assert voucher.state is VoucherState.ISSUED
    return voucher


def make_class(voucher: Voucher) -> tuple[Principal, int]:
    """An approved class matching the voucher, and its institution's operator."""
    operator = make_staff(Role.INSTITUTION_OPERATOR, make_org(region_code=voucher.region_code))
    klass = TrainingClass(institution_id=operator.organisation_id, region_code=voucher.region_code,
                          occupation_code=voucher.occupation_code, level=voucher.level,
                          programme=voucher.programme, state="approved", name="测试班",
                          start_date=date(2025, 3, 10), end_date=date(2025, 3, 14), created_by=operator.id)
    db.session.add(klass)
    db.session.commit()
    return auth.principal_of(operator), klass.id


def bound_voucher() -> Voucher:
    voucher = issued_voucher()
    operator, class_id = make_class(voucher)
    voucher_service.bind(operator, voucher, class_id)
    db.session.commit()
    return fresh(voucher.id)


# --- the later transitions ----------------------------------------------------------------------


STEPS = [(VoucherAction.COMPLETE, VoucherState.TRAINED, "trained_at"),
         (VoucherAction.REDEEM, VoucherState.REDEEMED, "redeemed_at"),
         (VoucherAction.WRITE_OFF, VoucherState.WRITTEN_OFF, "written_off_at")]


def test_bound_trained_redeemed_written_off_each_once_with_a_timestamp_and_an_audit_event(ctx, clock):
    clock.set(T0)
    voucher = bound_voucher()
    finance = auth.principal_of(make_staff(Role.FINANCE, region_code=HUGUAN))
    previous = "bound"
    for day, (action, state, stamp) in enumerate(STEPS, start=1):
        when = T0 + timedelta(days=10 * day)
        clock.set(when)
        events = audit_count()
        moved = voucher_service.advance(finance, fresh(voucher.id), action)
        db.session.commit()
        assert moved.state is state
        row = fresh(voucher.id)
        assert row.state is state and getattr(row, stamp) == when
        assert audit_count() == events + 1
        event = db.session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).one()
        assert event.action == f"voucher.{action}" and event.object_id == str(voucher.id)
        assert (event.actor_user_id, event.actor_role) == (finance.user_id, "finance")
        assert event.before["state"] == previous and event.after["state"] == str(state)
        assert event.region_code == HUGUAN
        previous = str(state)

        # A second time is refused, and changes nothing.
        clock.set(when + timedelta(hours=1))
        with pytest.raises(IllegalVoucherTransition) as refused:
            voucher_service.advance(finance, fresh(voucher.id), action)
        db.session.rollback()
        assert refused.value.details == {"state": str(state), "action": str(action)}
        assert fresh(voucher.id).state is state and getattr(fresh(voucher.id), stamp) == when
        assert audit_count() == events + 1
    assert [audit_count(f"voucher.{a}") for a, _, _ in STEPS] == [1, 1, 1]
    problem, _, _ = audit.verify()
    assert problem is None


@pytest.mark.parametrize("action", [VoucherAction.REDEEM, VoucherAction.WRITE_OFF])
def test_later_steps_cannot_be_skipped(ctx, action):
    voucher = bound_voucher()
    events = audit_count()
    with pytest.raises(IllegalVoucherTransition):
        voucher_service.advance(None, voucher, action)
    db.session.rollback()
    row = fresh(voucher.id)
    assert row.state is VoucherState.BOUND and row.redeemed_at is None and row.written_off_at is None
    assert audit_count() == events


@pytest.mark.parametrize("action", [VoucherAction.COMPLETE, VoucherAction.REDEEM, VoucherAction.WRITE_OFF])
def test_an_issued_voucher_cannot_jump_ahead(ctx, action):
    voucher = issued_voucher()
    with pytest.raises(IllegalVoucherTransition):
        voucher_service.advance(None, voucher, action)
    db.session.rollback()
    assert fresh(voucher.id).state is VoucherState.ISSUED


def test_a_stale_copy_loses_to_the_database_state(ctx):
    """The conditional UPDATE decides, not the copy in memory: a caller holding a stale `bound`
    voucher that another request already completed is refused and sees `trained`."""
    voucher = bound_voucher()
    db.session.execute(update(Voucher).where(Voucher.id == voucher.id).values(state=VoucherState.TRAINED)
                       .execution_options(synchronize_session=False))
    db.session.commit()
    stale = db.session.get(Voucher, voucher.id)
    set_committed_value(stale, "state", VoucherState.BOUND)  # what the slower request read a moment ago
    events = audit_count()
    with pytest.raises(IllegalVoucherTransition) as refused:
        voucher_service.advance(None, stale, VoucherAction.COMPLETE)
    assert refused.value.details["state"] == "trained"
    db.session.rollback()
    assert fresh(voucher.id).trained_at is None and audit_count() == events


def test_a_written_off_voucher_can_no_longer_be_revoked(ctx):
    voucher = bound_voucher()
    for action, _, _ in STEPS:
        voucher_service.advance(None, fresh(voucher.id), action)
        db.session.commit()
    reviewer = auth.principal_of(make_staff(Role.BUREAU_REVIEWER, region_code=HUGUAN))
    with pytest.raises(IllegalVoucherTransition):
        voucher_service.revoke(reviewer, voucher.id, "事后发现问题")
    db.session.rollback()
    assert fresh(voucher.id).state is VoucherState.WRITTEN_OFF


# --- binding ------------------------------------------------------------------------------------


def test_bind_refuses_a_voucher_past_its_last_day(ctx, clock):
    clock.set(T0)
    voucher = issued_voucher()
    assert voucher.expires_on == date(2025, 3, 3) + timedelta(days=180)
    operator, class_id = make_class(voucher)
    events = audit_count()
    # The day after the last day, before the nightly expiry has run: still `issued`, yet refused.
    clock.set(datetime.combine(voucher.expires_on, datetime.min.time(), tzinfo=UTC) + timedelta(hours=16))
    with pytest.raises(IllegalVoucherTransition) as refused:
        voucher_service.bind(operator, fresh(voucher.id), class_id)
    db.session.rollback()
    assert refused.value.details == {"state": "issued", "action": "bind"}
    row = fresh(voucher.id)
    assert row.state is VoucherState.ISSUED and row.bound_class_id is None and row.bound_at is None
    assert audit_count() == events


def test_bind_accepts_a_voucher_on_its_last_day_and_only_once(ctx, clock):
    clock.set(T0)
    voucher = issued_voucher()
    operator, class_id = make_class(voucher)
    last_minute = datetime.combine(voucher.expires_on, datetime.min.time(), tzinfo=UTC) + timedelta(hours=15,
                                                                                                   minutes=59)
    clock.set(last_minute)  # 23:59 in China on the last day
    voucher_service.bind(operator, fresh(voucher.id), class_id)
    db.session.commit()
    row = fresh(voucher.id)
    assert (row.state, row.bound_class_id, row.bound_at, row.bound_by) == (
        VoucherState.BOUND, class_id, last_minute, operator.user_id)
    assert audit_count("voucher.bind") == 1
    other_operator, other_class = make_class(voucher)
    with pytest.raises(IllegalVoucherTransition):
        voucher_service.bind(other_operator, fresh(voucher.id), other_class)
    db.session.rollback()
    assert fresh(voucher.id).bound_class_id == class_id and audit_count("voucher.bind") == 1


def test_expire_due_skips_what_is_not_yet_due(ctx, clock):
    clock.set(T0)
    voucher = issued_voucher()
    assert voucher_service.expire_due(voucher.expires_on) == []
    assert voucher_service.expire_due(voucher.expires_on + timedelta(days=1)) == [voucher.serial]
    assert fresh(voucher.id).state is VoucherState.EXPIRED


# --- racing applications ------------------------------------------------------------------------

RACES = {
    # name: (programme, categories, the two occupations, the loser's refusals)
    "same occupation": ("startup", ["entrepreneur"], (OCCUPATION, OCCUPATION),
                        ["OPEN_VOUCHER_SAME_OCCUPATION"]),
    "yearly puhui": ("puhui", ["rural_migrant"], (OCCUPATION, OTHER_OCCUPATION), ["YEARLY_LIMIT"]),
    "enterprise repeat": ("enterprise", ["enterprise_employee"], (OCCUPATION, OCCUPATION),
                          ["ENTERPRISE_REPEAT", "OPEN_VOUCHER_SAME_OCCUPATION"]),
}


def _contenders(programme: str, categories: list[str], occupations: tuple[str, str]):
    profile = make_trainee(region_code=LIN, categories=categories)
    principal = auth.principal_of(profile.user)
    inputs = [voucher_service.ApplicationInput(occupation_code=code, level=LEVEL, programme=programme)
              for code in occupations]
    trainee_id = profile.id
    db.session.commit()  # end this session's transaction: SQLite writers would queue behind it
    return principal, inputs, trainee_id


def _race(app, principal: Principal, inputs) -> list[tuple]:
    barrier = threading.Barrier(len(inputs))
    results: list[tuple] = [("not run",)] * len(inputs)

    def run(index: int, data) -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=30)
                voucher = voucher_service.apply(principal, data)
                results[index] = ("applied", voucher.id)
            except voucher_service.NotEligible as refused:
                results[index] = ("refused", sorted(r["code"] for r in refused.details["refusals"]))
            except Exception as exc:  # anything else fails the test below, with its name
                results[index] = ("error", repr(exc))

    threads = [threading.Thread(target=run, args=(i, data)) for i, data in enumerate(inputs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return results


def _only_one_won(results, expected_refusals, trainee_id: int) -> None:
    outcomes = sorted(results, key=lambda r: r[0])
    assert [r[0] for r in outcomes] == ["applied", "refused"], results
    assert outcomes[1][1] == expected_refusals
    db.session.expire_all()
    vouchers = db.session.scalars(select(Voucher).where(Voucher.trainee_id == trainee_id)).all()
    assert [v.id for v in vouchers] == [outcomes[0][1]]
    assert audit_count("voucher.applied") == 1
    problem, count, _ = audit.verify()
    assert problem is None and count == 1


@pytest.mark.parametrize("race", list(RACES))
def test_two_racing_applications_give_one_voucher(app, ctx, race):
    programme, categories, occupations, expected = RACES[race]
    principal, inputs, trainee_id = _contenders(programme, categories, occupations)
    _only_one_won(_race(app, principal, inputs), expected, trainee_id)


@pytest.mark.parametrize("race", list(RACES))
def test_applications_that_both_passed_the_check_still_give_one_voucher(app, ctx, monkeypatch, race):
    """Both applications read the trainee's vouchers before either writes (held at a barrier
    inside the check), so the eligibility check passes twice: the unique index refuses the second
    insert and the service names the rule. On SQLite the second writer cannot even begin until the
    first commits (BEGIN IMMEDIATE), so the barrier times out and the check itself refuses."""
    programme, categories, occupations, expected = RACES[race]
    principal, inputs, trainee_id = _contenders(programme, categories, occupations)
    postgres = db.engine.dialect.name == "postgresql"
    inside = threading.Barrier(2)
    seen = threading.local()
    checks: list[int] = []
    real_held = voucher_service._held

    def held_then_wait(profile_id: int):
        result = real_held(profile_id)
        checks.append(len(result))
        if not getattr(seen, "waited", False):
            seen.waited = True
            with contextlib.suppress(threading.BrokenBarrierError):
                inside.wait(timeout=10 if postgres else 2)
        return result

    monkeypatch.setattr(voucher_service, "_held", held_then_wait)
    _only_one_won(_race(app, principal, inputs), expected, trainee_id)
    if postgres:
        # Both saw no voucher; the loser looked again only after the index refused its insert.
        assert sorted(checks) == [0, 0, 1]
    else:
        assert sorted(checks) == [0, 1]


# --- the indexes themselves ---------------------------------------------------------------------


INDEX_CASES = {
    "open occupation": (("startup", OCCUPATION, "初级"), ("startup", OCCUPATION, "中级")),
    "yearly group": (("puhui", OCCUPATION, "初级"), ("puhui", OTHER_OCCUPATION, "初级")),
    "enterprise repeat": (("enterprise", OCCUPATION, "初级"), ("enterprise", OCCUPATION, "初级")),
}


def _row(trainee_id: int, applied_by: int, programme: str, occupation: str, level: str,
         state: VoucherState, serial: str, **values) -> Voucher:
    kind = ProgrammeType(programme)
    return Voucher(serial=serial, trainee_id=trainee_id, occupation_code=occupation, level=level,
                   programme=kind, region_code=LIN, year=2025, yearly_group=yearly_group(kind), state=state,
                   applied_by=applied_by, applied_at=T0, eligibility={}, **values)


@pytest.mark.parametrize("case", list(INDEX_CASES))
def test_the_database_refuses_a_second_voucher_the_rules_forbid(ctx, case):
    first, second = INDEX_CASES[case]
    profile = make_trainee(region_code=LIN)
    db.session.add(_row(profile.id, profile.user_id, *first, VoucherState.APPLIED, f"{LIN}-A"))
    db.session.commit()
    db.session.add(_row(profile.id, profile.user_id, *second, VoucherState.APPLIED, f"{LIN}-B"))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Voucher)) == 1


@pytest.mark.parametrize("gone", [VoucherState.REJECTED, VoucherState.REVOKED, VoucherState.EXPIRED])
def test_the_indexes_ignore_vouchers_no_longer_in_use(ctx, gone):
    profile = make_trainee(region_code=LIN)
    db.session.add(_row(profile.id, profile.user_id, "enterprise", OCCUPATION, "初级", gone, f"{LIN}-A"))
    db.session.add(_row(profile.id, profile.user_id, "enterprise", OCCUPATION, "初级", VoucherState.APPLIED,
                        f"{LIN}-B"))
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Voucher)) == 2
