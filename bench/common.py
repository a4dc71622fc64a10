"""What the benchmarks share: an app on a fresh database with the demo data, bulk trainees, a
class opened through the API, and timing a request.

A benchmark builds its own schema, so on PostgreSQL it refuses any database whose name does not
begin with `bench` (the schema is dropped and rebuilt).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import insert, select, text

from server import create_app
from server.config import Settings
from server.domain.access import Role
from server.domain.identity import check_character
from server.extensions import db
from server.models import TraineeProfile, User
from server.services import demo


def id_number(n: int, year: int = 1975) -> str:
    """A valid, distinct Huguan ID number per n: (birth date, sequence) is unique."""
    birth = date(year, 1, 1) + timedelta(days=n // 999)
    first17 = f"140427{birth:%Y%m%d}{n % 999 + 1:03d}"
    return first17 + check_character(first17)


def demo_app(tmp: Path) -> Flask:
    """The app on a database built by the migrations and loaded with the demo data."""
    url = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{tmp / 'bench.db'}"
    settings = Settings.from_env({"INSTANCE_PATH": str(tmp), "SECRET_KEY": "b" * 48})
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "RATELIMIT_ENABLED": False}, settings=settings)
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            if not (db.engine.url.database or "").startswith("bench"):
                sys.exit(f"refusing to clear database {db.engine.url.database!r}: "
                         "BENCH_DATABASE_URL must name a database called bench…")
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        upgrade()
        demo.load_demo()
    return app


def add_trainees(mobile_prefix: str, count: int) -> list[User]:
    """`count` Huguan trainees (rural migrants) inserted in bulk, mobiles `<prefix><7 digits>`,
    signing in with the demo trainees' password. Call inside an app context."""
    password_hash = db.session.scalar(select(User.password_hash).where(User.mobile == "13902000001"))
    db.session.execute(insert(User), [
        {"mobile": f"{mobile_prefix}{n:07d}", "display_name": "压测学员", "role": Role.TRAINEE,
         "password_hash": password_hash} for n in range(count)])
    users = db.session.scalars(select(User).where(User.mobile.like(mobile_prefix + "%"))
                               .order_by(User.mobile)).all()
    profiles = []
    for n, user in enumerate(users):
        number = id_number(n)
        profiles.append({"user_id": user.id, "real_name": "压测学员",
                         "birth_date": date(int(number[6:10]), int(number[10:12]), int(number[12:14])),
                         "id_number": number, "sex": "M" if int(number[16]) % 2 else "F",
                         "home_region_code": "140427100", "categories": ["rural_migrant"]})
    db.session.execute(insert(TraineeProfile), profiles)
    db.session.commit()
    return list(users)


def analyse() -> None:
    """Give the planner statistics, as autovacuum / a long-running database would have."""
    db.session.execute(text("ANALYZE"))
    db.session.commit()


# --- opening a class through the API (as tests/factories.py does) ---------------------------

DOCUMENTS = {"teaching_plan": ("教学实施计划.pdf", demo.pdf_document("Teaching plan")),
             "syllabus": ("教学大纲.docx", demo.docx_document(["教学大纲"])),
             "course_schedule": ("课程安排表.xlsx", demo.xlsx_document([["周次", "课程内容"]]))}


def file_and_approve(client, institution: dict, reviewer: dict, body: dict) -> int:
    """File an opening (`body` as POST /classes takes it) with its three documents, submit it,
    and approve it as `reviewer`; the class id."""
    created = client.post("/api/v1/classes", headers=institution, json=body)
    assert created.status_code == 201, created.get_json()
    class_id = created.json["id"]
    for kind, (filename, data) in DOCUMENTS.items():
        response = client.put(f"/api/v1/classes/{class_id}/documents/{kind}",
                              query_string={"filename": filename}, data=data, headers=institution,
                              content_type="application/octet-stream")
        assert response.status_code == 201, response.get_json()
    submitted = client.post(f"/api/v1/classes/{class_id}/submit", headers=institution)
    assert submitted.status_code == 200, submitted.get_json()
    approved = client.post(f"/api/v1/classes/{class_id}/review", headers=reviewer, json={"approve": True})
    assert approved.status_code == 200, approved.get_json()
    return class_id


# --- timing -----------------------------------------------------------------------------------


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, min(len(ordered) - 1, round(q * len(ordered)) - 1))]


def measure(label: str, call, rounds: int, warmup: int) -> tuple[str, float, float]:
    """(label, median ms, p95 ms) of `call()` (a test-client request that must answer 200),
    body read, after `warmup` untimed calls."""
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        response = call()
        response.get_data()
        samples.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (label, response.status_code, response.get_data()[:200])
    return label, statistics.median(samples), percentile(samples, 0.95)
