"""Scanning vouchers at class start (the 8 am queue): an institution operator scans the fifty
trainees of a class, through the whole Flask stack with the WSGI test client, so the figures
are the app's own cost without network noise.

    .venv/bin/python bench/scans.py                      # SQLite (the embedded default)
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench .venv/bin/python bench/scans.py
    BENCH_PROFILE=1 .venv/bin/python bench/scans.py      # also cProfile one class's 50 scans

The database is built by the migrations and loaded with the demo data; then trainees in Huguan
(whose policy issues vouchers at once) apply for a voucher each, and huguan.inst1 opens classes
of 50 of them through the API (created, documents uploaded, submitted, approved by
huguan.reviewer1). Every successful scan needs a voucher of its own, so each measurement that
binds uses classes of its own.
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import statistics
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import add_trainees, analyse, demo_app, file_and_approve, id_number  # bench/common.py
from sqlalchemy import func, select

from server.extensions import db
from server.models import AuditEvent, TraineeProfile, User, Voucher
from server.services import auth, clock, demo
from server.services import vouchers as voucher_service

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "300"))
PROFILE = bool(os.environ.get("BENCH_PROFILE"))
CLASS_SIZE = 50
SEQUENTIAL_CLASSES = int(os.environ.get("BENCH_CLASSES", "6"))  # 300 successful scans
CONCURRENT_CLASSES = 5  # per way of splitting the class between the two phones
QR_ROUNDS = 100  # a cold QR renders for ~25 ms
OCCUPATION, LEVEL = "4-10-01-05", "初级"  # 养老护理员, in the shipped catalogue
MOBILE_PREFIX = "1381"


def build_app(tmp: Path, trainees: int):
    app = demo_app(tmp)
    with app.app_context():
        add_trainees(MOBILE_PREFIX, trainees)
        # Each trainee applies through the service; Huguan issues at once.
        for user in db.session.scalars(select(User).where(User.mobile.like(MOBILE_PREFIX + "%"))
                                       .order_by(User.mobile)).all():
            voucher = voucher_service.apply(auth.principal_of(user), voucher_service.ApplicationInput(
                occupation_code=OCCUPATION, level=LEVEL, programme="puhui", region_code="140427"))
            assert voucher.state == "issued", voucher.state
        analyse()
    return app


# --- opening a class through the API (as tests/factories.py does) ---------------------------


def class_body(start: date, roster: list[str], days: int = 5) -> dict:
    sessions = []
    for offset in range(days):
        day = (start + timedelta(days=offset)).isoformat()
        sessions += [{"day": day, "starts": "08:30", "ends": "11:30", "kind": "theory"},
                     {"day": day, "starts": "14:00", "ends": "17:00", "kind": "practice"}]
    return {
        "occupation_code": OCCUPATION, "level": LEVEL, "programme": "puhui", "region_code": "140427",
        "name": "养老护理员初级培训班", "start_date": start.isoformat(),
        "end_date": (start + timedelta(days=days - 1)).isoformat(), "sessions": sessions,
        "site": {"address": "壶关县龙泉镇职教中心", "latitude": 36.1128, "longitude": 113.2075,
                 "radius_m": 200},
        "teachers": [{"name": "李老师", "id_number": id_number(5, year=1980),
                      "certificate_no": "GZ-2023-0001"}],
        "assessment_plan": "结业前理论与实操考核，由评价机构组织",
        "roster": roster,
    }


def open_class(client, institution: dict, reviewer: dict, start: date, roster: list[str]) -> int:
    return file_and_approve(client, institution, reviewer, class_body(start, roster))


# --- measuring --------------------------------------------------------------------------------


def stats(samples: list[float]) -> tuple[float, float]:
    samples = sorted(samples)
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def measure(label: str, call, status: int = 200, rounds: int = ROUNDS, warmup: int = 20
            ) -> tuple[str, float, float]:
    for _ in range(min(warmup, rounds)):
        call()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        response = call()
        samples.append((time.perf_counter() - start) * 1000)
        assert response.status_code == status, (label, response.status_code, response.get_data()[:200])
    return label, *stats(samples)


def outcome(response) -> str:
    body = response.get_json() or {}
    return body.get("outcome") or body.get("error", {}).get("code") or str(response.status_code)


def scan(client, headers: dict, class_id: int, token: str, request_id: str, device: str = "scanner-1"):
    return client.post(f"/api/v1/classes/{class_id}/scans", headers=headers,
                       json={"token": token, "request_id": request_id, "device_id": device})


def two_phones(app, headers: dict, class_id: int, tokens: list[str], race: bool) -> tuple[float, dict]:
    """Two scanner phones at one class, started together. Split: each scans half the class.
    Race: both scan every trainee in the same order, so each voucher is fought over."""
    lists = [tokens, tokens] if race else [tokens[0::2], tokens[1::2]]
    barrier = threading.Barrier(2)
    spans: list[tuple[float, float]] = []
    outcomes: dict[str, int] = {}
    lock = threading.Lock()

    def phone(n: int) -> None:
        client = app.test_client()
        seen = []
        barrier.wait()
        start = time.perf_counter()
        for i, token in enumerate(lists[n]):
            seen.append(outcome(scan(client, headers, class_id, token, f"c{class_id}-p{n}-{i}",
                                     device=f"scanner-{n + 1}")))
        end = time.perf_counter()
        with lock:
            spans.append((start, end))
            for code in seen:
                outcomes[code] = outcomes.get(code, 0) + 1

    threads = [threading.Thread(target=phone, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    wall = max(end for _, end in spans) - min(start for start, _ in spans)
    return wall, outcomes


def bound_and_audited(app, class_id: int, voucher_ids: list[int]) -> tuple[int, int]:
    with app.app_context():
        bound = db.session.scalar(select(func.count()).select_from(Voucher).where(
            Voucher.bound_class_id == class_id))
        audited = db.session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "voucher.bind", AuditEvent.object_id.in_([str(v) for v in voucher_ids])))
    return bound, audited


def main() -> None:
    classes_needed = SEQUENTIAL_CLASSES + 2 * CONCURRENT_CLASSES + (1 if PROFILE else 0)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        app = build_app(Path(tmp), classes_needed * CLASS_SIZE + 1)
        client = app.test_client()

        def login(body):
            response = client.post("/api/v1/auth/login", json=body)
            assert response.status_code == 200, response.get_json()
            return response.json

        operator = {"Authorization": "Bearer " + login(
            {"username": "huguan.inst1", "password": demo.STAFF_PASSWORD})["access_token"]}
        reviewer = {"Authorization": "Bearer " + login(
            {"username": "huguan.reviewer1", "password": demo.STAFF_PASSWORD})["access_token"]}

        with app.app_context():
            rows = db.session.execute(
                select(Voucher.id, TraineeProfile.id_number, User.mobile)
                .join(TraineeProfile, TraineeProfile.id == Voucher.trainee_id)
                .join(User, User.id == TraineeProfile.user_id)
                .where(User.mobile.like(MOBILE_PREFIX + "%")).order_by(User.mobile)).all()
            tokens = {v: voucher_service.token(db.session.get(Voucher, v)) for v, _, _ in rows}
            start_date = clock.today() + timedelta(days=8)  # Huguan's lead time for puhui is 7 days
        stranger, rows = rows[-1], rows[:-1]  # an issued voucher on no roster
        classes = []  # (class id, [voucher ids])
        for k in range(classes_needed):
            members = rows[k * CLASS_SIZE:(k + 1) * CLASS_SIZE]
            class_id = open_class(client, operator, reviewer, start_date, [n for _, n, _ in members])
            classes.append((class_id, [v for v, _, _ in members]))
        setup = time.perf_counter() - started

        # 1. One operator scans the class, trainee after trainee.
        per_scan, per_class = [], []
        for class_id, voucher_ids in classes[:SEQUENTIAL_CLASSES]:
            class_start = time.perf_counter()
            for i, voucher_id in enumerate(voucher_ids):
                start = time.perf_counter()
                response = scan(client, operator, class_id, tokens[voucher_id], f"c{class_id}-{i}")
                per_scan.append((time.perf_counter() - start) * 1000)
                assert response.status_code == 200 and outcome(response) == "BOUND", response.get_json()
            per_class.append(time.perf_counter() - class_start)
            assert bound_and_audited(app, class_id, voucher_ids) == (CLASS_SIZE, CLASS_SIZE)

        # 2 and 3. Refusals and replays, against the first (now fully scanned) class.
        first_class, first_vouchers = classes[0]
        counter = iter(range(10**9))

        def fresh() -> str:
            return f"refused-{next(counter)}"

        replays = iter(range(10**9))

        def replay():
            i = next(replays) % CLASS_SIZE
            response = scan(client, operator, first_class, tokens[first_vouchers[i]], f"c{first_class}-{i}")
            assert response.headers.get("Idempotent-Replayed") == "true"
            return response

        results = [
            ("scan that binds (token, checks, UPDATE, audit, log)", *stats(per_scan)),
            measure("refused: already bound here (409, a second scan)", lambda: scan(
                client, operator, first_class, tokens[first_vouchers[0]], fresh()), status=409),
            measure("refused: issued voucher not on the roster (422)", lambda: scan(
                client, operator, first_class, tokens[stranger[0]], fresh()), status=422),
            measure("refused: garbage token (422)", lambda: scan(
                client, operator, first_class, "这不是二维码 ☃", fresh()), status=422),
            measure("replayed request_id (first outcome returned)", replay),
        ]

        # 4. Two scanner phones at once.
        concurrent = {}
        rest = classes[SEQUENTIAL_CLASSES:SEQUENTIAL_CLASSES + 2 * CONCURRENT_CLASSES]
        for race, batch in ((False, rest[:CONCURRENT_CLASSES]), (True, rest[CONCURRENT_CLASSES:])):
            walls, totals = [], {}
            for class_id, voucher_ids in batch:
                wall, outcomes = two_phones(app, operator, class_id, [tokens[v] for v in voucher_ids], race)
                walls.append(wall)
                for code, count in outcomes.items():
                    totals[code] = totals.get(code, 0) + count
                assert outcomes.get("BOUND") == CLASS_SIZE, outcomes
                assert bound_and_audited(app, class_id, voucher_ids) == (CLASS_SIZE, CLASS_SIZE)
            concurrent[race] = (walls, totals)

        # 5. The trainee's QR code.
        trainee_mobile = next(m for v, _, m in rows if v == first_vouchers[0])
        trainee = {"Authorization": "Bearer " + login(
            {"mobile": trainee_mobile, "password": demo.TRAINEE_PASSWORD})["access_token"]}
        qr_url = f"/api/v1/vouchers/{first_vouchers[0]}/qr.png"
        etag = client.get(qr_url, headers=trainee).headers["ETag"]
        conditional = {**trainee, "If-None-Match": etag}

        def cold(headers):
            voucher_service._render.cache_clear()  # as after a restart, or in another worker
            return client.get(qr_url, headers=headers)

        qr = [
            measure("GET qr.png, first request (renders)", lambda: cold(trainee), rounds=QR_ROUNDS, warmup=3),
            measure("GET qr.png, repeated (in-process cache)", lambda: client.get(qr_url, headers=trainee)),
            measure("GET qr.png, If-None-Match (304)", lambda: client.get(qr_url, headers=conditional),
                    status=304),
            measure("GET qr.png, If-None-Match, not in this process's cache (304)", lambda: cold(conditional),
                    status=304, rounds=QR_ROUNDS, warmup=3),
        ]

        profile_text = ""
        if PROFILE:
            class_id, voucher_ids = classes[-1]
            profiler = cProfile.Profile()
            profiler.enable()
            for i, voucher_id in enumerate(voucher_ids):
                scan(client, operator, class_id, tokens[voucher_id], f"c{class_id}-{i}")
            profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(
                r"server/|sqlalchemy/engine/base\.py|jwt/", 40)
            profile_text = out.getvalue()

        with app.app_context():
            dialect = db.engine.dialect.name
        print(f"database: {dialect}; setup {setup:.0f} s ({classes_needed} classes of {CLASS_SIZE}, "
              f"{len(tokens)} vouchers); rounds: {ROUNDS} (binding scans: {len(per_scan)}, "
              f"QR cold: {QR_ROUNDS})")
        print(f"{'request':<66} {'median ms':>10} {'p95 ms':>10}")
        for label, median, p95 in results + qr:
            print(f"{label:<66} {median:>10.2f} {p95:>10.2f}")
        print(f"\n50 scans by one operator: median {statistics.median(per_class):.2f} s, "
              f"range {min(per_class):.2f}–{max(per_class):.2f} s over {len(per_class)} classes")
        for race, (walls, totals) in concurrent.items():
            how = "both phones scan all 50 (race)" if race else "two phones, 25 each"
            print(f"50 scans, {how}: median wall {statistics.median(walls):.2f} s, "
                  f"range {min(walls):.2f}–{max(walls):.2f} s over {len(walls)} classes; "
                  f"outcomes {dict(sorted(totals.items()))}")
        if profile_text:
            print("\ncProfile of one class's 50 binding scans (cumulative):")
            print(profile_text)


if __name__ == "__main__":
    main()
