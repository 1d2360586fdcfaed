"""`raidt demo` runs the whole chain on a fresh store and refuses to wipe a non-demo folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from raidt.cli.main import app

runner = CliRunner()


def test_demo_runs_the_whole_chain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "demo"
    monkeypatch.setenv("RAIDT_DEMO_HOME", str(home))
    result = runner.invoke(app, ["demo", "--runs", "40"])
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "intact" in out and "scored 40 runs" in out
    assert "built and verified offline (9/9 checks)" in out
    assert list(home.glob("run-*.zip"))
    again = runner.invoke(app, ["demo", "--runs", "5"])  # a demo store is replaced
    assert again.exit_code == 0, again.output


def test_demo_refuses_to_replace_a_folder_it_did_not_make(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "evidence.db").write_text("do not delete")
    monkeypatch.setenv("RAIDT_DEMO_HOME", str(precious))
    result = runner.invoke(app, ["demo", "--runs", "5"])
    assert result.exit_code == 1
    assert "not a demo store" in result.output
    assert (precious / "evidence.db").read_text() == "do not delete"
