"""Authentication for handlers: the bearer token becomes a Principal on `g`."""

from __future__ import annotations

from functools import wraps

from flask import g, request

from server.domain.access import Principal, Role, require_role
from server.services import auth as auth_service


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def current_principal() -> Principal:
    return g.principal


def signed_in(*roles: Role):
    """Require a valid access token, and one of `roles` when given. Marks the view so the
    OpenAPI document lists its security requirement."""

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            g.principal = auth_service.principal_from_access_token(bearer_token())
            if roles:
                require_role(g.principal, *roles)
            return view(*args, **kwargs)

        wrapper.requires_auth = True
        wrapper.allowed_roles = [str(r) for r in roles]
        return wrapper

    return decorate
