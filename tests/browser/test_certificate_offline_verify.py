"""The offline certificate check (pwa/js/certificate-verify.js) in real headless Chromium.

As for vouchers (test_offline_verify.py): the module is loaded from the live server, the JWKS is
fetched once online, then the browser context goes offline and certificate tokens signed by the
app's own key ring are verified against the cached copy. Verdicts are compared with what the
server decodes (`server_verdict`).
"""

from __future__ import annotations

import json
import time
from urllib.parse import quote

import jwt
import pytest

from server.adapters.signing import KeyRing, TokenRejected
from tests.browser.test_offline_verify import NETWORK_JS, STORAGE_KEY, _b64, _forged

pytestmark = pytest.mark.browser

MODULE = "/pwa/js/certificate-verify.js"
VOUCHER_MODULE = "/pwa/js/voucher-verify.js"
MAX_LENGTH = 2048

IMPORT_JS = "async (url) => { window.cv = await import(url); }"
LOAD_JWKS_JS = """async () => {
  try { window.jwks = await window.cv.loadJwks(); return {jwks: window.jwks}; }
  catch (e) { if (e instanceof window.cv.TokenError) return {reason: e.reason}; throw e; }
}"""
# Calls window.cv[name](arg, window.jwks): {ok: result} or {reason} for a TokenError.
CALL_JS = """async ([name, arg]) => {
  try { return {ok: await window.cv[name](arg, window.jwks)}; }
  catch (e) { if (e instanceof window.cv.TokenError) return {reason: e.reason}; throw e; }
}"""

HOLDER, OCCUPATION, LEVEL, ISSUER = "王**", "电工", "四级/中级工", "上海市职业技能鉴定中心"


# --- helpers ------------------------------------------------------------------------------------

def _claims(**changes) -> dict:
    claims = {"c": "SV2024000123", "k": "skill_level", "h": HOLDER, "o": OCCUPATION, "l": LEVEL,
              "i": ISSUER, "d": "2024-06-30", "iat": int(time.time())}
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


def _fields(claims: dict, kid: str) -> dict:
    """What verifyCertificateToken resolves to for these claims."""
    return {"number": claims["c"], "kind": claims["k"], "holder": claims["h"],
            "occupation": claims["o"], "level": claims["l"], "issuer": claims["i"],
            "issuedOn": claims["d"], "issuedAt": claims["iat"], "kid": kid}


def _sign(ring: KeyRing, claims: dict) -> str:
    return ring.sign(claims, "certificate")


def _verify_url(token: str, number: str, base: str = "https://skills.example.gov.cn") -> str:
    return f"{base}/verify/{quote(number, safe='')}#{token}"


def js_call(page, name: str, arg) -> dict:
    return page.evaluate(CALL_JS, [name, arg])


def js_verdict(page, token) -> dict | str:
    """The decoded certificate, or the refusal reason."""
    result = js_call(page, "verifyCertificateToken", token)
    return result.get("ok", result.get("reason"))


def server_verdict(ring: KeyRing, token: str) -> dict | str:
    """The server's verdict: the claims, or its refusal reason.

    Stands in for `keyring.verify(token, "certificate", max_length=2048, require_exp=False)`, whose
    keyword is not there yet: KeyRing.verify's own checks (length, header, type, key, signature)
    as they stand, and where it stops only at the "exp" certificates never carry, PyJWT's decode
    with the published public key and no claim required."""
    try:
        return ring.verify(token, "certificate", max_length=MAX_LENGTH)
    except TokenRejected as refused:
        if refused.reason != "invalid_claims":
            return refused.reason
    kid = jwt.get_unverified_header(token)["kid"]
    key = jwt.PyJWKSet.from_dict(ring.public_jwks())[kid].key
    return jwt.decode(token, key, algorithms=["EdDSA"], options={"require": []})


def signed_payload(ring: KeyRing, token: str) -> dict:
    """The payload of a token whose signature the server accepts, its claims unvalidated."""
    return json.loads(jwt.PyJWS().decode(token, ring.active.public_key, algorithms=["EdDSA"]))


def go_offline(page) -> None:
    page.context.set_offline(True)
    assert page.evaluate(NETWORK_JS) == "down"


@pytest.fixture
def keyring(app) -> KeyRing:
    return app.extensions["keyring"]


@pytest.fixture
def offline_verifier(page, live_server, keyring):
    """A verifier page that fetched the JWKS online, then lost its connection."""
    page.goto(live_server + "/")
    page.evaluate(IMPORT_JS, MODULE)
    assert page.evaluate(LOAD_JWKS_JS) == {"jwks": keyring.public_jwks()}
    go_offline(page)
    assert page.evaluate(LOAD_JWKS_JS) == {"jwks": keyring.public_jwks()}  # from the cache
    stored = json.loads(page.evaluate("(key) => localStorage.getItem(key)", STORAGE_KEY))
    assert stored["jwks"] == keyring.public_jwks()
    return page


# --- a valid certificate ------------------------------------------------------------------------

def test_a_valid_certificate_verifies_offline_with_its_chinese_intact(offline_verifier, keyring):
    claims = _claims()
    token = _sign(keyring, claims)
    assert js_verdict(offline_verifier, token) == {
        "number": "SV2024000123", "kind": "skill_level", "holder": "王**", "occupation": "电工",
        "level": "四级/中级工", "issuer": "上海市职业技能鉴定中心", "issuedOn": "2024-06-30",
        "issuedAt": claims["iat"], "kid": keyring.active.kid}
    assert server_verdict(keyring, token) == claims


def test_a_kind_without_a_level_and_a_long_token_verify(offline_verifier, keyring):
    """Longer than a voucher may be (1024), within the certificate limit (2048)."""
    claims = _claims(k="special_operation", l="", o="低压电工作业" * 40)
    token = _sign(keyring, claims)
    assert 1024 < len(token) <= MAX_LENGTH
    assert js_verdict(offline_verifier, token) == _fields(claims, keyring.active.kid)
    assert server_verdict(keyring, token) == claims


def test_claims_in_raw_utf8_json_verify_too(offline_verifier, keyring):
    """PyJWT writes \\u escapes; a signer writing UTF-8 as is (a smaller QR) must verify alike."""
    claims = _claims()
    header = _b64(json.dumps({"alg": "EdDSA", "kid": keyring.active.kid, "typ": "certificate"}).encode())
    payload = _b64(json.dumps(claims, ensure_ascii=False).encode())
    assert "王".encode() in json.dumps(claims, ensure_ascii=False).encode()
    signature = keyring.active.private_key.sign(f"{header}.{payload}".encode())
    token = f"{header}.{payload}.{_b64(signature)}"
    assert js_verdict(offline_verifier, token) == _fields(claims, keyring.active.kid)
    assert server_verdict(keyring, token) == claims


# --- refusals, each checked in the browser and against the server ------------------------------

def _altered(ring, _tmp):
    """The holder changed, the signature kept."""
    head, _body, sig = _sign(ring, _claims()).split(".")
    return f"{head}.{_b64(json.dumps(_claims(h='李**')).encode())}.{sig}"


def _altered_level(ring, _tmp):
    head, _body, sig = _sign(ring, _claims()).split(".")
    return f"{head}.{_b64(json.dumps(_claims(l='一级/高级技师')).encode())}.{sig}"


def _voucher(ring, _tmp):
    return ring.sign({"v": 42, "exp": int(time.time()) + 3600}, "voucher")


def _another_issuer(_ring, tmp):
    return _sign(KeyRing(tmp / "stranger").ensure(), _claims())


def _alg_none(ring, _tmp):
    return _forged({"alg": "none", "typ": "certificate", "kid": ring.active.kid}, _claims())


def _over_long_but_signed(ring, _tmp):
    return _sign(ring, _claims(o="x" * 1600))


def _garbage(_ring, _tmp):
    return "not a token"


REFUSALS = {
    "claims altered": (_altered, "bad_signature"),
    "level altered": (_altered_level, "bad_signature"),
    "a voucher token": (_voucher, "wrong_type"),
    "another issuer's key": (_another_issuer, "unknown_key"),
    "alg none": (_alg_none, "wrong_algorithm"),
    "over 2048 chars though signed": (_over_long_but_signed, "malformed"),
    "garbage": (_garbage, "malformed"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_offline_refusal_matches_the_server(case, offline_verifier, keyring, tmp_path):
    build, expected = REFUSALS[case]
    token = build(keyring, tmp_path)
    assert js_verdict(offline_verifier, token) == expected
    assert server_verdict(keyring, token) == expected


BAD_CLAIMS = {
    "missing c": _claims(c=None),
    "empty c": _claims(c=""),
    "numeric c": _claims(c=2024000123),
    "unknown k": _claims(k="driving_licence"),
    "missing l": _claims(l=None),
    "h not a string": _claims(h=["王**"]),
    "d not a date": _claims(d="2024/06/30"),
    "d not a calendar day": _claims(d="2024-02-30"),
    "iat fractional": _claims(iat=1719705600.5),
    "iat a string": _claims(iat="1719705600"),
    "iat missing": _claims(iat=None),
}


@pytest.mark.parametrize("case", list(BAD_CLAIMS))
def test_signed_claims_of_the_wrong_shape_are_invalid_claims(case, offline_verifier, keyring):
    """Signed by the bureau's key (the server accepts the signature), but not a certificate."""
    claims = BAD_CLAIMS[case]
    token = _sign(keyring, claims)
    assert js_verdict(offline_verifier, token) == "invalid_claims"
    assert signed_payload(keyring, token) == claims


def test_an_unknown_kid_is_unknown_key_however_well_signed(offline_verifier, keyring):
    header = _b64(json.dumps({"alg": "EdDSA", "kid": "00000000", "typ": "certificate"}).encode())
    payload = _b64(json.dumps(_claims()).encode())
    token = f"{header}.{payload}." + _b64(keyring.active.private_key.sign(f"{header}.{payload}".encode()))
    assert js_verdict(offline_verifier, token) == "unknown_key"
    assert server_verdict(keyring, token) == "unknown_key"


# --- the QR link: <base>/verify/<number>#<token> -------------------------------------------------

@pytest.mark.parametrize("number", ["SV2024000123", "沪 2024/001号"])
def test_a_valid_link_verifies_and_its_number_is_url_decoded(number, offline_verifier, keyring):
    claims = _claims(c=number)
    token = _sign(keyring, claims)
    url = _verify_url(token, number)
    assert js_call(offline_verifier, "tokenFromVerifyUrl", url) == {"ok": {"number": number, "token": token}}
    expected = {"ok": _fields(claims, keyring.active.kid)}
    assert js_call(offline_verifier, "verifyCertificateUrl", url) == expected
    assert server_verdict(keyring, token)["c"] == number


def test_a_link_whose_number_is_not_the_tokens_is_number_mismatch(offline_verifier, keyring):
    token = _sign(keyring, _claims(c="SV2024000123"))
    url = _verify_url(token, "SV2024000124")
    assert js_call(offline_verifier, "verifyCertificateUrl", url) == {"reason": "number_mismatch"}
    assert server_verdict(keyring, token)["c"] != "SV2024000124"


def test_a_link_is_checked_for_its_signature_before_its_number(offline_verifier, keyring):
    url = _verify_url(_altered(keyring, None), "SV2024000999")
    assert js_call(offline_verifier, "verifyCertificateUrl", url) == {"reason": "bad_signature"}


def test_a_relative_link_or_a_url_object_verify_too(offline_verifier, keyring, live_server):
    claims = _claims()
    token = _sign(keyring, claims)
    expected = {"ok": _fields(claims, keyring.active.kid)}
    assert js_call(offline_verifier, "verifyCertificateUrl", f"/verify/{claims['c']}#{token}") == expected
    result = offline_verifier.evaluate(
        "async (url) => window.cv.verifyCertificateUrl(new URL(url), window.jwks)",
        _verify_url(token, "SV2024000123", live_server))
    assert result == expected["ok"]


def test_a_link_not_of_the_verify_form_is_malformed(offline_verifier, keyring):
    token = _sign(keyring, _claims())
    for url in (None, 42, token, f"https://x.cn/verify/SV2024000123{token}",
                f"https://x.cn/verify/#{token}", "https://x.cn/verify/SV2024000123#",
                f"https://x.cn/certificates/SV2024000123#{token}",
                f"https://x.cn/verify/SV2024000123/extra#{token}",
                f"https://x.cn/verify/%E0%A4%A#{token}"):
        assert js_call(offline_verifier, "tokenFromVerifyUrl", url) == {"reason": "malformed"}, url
        assert js_call(offline_verifier, "verifyCertificateUrl", url) == {"reason": "malformed"}, url


# --- the shared core ----------------------------------------------------------------------------

def test_no_cached_jwks_while_offline_is_no_keys(page, live_server):
    page.goto(live_server + "/")
    page.evaluate(IMPORT_JS, MODULE)
    go_offline(page)
    assert page.evaluate(LOAD_JWKS_JS) == {"reason": "no_keys"}


def test_vouchers_and_certificates_share_the_jwks_cache_and_the_error_class(page, live_server, keyring):
    """One key ring signs both: the JWKS cached by the certificate page serves the voucher check
    offline, and a voucher refusal is both a VoucherTokenError and the shared TokenError."""
    page.goto(live_server + "/")
    page.evaluate(IMPORT_JS, MODULE)
    page.evaluate("async (url) => { window.vv = await import(url); }", VOUCHER_MODULE)
    assert page.evaluate(LOAD_JWKS_JS) == {"jwks": keyring.public_jwks()}  # the certificate module's
    go_offline(page)
    voucher = _voucher(keyring, None)
    result = page.evaluate("""async (token) => {
      const vv = window.vv;
      const jwks = await vv.loadJwks();  // the voucher module's, from the cache
      const ok = await vv.verifyVoucherToken(token, jwks);
      try { await vv.verifyVoucherToken(token + "x", jwks); return {ok}; }
      catch (e) {
        return {ok, reason: e.reason, name: e.name, voucher: e instanceof vv.VoucherTokenError,
                shared: e instanceof window.cv.TokenError};
      }
    }""", voucher)
    exp = jwt.decode(voucher, options={"verify_signature": False})["exp"]
    assert result == {"ok": {"voucherId": 42, "exp": exp, "kid": keyring.active.kid},
                      "reason": "bad_signature", "name": "VoucherTokenError", "voucher": True, "shared": True}
