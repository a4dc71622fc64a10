"""Scanning vouchers at class start (验券): every bad token and voucher has its own refusal,
a refusal changes nothing but the scan log, a retried request replays, and two institutions
racing for one voucher cannot both bind it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from server.adapters.signing import KeyRing
from server.domain.access import Role
from server.extensions import db
from server.models import AuditEvent, Voucher, VoucherScan
from server.services import auth
from server.services import clock as server_clock
from server.services import vouchers as voucher_service
from tests.factories import (
    LEVEL,
    OCCUPATION,
    class_body,
    login,
    make_org,
    make_staff,
    make_trainee,
    open_class,
)


def issue(trainee, *, region_code="140427", occupation=OCCUPATION, level=LEVEL, programme="puhui") -> Voucher:
    """A voucher applied for by the trainee (Huguan issues at once)."""
    principal = auth.principal_of(trainee.user)
    voucher = voucher_service.apply(principal, voucher_service.ApplicationInput(
        occupation_code=occupation, level=level, programme=programme, region_code=region_code))
    assert voucher.state == "issued"
    return voucher


@pytest.fixture
def world(client, ctx):
    """Huguan: a reviewer, two institutions, an approved class of the first with two trainees
    holding issued vouchers on its roster."""
    reviewer = make_staff(Role.BUREAU_REVIEWER)
    inst_a = make_staff(Role.INSTITUTION_OPERATOR, make_org(region_code="140427"))
    inst_b = make_staff(Role.INSTITUTION_OPERATOR, make_org(region_code="140427"))
    trainees = [make_trainee(real_name=f"学员{i}") for i in range(2)]
    issued = [issue(t) for t in trainees]
    headers = {"reviewer": login(client, username=reviewer.username),
               "a": login(client, username=inst_a.username), "b": login(client, username=inst_b.username)}
    class_id = open_class(client, headers["a"], headers["reviewer"], [t.id_number for t in trainees])
    return {"headers": headers, "class_id": class_id, "trainees": trainees,
            "voucher_ids": [v.id for v in issued]}


def token_for(voucher_id: int) -> str:
    voucher = db.session.get(Voucher, voucher_id)
    return voucher_service.token(voucher)


def scan(client, world, token, *, class_id=None, who="a", request_id=None):
    body = {"token": token, "device_id": "scanner-1"} | ({"request_id": request_id} if request_id else {})
    return client.post(f"/api/v1/classes/{class_id or world['class_id']}/scans",
                       headers=world["headers"][who], json=body)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _forge(header: dict, payload: dict, key: bytes = b"", alg: str = "none") -> str:
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest() if alg == "HS256" else b""
    return f"{signing_input}.{_b64(signature)}"


def _state(voucher_id: int) -> str:
    db.session.expire_all()
    return str(db.session.get(Voucher, voucher_id).state)


def _audit_count() -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent))


def test_a_good_scan_binds_and_a_second_scan_is_refused(client, world):
    voucher_id = world["voucher_ids"][0]
    first = scan(client, world, token_for(voucher_id))
    assert first.status_code == 200, first.json
    assert _state(voucher_id) == "bound"
    again = scan(client, world, token_for(voucher_id))
    assert again.status_code == 409
    assert again.json["error"]["code"] == "VOUCHER_ALREADY_BOUND"
    assert again.json["error"]["details"] == {"same_class": True}


def _bad_tokens(app, world) -> dict[str, str]:
    ring: KeyRing = app.extensions["keyring"]
    voucher_id = world["voucher_ids"][0]
    good = token_for(voucher_id)
    header, payload, signature = good.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    kid = json.loads(base64.urlsafe_b64decode(header + "=="))["kid"]
    public_key = base64.urlsafe_b64decode(ring.public_jwks()["keys"][0]["x"] + "==")
    tampered_payload = _b64(json.dumps({**claims, "v": world["voucher_ids"][1]}).encode())
    return {
        "tampered payload": f"{header}.{tampered_payload}.{signature}",
        "alg none": _forge({"alg": "none", "typ": "voucher", "kid": kid}, claims),
        "HS256 keyed with the public key": _forge({"alg": "HS256", "typ": "voucher", "kid": kid}, claims,
                                                  key=public_key, alg="HS256"),
        "expired": ring.sign({"v": voucher_id, "exp": int(time.time()) - 60}, "voucher"),
        "certificate token": ring.sign({"v": voucher_id, "exp": int(time.time()) + 600}, "certificate"),
        "no expiry": ring.sign({"v": voucher_id}, "voucher"),
        "garbage": "这不是二维码 ☃",
        "over-long": "A" * 2000,
        "unknown voucher": ring.sign({"v": 987654, "exp": int(time.time()) + 600}, "voucher"),
        "non-integer voucher id": ring.sign({"v": "1", "exp": int(time.time()) + 600}, "voucher"),
    }


BAD_TOKEN_CODES = {
    "tampered payload": (422, "TOKEN_BAD_SIGNATURE"),
    "alg none": (422, "TOKEN_WRONG_ALGORITHM"),
    "HS256 keyed with the public key": (422, "TOKEN_WRONG_ALGORITHM"),
    "expired": (422, "TOKEN_EXPIRED"),
    "certificate token": (422, "TOKEN_WRONG_TYPE"),
    "no expiry": (422, "TOKEN_INVALID_CLAIMS"),
    "garbage": (422, "TOKEN_MALFORMED"),
    "over-long": (422, "TOKEN_TOO_LONG"),
    "unknown voucher": (404, "VOUCHER_NOT_FOUND"),
    "non-integer voucher id": (422, "TOKEN_INVALID_CLAIMS"),
}


@pytest.mark.parametrize("case", sorted(BAD_TOKEN_CODES))
def test_each_bad_token_has_its_own_refusal_and_changes_nothing(app, client, world, case):
    token = _bad_tokens(app, world)[case]
    audit_before = _audit_count()
    response = scan(client, world, token)
    status, code = BAD_TOKEN_CODES[case]
    assert (response.status_code, response.json["error"]["code"]) == (status, code)
    assert [_state(v) for v in world["voucher_ids"]] == ["issued", "issued"]
    assert _audit_count() == audit_before
    logged = db.session.scalars(select(VoucherScan)).all()
    assert [(row.outcome, row.status) for row in logged] == [(code, status)]
    assert token not in json.dumps(logged[0].response)  # the log keeps a digest, not the token


def test_a_token_from_another_issuer_names_the_unknown_key(client, world, tmp_path):
    stranger = KeyRing(tmp_path / "keys").ensure()
    token = stranger.sign({"v": world["voucher_ids"][0], "exp": int(time.time()) + 600}, "voucher")
    response = scan(client, world, token)
    assert (response.status_code, response.json["error"]["code"]) == (422, "TOKEN_UNKNOWN_KEY")


def test_a_token_longer_than_any_body_we_accept_is_refused_before_parsing(client, world):
    response = scan(client, world, "A" * 9000)
    assert response.status_code == 422
    assert response.json["error"]["code"] == "VALIDATION_FAILED"


def test_a_revoked_voucher_is_refused_even_with_a_valid_token(client, world):
    voucher_id = world["voucher_ids"][0]
    token = token_for(voucher_id)  # the trainee's phone still shows the old QR
    revoked = client.post(f"/api/v1/vouchers/{voucher_id}/revoke", headers=world["headers"]["reviewer"],
                          json={"reason": "冒名顶替"})
    assert revoked.status_code == 200
    response = scan(client, world, token)
    assert (response.status_code, response.json["error"]["code"]) == (409, "VOUCHER_REVOKED")
    assert _state(voucher_id) == "revoked"


def test_a_voucher_past_its_date_is_refused_before_and_after_the_expiry_run(app, client, world):
    """The server's record decides, not the token: a voucher whose last day has passed is
    refused even while a token for it is still unexpired."""
    voucher = db.session.get(Voucher, world["voucher_ids"][0])
    voucher.expires_on = server_clock.today() - timedelta(days=1)
    db.session.commit()
    token = app.extensions["keyring"].sign({"v": voucher.id, "exp": int(time.time()) + 600}, "voucher")
    response = scan(client, world, token)
    assert (response.status_code, response.json["error"]["code"]) == (409, "VOUCHER_EXPIRED")
    assert _state(voucher.id) == "issued"
    assert voucher_service.expire_due() == [voucher.serial]
    response = scan(client, world, token)
    assert (response.status_code, response.json["error"]["code"]) == (409, "VOUCHER_EXPIRED")
    assert _state(voucher.id) == "expired"


def test_another_regions_voucher_is_refused(client, world):
    lin_trainee = make_trainee("141124")
    lin_voucher = voucher_service.apply(auth.principal_of(lin_trainee.user), voucher_service.ApplicationInput(
        occupation_code=OCCUPATION, level=LEVEL, programme="puhui", region_code="141124"))
    lin_reviewer = make_staff(Role.BUREAU_REVIEWER, region_code="141124")
    voucher_service.review(auth.principal_of(lin_reviewer), lin_voucher.id, True)
    response = scan(client, world, token_for(lin_voucher.id))
    assert (response.status_code, response.json["error"]["code"]) == (422, "VOUCHER_OTHER_REGION")
    assert _state(lin_voucher.id) == "issued"


def test_a_voucher_for_another_occupation_is_refused(client, world):
    trainee = world["trainees"][0]
    other = issue(trainee, occupation="4-10-01-02", level="初级", programme="project")
    response = scan(client, world, token_for(other.id))
    assert (response.status_code, response.json["error"]["code"]) == (422, "VOUCHER_CLASS_MISMATCH")
    assert set(response.json["error"]["details"]["fields"]) == {"occupation_code", "programme"}


def test_a_matching_voucher_not_on_the_roster_is_refused(client, world):
    stranger = issue(make_trainee(real_name="名单外"))
    response = scan(client, world, token_for(stranger.id))
    assert (response.status_code, response.json["error"]["code"]) == (422, "NOT_ON_ROSTER")
    assert _state(stranger.id) == "issued"


def test_a_class_of_another_institution_is_not_found(client, world):
    response = scan(client, world, token_for(world["voucher_ids"][0]), who="b")
    assert (response.status_code, response.json["error"]["code"]) == (404, "CLASS_NOT_FOUND")
    assert _state(world["voucher_ids"][0]) == "issued"
    # Still logged, under the institution that tried.
    assert db.session.scalar(select(VoucherScan.outcome)) == "CLASS_NOT_FOUND"


def test_a_class_not_yet_approved_cannot_scan(client, world):
    headers = world["headers"]
    start = server_clock.today() + timedelta(days=8)
    created = client.post("/api/v1/classes", headers=headers["a"],
                          json=class_body(start, [world["trainees"][0].id_number]))
    response = scan(client, world, token_for(world["voucher_ids"][0]), class_id=created.json["id"])
    assert (response.status_code, response.json["error"]["code"]) == (409, "CLASS_NOT_OPEN")


def test_a_finished_class_cannot_scan(client, world, clock):
    detail = client.get(f"/api/v1/classes/{world['class_id']}", headers=world["headers"]["a"]).json
    token = token_for(world["voucher_ids"][0])
    clock.set(server_clock.end_of_day(
        server_clock.today().fromisoformat(detail["end_date"])) + timedelta(hours=2))
    response = scan(client, world, token)
    assert (response.status_code, response.json["error"]["code"]) == (409, "CLASS_NOT_OPEN")


def test_only_institution_operators_scan(client, world):
    response = client.post(f"/api/v1/classes/{world['class_id']}/scans", headers=world["headers"]["reviewer"],
                           json={"token": token_for(world["voucher_ids"][0])})
    assert response.status_code == 403


def test_a_retried_request_returns_its_first_outcome(client, world):
    voucher_id = world["voucher_ids"][0]
    first = scan(client, world, token_for(voucher_id), request_id="req-1")
    retried = scan(client, world, token_for(voucher_id), request_id="req-1")
    assert first.status_code == retried.status_code == 200
    assert retried.json == first.json
    assert retried.headers["Idempotent-Replayed"] == "true"
    # A failed attempt replays its refusal too, even after the cause is gone.
    refused = scan(client, world, "garbage", request_id="req-2")
    replay = scan(client, world, token_for(world["voucher_ids"][1]), request_id="req-2")
    assert refused.json == replay.json and replay.status_code == 422
    assert _state(world["voucher_ids"][1]) == "issued"
    assert db.session.scalar(select(func.count()).select_from(VoucherScan)) == 2


def test_the_scan_log_shows_failed_attempts_to_the_bureau(client, world):
    scan(client, world, "garbage")
    scan(client, world, token_for(world["voucher_ids"][0]))
    log = client.get(f"/api/v1/classes/{world['class_id']}/scans", headers=world["headers"]["reviewer"]).json
    assert [e["outcome"] for e in log["items"]] == ["BOUND", "TOKEN_MALFORMED"]
    assert all(e["device_id"] == "scanner-1" for e in log["items"])


def test_two_institutions_racing_for_one_voucher_bind_it_once(app, client, world):
    """Both classes have the trainee on their roster; both scanners fire at once. Exactly one
    binds, the other gets 409 — the conditional UPDATE decides, not a Python check."""
    headers = world["headers"]
    trainee = world["trainees"][0]
    class_b = open_class(client, headers["b"], headers["reviewer"], [trainee.id_number])
    voucher_id = world["voucher_ids"][0]
    token = token_for(voucher_id)
    db.session.commit()
    barrier = threading.Barrier(2)
    results: dict[str, tuple[int, str]] = {}

    def fire(who: str, class_id: int) -> None:
        thread_client = app.test_client()
        barrier.wait()
        response = thread_client.post(f"/api/v1/classes/{class_id}/scans", headers=headers[who],
                                      json={"token": token, "request_id": f"race-{who}"})
        body = response.get_json()
        results[who] = (response.status_code, body.get("outcome") or body["error"]["code"])

    threads = [threading.Thread(target=fire, args=("a", world["class_id"])),
               threading.Thread(target=fire, args=("b", class_b))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(results.values()) == [(200, "BOUND"), (409, "VOUCHER_ALREADY_BOUND")]
    winner = next(who for who, (status, _) in results.items() if status == 200)
    voucher = db.session.get(Voucher, voucher_id)
    db.session.refresh(voucher)
    assert voucher.bound_class_id == (world["class_id"] if winner == "a" else class_b)
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "voucher.bind")) == 1


def test_when_the_voucher_cannot_be_confirmed_the_scan_fails_closed(client, world, monkeypatch):
    """The database does not answer while the voucher is looked up: 503, nothing bound, and the
    scanner is told to retry rather than let the trainee in."""
    from sqlalchemy.exc import OperationalError

    token = token_for(world["voucher_ids"][0])
    real_get = db.session.get

    def unreachable(model, ident, *args, **kwargs):
        if model is Voucher:
            raise OperationalError("SELECT vouchers", {}, Exception("connection reset"))
        return real_get(model, ident, *args, **kwargs)

    monkeypatch.setattr(db.session, "get", unreachable)
    response = scan(client, world, token)
    monkeypatch.undo()
    assert (response.status_code, response.json["error"]["code"]) == (503, "DATABASE_UNAVAILABLE")
    assert response.headers["Retry-After"] == "5"
    assert _state(world["voucher_ids"][0]) == "issued"
