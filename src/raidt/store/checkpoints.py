"""Signed checkpoints: kept in the database, and the latest also as a file under RAIDT_HOME.

The database copy lets anyone ask for the tree head at or after a size (to anchor a proof).
The file copy, ``checkpoint.latest``, is the one an attacker who rewrites the database
cannot silently roll back: ``raidt verify`` compares the log against it, and
``raidt checkpoint --export`` hands it to witnesses. It therefore only ever moves forward.

Rows carry the tree size and root as columns for querying; the note is the authority, and
reads refuse a row whose columns disagree with its note.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects import postgresql, sqlite

from raidt.core.checkpoint import Checkpoint, parse_note
from raidt.core.timefmt import format_ts, utcnow
from raidt.errors import IntegrityError
from raidt.store.home import ensure_private_dir
from raidt.store.schema import checkpoints

__all__ = [
    "LATEST_FILE",
    "all_sizes",
    "at_or_after",
    "iter_all",
    "latest",
    "latest_head",
    "latest_note",
    "latest_size",
    "read_latest_file",
    "save",
    "write_latest_file",
]

#: File name of the latest signed checkpoint under RAIDT_HOME.
LATEST_FILE = "checkpoint.latest"


def save(
    conn: Connection, note_text: str, checkpoint: Checkpoint, *, now: datetime | None = None
) -> bool:
    """Store a signed checkpoint unless one for that size exists; return whether it was new.

    Raises:
        IntegrityError: The note does not describe ``checkpoint``, or a checkpoint for the
            same size with another root is already stored (the log forked).
    """
    parsed, _ = parse_note(note_text)
    if parsed != checkpoint:
        raise IntegrityError("the note does not carry the checkpoint it is saved with")
    values = {
        "tree_size": checkpoint.tree_size,
        "root_hash": checkpoint.root_hash,
        "note": note_text,
        "created_at": format_ts(now or utcnow()),
    }
    # RETURNING, not rowcount: psycopg reports -1 for INSERT ... ON CONFLICT DO NOTHING.
    dialect = conn.dialect.name
    if dialect == "postgresql":
        pg_stmt = postgresql.insert(checkpoints).values(**values).on_conflict_do_nothing()
        result = conn.execute(pg_stmt.returning(checkpoints.c.tree_size))
    elif dialect == "sqlite":
        lite_stmt = sqlite.insert(checkpoints).values(**values).on_conflict_do_nothing()
        result = conn.execute(lite_stmt.returning(checkpoints.c.tree_size))
    else:  # pragma: no cover - RAIDT supports SQLite and PostgreSQL only
        raise NotImplementedError(dialect)
    inserted = result.first() is not None
    if not inserted:
        stored: bytes = conn.execute(
            select(checkpoints.c.root_hash).where(checkpoints.c.tree_size == checkpoint.tree_size)
        ).scalar_one()
        if bytes(stored) != checkpoint.root_hash:
            raise IntegrityError(
                f"a different checkpoint for tree size {checkpoint.tree_size} is already stored"
            )
    return inserted


def _from_row(row: Sequence[Any]) -> tuple[Checkpoint, str]:
    size, root, note = int(row[0]), bytes(row[1]), str(row[2])
    try:
        cp, _ = parse_note(note)
    except IntegrityError as exc:
        raise IntegrityError(f"stored checkpoint {size}: {exc.message}") from exc
    if cp.tree_size != size or cp.root_hash != root:
        raise IntegrityError(f"stored checkpoint {size}: the row disagrees with its note")
    return cp, note


_COLUMNS = (checkpoints.c.tree_size, checkpoints.c.root_hash, checkpoints.c.note)


def latest(conn: Connection) -> tuple[Checkpoint, str] | None:
    """The largest stored checkpoint and its note, or None when there is none."""
    row = conn.execute(select(*_COLUMNS).order_by(checkpoints.c.tree_size.desc()).limit(1)).first()
    return None if row is None else _from_row(row)


def latest_note(conn: Connection) -> str | None:
    """The note of the largest stored checkpoint, unchecked (None when there is none)."""
    q = select(checkpoints.c.note).order_by(checkpoints.c.tree_size.desc()).limit(1)
    note = conn.execute(q).scalar_one_or_none()
    return None if note is None else str(note)


def latest_size(conn: Connection) -> int | None:
    """The tree size of the largest stored checkpoint (one indexed read), or None."""
    top = conn.execute(select(func.max(checkpoints.c.tree_size))).scalar_one_or_none()
    return None if top is None else int(top)


def latest_head(conn: Connection) -> tuple[int, bytes] | None:
    """Tree size and root (columns, unverified) of the largest stored checkpoint, or None."""
    row = conn.execute(
        select(checkpoints.c.tree_size, checkpoints.c.root_hash)
        .order_by(checkpoints.c.tree_size.desc())
        .limit(1)
    ).first()
    return None if row is None else (int(row[0]), bytes(row[1]))


def at_or_after(conn: Connection, size: int) -> tuple[Checkpoint, str] | None:
    """The smallest stored checkpoint covering at least ``size`` leaves (to anchor a proof)."""
    row = conn.execute(
        select(*_COLUMNS)
        .where(checkpoints.c.tree_size >= size)
        .order_by(checkpoints.c.tree_size)
        .limit(1)
    ).first()
    return None if row is None else _from_row(row)


def all_sizes(conn: Connection) -> list[int]:
    """Tree sizes of every stored checkpoint, ascending."""
    q = select(checkpoints.c.tree_size).order_by(checkpoints.c.tree_size)
    sizes: Sequence[Any] = conn.execute(q).scalars().all()
    return [int(s) for s in sizes]


def iter_all(conn: Connection) -> Iterator[tuple[Checkpoint, str]]:
    """Every stored checkpoint with its note, ascending by size (streamed)."""
    result = conn.execution_options(yield_per=500).execute(
        select(*_COLUMNS).order_by(checkpoints.c.tree_size)
    )
    for row in result:
        yield _from_row(row)


def read_latest_file(home: Path) -> str | None:
    """The note in ``home/checkpoint.latest``, or None when there is no such file."""
    try:
        return (home / LATEST_FILE).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


@contextlib.contextmanager
def _locked(home: Path) -> Iterator[None]:
    fd = os.open(home / f"{LATEST_FILE}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def write_latest_file(home: Path, note: str) -> bool:
    """Atomically replace ``home/checkpoint.latest`` with ``note`` if it is not older.

    Writes a temporary file, fsyncs it, renames it over the old one and fsyncs the
    directory, under an exclusive lock so concurrent writers cannot move it backwards.

    Returns:
        True if the file now holds ``note``; False if it already held a larger tree.

    Raises:
        IntegrityError: ``note`` is malformed, the existing file is unreadable, or the
            existing file has the same size but another root (the log forked).
    """
    new, _ = parse_note(note)
    ensure_private_dir(home)
    path = home / LATEST_FILE
    with _locked(home):
        current = read_latest_file(home)
        if current is not None:
            try:
                old, _ = parse_note(current)
            except IntegrityError as exc:
                raise IntegrityError(f"{path} is unreadable: {exc.message}") from exc
            if old.tree_size > new.tree_size:
                return False
            if old.tree_size == new.tree_size:
                if old.root_hash != new.root_hash:
                    raise IntegrityError(f"{path} holds another root for tree size {new.tree_size}")
                if current == note:
                    return True
        fd, tmp = tempfile.mkstemp(prefix=f".{LATEST_FILE}.", dir=home)
        try:
            os.fchmod(fd, 0o644)  # a checkpoint is public by design
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(note)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        dir_fd = os.open(home, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return True
