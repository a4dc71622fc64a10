"""Sign-in limits shared across worker processes through Redis; personal data kept out of logs."""

from __future__ import annotations

import logging
import os
import uuid

import redis

from server import create_app
from server.config import Settings
from server.domain.access import Role
from tests.factories import login, make_id_number, make_staff

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _redis_answers() -> bool:
    try:
        return redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return False


def test_two_workers_share_the_sign_in_limit_through_redis(tmp_path, database_url):
    """With REDIS_URL set, the per-account limit counts requests from every worker together.
    Needs Redis (`make test` starts one): without it this fails, it is never skipped."""
    assert _redis_answers(), f"no Redis answers at {REDIS_URL}: run `make redis` first"
    key_prefix = f"sv-test-{uuid.uuid4().hex[:8]}"

    def worker():
        settings = Settings.from_env({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "k" * 40,
                                      "REDIS_URL": REDIS_URL})
        return create_app({"SQLALCHEMY_DATABASE_URI": database_url,
                           "RATELIMIT_KEY_PREFIX": key_prefix}, settings=settings).test_client()

    first, second = worker(), worker()
    body = {"username": "nobody-" + key_prefix, "password": "wrong-password-1"}
    statuses = [(first if n % 2 else second).post("/api/v1/auth/login", json=body).status_code
                for n in range(11)]
    assert statuses[:10] == [401] * 10
    assert statuses[10] == 429  # the eleventh, whichever worker it reaches


def test_full_id_numbers_and_sms_codes_never_reach_the_logs(client, ctx, caplog, sms_outbox):
    caplog.set_level(logging.DEBUG)
    headers = login(client, username=make_staff(Role.BUREAU_REVIEWER).username)
    id_number = make_id_number("140427")
    created = client.post("/api/v1/trainees", headers=headers, json={
        "real_name": "孙八", "id_number": id_number, "mobile": "13912345678",
        "home_region_code": "140427", "categories": []})
    assert created.status_code == 201
    client.post("/api/v1/trainees", headers=headers, json={
        "real_name": "孙八", "id_number": id_number, "mobile": "13912345679",
        "home_region_code": "140427", "categories": []})
    client.get(f"/api/v1/trainees?q={id_number}", headers=headers)
    assert id_number not in caplog.text
    assert "13912345678" not in caplog.text
