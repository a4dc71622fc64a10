"""Ed25519 signing keys for voucher and certificate tokens (EdDSA JWTs), and their JWKS.

Scanners verify tokens offline with the published public keys, so each token's header names
its key (`kid`). Keys live outside the database in KEYS_DIR: one PEM private key per kid
(mode 0600) and `keyring.json` saying which key signs now. Rotation adds a key and makes it
the signer; older keys stay published, so tokens they signed verify until they expire.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import secrets
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from server.adapters.errors import Rejected

ALGORITHM = "EdDSA"


class _Utf8Json(json.JSONEncoder):
    """Claims as UTF-8, not \\u escapes: a Chinese name costs 4 token characters instead of 8,
    and the QR on a certificate stays small. Tokens of ASCII claims are unchanged."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **{**kwargs, "ensure_ascii": False})


class TokenRejected(Rejected):
    """The token is not one of ours, or no longer valid."""


@dataclass(frozen=True)
class SigningKey:
    kid: str
    created_at: str
    private_key: Ed25519PrivateKey

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    def jwk(self) -> dict:
        raw = self.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "x": base64.urlsafe_b64encode(raw).rstrip(b"=").decode(),
                "kid": self.kid, "use": "sig", "alg": ALGORITHM}


class KeyRing:
    def __init__(self, keys_dir: Path) -> None:
        self.dir = Path(keys_dir)
        self._keys: dict[str, SigningKey] = {}
        self._active: str | None = None

    # --- files ------------------------------------------------------------------------------

    @contextmanager
    def _locked(self):
        """Serialise key creation across processes (several gunicorn workers start at once)."""
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.dir / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _manifest_path(self) -> Path:
        return self.dir / "keyring.json"

    def _load(self) -> None:
        path = self._manifest_path()
        if not path.exists():
            self._keys, self._active = {}, None
            return
        manifest = json.loads(path.read_text())
        keys = {}
        for kid, info in manifest["keys"].items():
            pem = (self.dir / f"{kid}.pem").read_bytes()
            keys[kid] = SigningKey(kid, info["created_at"],
                                   serialization.load_pem_private_key(pem, password=None))
        self._keys, self._active = keys, manifest["active"]

    def _write_key(self) -> SigningKey:
        kid = secrets.token_hex(4)  # short: it rides in every QR code; the date is in the manifest
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        fd = os.open(self.dir / f"{kid}.pem", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        manifest = {"active": kid, "keys": {k.kid: {"created_at": k.created_at} for k in self._keys.values()}}
        manifest["keys"][kid] = {"created_at": datetime.now(UTC).isoformat()}
        tmp = self._manifest_path().with_suffix(".part")
        tmp.write_text(json.dumps(manifest, indent=2))
        os.chmod(tmp, 0o600)
        os.replace(tmp, self._manifest_path())
        self._load()
        return self._keys[kid]

    def ensure(self) -> KeyRing:
        """Load the ring, creating the first key if there is none."""
        with self._locked():
            self._load()
            if self._active is None:
                self._write_key()
        return self

    def rotate(self) -> SigningKey:
        with self._locked():
            self._load()
            return self._write_key()

    def reload(self) -> None:
        """Pick up a rotation made by another process (the CLI)."""
        self._load()

    # --- tokens -----------------------------------------------------------------------------

    @property
    def active(self) -> SigningKey:
        if self._active is None:
            raise RuntimeError("the key ring is empty: call ensure() first")
        return self._keys[self._active]

    def public_jwks(self) -> dict:
        return {"keys": [key.jwk() for key in self._keys.values()]}

    def sign(self, claims: dict, token_type: str) -> str:
        key = self.active
        return jwt.encode(claims, key.private_key, algorithm=ALGORITHM,
                          headers={"kid": key.kid, "typ": token_type}, json_encoder=_Utf8Json)

    def verify(self, token: str, token_type: str, *, max_length: int = 1024,
               now: float | None = None, require_exp: bool = True) -> dict:
        """The claims of a valid token of `token_type`; TokenRejected otherwise. Only EdDSA is
        accepted, so `alg: none` and HS256 keyed with the public key are refused. Certificates
        do not expire (`require_exp=False`); vouchers do."""

        def public_key(kid: str | None) -> Ed25519PublicKey | None:
            key = self._keys.get(kid)
            if key is None:
                self.reload()  # perhaps rotated by another process since we loaded
                key = self._keys.get(kid)
            return key.public_key if key else None

        return _verify(token, token_type, public_key, max_length=max_length, now=now, require_exp=require_exp)


def verify_with_jwks(token: str, jwks: dict, token_type: str, *, max_length: int = 1024,
                     now: float | None = None, require_exp: bool = True) -> dict:
    """The same check from the published JWKS alone, with no private key and no server: what a
    scanner or an inspector does offline."""

    def public_key(kid: str | None) -> Ed25519PublicKey | None:
        for jwk in (jwks or {}).get("keys", []):
            if isinstance(jwk, dict) and jwk.get("kid") == kid and jwk.get("kty") == "OKP" \
                    and jwk.get("crv") == "Ed25519":
                try:
                    return jwt.PyJWK(jwk, algorithm=ALGORITHM).key
                except jwt.PyJWTError:
                    return None
        return None

    return _verify(token, token_type, public_key, max_length=max_length, now=now, require_exp=require_exp)


def _verify(token: str, token_type: str, public_key, *, max_length: int, now: float | None,
            require_exp: bool) -> dict:
    if not isinstance(token, str) or not token or len(token) > max_length:
        raise TokenRejected("malformed")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise TokenRejected("malformed") from None
    if header.get("alg") != ALGORITHM:
        raise TokenRejected("wrong_algorithm")
    if header.get("typ") != token_type:
        raise TokenRejected("wrong_type")
    key = public_key(header.get("kid"))
    if key is None:
        raise TokenRejected("unknown_key")
    try:
        # `now` is the caller's clock (the app's, which tests can set); PyJWT's own check
        # reads the wall clock, so it runs only when no clock is given.
        claims = jwt.decode(token, key, algorithms=[ALGORITHM],
                            options={"require": ["exp"] if require_exp else [], "verify_exp": now is None})
    except jwt.ExpiredSignatureError:
        raise TokenRejected("expired") from None
    except jwt.MissingRequiredClaimError:
        raise TokenRejected("invalid_claims") from None
    except jwt.PyJWTError:
        raise TokenRejected("bad_signature") from None
    if now is not None and (require_exp or "exp" in claims):
        exp = claims.get("exp")
        if isinstance(exp, bool) or not isinstance(exp, int | float):
            raise TokenRejected("invalid_claims")
        if int(exp) <= int(now):  # PyJWT's rule: expired once the second is reached
            raise TokenRejected("expired")
    return claims
