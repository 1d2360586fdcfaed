"""Token checks of the HTTP routes.

The REST API takes ``Authorization: Bearer TOKEN``; the gateway and OTLP routes, whose
``Authorization`` header belongs to the model provider or the exporter, take
``X-Raidt-Token``. A route accepts either where both make sense (``/api/events``). A
missing, unknown or revoked token is 401; a token whose role may not use the route is
403. The token itself never appears in a log line or an error.
"""

from __future__ import annotations

from collections.abc import Mapping

from raidt.services.tokens import AuthError, TokenInfo, TokenService

__all__ = ["CAPTURE_ROLES", "EXPORTER_ROLES", "GATEWAY_ROLES", "authenticate", "presented_token"]

#: who may send event batches (the SDK's remote path): capture components and admins
CAPTURE_ROLES = frozenset({"system", "admin"})
#: who may export OTLP telemetry
EXPORTER_ROLES = frozenset({"system", "admin"})
#: who may call models through the gateway
GATEWAY_ROLES = frozenset({"system", "admin", "initiator"})


def presented_token(headers: Mapping[str, str], *, bearer: bool) -> str | None:
    """The token a request presents: ``X-Raidt-Token``, else (when ``bearer``) the
    ``Authorization: Bearer`` value."""
    token = headers.get("x-raidt-token")
    if token:
        return token.strip()
    if bearer:
        auth = headers.get("authorization", "")
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return None


def authenticate(
    tokens: TokenService, headers: Mapping[str, str], roles: frozenset[str], *, bearer: bool
) -> TokenInfo:
    """The verified holder of the request's token (AuthError otherwise)."""
    return tokens.authenticate(presented_token(headers, bearer=bearer), roles)


def status_of(exc: AuthError) -> int:
    return 403 if exc.forbidden else 401
