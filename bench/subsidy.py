"""The time to compute a class's subsidy: the pure engine alone, and the institution's preview
through the whole stack for a class of 60 trainees × 40 sessions.

    .venv/bin/python bench/subsidy.py                 # both parts, SQLite
    .venv/bin/python bench/subsidy.py engine          # only the engine
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench .venv/bin/python bench/subsidy.py preview

Parts:
- engine: `domain.subsidy.compute_training` for 60 trainees (in-process, no database), for three
  policies: Xinzhou order-type 15 days (employment ≥ 80 %), Wenshui order-type with a pass-rate
  shortfall and two video gaps, Lin 普惠制 with living allowances; then `Computation.explain()`.
- preview: `GET /api/v1/classes/<id>/claim-preview` with the WSGI test client. One Huguan class of
  60 trainees, 20 days of two sessions, opened through the API (bench/checkins_seed.py), ~96 % of
  the 2,400 cells checked in (bulk insert, ~6 % flagged, half of those reviewed), then its
  completion filing approved, results and 50 employment proofs recorded by bulk insert, the
  class made project-type (Huguan pays project-type training: 001 二(六)). The preview reads the
  roster, every check-in and e-voucher sign-in of the class, the results and proofs, and runs
  the engine.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import checkins_seed as seed  # bench/checkins_seed.py, beside this script
from common import demo_app, measure, percentile
from sqlalchemy import insert, select, update

from server.domain import subsidy
from server.domain.eligibility import ProgrammeType
from server.domain.subsidy_explain import yuan
from server.extensions import db
from server.models import (
    AssessmentResult,
    ClassDocument,
    CompletionEntry,
    CompletionFiling,
    EmploymentEvidence,
    Organisation,
    TrainingClass,
    User,
    Voucher,
)
from server.services import clock, demo, policies

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "200"))
CLASS_SIZE, DAYS = 60, 20


def _trainees(n: int, half_days: int, *, employed: int, passed: int, categories=frozenset()) -> list:
    rng = random.Random(7)
    return [subsidy.TraineeFacts(
        trainee_id=k + 1, voucher_id=k + 1, voucher_state="trained", on_roster=True,
        attended_half_days=half_days - (rng.random() < 0.2), passed=k < passed, employed=k < employed,
        categories=categories) for k in range(n)]


def _timed(call, rounds: int) -> tuple[float, float]:
    """Median and p95 ms of `call()` after a few untimed calls."""
    for _ in range(10):
        call()
    samples = []
    for _ in range(rounds):
        began = time.perf_counter()
        call()
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples), percentile(samples, 0.95)


def engine() -> None:
    start = date(2026, 5, 11)
    cases = [
        ("Xinzhou order-type, 15 days, 50 of 60 employed", "140900", subsidy.ClassFacts(
            programme=ProgrammeType.ORDER, occupation_code="6-18-02-04", level="初级", start_date=start,
            end_date=start + timedelta(days=14), planned_half_days=30, class_hours=90,
            approved_roster_size=60), _trainees(CLASS_SIZE, 30, employed=50, passed=55)),
        ("Wenshui order-type, 20 days, 44 of 60 passed, 2 video gaps", "141121", subsidy.ClassFacts(
            programme=ProgrammeType.ORDER, occupation_code="6-18-02-04", level="初级", start_date=start,
            end_date=start + timedelta(days=19), planned_half_days=40, class_hours=120,
            approved_roster_size=60, video_gap_half_days=2),
         _trainees(CLASS_SIZE, 40, employed=50, passed=44)),
        ("Lin 普惠制, 10 days, living allowance for all", "141124", subsidy.ClassFacts(
            programme=ProgrammeType.PUHUI, occupation_code="4-10-01-05", level="初级", start_date=start,
            end_date=start + timedelta(days=9), planned_half_days=20, class_hours=60,
            approved_roster_size=60), _trainees(CLASS_SIZE, 20, employed=0, passed=60,
                                                categories=frozenset({"poverty_alleviated"}))),
    ]
    from server import create_app

    with create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"}).app_context():
        rows = []
        for label, region, facts, trainees in cases:
            policy = policies.for_region(region)
            result = subsidy.compute_training(policy, facts, trainees)
            rows.append((f"compute_training: {label} (total {yuan(result.total_fen)})",
                         *_timed(lambda p=policy, f=facts, t=trainees: subsidy.compute_training(p, f, t),
                                 ROUNDS * 5)))
            rows.append(("  … and explain() every line", *_timed(result.explain, ROUNDS * 5)))
    print("\n== engine (pure, in-process): median / p95 ms")
    for label, median, p95 in rows:
        print(f"{label:<80} {median:8.3f} {p95:8.3f}")


def _finish(app, opened: seed.Opened) -> None:
    """The completion approved, results and proofs recorded, vouchers trained, by bulk insert."""
    with app.app_context():
        klass = db.session.get(TrainingClass, opened.class_id)
        operator = db.session.scalar(select(User.id).where(User.username == "huguan.inst1"))
        evaluator = db.session.scalar(select(Organisation.id).where(
            Organisation.name == demo.REGIONS[1].evaluator))
        filing = CompletionFiling(class_id=klass.id, number=1, state="approved", evaluator_id=evaluator,
                                  assessment_plan="理论与实操考核", documents={}, filed_by=operator)
        document = ClassDocument(class_id=klass.id, kind="employment_proof", filename="proof.pdf",
                                 media_type="application/pdf", size=1, sha256="0" * 64,
                                 storage_key=f"bench/{klass.id}/proof.pdf", uploaded_by=operator)
        db.session.add_all([filing, document])
        db.session.flush()
        vouchers = dict(db.session.execute(select(Voucher.trainee_id, Voucher.id)
                                           .where(Voucher.bound_class_id == klass.id)).tuples().all())
        trainees = [t for _, t in opened.trainees]
        db.session.execute(insert(CompletionEntry), [
            {"filing_id": filing.id, "trainee_id": t, "voucher_id": vouchers[t], "on_roster": True,
             "attended_days": 0, "planned_days": DAYS, "present_sessions": 0, "total_sessions": 2 * DAYS,
             "pending_sessions": 0} for t in trainees])
        db.session.execute(insert(AssessmentResult), [
            {"class_id": klass.id, "filing_id": filing.id, "trainee_id": t, "evaluator_id": evaluator,
             "theory_score": 80, "practice_score": 85 if n < 57 else 50, "passed": n < 57, "level": "初级",
             "recorded_by": operator} for n, t in enumerate(trainees)])
        db.session.execute(insert(EmploymentEvidence), [
            {"class_id": klass.id, "trainee_id": t, "employer": "壶关县康养服务有限公司",
             "social_credit_code": "91140427MA0K000001", "contract_start": klass.end_date,
             "contract_months": 12, "proof_type": "contract", "has_payroll": True, "document_id": document.id,
             "recorded_by": operator} for t in trainees[:50]])
        db.session.execute(update(Voucher).where(Voucher.bound_class_id == klass.id)
                           .values(state="trained", programme="project", yearly_group="project"))
        db.session.execute(update(TrainingClass).where(TrainingClass.id == klass.id)
                           .values(state="finished", programme="project"))
        db.session.commit()


def preview(tmp: Path) -> None:
    started = time.perf_counter()
    app = demo_app(tmp)
    today = datetime.now(clock.CHINA).date()
    last_day = today - timedelta(days=1)
    [opened] = seed.open_classes(app, "1386", CLASS_SIZE, 1, seed.past_timetable(DAYS, last_day),
                                 consent=False)
    inserted = seed.insert_checkins(app, [opened], random.Random(5))
    _finish(app, opened)
    setup = time.perf_counter() - started
    client = app.test_client()
    institution = {"Authorization": "Bearer " + client.post("/api/v1/auth/login", json={
        "username": "huguan.inst1", "password": demo.STAFF_PASSWORD}).json["access_token"]}
    url = f"/api/v1/classes/{opened.class_id}/claim-preview"
    first = client.get(url, headers=institution)
    assert first.status_code == 200, first.get_json()
    body = first.get_json()
    with app.app_context():
        dialect = db.engine.dialect.name
    label, median, p95 = measure(
        f"GET /classes/<id>/claim-preview ({CLASS_SIZE} trainees × {2 * DAYS} sessions, "
        f"{inserted} check-ins)",
        lambda: client.get(url, headers=institution), ROUNDS, warmup=5)
    print(f"\n== preview ({dialect}): seeded in {setup:.0f} s; {len(body['lines'])} lines, "
          f"total {body['total_fen'] / 100:.2f} 元")
    print(f"{label:<80} median {median:8.2f} ms, p95 {p95:8.2f} ms")


def main() -> None:
    parts = sys.argv[1:] or ["engine", "preview"]
    if "engine" in parts:
        engine()
    if "preview" in parts:
        with tempfile.TemporaryDirectory() as tmp:
            preview(Path(tmp))


if __name__ == "__main__":
    main()
