"""The composition root: one object that holds settings, database, log and key.

Adapters (CLI, API, SDK) open an :class:`App` and hand it to services; services never
build their own engines, so there is exactly one place where configuration is read.

It is also the one place where the log is signed. Every durable write transaction of the
store ends, just before it commits, in :meth:`App._seal`: when the tree grew, the new tree
head is signed and stored *in the same transaction*, so evidence and the checkpoint that
covers it commit together or not at all (a retry after a failure can never duplicate what
was already committed). After the commit, the note is copied to
``RAIDT_HOME/checkpoint.latest``; if that copy fails the write still succeeded, a warning
says so, and the next write or ``raidt checkpoint`` brings the copy up to date.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from raidt.core.checkpoint import Checkpoint, parse_note, sign_note
from raidt.errors import ConfigurationError, IntegrityError, RaidtError
from raidt.settings import Settings
from raidt.store import checkpoints as cp_store
from raidt.store.db import SQLITE_CACHE_KIB, Database, open_database
from raidt.store.events import EventStore
from raidt.store.home import ensure_private_dir
from raidt.store.keys import (
    check_origin,
    keep_origin,
    key_name_for,
    load_or_create_signing_key,
    read_origin,
)
from raidt.store.ledger import Ledger

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from sqlalchemy import Connection

__all__ = ["App"]

log = logging.getLogger("raidt")


class App:
    """Settings + database + event store + ledger + signing key."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self.ledger = Ledger()
        self.events = EventStore(db, self.ledger)
        self._key: Ed25519PrivateKey | None = None
        self._origin: str | None = None
        #: Things that went wrong after a write had committed (shown by the adapters).
        self.warnings: list[str] = []
        db.seal = self._seal

    @classmethod
    def open(
        cls,
        home: str | Path | None = None,
        database_url: str | None = None,
        *,
        migrate: bool = True,
        sqlite_cache_kib: int = SQLITE_CACHE_KIB,
    ) -> App:
        """Open the store named by arguments, else by RAIDT_HOME / RAIDT_DATABASE_URL.

        Raises:
            ConfigurationError: RAIDT_HOME cannot be created, is not a folder or is
                writable by everyone; the database cannot be opened.
        """
        settings = Settings() if home is None else Settings(home=Path(home))
        if database_url is not None:
            settings = settings.model_copy(update={"database_url_override": database_url})
        ensure_private_dir(settings.home)
        db = open_database(
            settings.database_url, migrate=migrate, sqlite_cache_kib=sqlite_cache_kib
        )
        return cls(settings, db)

    @classmethod
    def from_settings(
        cls, settings: Settings, *, migrate: bool = True, sqlite_cache_kib: int = SQLITE_CACHE_KIB
    ) -> App:
        """Open the store a complete :class:`Settings` names (the server's path)."""
        try:
            settings.home.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigurationError(
                f"cannot create RAIDT_HOME {settings.home}: {exc.strerror}"
            ) from None
        db = open_database(
            settings.database_url, migrate=migrate, sqlite_cache_kib=sqlite_cache_kib
        )
        return cls(settings, db)

    @property
    def home(self) -> Path:
        return self.settings.home

    @property
    def signing_key(self) -> Ed25519PrivateKey:
        if self._key is None:
            self._key = load_or_create_signing_key(self.settings.home)
        return self._key

    @property
    def origin(self) -> str:
        """The log's checkpoint origin (and note key name), fixed once for the store.

        Kept in ``RAIDT_HOME/origin`` beside the key, so a store copied or restored to
        another folder keeps its name. A store from before that file existed keeps the
        origin its checkpoints already carry; a new one is named from its public key
        (``raidt.local/<16 hex>``) unless RAIDT_ORIGIN names it at ``raidt init``.

        Raises:
            ConfigurationError: RAIDT_ORIGIN cannot name a log, or differs from the
                origin this store has already fixed.
        """
        if self._origin is None:
            self._origin = self._find_origin()
        return self._origin

    def _find_origin(self) -> str:
        wanted = self.settings.origin_override
        if wanted is not None:
            check_origin(wanted, "RAIDT_ORIGIN")
        kept = read_origin(self.home)
        if kept is not None:
            if wanted and wanted != kept:
                raise ConfigurationError(
                    f"RAIDT_ORIGIN is {wanted!r} but this store's origin is fixed as {kept!r} "
                    f"({self.home / 'origin'}); unset RAIDT_ORIGIN"
                )
            return kept
        return wanted or self._signed_origin() or key_name_for(self.signing_key.public_key())

    def _signed_origin(self) -> str | None:
        """The origin the store's checkpoints carry (stores older than the origin file)."""
        with self.db.read() as conn:
            found = cp_store.latest_note(conn)
        for note in (found, cp_store.read_latest_file(self.home)):
            if not note:
                continue
            try:
                return check_origin(parse_note(note)[0].origin)
            except (RaidtError, ValueError):
                continue
        return None

    # --- signing the log ----------------------------------------------------------------

    def _seal(self, conn: Connection) -> Callable[[], None] | None:
        """Sign the grown tree inside the write transaction ``conn`` (see module docstring).

        Raises:
            IntegrityError: The tree no longer extends the latest signed checkpoint (the
                log was truncated or rewritten): nothing is written on top of it.
        """
        size = self.ledger.size(conn)
        head = cp_store.latest_head(conn)
        if head is not None:
            signed, signed_root = head
            if signed == size:
                return None
            if signed > size or self.ledger.root(conn, signed) != signed_root:
                what = "truncated" if signed > size else "rewritten below its latest checkpoint"
                raise IntegrityError(
                    f"the log no longer matches its checkpoint for tree size {signed} (it was "
                    f"{what}); nothing was written: run 'raidt verify'"
                )
        keep_origin(self.home, self.origin)
        cp = Checkpoint(origin=self.origin, tree_size=size, root_hash=self.ledger.root(conn, size))
        note = sign_note(cp, self.signing_key, self.origin)
        cp_store.save(conn, note, cp)
        return lambda: self._publish(note)

    def _publish(self, note: str) -> None:
        """Copy ``note`` to RAIDT_HOME/checkpoint.latest; a failure is a warning only."""
        try:
            cp_store.write_latest_file(self.home, note)
        except (OSError, RaidtError) as exc:
            why = exc.diagnostic() if isinstance(exc, RaidtError) else (exc.strerror or str(exc))
            message = (
                f"the write is committed and its checkpoint stored, but "
                f"{self.home / cp_store.LATEST_FILE} was not updated ({why}); the next write "
                "or 'raidt checkpoint' updates it"
            )
            self.warnings.append(message)
            log.warning(message)

    def checkpoint(self) -> str:
        """The signed note of the current tree head, signing one if none covers it yet.

        Also brings ``RAIDT_HOME/checkpoint.latest`` up to date: what a witness collects
        with ``raidt checkpoint --export``.
        """
        with self.db.write():
            pass  # _seal signs the head when no checkpoint has its size
        with self.db.read() as conn:
            note = cp_store.latest_note(conn)
        if note is None:  # pragma: no cover - _seal always leaves one
            raise IntegrityError("no checkpoint could be signed")
        self._publish(note)
        return note

    def close(self) -> None:
        self.db.dispose()

    def __enter__(self) -> App:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
