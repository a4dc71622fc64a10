"""The scanner's offline voucher check (pwa/js/voucher-verify.js) in real headless Chromium.

The module is loaded from the live server; the JWKS is fetched once online, then the browser
context goes offline and tokens signed by the server's own key ring are verified against the
cached copy. Every verdict is compared with the server's own `KeyRing.verify`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest

from server.adapters.signing import KeyRing, TokenRejected

pytestmark = pytest.mark.browser

MODULE = "/pwa/js/voucher-verify.js"
STORAGE_KEY = "skillvoucher.jwks"

IMPORT_JS = "async (url) => { window.vv = await import(url); }"
LOAD_JWKS_JS = """async () => {
  try { window.jwks = await window.vv.loadJwks(); return {jwks: window.jwks}; }
  catch (e) { if (e instanceof window.vv.VoucherTokenError) return {reason: e.reason}; throw e; }
}"""
VERIFY_JS = """async ([token, now]) => {
  try {
    return now === null ? await window.vv.verifyVoucherToken(token, window.jwks)
                        : await window.vv.verifyVoucherToken(token, window.jwks, now);
  } catch (e) {
    if (e instanceof window.vv.VoucherTokenError) return {reason: e.reason};
    throw e;
  }
}"""
NETWORK_JS = "() => fetch('/.well-known/jwks.json', {cache: 'no-store'}).then(() => 'up', () => 'down')"


# --- helpers ------------------------------------------------------------------------------------

def _exp(seconds: int = 3600) -> int:
    return int(time.time()) + seconds


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _forged(header: dict, payload: dict, signature: bytes = b"") -> str:
    return ".".join([_b64(json.dumps(header).encode()), _b64(json.dumps(payload).encode()),
                     _b64(signature)])


def open_scanner(page, live_server: str) -> None:
    """Open a page of the live server and import the module from it (while online)."""
    page.goto(live_server + "/")
    page.evaluate(IMPORT_JS, MODULE)


def load_jwks(page) -> dict:
    return page.evaluate(LOAD_JWKS_JS)


def kids(loaded: dict) -> set[str]:
    return {key["kid"] for key in loaded["jwks"]["keys"]}


def go_offline(page) -> dict:
    """Cut the network, then load the JWKS again: it must now come from the cache."""
    page.context.set_offline(True)
    assert page.evaluate(NETWORK_JS) == "down"
    loaded = load_jwks(page)
    stored = page.evaluate("(key) => localStorage.getItem(key)", STORAGE_KEY)
    if stored is not None:
        assert loaded == {"jwks": json.loads(stored)["jwks"]}
    return loaded


def go_online(page) -> None:
    page.context.set_offline(False)
    assert page.evaluate(NETWORK_JS) == "up"


def js_verify(page, token, now: float | None = None) -> dict:
    return page.evaluate(VERIFY_JS, [token, now])


def js_verdict(page, token) -> int | str:
    """The voucher id, or the refusal reason."""
    result = js_verify(page, token)
    return result["reason"] if "reason" in result else result["voucherId"]


def server_verdict(ring: KeyRing, token) -> int | str:
    try:
        return ring.verify(token, "voucher")["v"]
    except TokenRejected as refused:
        return refused.reason


@pytest.fixture
def keyring(app) -> KeyRing:
    return app.extensions["keyring"]


@pytest.fixture
def offline_scanner(page, live_server):
    """A scanner that fetched the JWKS online, then lost its connection."""
    open_scanner(page, live_server)
    assert "jwks" in load_jwks(page)
    assert "jwks" in go_offline(page)
    return page


@pytest.fixture
def served_ring(app, tmp_path, monkeypatch) -> KeyRing:
    """A throwaway key ring served by the app (JWKS and all) for this test only, so rotating it
    leaves the session's key ring alone."""
    ring = KeyRing(tmp_path / "served-keys").ensure()
    monkeypatch.setitem(app.extensions, "keyring", ring)
    return ring


# --- the cases, each checked in the browser and against the server ------------------------------

def _valid(ring, _tmp):
    return ring.sign({"v": 42, "exp": _exp()}, "voucher")


def _expired(ring, _tmp):
    return ring.sign({"v": 42, "exp": _exp(-60)}, "voucher")


def _tampered(ring, _tmp):
    head, _body, sig = ring.sign({"v": 42, "exp": _exp()}, "voucher").split(".")
    return f"{head}.{_b64(json.dumps({'v': 43, 'exp': _exp()}).encode())}.{sig}"


def _tampered_to_drop_exp(ring, _tmp):
    """The signature is checked before the claims: a forged claim set is bad_signature, not
    invalid_claims."""
    head, _body, sig = ring.sign({"v": 42, "exp": _exp()}, "voucher").split(".")
    return f"{head}.{_b64(json.dumps({'v': 42}).encode())}.{sig}"


def _tampered_to_expire(ring, _tmp):
    head, _body, sig = ring.sign({"v": 42, "exp": _exp()}, "voucher").split(".")
    return f"{head}.{_b64(json.dumps({'v': 42, 'exp': _exp(-60)}).encode())}.{sig}"


def _alg_none(ring, _tmp):
    return _forged({"alg": "none", "typ": "voucher", "kid": ring.active.kid}, {"v": 42, "exp": _exp()})


def _hs256_with_public_key(ring, _tmp):
    kid = ring.active.kid
    public_raw = base64.urlsafe_b64decode(ring.active.jwk()["x"] + "==")
    header = _b64(json.dumps({"alg": "HS256", "typ": "voucher", "kid": kid}).encode())
    body = _b64(json.dumps({"v": 42, "exp": _exp()}).encode())
    signing_input = f"{header}.{body}".encode()
    return f"{header}.{body}." + _b64(hmac.new(public_raw, signing_input, hashlib.sha256).digest())


def _certificate(ring, _tmp):
    return ring.sign({"v": 42, "exp": _exp()}, "certificate")


def _another_issuer(_ring, tmp):
    return KeyRing(tmp / "stranger").ensure().sign({"v": 42, "exp": _exp()}, "voucher")


def _no_kid(ring, _tmp):
    return _forged({"alg": "EdDSA", "typ": "voucher"}, {"v": 42, "exp": _exp()}, b"\0" * 64)


def _kid_not_a_string(ring, _tmp):
    return _forged({"alg": "EdDSA", "typ": "voucher", "kid": 7}, {"v": 42, "exp": _exp()}, b"\0" * 64)


def _garbage(_ring, _tmp):
    return "not a token"


def _two_thousand_chars(_ring, _tmp):
    return "a" * 2000


def _over_long_but_signed(ring, _tmp):
    return ring.sign({"v": 42, "exp": _exp(), "pad": "x" * 1200}, "voucher")


def _missing_exp(ring, _tmp):
    return ring.sign({"v": 42}, "voucher")


CASES = {
    "valid": (_valid, 42),
    "expired": (_expired, "expired"),
    "tampered payload": (_tampered, "bad_signature"),
    "tampered to drop exp": (_tampered_to_drop_exp, "bad_signature"),
    "tampered to expire": (_tampered_to_expire, "bad_signature"),
    "alg none": (_alg_none, "wrong_algorithm"),
    "HS256 keyed with the public key": (_hs256_with_public_key, "wrong_algorithm"),
    "typ certificate": (_certificate, "wrong_type"),
    "another issuer's key": (_another_issuer, "unknown_key"),
    "no kid": (_no_kid, "unknown_key"),
    "kid not a string": (_kid_not_a_string, "malformed"),
    "garbage": (_garbage, "malformed"),
    "2000 chars": (_two_thousand_chars, "malformed"),
    "over 1024 chars though signed": (_over_long_but_signed, "malformed"),
    "missing exp": (_missing_exp, "invalid_claims"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_offline_verdict_matches_the_server(case, offline_scanner, keyring, tmp_path):
    build, expected = CASES[case]
    token = build(keyring, tmp_path)
    assert js_verdict(offline_scanner, token) == expected
    assert server_verdict(keyring, token) == expected


# --- the flows -----------------------------------------------------------------------------------

def test_a_valid_token_verifies_offline_with_the_cached_jwks(offline_scanner, keyring):
    exp = _exp()
    token = keyring.sign({"v": 42, "exp": exp}, "voucher")
    assert js_verify(offline_scanner, token) == {"voucherId": 42, "exp": exp, "kid": keyring.active.kid}


def test_load_jwks_caches_the_published_keys_with_the_fetch_time(page, live_server, keyring):
    open_scanner(page, live_server)
    before = time.time() * 1000
    loaded = load_jwks(page)
    after = time.time() * 1000
    assert loaded == {"jwks": keyring.public_jwks()}
    stored = json.loads(page.evaluate("(key) => localStorage.getItem(key)", STORAGE_KEY))
    assert stored["jwks"] == keyring.public_jwks()
    assert before - 1000 <= stored["fetchedAt"] <= after + 1000


def test_no_cached_jwks_while_offline_is_no_keys(page, live_server):
    open_scanner(page, live_server)
    assert go_offline(page) == {"reason": "no_keys"}
    page.evaluate("(key) => localStorage.setItem(key, 'not json')", STORAGE_KEY)
    assert load_jwks(page) == {"reason": "no_keys"}
    go_online(page)
    assert "jwks" in load_jwks(page)  # the broken cache is replaced once online


def test_a_server_error_falls_back_to_the_cached_jwks(page, live_server, keyring):
    open_scanner(page, live_server)
    assert "jwks" in load_jwks(page)
    result = page.evaluate("""async () => {
      const failing = async () => new Response("unavailable", {status: 503});
      return await window.vv.loadJwks(failing, localStorage);
    }""")
    assert result == keyring.public_jwks()


def test_a_rotated_key_needs_a_fresh_jwks_and_old_tokens_keep_verifying(page, live_server, served_ring):
    old_kid = served_ring.active.kid
    old_token = served_ring.sign({"v": 42, "exp": _exp()}, "voucher")
    open_scanner(page, live_server)
    assert kids(load_jwks(page)) == {old_kid}

    new_kid = served_ring.rotate().kid
    new_token = served_ring.sign({"v": 43, "exp": _exp()}, "voucher")
    assert kids(go_offline(page)) == {old_kid}  # the cache predates the rotation
    assert js_verdict(page, new_token) == "unknown_key"
    assert js_verdict(page, old_token) == 42

    go_online(page)
    assert kids(load_jwks(page)) == {old_kid, new_kid}  # not a stale HTTP-cached copy
    assert kids(go_offline(page)) == {old_kid, new_kid}
    assert js_verdict(page, new_token) == 43
    assert js_verdict(page, old_token) == 42  # old keys stay published after rotation
    assert server_verdict(served_ring, new_token) == 43
    assert server_verdict(served_ring, old_token) == 42


def test_expiry_is_checked_against_the_given_time(offline_scanner, keyring):
    exp = _exp()
    token = keyring.sign({"v": 42, "exp": exp}, "voucher")
    assert js_verify(offline_scanner, token, exp - 1)["voucherId"] == 42
    assert js_verify(offline_scanner, token, exp) == {"reason": "expired"}


def test_the_scanner_also_insists_on_a_positive_integer_voucher_id(offline_scanner, keyring):
    """Stricter than the server, which never signs such claims: a signed token without a usable
    voucher id is useless to a scanner."""
    for claims in ({"exp": _exp()}, {"v": 0, "exp": _exp()}, {"v": "42", "exp": _exp()},
                   {"v": 4.5, "exp": _exp()}, {"v": 42, "exp": "tomorrow"}):
        token = keyring.sign(claims, "voucher")
        assert js_verify(offline_scanner, token) == {"reason": "invalid_claims"}, claims


def test_a_token_not_made_of_three_base64url_parts_is_malformed(offline_scanner, keyring):
    """Stricter than the server here too: PyJWT reads a fourth part into the payload and calls it
    bad_signature; both refuse it."""
    good = keyring.sign({"v": 42, "exp": _exp()}, "voucher")
    head, body, sig = good.split(".")
    for token in (None, 42, "", "..", "a.b.c", f"{good}.AAAA", f"{head}.{body}!.{sig}",
                  f"{head}.{body}.{sig}=="):
        assert js_verify(offline_scanner, token) == {"reason": "malformed"}, token
    assert server_verdict(keyring, f"{good}.AAAA") != 42
