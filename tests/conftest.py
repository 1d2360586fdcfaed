"""Shared fixtures: real SQLite files and a real PostgreSQL server.

``db_url`` is parametrised over both engines, so a test that takes it runs twice. Each
test gets a fresh, empty database. PostgreSQL comes from ``RAIDT_TEST_POSTGRES_URL`` or a
throwaway cluster started once per session; where neither is possible the PostgreSQL half
is skipped with the reason, except under CI (``CI=true``), where that is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests import _postgres

_cluster: _postgres.Cluster | None = None


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    global _cluster
    url = os.environ.get("RAIDT_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    reason = _postgres.why_unavailable()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required under CI: {reason}")
        pytest.skip(reason)
    _cluster = _postgres.start()
    try:
        yield _cluster.url
    finally:
        _cluster.stop()


def _fresh_pg_database(server_url: str) -> str:
    name = "t_" + uuid.uuid4().hex[:16]
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'raidt.db'}"


@pytest.fixture
def pg_url(pg_server_url: str) -> str:
    return _fresh_pg_database(pg_server_url)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database URL on each engine."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'raidt.db'}"
    server: str = request.getfixturevalue("pg_server_url")
    return _fresh_pg_database(server)


@pytest.fixture
def raidt_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated RAIDT_HOME (and no inherited database URL)."""
    home = tmp_path / "home"
    monkeypatch.setenv("RAIDT_HOME", str(home))
    monkeypatch.delenv("RAIDT_DATABASE_URL", raising=False)
    return home
