"""Engines, transactions and migrations for both supported databases.

Writes are serialised so that every append sees one total order with no gaps: SQLite
takes its write lock up front (``BEGIN IMMEDIATE``), PostgreSQL takes a transaction-level
advisory lock. SQLite runs in WAL mode with ``synchronous=FULL`` so that an acknowledged
commit survives a crash (kill -9 or power loss), not just a process exit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from raidt.errors import ConfigurationError
from raidt.store.home import ensure_private_dir, private_file

__all__ = ["SQLITE_CACHE_KIB", "WRITE_LOCK_KEY", "Database", "open_database"]

#: SQLite's default: fold the write-ahead log into the database past 1,000 pages (4 MB)
_WAL_AUTOCHECKPOINT = 1000
#: for non-durable bulk writes of derived data: past 25,000 pages (about 100 MB)
_WAL_BULK_AUTOCHECKPOINT = 25000

#: SQLite page cache per connection, in KiB (SQLite's default is 2 MB). A million-run store
#: has interior B-tree pages well beyond 2 MB; keeping them cached cut a 100,000-run slice
#: of a one-process rescore by about 6 %. The cache fills only as pages are read. Several
#: processes writing one file (scoring workers) drop each other's caches at every commit,
#: and there the large cache cost more than it saved: they open the store with 2 MB.
SQLITE_CACHE_KIB = 65536

#: PostgreSQL advisory lock id taken by every writer ("RAIDT" in ASCII, as an int).
WRITE_LOCK_KEY = 0x5241494454


class Database:
    """One database (SQLite file or PostgreSQL) with serialised write transactions."""

    def __init__(
        self, url: str, *, echo: bool = False, sqlite_cache_kib: int = SQLITE_CACHE_KIB
    ) -> None:
        self.url = url
        try:
            parsed = make_url(url)
        except Exception as exc:
            raise ConfigurationError(f"RAIDT_DATABASE_URL is not a database URL: {url!r}") from exc
        self.dialect = parsed.get_backend_name()
        if self.dialect not in ("sqlite", "postgresql"):
            raise ConfigurationError(
                f"unsupported database '{self.dialect}': use sqlite:/// or postgresql+psycopg://"
            )
        if self.dialect == "sqlite":
            if not parsed.database or ":memory:" in parsed.database:
                # the pool would hand out several connections, each to its own empty
                # database, and everything recorded would vanish with the process
                raise ConfigurationError(
                    "an in-memory SQLite database keeps no evidence once the process ends: "
                    "use a file, e.g. sqlite:////var/lib/raidt/raidt.db"
                )
            file = Path(parsed.database)
            ensure_private_dir(file.parent, what="database folder", refuse_shared=False)
            private_file(file)  # 0600 before SQLite opens it; its WAL and SHM follow
            self.engine: Engine = create_engine(
                url,
                echo=echo,
                pool_size=8,
                max_overflow=16,
                connect_args={"timeout": 60, "isolation_level": None, "check_same_thread": False},
            )
            event.listen(
                self.engine, "connect", partial(_sqlite_on_connect, cache_kib=sqlite_cache_kib)
            )
            event.listen(self.engine, "begin", _sqlite_on_begin)
        else:
            self.engine = create_engine(url, echo=echo, pool_pre_ping=True, pool_size=5)
        #: Run inside every durable write transaction just before it commits (the
        #: application signs the grown tree here, so evidence and its checkpoint commit
        #: together); what it returns is called once the commit is done.
        self.seal: Callable[[Connection], Callable[[], None] | None] | None = None

    @contextmanager
    def write(self, *, durable: bool = True) -> Iterator[Connection]:
        """A write transaction holding the store's single write lock; commits on exit.

        ``durable=False`` is for derived data only (score profiles: recomputable from the
        evidence). Its commit does not wait for the disk (SQLite ``synchronous=NORMAL``,
        PostgreSQL ``synchronous_commit=off``) and SQLite folds its write-ahead log into
        the database in larger, rarer checkpoints. A crash may lose the last such commits
        but never corrupts the store; evidence is always written durably. A million-run
        rescore writes gigabytes of profiles, and would otherwise wait for the disk on every
        batch and fold the log back into the database every 4 MB.
        """
        after: Callable[[], None] | None = None
        with self.engine.connect() as conn:
            conn = conn.execution_options(raidt_write=True, raidt_durable=durable)
            try:
                with conn.begin():
                    if self.dialect == "postgresql":
                        conn.execute(
                            text("SELECT pg_advisory_xact_lock(:k)"), {"k": WRITE_LOCK_KEY}
                        )
                        if not durable:
                            conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
                    yield conn
                    if durable and self.seal is not None:
                        after = self.seal(conn)
            finally:
                if not durable and self.dialect == "sqlite":
                    # back to the defaults before the connection returns to the pool
                    raw = conn.connection.dbapi_connection
                    if raw is not None:
                        raw.execute(f"PRAGMA wal_autocheckpoint={_WAL_AUTOCHECKPOINT}")
                        raw.execute("PRAGMA synchronous=FULL")
        if after is not None:
            after()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction (a consistent snapshot on both engines)."""
        with self.engine.connect() as conn, conn.begin():
            if self.dialect == "postgresql":
                conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
            yield conn

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_on_connect(dbapi_conn: Any, _record: Any, *, cache_kib: int) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA busy_timeout=60000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA cache_size=-{int(cache_kib)}")
    cur.close()


def _sqlite_on_begin(conn: Connection) -> None:
    options = conn.get_execution_options()
    write = options.get("raidt_write", False)
    if write and not options.get("raidt_durable", True):
        # only settable outside a transaction; Database.write puts them back afterwards
        conn.exec_driver_sql("PRAGMA synchronous=NORMAL")
        conn.exec_driver_sql(f"PRAGMA wal_autocheckpoint={_WAL_BULK_AUTOCHECKPOINT}")
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def open_database(
    url: str, *, migrate: bool = True, sqlite_cache_kib: int = SQLITE_CACHE_KIB
) -> Database:
    """Open (and by default migrate to head) the database at ``url``."""
    db = Database(url, sqlite_cache_kib=sqlite_cache_kib)
    if migrate:
        from raidt.store.migrate import upgrade

        try:
            upgrade(db)
        except OperationalError as exc:
            db.dispose()
            shown = make_url(url).render_as_string(hide_password=True)
            reason = str(exc.orig or exc).strip().splitlines()[0]
            raise ConfigurationError(f"cannot open the database {shown}: {reason}") from None
    return db
