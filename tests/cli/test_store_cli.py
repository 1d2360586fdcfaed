"""The store commands as a user runs them: init, import, runs, show, checkpoint, verify."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from raidt.cli.main import app
from raidt.services.demo_data import DemoGenerator

runner = CliRunner()


def _write_jsonl(path: Path, runs: int = 5) -> int:
    n = 0
    with path.open("wb") as fh:
        for run in DemoGenerator(seed=5).runs(runs):
            for e in run:
                fh.write(orjson.dumps(e.model_dump(mode="json", exclude_none=True)) + b"\n")
                n += 1
    return n


@pytest.fixture
def home(raidt_home: Path) -> Path:
    result = runner.invoke(app, ["init"])
    assert result.exit_code == 0, result.output
    return raidt_home


def test_import_runs_show_verify(home: Path, tmp_path: Path) -> None:
    f = tmp_path / "events.jsonl"
    n = _write_jsonl(f)
    result = runner.invoke(app, ["import", str(f), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"events": n, "runs": 5, "skipped": []}

    listed = json.loads(runner.invoke(app, ["runs", "--json"]).stdout)
    assert {r["id"] for r in listed} == {f"run-00000{i}" for i in range(1, 6)}
    assert all(r["use_case"] and r["team"] and r["status"] for r in listed)
    assert len(json.loads(runner.invoke(app, ["runs", "--json", "--limit", "2"]).stdout)) == 2

    shown = json.loads(runner.invoke(app, ["show", "run-000001", "--json"]).stdout)
    assert shown["run"]["run_id"] == "run-000001"
    assert [e["seq"] for e in shown["events"]] == sorted(e["seq"] for e in shown["events"])
    human = runner.invoke(app, ["show", "run-000001"])
    assert human.exit_code == 0 and "run.started" in human.stdout

    ok = runner.invoke(app, ["verify", "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["ok"] is True and json.loads(ok.stdout)["events"] == n


def test_bad_line_names_line_and_field_and_stores_nothing(home: Path, tmp_path: Path) -> None:
    f = tmp_path / "events.jsonl"
    _write_jsonl(f, runs=3)
    lines = f.read_bytes().splitlines()
    bad = orjson.loads(lines[4])
    bad["actor"]["role"] = "wizard"
    lines[4] = orjson.dumps(bad)
    f.write_bytes(b"\n".join(lines) + b"\n")
    result = runner.invoke(app, ["import", str(f)])
    assert result.exit_code == 1
    assert "events.jsonl:5" in result.output and "actor.role" in result.output
    assert json.loads(runner.invoke(app, ["runs", "--json"]).stdout) == []

    skipped = runner.invoke(app, ["import", str(f), "--skip-bad", "--json"])
    assert skipped.exit_code == 0
    body = json.loads(skipped.stdout)
    assert len(body["skipped"]) == 1 and body["events"] == len(lines) - 1


@pytest.mark.parametrize(
    "line,needle",
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (
            b'{"run_id": "r", "type": "run.flew", "at": "2026-01-01T00:00:00Z", '
            b'"actor": {"id": "u", "role": "initiator"}}',
            "type",
        ),
        (
            b'{"run_id": "r", "type": "run.started", "at": "2026-01-01T00:00:00", '
            b'"actor": {"id": "u", "role": "initiator"}, "payload": {"use_case": "x", "team": "t", '
            b'"risk_level": "low"}}',
            "time zone",
        ),
        (
            b'{"run_id": "r", "type": "run.started", "at": "2026-01-01T00:00:00Z", '
            b'"actor": {"id": "u", "role": "initiator"}, "payload": {"team": "t", '
            b'"risk_level": "low"}}',
            "payload.use_case",
        ),
    ],
)
def test_bad_input_is_refused_with_a_reason(
    home: Path, tmp_path: Path, line: bytes, needle: str
) -> None:
    f = tmp_path / "bad.jsonl"
    f.write_bytes(line + b"\n")
    result = runner.invoke(app, ["import", str(f)])
    assert result.exit_code == 1
    assert needle in result.output and "bad.jsonl:1" in result.output


def test_missing_file_and_unknown_run(home: Path, tmp_path: Path) -> None:
    r = runner.invoke(app, ["import", str(tmp_path / "nope.jsonl")])
    assert r.exit_code == 1 and "not found" in r.output
    r = runner.invoke(app, ["import", str(tmp_path)])
    assert r.exit_code == 1 and "not a file" in r.output
    r = runner.invoke(app, ["show", "run-404"])
    assert r.exit_code == 1 and "run-404" in r.output


def test_checkpoint_export_is_a_signed_note(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "witness" / "cp.txt"
    out.parent.mkdir()
    r = runner.invoke(app, ["checkpoint", "--export", str(out)])
    assert r.exit_code == 0, r.output
    note = out.read_text()
    lines = note.splitlines()
    assert lines[3] == "" and lines[4].startswith("\u2014 ")
    # the presets, templates and rubric installed by init are the tree's first leaves
    verified = json.loads(runner.invoke(app, ["verify", "--json"]).stdout)
    assert int(lines[1]) == verified["tree_size"] == verified["documents"] > 0
    assert (home / "checkpoint.latest").read_text() == note
    assert (tmp_path / "witness" / "cp.pub.pem").read_text().startswith("-----BEGIN PUBLIC KEY")
    assert oct((home / "signing.key").stat().st_mode & 0o777) == "0o600"


def test_console_script_runs(tmp_path: Path) -> None:
    env = {**os.environ, "RAIDT_HOME": str(tmp_path / "h")}
    env.pop("RAIDT_DATABASE_URL", None)
    exe = Path(sys.executable).parent / "raidt"
    out = subprocess.run([str(exe), "init"], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    out = subprocess.run([str(exe), "verify"], env=env, capture_output=True, text=True)
    assert out.returncode == 0 and "intact" in out.stdout


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"RAIDT_DATABASE_URL": "mysql://x/y"}, "unsupported database"),
        ({"RAIDT_DATABASE_URL": "not a url"}, "not a database URL"),
        (
            {"RAIDT_DATABASE_URL": "postgresql+psycopg://u:hunter2@127.0.0.1:1/x"},
            "cannot open the database",
        ),
        ({"RAIDT_DATABASE_URL": "sqlite:////proc/raidt-nope/x.db"}, "cannot create"),
        ({"RAIDT_DATABASE_URL": "sqlite:///:memory:"}, "in-memory SQLite database"),
        ({"RAIDT_DATABASE_URL": "sqlite://"}, "in-memory SQLite database"),
    ],
)
def test_unusable_store_is_one_line_and_hides_passwords(
    raidt_home: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], needle: str
) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    result = runner.invoke(app, ["runs"])
    assert result.exit_code == 1
    assert needle in result.output
    assert "hunter2" not in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b'"team": "a", "team": "b"', "key 'team' appears twice"),
        (b'"team": "a\\u0000b"', "payload.team holds a NUL character"),
    ],
)
def test_import_refuses_repeated_keys_and_nul_on_both_engines(
    raidt_home: Path,
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    line: bytes,
    message: str,
) -> None:
    monkeypatch.setenv("RAIDT_DATABASE_URL", db_url)
    assert runner.invoke(app, ["init"]).exit_code == 0
    good = (
        b'{"run_id": "r-1", "type": "run.started", "at": "2026-03-02T00:00:00.5Z", '
        b'"actor": {"id": "u-1", "role": "initiator"}, "payload": {"use_case": "meeting-notes", '
        b'"risk_level": "low", "team": "t"}}\n'
    )
    bad = good.replace(b'"team": "t"', line).replace(b"r-1", b"r-2")
    f = tmp_path / "events.jsonl"
    f.write_bytes(good + bad)
    result = runner.invoke(app, ["import", str(f)])
    assert result.exit_code == 1
    assert f"events.jsonl:2: {message}" in " ".join(result.output.split())
    assert len(result.output.strip().splitlines()) == 1
    assert json.loads(runner.invoke(app, ["runs", "--json"]).stdout) == []


def test_runs_since_a_date_includes_a_fractional_start(home: Path, tmp_path: Path) -> None:
    f = tmp_path / "events.jsonl"
    f.write_bytes(
        b'{"run_id": "r-1", "type": "run.started", "at": "2026-03-02T00:00:00.5Z", '
        b'"actor": {"id": "u-1", "role": "initiator"}, "payload": {"use_case": "meeting-notes", '
        b'"risk_level": "low", "team": "t"}}\n'
    )
    assert runner.invoke(app, ["import", str(f)]).exit_code == 0
    for since, found in (("2026-03-02", ["r-1"]), ("2026-03-02T00:00:00.6Z", [])):
        listed = json.loads(runner.invoke(app, ["runs", "--json", "--since", since]).stdout)
        assert [r["id"] for r in listed] == found, since


def test_tables_off_a_terminal_are_not_cut_at_80_columns(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    long_id = "run-" + "0123456789" * 6
    f = tmp_path / "events.jsonl"
    f.write_bytes(
        b'{"run_id": "' + long_id.encode() + b'", "type": "run.started", '
        b'"at": "2026-03-02T00:00:00Z", "actor": {"id": "initiator-with-a-long-name", '
        b'"role": "initiator"}, "payload": {"use_case": "meeting-notes", '
        b'"risk_level": "low", "team": "a-team-with-a-rather-long-name", "purpose": "p"}}\n'
    )
    assert runner.invoke(app, ["import", str(f)]).exit_code == 0
    listed = runner.invoke(app, ["runs"])
    assert listed.exit_code == 0
    assert long_id in listed.stdout and "…" not in listed.stdout
    assert max(len(line) for line in listed.stdout.splitlines()) > 80
