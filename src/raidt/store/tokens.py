"""API tokens at rest: the SHA-256 of each token, its role and whether it is revoked.

A token is a bearer secret, so the table never holds it: :func:`find_by_hash` looks a
presented token up by its digest. Tokens are not evidence; revoking one sets
``revoked_at`` on its row (the row stays, so ``raidt token list`` shows the history).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, select, update

from raidt.store.schema import api_tokens as t_tokens

__all__ = ["TokenRow", "find_by_hash", "insert_token", "list_tokens", "revoke_token"]


@dataclass(frozen=True)
class TokenRow:
    """One stored token (without the secret)."""

    id: str
    name: str
    role: str
    created_at: str
    revoked_at: str | None


def _row(r: object) -> TokenRow:
    return TokenRow(
        id=r.id,  # type: ignore[attr-defined]
        name=r.name,  # type: ignore[attr-defined]
        role=r.role,  # type: ignore[attr-defined]
        created_at=r.created_at,  # type: ignore[attr-defined]
        revoked_at=r.revoked_at,  # type: ignore[attr-defined]
    )


def insert_token(
    conn: Connection, *, token_id: str, name: str, role: str, token_sha256: str, created_at: str
) -> None:
    conn.execute(
        t_tokens.insert().values(
            id=token_id,
            name=name,
            role=role,
            token_sha256=token_sha256,
            created_at=created_at,
            revoked_at=None,
        )
    )


def find_by_hash(conn: Connection, token_sha256: str) -> TokenRow | None:
    row = conn.execute(select(t_tokens).where(t_tokens.c.token_sha256 == token_sha256)).first()
    return _row(row) if row else None


def list_tokens(conn: Connection) -> list[TokenRow]:
    rows = conn.execute(select(t_tokens).order_by(t_tokens.c.created_at, t_tokens.c.id))
    return [_row(r) for r in rows]


def revoke_token(conn: Connection, token_id: str, at: str) -> TokenRow | None:
    """Mark a token revoked (a second revocation keeps the first time); None if unknown."""
    row = conn.execute(select(t_tokens).where(t_tokens.c.id == token_id)).first()
    if row is None:
        return None
    if row.revoked_at is None:
        conn.execute(update(t_tokens).where(t_tokens.c.id == token_id).values(revoked_at=at))
    return _row(conn.execute(select(t_tokens).where(t_tokens.c.id == token_id)).one())
