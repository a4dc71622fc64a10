"""The monthly progress report (目标任务进度月报) over a county of 2,000 classes: median and p95 of
the JSON report and its XLSX, in-process with the WSGI test client as bench/api_latency.py does.

    .venv/bin/python bench/reports.py                   # SQLite (the embedded default)
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench .venv/bin/python bench/reports.py
    BENCH_ROUNDS=40 BENCH_CLASSES=2000 .venv/bin/python bench/reports.py   # the knobs (their defaults)

The database is built by the migrations with the demo data and the seed targets (bench/common.py;
on PostgreSQL the database's name must begin with `bench`). Then Huguan's 2024 is bulk-inserted,
as a county would have recorded it by the end of November: BENCH_CLASSES classes of 10–30
trainees (homes spread over the ten townships in proportion to 001 附件2's targets) starting
from January to late November, one in ten amended after opening; every trainee's voucher issued
1–4 weeks before the class and scanned in at its start, completed at its end (3 % revoked, and a
further 5 % of applicants refused and 5 % issued but never scanned); for each finished class a
completion filing, results (85 % pass) and skill certificates (初级 mostly, some 中级 and 高级,
2 % revoked since), and a training claim, paid about five weeks after the class where that falls
before December (the rest still in notice). Then ANALYZE, and the county reviewer asks for
October's report (year to date: January–October) and the province admin for the province's.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time as timer
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import add_trainees, analyse, demo_app, measure  # bench/common.py, beside this script
from sqlalchemy import bindparam, func, insert, select

from server.domain.certificates import CertificateKind, CertificateState
from server.domain.claims import ClaimKind, ClaimState
from server.domain.classes import ClassState, VersionState
from server.domain.completion import CompletionState
from server.domain.eligibility import ProgrammeType
from server.domain.vouchers import VoucherState
from server.extensions import db
from server.models import (
    AssessmentResult,
    Certificate,
    Claim,
    ClassVersion,
    CompletionFiling,
    Disbursement,
    Organisation,
    TraineeProfile,
    TrainingClass,
    User,
    Voucher,
)
from server.services import clock, demo, reports
from server.services.auth import principal_of
from server.services.targets import load_targets

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "40"))
CLASSES = int(os.environ.get("BENCH_CLASSES", "2000"))
MOBILE_PREFIX = "1381"
HUGUAN = "140427"
YEAR, MONTH = 2024, 10
SEEDED_UNTIL = date(2024, 11, 30)  # what the county has recorded: nothing after this day
# 001 附件2 补贴性技能培训计划任务数 per township, as the weights of the trainees' homes.
TOWNSHIP_WEIGHTS = {"140427100": 200, "140427101": 170, "140427103": 170, "140427102": 150,
                    "140427104": 100, "140427106": 100, "140427105": 150, "140427202": 80,
                    "140427200": 100, "140427201": 80}
OCCUPATIONS = (("4-10-01-05", 5), ("4-10-01-06", 5), ("4-03-02-01", 7), ("4-10-03-02", 10),
               ("4-14-01-03", 7))  # (养老护理员, 家政服务员, 中式烹调师, 美发师, 健康照护师; days)


@dataclass(frozen=True)
class Plan:
    """One seeded class."""

    start: date
    end: date
    size: int
    amended: bool  # a second version approved two days after the start
    finished: bool
    occupation: str
    days: int
    institution_id: int


def cn(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=clock.CHINA)


def _ids(query) -> dict:
    return dict(db.session.execute(query).tuples().all())


def seed(rng: random.Random) -> dict[str, int]:
    """Huguan's 2024 in bulk inserts (see the module's docstring); the row counts."""
    staff = _ids(select(User.username, User.id).where(User.username.like("huguan.%")))
    orgs = _ids(select(Organisation.name, Organisation.id))
    region = next(r for r in demo.REGIONS if r.code == HUGUAN)
    institutions = [orgs[name] for name in region.institutions]
    evaluator = orgs[region.evaluator]
    proposal = db.session.scalar(select(ClassVersion.proposal).join(
        TrainingClass, TrainingClass.id == ClassVersion.class_id).where(TrainingClass.region_code == HUGUAN))

    sizes = [rng.randint(10, 30) for _ in range(CLASSES)]
    extra = sum(sizes) // 10  # refused (5 %) and issued but never scanned (5 %)
    add_trainees(MOBILE_PREFIX, sum(sizes) + extra)
    people = db.session.execute(
        select(TraineeProfile.id, User.id).join(User, User.id == TraineeProfile.user_id)
        .where(User.mobile.like(MOBILE_PREFIX + "%")).order_by(User.mobile)).tuples().all()
    homes = rng.choices(list(TOWNSHIP_WEIGHTS), weights=list(TOWNSHIP_WEIGHTS.values()), k=len(people))
    profiles = TraineeProfile.__table__
    db.session.execute(profiles.update().where(profiles.c.id == bindparam("pid"))
                       .values(home_region_code=bindparam("home")),
                       [{"pid": pid, "home": home} for (pid, _), home in zip(people, homes, strict=True)])

    first, last = date(2024, 1, 8), date(2024, 11, 22)
    classes, plans = [], []
    for k, size in enumerate(sizes):
        occupation, days = OCCUPATIONS[k % len(OCCUPATIONS)]
        start = first + timedelta(days=(last - first).days * k // CLASSES)
        end = start + timedelta(days=days - 1)
        plan = Plan(start, end, size, amended=rng.random() < 0.1,
                    finished=end < SEEDED_UNTIL - timedelta(days=3),
                    occupation=occupation, days=days, institution_id=institutions[k % 2])
        classes.append({"institution_id": plan.institution_id, "region_code": HUGUAN,
                        "occupation_code": occupation, "level": "初级", "programme": ProgrammeType.PUHUI,
                        "state": ClassState.FINISHED if plan.finished else ClassState.APPROVED,
                        "name": f"压测班{k:04d}", "start_date": start, "end_date": end,
                        "approved_version": 2 if plan.amended else 1,
                        "approved_at": cn(start + timedelta(days=2 if plan.amended else -8), 10),
                        "created_by": staff["huguan.inst1"], "created_at": cn(start - timedelta(days=12), 9)})
        plans.append(plan)
    db.session.execute(insert(TrainingClass), classes)
    class_ids = [cid for cid, in db.session.execute(select(TrainingClass.id).where(
        TrainingClass.name.like("压测班%")).order_by(TrainingClass.name))]

    versions, vouchers, filings = [], [], []
    serial = iter(range(10 ** 9))
    cursor = 0
    for class_id, plan in zip(class_ids, plans, strict=True):
        opened = cn(plan.start - timedelta(days=8), 10)
        versions.append({"class_id": class_id, "number": 1, "proposal": proposal,
                         "created_by": staff["huguan.inst1"],
                         "state": VersionState.SUPERSEDED if plan.amended else VersionState.APPROVED,
                         "submitted_at": opened - timedelta(days=1), "decided_by": staff["huguan.reviewer1"],
                         "decided_at": opened})
        if plan.amended:
            versions.append({"class_id": class_id, "number": 2, "proposal": proposal,
                             "created_by": staff["huguan.inst1"], "state": VersionState.APPROVED,
                             "submitted_at": cn(plan.start + timedelta(days=1), 9),
                             "decided_by": staff["huguan.reviewer2"],
                             "decided_at": cn(plan.start + timedelta(days=2), 10)})
        trained_at = cn(plan.end - timedelta(days=3), 17) if plan.finished else None
        for trainee_id, user_id in people[cursor:cursor + plan.size]:
            state = (VoucherState.REVOKED if rng.random() < 0.03
                     else VoucherState.TRAINED if plan.finished else VoucherState.BOUND)
            issued = cn(plan.start - timedelta(days=rng.randint(7, 28)), rng.randint(9, 17))
            vouchers.append(_voucher(next(serial), trainee_id, user_id, plan.occupation, issued, state, staff,
                                     bound_class_id=class_id, bound_at=cn(plan.start, 8, 30),
                                     trained_at=trained_at))
        cursor += plan.size
        if plan.finished:
            filings.append({"class_id": class_id, "number": 1, "state": CompletionState.APPROVED,
                            "evaluator_id": evaluator, "assessment_plan": "理论与实操考核", "documents": {},
                            "filed_by": staff["huguan.inst1"],
                            "filed_at": cn(plan.end - timedelta(days=4), 16),
                            "decided_by": staff["huguan.reviewer1"],
                            "decided_at": cn(plan.end - timedelta(days=3), 17)})
    for n, (trainee_id, user_id) in enumerate(people[cursor:]):  # never in a class
        issued = cn(first + timedelta(days=rng.randrange((SEEDED_UNTIL - first).days)), 11)
        refused = n % 2 == 0
        vouchers.append(_voucher(next(serial), trainee_id, user_id, OCCUPATIONS[n % 5][0], issued,
                                 VoucherState.REJECTED if refused else VoucherState.ISSUED, staff,
                                 reason="人员类别证明材料与申请不符" if refused else None))
    db.session.execute(insert(ClassVersion), versions)
    for chunk in range(0, len(vouchers), 5000):
        db.session.execute(insert(Voucher), vouchers[chunk:chunk + 5000])
    db.session.execute(insert(CompletionFiling), filings)
    db.session.commit()
    counts = {"classes": len(classes), "class versions": len(versions), "vouchers": len(vouchers),
              "completion filings": len(filings)}
    counts |= _after_training(rng, staff, evaluator, dict(zip(class_ids, plans, strict=True)))
    analyse()
    return counts


def _voucher(n: int, trainee_id: int, user_id: int, occupation: str, issued: datetime, state: VoucherState,
             staff: dict, *, bound_class_id=None, bound_at=None, trained_at=None, reason=None) -> dict:
    revoked = state is VoucherState.REVOKED
    return {"serial": f"{HUGUAN}-B{n:09d}X", "trainee_id": trainee_id, "occupation_code": occupation,
            "level": "初级", "programme": ProgrammeType.PUHUI, "region_code": HUGUAN, "year": YEAR,
            "yearly_group": "puhui", "state": state,
            "reason": reason or ("参训人员本人申请放弃本次培训" if revoked else None),
            "eligibility": {"categories": ["rural_migrant"]}, "applied_at": issued - timedelta(hours=20),
            "applied_by": user_id, "decided_at": issued, "decided_by": staff["huguan.reviewer1"],
            "expires_on": (issued + timedelta(days=180)).date(), "bound_class_id": bound_class_id,
            "bound_at": bound_at, "bound_by": staff["huguan.inst1"] if bound_class_id else None,
            "trained_at": trained_at,
            "closed_at": issued + timedelta(days=10) if revoked else None}


def _after_training(rng: random.Random, staff: dict, evaluator: int,
                    plans: dict[int, Plan]) -> dict[str, int]:
    """Results and certificates of every finished class, and its claim, paid where due."""
    filing_of = _ids(select(CompletionFiling.class_id, CompletionFiling.id))
    trained = db.session.execute(select(Voucher.id, Voucher.trainee_id, Voucher.bound_class_id).where(
        Voucher.state == VoucherState.TRAINED, Voucher.serial.like(f"{HUGUAN}-B%"))).tuples().all()
    results, certificates, paid_vouchers = [], [], []
    for _voucher_id, trainee_id, class_id in trained:
        end = plans[class_id].end
        passed = rng.random() < 0.85
        results.append({"class_id": class_id, "filing_id": filing_of[class_id], "trainee_id": trainee_id,
                        "evaluator_id": evaluator, "theory_score": rng.randint(70, 98) if passed else 45,
                        "practice_score": rng.randint(70, 98) if passed else 52, "passed": passed,
                        "level": "初级", "recorded_by": staff["huguan.eval"], "recorded_at": cn(end, 16)})
    db.session.execute(insert(AssessmentResult), results)
    result_ids = _ids(select(AssessmentResult.trainee_id, AssessmentResult.id))
    for n, row in enumerate(r for r in results if r["passed"]):
        pick = rng.random()
        level = "高级" if pick < 0.05 else "中级" if pick < 0.15 else "初级"
        plan = plans[row["class_id"]]
        issued_on = plan.end + timedelta(days=rng.randint(5, 15))
        if issued_on > SEEDED_UNTIL:
            continue
        revoked = rng.random() < 0.02
        certificates.append({
            "number": f"S{HUGUAN}{n:08d}", "kind": CertificateKind.SKILL_LEVEL,
            "trainee_id": row["trainee_id"], "class_id": row["class_id"],
            "result_id": result_ids[row["trainee_id"]], "issuer_id": evaluator, "region_code": HUGUAN,
            "occupation_code": plan.occupation, "level": level,
            "issued_on": issued_on, "token": "eyJ0eXAiOiJjZXJ0In0." + "x" * 180,  # a signed token's length
            "state": CertificateState.REVOKED if revoked else CertificateState.VALID,
            "issued_by": staff["huguan.eval"], "issued_at": cn(issued_on, 10),
            "revoked_reason": "评价结果核查不实" if revoked else None})
    for chunk in range(0, len(certificates), 5000):
        db.session.execute(insert(Certificate), certificates[chunk:chunk + 5000])

    per_class: dict[int, list[int]] = {}
    for voucher_id, _trainee, class_id in trained:
        per_class.setdefault(class_id, []).append(voucher_id)
    claims, payments = [], []
    for n, (class_id, voucher_ids) in enumerate(sorted(per_class.items())):
        plan = plans[class_id]
        total = len(voucher_ids) * min(plan.days * 10_000, 100_000)  # 100 元/天, ≤ 1,000 元 a person
        paid_on = plan.end + timedelta(days=rng.randint(28, 42))
        paid = paid_on <= SEEDED_UNTIL
        claims.append({"number": f"BT{HUGUAN}{n:06d}", "kind": ClaimKind.TRAINING,
                       "state": ClaimState.PAID if paid else ClaimState.IN_NOTICE,
                       "organisation_id": plan.institution_id,
                       "region_code": HUGUAN, "class_id": class_id, "stage": 1, "training_year": YEAR,
                       "version": 1, "digest": f"{n:064x}", "total_fen": total, "policy_region_code": HUGUAN,
                       "policy_effective_from": date(2024, 5, 24), "basis": {"trained": len(voucher_ids)},
                       "explanation": [], "filed_by": staff["huguan.inst1"],
                       "filed_at": cn(plan.end + timedelta(days=3), 10),
                       "paid_at": cn(paid_on, 15) if paid else None})
        if paid:
            payments.append((n, total, paid_on))
            paid_vouchers += voucher_ids
    db.session.execute(insert(Claim), claims)
    claim_ids = _ids(select(Claim.number, Claim.id).where(Claim.number.like(f"BT{HUGUAN}%")))
    db.session.execute(insert(Disbursement), [
        {"claim_id": claim_ids[f"BT{HUGUAN}{n:06d}"], "amount_fen": total, "paid_on": paid_on,
         "reference": f"BF{n:08d}", "recorded_by": staff["huguan.finance"], "recorded_at": cn(paid_on, 15)}
        for n, total, paid_on in payments])
    db.session.execute(Voucher.__table__.update().where(Voucher.__table__.c.id.in_(paid_vouchers)).values(
        state=VoucherState.WRITTEN_OFF))
    db.session.commit()
    return {"assessment results": len(results), "certificates": len(certificates), "claims": len(claims),
            "disbursements": len(payments)}


def _login(client, username: str) -> dict:
    response = client.post("/api/v1/auth/login", json={"username": username, "password": demo.STAFF_PASSWORD})
    assert response.status_code == 200, response.get_json()
    return {"Authorization": "Bearer " + response.json["access_token"]}


def _query_breakdown(app, rounds: int) -> list[tuple[str, float]]:
    """Median ms of each of the county report's queries, called directly (the reading's detail)."""
    window = reports._Window(reports.year_to_date(YEAR, MONTH), reports.month_period(YEAR, MONTH))
    prefix = HUGUAN + "%"
    parts = {"vouchers issued + trained (one query, by home township)":
             lambda: reports._vouchers(prefix, window, True),
             "classes opened (first approval)": lambda: reports._classes(prefix, window),
             "certificates (by home township)": lambda: reports._certificates(prefix, window, True),
             "payments": lambda: reports._payments(prefix, window)}
    out = []
    with app.app_context():
        for label, call in parts.items():
            samples = []
            for _ in range(rounds):
                start = timer.perf_counter()
                call()
                samples.append((timer.perf_counter() - start) * 1000)
                db.session.rollback()
            out.append((label, statistics.median(samples)))
    return out


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        began = timer.perf_counter()
        app = demo_app(Path(tmp))
        with app.app_context():
            load_targets()
            counts = seed(random.Random(2024))
            dialect = db.engine.dialect.name
            reviewer = db.session.scalar(select(User).where(User.username == "huguan.reviewer1"))
            report = reports.progress(principal_of(reviewer), HUGUAN, YEAR, MONTH)
            in_county = db.session.scalar(select(func.count()).select_from(Voucher).where(
                Voucher.region_code == HUGUAN))
        seeded = timer.perf_counter() - began
        client = app.test_client()
        county = _login(client, "huguan.reviewer1")
        province = _login(client, demo.PROVINCE_ADMIN)
        query = f"year={YEAR}&month={MONTH}"
        warmup = min(5, ROUNDS)
        results = [
            measure(f"GET /reports/progress?region={HUGUAN} (county, 10 townships)", lambda: client.get(
                f"/api/v1/reports/progress?region={HUGUAN}&{query}", headers=county), ROUNDS, warmup),
            measure(f"GET /reports/progress.xlsx?region={HUGUAN}", lambda: client.get(
                f"/api/v1/reports/progress.xlsx?region={HUGUAN}&{query}", headers=county), ROUNDS, warmup),
            measure("GET /reports/progress?region=140000 (province, 11 cities)", lambda: client.get(
                f"/api/v1/reports/progress?region=140000&{query}", headers=province), ROUNDS, warmup),
        ]
        breakdown = _query_breakdown(app, min(ROUNDS, 20))

        total = {line.measure: line for line in report.total.lines}
        print(f"database: {dialect}; rounds: {ROUNDS} (warm-up {warmup}); seeded in {seeded:.0f} s")
        print("seeded: " + ", ".join(f"{n:,} {label}" for label, n in counts.items())
              + f"; {in_county:,} Huguan vouchers in all")
        print(f"report {YEAR}-{MONTH:02d}, county total (month / year to date, target, %): "
              + "; ".join(f"{m}: {line.month:,} / {line.year_to_date:,}"
                          + (f" of {line.target:,} = {line.percent}%" if line.target else "")
                          for m, line in total.items()))
        print(f"{'request':<64} {'median ms':>10} {'p95 ms':>10}")
        for label, median, p95 in results:
            print(f"{label:<64} {median:>10.2f} {p95:>10.2f}")
        print("the county report's queries, called directly (median ms):")
        for label, median in breakdown:
            print(f"  {label:<62} {median:>10.2f}")


if __name__ == "__main__":
    main()
