"""`raidt demo` honours RAIDT_HOME and only ever removes what it can prove it wrote."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from raidt.cli.main import app

runner = CliRunner()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("RAIDT_HOME", "RAIDT_DEMO_HOME", "RAIDT_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_a_folder_holding_the_default_demo_folder_is_never_wiped(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "thesis.txt").write_text("years of work")
    clean_env.chdir(work)
    first = runner.invoke(app, ["demo", "--runs", "3"])
    assert first.exit_code == 0, first.output
    assert (work / ".raidt-demo" / "raidt.db").is_file()

    clean_env.setenv("RAIDT_DEMO_HOME", str(work))
    second = runner.invoke(app, ["demo", "--runs", "3"])
    assert second.exit_code == 1
    assert "not a demo store" in second.output
    assert (work / "thesis.txt").read_text() == "years of work"
    assert (work / ".raidt-demo" / "raidt.db").is_file()


def test_demo_honours_raidt_home_and_a_rerun_keeps_foreign_files(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    clean_env.setenv("RAIDT_HOME", str(home))
    first = runner.invoke(app, ["demo", "--runs", "3"])
    assert first.exit_code == 0, first.output
    assert (home / "raidt.db").is_file() and list(home.glob("run-*.zip"))
    (home / "notes.txt").write_text("mine")
    (home / "sub").mkdir()
    (home / "sub" / "kept.txt").write_text("mine too")

    again = runner.invoke(app, ["demo", "--runs", "3"])
    assert again.exit_code == 0, again.output
    assert (home / "notes.txt").read_text() == "mine"
    assert (home / "sub" / "kept.txt").read_text() == "mine too"
    verified = runner.invoke(app, ["verify"])  # RAIDT_HOME now names the demo store
    assert verified.exit_code == 0, verified.output


def test_demo_refuses_a_real_store_named_by_raidt_home(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "store"
    clean_env.setenv("RAIDT_HOME", str(home))
    assert runner.invoke(app, ["init"]).exit_code == 0
    before = sorted(p.name for p in home.iterdir())
    size = (home / "raidt.db").stat().st_size
    result = runner.invoke(app, ["demo", "--runs", "3"])
    assert result.exit_code == 1
    assert "not a demo store" in result.output
    assert sorted(p.name for p in home.iterdir()) == before
    assert (home / "raidt.db").stat().st_size == size


def test_a_marker_folder_or_link_is_no_proof(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".raidt-demo-store").mkdir()
    (home / "raidt.db").write_text("not the demo's")
    clean_env.setenv("RAIDT_DEMO_HOME", str(home))
    result = runner.invoke(app, ["demo", "--runs", "3"])
    assert result.exit_code == 1
    assert (home / "raidt.db").read_text() == "not the demo's"
