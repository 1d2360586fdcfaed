"""Persistence of versioned governance documents (policies, templates) and of actors.

These tables are evidence too: a run's score is only reconstructible if the policy version
it was judged against is still there, byte for byte. So the tables are append-only (the
database refuses UPDATE and DELETE, see migration 0001), every stored version becomes a
ledger leaf in the same transaction (``raidt.core.documents``; ``raidt verify`` recomputes
it), and this module only ever inserts:

- adding a document whose ``(id, version, content_hash)`` is already stored does nothing;
- adding the same ``(id, version)`` with a different hash is refused (a new version is
  needed), inside the write transaction so two writers cannot both win;
- actors get one row per import; the latest row per actor id is the current entry.

The YAML text is kept verbatim in ``body`` so packs can carry exactly what was written.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Table, func, insert, select

from raidt.core.actors import Actor
from raidt.core.canonical import canonical_json, from_json
from raidt.core.timefmt import format_ts, parse_ts, utcnow
from raidt.errors import ValidationError
from raidt.store import schema
from raidt.store.db import Database
from raidt.store.ledger import DocumentEntry, Ledger

__all__ = ["ActorRegistry", "StoredDocument", "VersionedDocuments"]


@dataclass(frozen=True, slots=True)
class StoredDocument:
    """One stored version of a document, as it sits in the database."""

    id: str
    version: str
    content_hash: str
    body: str
    added_at: datetime


def _row_doc(row: object) -> StoredDocument:
    return StoredDocument(
        id=row.id,  # type: ignore[attr-defined]
        version=row.version,  # type: ignore[attr-defined]
        content_hash=row.content_hash,  # type: ignore[attr-defined]
        body=row.body,  # type: ignore[attr-defined]
        added_at=parse_ts(row.added_at),  # type: ignore[attr-defined]
    )


class VersionedDocuments:
    """Append-only storage for one table of ``(id, version) -> body`` documents.

    Used for ``policies`` and ``templates``; the ``rubrics`` table has the same shape, so
    ``VersionedDocuments(db, schema.rubrics, "rubric")`` works for it too.
    """

    def __init__(self, db: Database, table: Table, kind: str) -> None:
        self.db = db
        self.table = table
        self.kind = kind

    def add(
        self,
        doc_id: str,
        version: str,
        content_hash: str,
        body: str,
        *,
        at: datetime | None = None,
    ) -> bool:
        """Store a version; True if it was new, False if the identical version was there.

        Raises:
            ValidationError: the same ``(id, version)`` is stored with different content.
        """
        with self.db.write() as conn:
            return self.add_in(conn, doc_id, version, content_hash, body, at=at)

    def add_in(
        self,
        conn: Connection,
        doc_id: str,
        version: str,
        content_hash: str,
        body: str,
        *,
        at: datetime | None = None,
    ) -> bool:
        """Like :meth:`add`, inside a write transaction the caller holds."""
        t = self.table
        existing = conn.execute(
            select(t.c.content_hash).where(t.c.id == doc_id, t.c.version == version)
        ).scalar_one_or_none()
        if existing is not None:
            if existing == content_hash:
                return False
            raise ValidationError(
                f"{self.kind} {doc_id} version {version} is already stored with different "
                f"content (hash {existing[:12]}…, this one {content_hash[:12]}…); "
                f"give the changed {self.kind} a new version",
                id=doc_id,
                version=version,
            )
        when = format_ts(at if at is not None else self._next_time(conn, doc_id))
        conn.execute(
            insert(t).values(
                id=doc_id, version=version, content_hash=content_hash, body=body, added_at=when
            )
        )
        Ledger().add_documents(
            conn, [DocumentEntry(self.kind, doc_id, version, body, content_hash, when)]
        )
        return True

    def _next_time(self, conn: Connection, doc_id: str) -> datetime:
        """Now, but strictly after every earlier version of the same id (clock ties)."""
        now = utcnow()
        t = self.table
        stamps: Sequence[str] = (
            conn.execute(select(t.c.added_at).where(t.c.id == doc_id)).scalars().all()
        )
        if stamps:
            latest = max(parse_ts(s) for s in stamps)
            if now <= latest:
                now = latest + timedelta(microseconds=1)
        return now

    def get(self, doc_id: str, version: str) -> StoredDocument | None:
        t = self.table
        with self.db.read() as conn:
            row = conn.execute(
                select(t).where(t.c.id == doc_id, t.c.version == version)
            ).one_or_none()
        return None if row is None else _row_doc(row)

    def versions(self, doc_id: str) -> list[StoredDocument]:
        """Every stored version of ``doc_id``, oldest addition first."""
        t = self.table
        with self.db.read() as conn:
            rows = conn.execute(select(t).where(t.c.id == doc_id)).all()
        return sorted((_row_doc(r) for r in rows), key=lambda d: d.added_at)

    def all(self) -> list[StoredDocument]:
        """Every stored version of every document, by id then addition time."""
        with self.db.read() as conn:
            rows = conn.execute(select(self.table)).all()
        return sorted((_row_doc(r) for r in rows), key=lambda d: (d.id, d.added_at))

    def ids(self) -> list[str]:
        t = self.table
        with self.db.read() as conn:
            return sorted(conn.execute(select(t.c.id).distinct()).scalars().all())

    def count(self) -> int:
        with self.db.read() as conn:
            return int(conn.execute(select(func.count()).select_from(self.table)).scalar_one())


class ActorRegistry:
    """Append-only actor directory: one row per actor per import; the latest row wins."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, actors: Sequence[Actor], *, at: datetime | None = None) -> int:
        """Append one row per actor (all in one transaction); returns how many."""
        if not actors:
            return 0
        stamp = format_ts(at or utcnow())
        t = schema.actors
        with self.db.write() as conn:
            # Row numbers are assigned here, under the store's write lock, rather than by the
            # database: a BIGINT primary key is not an auto-increment rowid on SQLite.
            last = conn.execute(select(func.max(t.c.row))).scalar_one_or_none() or 0
            rows = [
                {
                    "row": last + i,
                    "actor_id": a.id,
                    "body": canonical_json(a.model_dump(mode="json")).decode("utf-8"),
                    "added_at": stamp,
                }
                for i, a in enumerate(actors, start=1)
            ]
            conn.execute(insert(t), rows)
            Ledger().add_documents(
                conn,
                [
                    DocumentEntry(
                        "actor", str(r["actor_id"]), str(r["row"]), str(r["body"]), None, stamp
                    )
                    for r in rows
                ],
            )
        return len(rows)

    def current(self) -> list[Actor]:
        """The latest entry of every actor, by id."""
        t = schema.actors
        latest = (
            select(t.c.actor_id, func.max(t.c.row).label("row")).group_by(t.c.actor_id).subquery()
        )
        with self.db.read() as conn:
            bodies: Iterable[str] = conn.execute(
                select(t.c.body).join(latest, t.c.row == latest.c.row).order_by(t.c.actor_id)
            ).scalars()
            return [Actor.model_validate(from_json(b)) for b in bodies]

    def latest(self, actor_id: str) -> Actor | None:
        """The current entry of one actor (its latest row), or None when never imported.

        Reads one row, so a check about a single person does not load the whole directory.
        """
        t = schema.actors
        with self.db.read() as conn:
            body = conn.execute(
                select(t.c.body).where(t.c.actor_id == actor_id).order_by(t.c.row.desc()).limit(1)
            ).scalar_one_or_none()
        return None if body is None else Actor.model_validate(from_json(body))

    def history(self, actor_id: str) -> list[tuple[datetime, Actor]]:
        """Every stored entry of one actor, oldest first."""
        t = schema.actors
        with self.db.read() as conn:
            rows = conn.execute(
                select(t.c.body, t.c.added_at).where(t.c.actor_id == actor_id).order_by(t.c.row)
            ).all()
        return [(parse_ts(r.added_at), Actor.model_validate(from_json(r.body))) for r in rows]
