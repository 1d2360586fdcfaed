"""The composition root: one object that holds settings, database, log and key.

Adapters (CLI, API, SDK) open an :class:`App` and hand it to services; services never
build their own engines, so there is exactly one place where configuration is read.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from raidt.core.checkpoint import Checkpoint, sign_note
from raidt.errors import ConfigurationError
from raidt.settings import Settings
from raidt.store import checkpoints as cp_store
from raidt.store.db import SQLITE_CACHE_KIB, Database, open_database
from raidt.store.events import EventStore
from raidt.store.keys import load_or_create_signing_key
from raidt.store.ledger import Ledger

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = ["App"]


class App:
    """Settings + database + event store + ledger + signing key."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self.ledger = Ledger()
        self.events = EventStore(db, self.ledger)
        self._key: Ed25519PrivateKey | None = None

    @classmethod
    def open(
        cls,
        home: str | Path | None = None,
        database_url: str | None = None,
        *,
        migrate: bool = True,
        sqlite_cache_kib: int = SQLITE_CACHE_KIB,
    ) -> App:
        """Open the store named by arguments, else by RAIDT_HOME / RAIDT_DATABASE_URL."""
        settings = Settings() if home is None else Settings(home=Path(home))
        if database_url is not None:
            settings = settings.model_copy(update={"database_url_override": database_url})
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
        return self.settings.origin

    def checkpoint(self) -> str:
        """Sign the current tree head, store it, and keep a copy outside the database.

        The copy under RAIDT_HOME is what lets ``raidt verify`` notice a truncated log:
        someone who rewrites the database file cannot also make an older, smaller tree
        look like the latest signed one.
        """
        with self.db.write() as conn:
            size = self.ledger.size(conn)
            root = self.ledger.root(conn, size)
            cp = Checkpoint(origin=self.origin, tree_size=size, root_hash=root)
            note = sign_note(cp, self.signing_key, self.origin)
            cp_store.save(conn, note, cp)
        cp_store.write_latest_file(self.settings.home, note)
        return note

    def close(self) -> None:
        self.db.dispose()

    def __enter__(self) -> App:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
