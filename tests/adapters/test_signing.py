"""Ed25519 voucher/certificate tokens: signing, offline verification, rotation, refusals."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import stat
from datetime import UTC, datetime, timedelta
from threading import Thread

import jwt
import pytest
import qrcode
from qrcode.constants import ERROR_CORRECT_M

from server.adapters.signing import KeyRing, TokenRejected


def _exp(days: int = 180) -> int:
    return int((datetime.now(UTC) + timedelta(days=days)).timestamp())


@pytest.fixture
def ring(tmp_path):
    return KeyRing(tmp_path / "keys").ensure()


def test_a_token_names_its_key_and_verifies(ring):
    token = ring.sign({"v": 1234567, "exp": _exp()}, "voucher")
    assert jwt.get_unverified_header(token)["kid"] == ring.active.kid
    assert ring.verify(token, "voucher")["v"] == 1234567


def test_private_keys_are_readable_by_the_owner_only(ring, tmp_path):
    pem = tmp_path / "keys" / f"{ring.active.kid}.pem"
    assert stat.S_IMODE(pem.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "keys" / "keyring.json").stat().st_mode) == 0o600


def test_a_scanner_verifies_offline_with_the_published_jwks(ring):
    token = ring.sign({"v": 42, "exp": _exp()}, "voucher")
    published = json.loads(json.dumps(ring.public_jwks()))  # what a phone caches
    assert all("d" not in key for key in published["keys"])  # no private part
    key = jwt.PyJWKSet.from_dict(published)[jwt.get_unverified_header(token)["kid"]]
    assert jwt.decode(token, key.key, algorithms=["EdDSA"])["v"] == 42


def test_after_rotation_old_tokens_still_verify_and_new_ones_use_the_new_key(ring, tmp_path):
    old_token = ring.sign({"v": 1, "exp": _exp()}, "voucher")
    old_kid = ring.active.kid
    new_key = ring.rotate()
    assert new_key.kid != old_kid
    assert jwt.get_unverified_header(ring.sign({"v": 2, "exp": _exp()}, "voucher"))["kid"] == new_key.kid
    assert ring.verify(old_token, "voucher")["v"] == 1
    assert {k["kid"] for k in ring.public_jwks()["keys"]} == {old_kid, new_key.kid}
    # Another process (a gunicorn worker) picks the rotation up from the files.
    other = KeyRing(tmp_path / "keys").ensure()
    assert other.active.kid == new_key.kid and other.verify(old_token, "voucher")["v"] == 1


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _forged(header: dict, payload: dict, signature: bytes = b"") -> str:
    return ".".join([_b64(json.dumps(header).encode()), _b64(json.dumps(payload).encode()),
                     _b64(signature)])


def test_refusals_each_have_their_reason(ring, tmp_path):
    good = ring.sign({"v": 7, "exp": _exp()}, "voucher")
    head, body, sig = good.split(".")
    kid = ring.active.kid
    public_raw = base64.urlsafe_b64decode(ring.public_jwks()["keys"][0]["x"] + "==")
    hs_header = {"alg": "HS256", "typ": "voucher", "kid": kid}
    signing_input = f"{_b64(json.dumps(hs_header).encode())}.{body}".encode()
    hs256_with_public_key = signing_input.decode() + "." + _b64(
        hmac.new(public_raw, signing_input, hashlib.sha256).digest())
    tampered_body = _b64(json.dumps({"v": 8, "exp": _exp()}).encode())
    stranger = KeyRing(tmp_path / "other").ensure()
    cases = {
        "garbage": ("not a token", "malformed"),
        "over-long": ("a" * 5000, "malformed"),
        "alg none": (_forged({"alg": "none", "typ": "voucher", "kid": kid}, {"v": 7, "exp": _exp()}),
                     "wrong_algorithm"),
        "HS256 keyed with the public key": (hs256_with_public_key, "wrong_algorithm"),
        "tampered payload": (f"{head}.{tampered_body}.{sig}", "bad_signature"),
        "expired": (ring.sign({"v": 7, "exp": _exp(-1)}, "voucher"), "expired"),
        "another issuer's key": (stranger.sign({"v": 7, "exp": _exp()}, "voucher"), "unknown_key"),
        "a certificate token shown as a voucher": (ring.sign({"c": 1, "exp": _exp()}, "certificate"),
                                                   "wrong_type"),
        "no expiry": (ring.sign({"v": 7}, "voucher"), "invalid_claims"),
    }
    for label, (token, reason) in cases.items():
        with pytest.raises(TokenRejected) as refused:
            ring.verify(token, "voucher")
        assert refused.value.reason == reason, label


def test_a_voucher_token_fits_a_small_qr_code(ring):
    """Voucher id, expiry and kid only: at level M it must fit QR version 10 or lower, which
    cheap phone cameras read quickly."""
    token = ring.sign({"v": 9_999_999_999, "exp": _exp(400)}, "voucher")
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M)
    code.add_data(token)
    code.make(fit=True)
    assert code.version <= 10, (code.version, len(token))


def test_workers_starting_together_create_one_first_key(tmp_path):
    rings = [KeyRing(tmp_path / "keys") for _ in range(6)]
    threads = [Thread(target=r.ensure) for r in rings]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({r.active.kid for r in rings}) == 1
    assert len(list((tmp_path / "keys").glob("*.pem"))) == 1


def test_the_jwks_endpoint_publishes_the_keys(client, app):
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.json == app.extensions["keyring"].public_jwks()
    assert "max-age" in response.headers["Cache-Control"]


def test_the_cli_rotates_the_key(app):
    before = app.extensions["keyring"].active.kid
    result = app.test_cli_runner().invoke(args=["rotate-keys"])
    assert result.exit_code == 0, result.output
    assert app.extensions["keyring"].active.kid != before
