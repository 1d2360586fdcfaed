"""API tokens: create (shown once), list, revoke, and check a presented token.

Tokens carry one role (DESIGN 4): the people's roles, plus ``system`` for capture
components that hold no person's identity — the SDK writing remotely, OTLP exporters and
gateway callers. Only the SHA-256 of a token is stored; a token is 256 random bits, so an
unsalted digest cannot be reversed by guessing. Tokens never appear in logs or errors.

:meth:`TokenService.authenticate` sits on every request of the gateway, so a verified
token is remembered for ``cache_seconds`` (default 2 s): a revocation takes effect within
that time on every server process, at the price of one indexed read per token and period
instead of one per request.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass

from raidt.core.events import Role
from raidt.core.ids import new_id
from raidt.core.timefmt import format_ts, utcnow
from raidt.errors import NotFoundError, RaidtError, ValidationError
from raidt.services.app import App
from raidt.store import tokens as store

__all__ = ["TOKEN_ROLES", "AuthError", "NewToken", "TokenInfo", "TokenService"]

#: roles a token may carry: every role of DESIGN 4 (``system`` for capture components)
TOKEN_ROLES: tuple[str, ...] = tuple(r.value for r in Role if r is not Role.AFFECTED)

_PREFIX = "raidt_"


class AuthError(RaidtError):
    """No token, an unknown token, a revoked one, or one whose role may not do this."""

    code = "unauthorized"

    def __init__(self, message: str, *, forbidden: bool = False) -> None:
        super().__init__(message)
        self.forbidden = forbidden


@dataclass(frozen=True)
class TokenInfo:
    """What a verified token says about its holder."""

    id: str
    name: str
    role: str
    created_at: str
    revoked_at: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
        }


@dataclass(frozen=True)
class NewToken:
    """A token just created: ``token`` is the secret, shown this once."""

    info: TokenInfo
    token: str


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenService:
    """Tokens of one store."""

    def __init__(self, app: App, *, cache_seconds: float = 2.0) -> None:
        self.app = app
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, TokenInfo]] = {}
        self._lock = threading.Lock()

    def create(self, role: str, name: str | None = None) -> NewToken:
        if role not in TOKEN_ROLES:
            raise ValidationError(f"unknown role {role!r}; roles: {', '.join(TOKEN_ROLES)}")
        token_id = new_id()
        label = (name or f"{role}-token").strip()
        if not label or len(label) > 200:
            raise ValidationError("a token name must have 1 to 200 characters")
        secret = _PREFIX + secrets.token_urlsafe(32)
        created = format_ts(utcnow())
        with self.app.db.write() as conn:
            store.insert_token(
                conn,
                token_id=token_id,
                name=label,
                role=role,
                token_sha256=token_digest(secret),
                created_at=created,
            )
        return NewToken(TokenInfo(token_id, label, role, created), secret)

    def list(self) -> list[TokenInfo]:
        with self.app.db.read() as conn:
            rows = store.list_tokens(conn)
        return [TokenInfo(r.id, r.name, r.role, r.created_at, r.revoked_at) for r in rows]

    def revoke(self, token_id: str) -> TokenInfo:
        with self.app.db.write() as conn:
            row = store.revoke_token(conn, token_id, format_ts(utcnow()))
        if row is None:
            raise NotFoundError(f"no token with id {token_id!r} (see 'raidt token list')")
        with self._lock:
            self._cache.clear()
        return TokenInfo(row.id, row.name, row.role, row.created_at, row.revoked_at)

    def authenticate(self, token: str | None, roles: frozenset[str] | None = None) -> TokenInfo:
        """The holder of ``token``; AuthError when it is missing, unknown or revoked, or
        (``forbidden``) when its role is not in ``roles``."""
        if not token:
            raise AuthError("a token is required (X-Raidt-Token or Authorization: Bearer)")
        digest = token_digest(token)
        now = time.monotonic()
        hit = self._cache.get(digest)
        if hit is not None and now - hit[0] < self.cache_seconds:
            info = hit[1]
        else:
            with self.app.db.read() as conn:
                row = store.find_by_hash(conn, digest)
            if row is None or row.revoked_at is not None:
                raise AuthError("the token is unknown or revoked")
            info = TokenInfo(row.id, row.name, row.role, row.created_at)
            if self.cache_seconds > 0:
                with self._lock:
                    if len(self._cache) > 10_000:
                        self._cache.clear()
                    self._cache[digest] = (now, info)
        if roles is not None and info.role not in roles:
            raise AuthError(
                f"a token of role {info.role!r} may not do this (needs {', '.join(sorted(roles))})",
                forbidden=True,
            )
        return info
