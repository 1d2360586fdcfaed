"""The trust commands as an operator and a witness use them (issue 13.6, 13.7, 13.12)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from raidt.cli.main import app
from raidt.services.demo_data import DemoGenerator

runner = CliRunner()


def _jsonl(path: Path, runs: int, seed: int = 5) -> Path:
    with path.open("wb") as fh:
        for run in DemoGenerator(seed=seed).runs(runs):
            for e in run:
                fh.write(orjson.dumps(e.model_dump(mode="json", exclude_none=True)) + b"\n")
    return path


@pytest.mark.parametrize("folder", ["my store", "a+b"])
def test_init_import_verify_in_a_folder_with_a_space_or_plus(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, folder: str
) -> None:
    home = tmp_path / folder
    monkeypatch.setenv("RAIDT_HOME", str(home))
    monkeypatch.delenv("RAIDT_DATABASE_URL", raising=False)
    assert runner.invoke(app, ["init"]).exit_code == 0
    imported = runner.invoke(app, ["import", str(_jsonl(tmp_path / "e.jsonl", 3))])
    assert imported.exit_code == 0, imported.output
    verified = runner.invoke(app, ["verify", "--json"])
    assert verified.exit_code == 0, verified.output
    body = json.loads(verified.stdout)
    assert body["checkpoints"] > 0 and body["latest_tree_size"] == body["tree_size"]

    moved = tmp_path / "restored copy"
    shutil.copytree(home, moved)
    monkeypatch.setenv("RAIDT_HOME", str(moved))
    assert runner.invoke(app, ["verify"]).exit_code == 0


def test_a_witness_keeps_a_checkpoint_and_checks_the_store_against_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("RAIDT_HOME", str(home))
    monkeypatch.delenv("RAIDT_DATABASE_URL", raising=False)
    assert runner.invoke(app, ["init"]).exit_code == 0
    assert runner.invoke(app, ["import", str(_jsonl(tmp_path / "a.jsonl", 2))]).exit_code == 0
    kept = tmp_path / "witness" / "cp.note"
    kept.parent.mkdir()
    assert runner.invoke(app, ["checkpoint", "--export", str(kept)]).exit_code == 0
    more = _jsonl(tmp_path / "b.jsonl", 4, seed=8)
    assert runner.invoke(app, ["import", str(more)]).exit_code == 0

    ok = runner.invoke(app, ["verify", "--checkpoint", str(kept)])
    assert ok.exit_code == 0, ok.output
    assert "consistent with the witness checkpoint" in " ".join(ok.stdout.split())

    (home / "checkpoint.latest").unlink()
    warned = runner.invoke(app, ["verify"])
    assert warned.exit_code == 0
    assert "no outside copy" in " ".join(warned.output.split())

    missing = runner.invoke(app, ["verify", "--checkpoint", str(tmp_path / "nope")])
    assert missing.exit_code != 0 and "Traceback" not in missing.output

    garbage = tmp_path / "garbage.note"
    garbage.write_text("not a note")
    bad = runner.invoke(app, ["verify", "--checkpoint", str(garbage)])
    assert bad.exit_code == 1 and "witness checkpoint" in bad.output


def test_an_import_whose_outside_copy_fails_succeeds_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("RAIDT_HOME", str(home))
    monkeypatch.delenv("RAIDT_DATABASE_URL", raising=False)
    assert runner.invoke(app, ["init"]).exit_code == 0
    (home / "checkpoint.latest").unlink()
    (home / "checkpoint.latest").mkdir()
    events = _jsonl(tmp_path / "e.jsonl", 2)
    first = runner.invoke(app, ["import", str(events), "--json"])
    assert first.exit_code == 0, first.output
    assert "warning:" in first.stderr and "committed" in first.stderr
    retry = runner.invoke(app, ["import", str(events)])
    assert retry.exit_code == 1 and "already stored" in retry.output  # nothing duplicated
    (home / "checkpoint.latest").rmdir()
    assert runner.invoke(app, ["checkpoint"]).exit_code == 0
    final = json.loads(runner.invoke(app, ["verify", "--json"]).stdout)
    assert final["ok"] and final["events"] == json.loads(first.stdout)["events"]
    assert final["warnings"] == []
