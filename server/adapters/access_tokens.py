"""Short-lived access tokens: HS256 JWTs signed with the app secret (pyjwt).

Vouchers and certificates use Ed25519 keys that scanners can verify offline; access tokens
are only ever checked by this server, so a shared secret is the simpler right choice.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import jwt

ALGORITHM = "HS256"
ISSUER = "skillvoucher"


class AccessTokenError(Exception):
    pass


def issue(secret: str, *, user_id: int, role: str, minutes: int, version: int = 0,
          now: datetime | None = None) -> str:
    """`version` is the user's token version: raising it invalidates every earlier token."""
    now = now or datetime.now(UTC)
    claims = {
        "iss": ISSUER,
        "sub": str(user_id),
        "role": role,
        "typ": "access",
        "ver": version,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=minutes)).timestamp()),
        "jti": secrets.token_hex(8),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode(secret: str, token: str) -> dict:
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "iss"]},
        )
    except jwt.PyJWTError as exc:
        raise AccessTokenError(str(exc)) from None
    if claims.get("typ") != "access":
        raise AccessTokenError("not an access token")
    return claims
