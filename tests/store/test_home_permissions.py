"""RAIDT_HOME is private whatever the umask, and a world-writable one is refused (13.9)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from raidt.cli.main import app as cli
from raidt.errors import ConfigurationError
from raidt.services.app import App
from tests.helpers import seed_runs


@pytest.fixture
def loose_umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_a_new_home_is_0700_and_the_database_0600(tmp_path: Path, loose_umask: None) -> None:
    home = tmp_path / "deep" / "home"
    with App.open(home=home) as app:
        seed_runs(app, n=2)
        for name in ("raidt.db", "raidt.db-wal", "raidt.db-shm"):
            assert (home / name).exists(), name
            assert _mode(home / name) == 0o600, name
    assert _mode(home) == 0o700
    assert _mode(home / "signing.key") == 0o600


def test_an_existing_loose_database_is_tightened(tmp_path: Path, loose_umask: None) -> None:
    home = tmp_path / "home"
    with App.open(home=home) as app:
        seed_runs(app, n=1)
    os.chmod(home / "raidt.db", 0o644)
    with App.open(home=home):
        pass
    assert _mode(home / "raidt.db") == 0o600


def test_a_world_writable_home_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "shared"
    home.mkdir()
    os.chmod(home, 0o777)
    with pytest.raises(ConfigurationError, match="writable by everyone"):
        App.open(home=home)
    assert not (home / "raidt.db").exists()


def test_the_cli_refuses_a_world_writable_home_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "shared"
    home.mkdir()
    os.chmod(home, 0o757)
    monkeypatch.setenv("RAIDT_HOME", str(home))
    monkeypatch.delenv("RAIDT_DATABASE_URL", raising=False)
    result = CliRunner().invoke(cli, ["init"])
    assert result.exit_code == 1
    assert "writable by everyone" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert list(home.iterdir()) == []
