"""``raidt pack build|verify`` and ``raidt report`` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from raidt.cli.main import app
from raidt.cli.pack import EXIT_UNTRUSTED
from raidt.core import packformat as pf
from raidt.services.app import App
from tests.services._packs import files_of, rezip, run_events

runner = CliRunner()


@pytest.fixture
def home(raidt_home: Path) -> Path:
    result = runner.invoke(app, ["init"])
    assert result.exit_code == 0, result.output
    a = App.open()
    try:
        a.events.append(run_events("r-1"))
        a.events.append(run_events("r-2", 4))
    finally:
        a.close()
    return raidt_home


def test_build_then_verify_with_pinned_key(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "r-1.zip"
    r = runner.invoke(app, ["pack", "build", "r-1", "-o", str(out)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["checkpoint", "--export", str(tmp_path / "org.note")])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["pack", "verify", str(out), "--key", str(tmp_path / "org.pub.pem")])
    assert r.exit_code == 0, r.output
    for check in pf.default_checks():
        assert f"✓ {check.name}" in r.output
    assert "ok: integrity intact, signed by the pinned key" in r.output
    r = runner.invoke(
        app, ["pack", "verify", str(out), "--json", "--key", str(tmp_path / "org.pub.pem")]
    )
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["ok"] is True and data["trusted"] is True and data["status"] == "ok"
    assert data["checks"][0]["check"] == "files"


def test_unpinned_verify_is_integrity_without_trust(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "r-1.zip"
    assert runner.invoke(app, ["pack", "build", "r-1", "-o", str(out)]).exit_code == 0
    r = runner.invoke(app, ["pack", "verify", str(out)])
    assert r.exit_code == EXIT_UNTRUSTED == 3, r.output
    assert "integrity ok, signer not trusted" in " ".join(r.output.split())
    assert "✓ ok" not in r.output
    r = runner.invoke(app, ["pack", "verify", str(out), "--json"])
    assert r.exit_code == 3
    data = json.loads(r.stdout)
    assert data["ok"] is False and data["trusted"] is False and data["integrity"] is True
    assert data["status"] == "untrusted" and data["key_pinned"] is False


def test_verify_runs_without_any_store(home: Path, tmp_path: Path) -> None:
    """A separate process with no RAIDT_HOME and an unreachable database URL."""
    out = tmp_path / "p.zip"
    assert runner.invoke(app, ["pack", "build", "r-2", "-o", str(out)]).exit_code == 0
    env = {
        "PATH": "/usr/bin:/bin",
        "RAIDT_HOME": str(tmp_path / "nowhere"),
        "RAIDT_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none",
    }
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from raidt.cli.main import main; main()",
            "pack",
            "verify",
            str(out),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 3, proc.stderr  # intact, signer not pinned
    assert "✓ ledger" in proc.stdout and "signer not trusted" in proc.stderr
    assert not (tmp_path / "nowhere").exists()


def test_tampered_pack_exits_non_zero_naming_the_first_failure(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "p.zip"
    assert runner.invoke(app, ["pack", "build", "r-1", "-o", str(out)]).exit_code == 0
    files = files_of(out.read_bytes())
    files[pf.SCORE] = files[pf.SCORE].replace(b'"readiness"', b'"Readiness"', 1)
    bad = tmp_path / "bad.zip"
    bad.write_bytes(rezip(files))
    r = runner.invoke(app, ["pack", "verify", str(bad)])
    assert r.exit_code == 1
    assert "✗ statement" in r.output
    assert "pack verification failed: statement: score.json" in " ".join(r.output.split())


def test_build_errors_are_one_line(home: Path, tmp_path: Path) -> None:
    r = runner.invoke(app, ["pack", "build", "nope", "-o", str(tmp_path / "x.zip")])
    assert r.exit_code == 1 and "nope" in r.output
    r = runner.invoke(app, ["pack", "build", "-o", str(tmp_path / "x.zip")])
    assert r.exit_code == 1 and "RUN_ID" in r.output
    r = runner.invoke(app, ["pack", "verify", str(tmp_path / "absent.zip")])
    assert r.exit_code == 1 and "no such file" in r.output


def test_period_build_and_verify(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "audit.zip"
    r = runner.invoke(
        app,
        [
            "pack",
            "build",
            "--use-case",
            "discharge-summary",
            "--since",
            "2026-03-01",
            "--until",
            "2026-03-02",
            "-o",
            str(out),
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["runs"] == 2
    r = runner.invoke(app, ["pack", "verify", str(out)])
    assert r.exit_code == 3, r.output
    assert "✓ packs" in r.output and "2 packs verified" in r.output
    assert "signer not trusted" in " ".join(r.output.split())


def test_report_html_and_pdf(home: Path, tmp_path: Path) -> None:
    html, pdf = tmp_path / "r.html", tmp_path / "r.pdf"
    r = runner.invoke(app, ["report", "r-1", "--html", str(html), "--pdf", str(pdf)])
    assert r.exit_code == 0, r.output
    assert "What this pack does not prove" in html.read_text()
    assert pdf.read_bytes().startswith(b"%PDF")
    period = tmp_path / "period.pdf"
    r = runner.invoke(
        app,
        [
            "report",
            "--use-case",
            "discharge-summary",
            "--since",
            "2026-03-01",
            "--until",
            "2026-03-02",
            "--pdf",
            str(period),
        ],
    )
    assert r.exit_code == 0, r.output
    assert period.read_bytes().startswith(b"%PDF")
    r = runner.invoke(app, ["report", "r-1"])
    assert r.exit_code == 1 and "--pdf" in r.output
