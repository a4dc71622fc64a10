"""Median and p95 latency of the foundation's hot requests, through the whole Flask stack
(routing, auth, scope filters, serialisation) with the WSGI test client, so the figures are
the app's own cost without network noise.

    .venv/bin/python bench/api_latency.py                      # SQLite (the embedded default)
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench .venv/bin/python bench/api_latency.py

The database is built by the migrations, loaded with the demo data and then 10,000 extra
trainees in Huguan county, so the scoped list query filters a realistic table.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import add_trainees, analyse, demo_app  # bench/common.py, beside this script
from common import measure as common_measure

from server.extensions import db
from server.services import demo

EXTRA_TRAINEES = 10_000
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "300"))


def build_app(tmp: Path):
    app = demo_app(tmp)
    with app.app_context():
        add_trainees("1380", EXTRA_TRAINEES)
        analyse()
    return app


def measure(label: str, call, rounds: int = ROUNDS) -> tuple[str, float, float]:
    return common_measure(label, call, rounds, warmup=min(20, rounds))


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        app = build_app(Path(tmp))
        client = app.test_client()

        def login(body):
            return client.post("/api/v1/auth/login", json=body)

        reviewer = {"Authorization": "Bearer " + login(
            {"username": "huguan.reviewer1", "password": demo.STAFF_PASSWORD}).json["access_token"]}
        trainee_login = login({"mobile": "13902000001", "password": demo.TRAINEE_PASSWORD}).json
        trainee = {"Authorization": "Bearer " + trainee_login["access_token"]}
        trainee_id = trainee_login["user"]["trainee_id"]
        results = [
            measure("GET /healthz", lambda: client.get("/healthz")),
            measure("GET /api/v1/me (trainee)", lambda: client.get("/api/v1/me", headers=trainee)),
            measure("GET /api/v1/trainees/<id> (county reviewer)",
                    lambda: client.get(f"/api/v1/trainees/{trainee_id}", headers=reviewer)),
            measure("GET /api/v1/trainees?limit=50 (county reviewer, 10,030 in scope)",
                    lambda: client.get("/api/v1/trainees?limit=50", headers=reviewer)),
            measure("POST /api/v1/auth/login (argon2id + audit)", lambda: login(
                {"username": "huguan.reviewer1", "password": demo.STAFF_PASSWORD}), rounds=60),
        ]
        with app.app_context():
            dialect = db.engine.dialect.name
        print(f"database: {dialect}; rounds: {ROUNDS} (login: 60)")
        print(f"{'request':<70} {'median ms':>10} {'p95 ms':>10}")
        for label, median, p95 in results:
            print(f"{label:<70} {median:>10.2f} {p95:>10.2f}")


if __name__ == "__main__":
    main()
