"""``raidt score``, ``raidt weakpoints`` and ``raidt rubric`` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from raidt.cli.main import app
from raidt.services.app import App
from raidt.services.scoring import default_rubric_text
from tests.services.test_scoring_service import fill

runner = CliRunner()


@pytest.fixture
def home(raidt_home: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RAIDT_DATABASE_URL", db_url)
    with App.open() as a:
        fill(a)
    return raidt_home


def test_score_one_run(home: Path) -> None:
    result = runner.invoke(app, ["score", "a-1", "--json"])
    assert result.exit_code == 0, result.output
    p = json.loads(result.stdout)
    assert p["run_id"] == "a-1" and p["readiness"] == "audit_ready"
    assert set(p["pillars"]) == {
        "responsibility",
        "auditability",
        "interpretability",
        "dependability",
        "traceability",
    }
    human = runner.invoke(app, ["score", "b-0"])
    assert human.exit_code == 0, human.output
    assert "self-review" in human.stdout and "not_governable" in human.stdout
    digest = json.loads(runner.invoke(app, ["score", "b-0", "--json"]).stdout)["inputs"]["actors"]
    flat = " ".join(human.stdout.split())  # the console wraps at 80 columns here
    assert f"actor entries sha256 {digest['sha256'][:12]}" in flat


def test_score_all_by_and_weakpoints(home: Path) -> None:
    result = runner.invoke(app, ["score", "--all", "--by", "team", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["runs"] == 8
    assert [g["key"] for g in out["aggregate"]["groups"]] == ["team-a", "team-b"]
    two = runner.invoke(app, ["score", "--all", "--by", "team", "--workers", "2", "--json"])
    assert two.exit_code == 0, two.output
    assert json.loads(two.stdout) == out
    table = runner.invoke(app, ["score", "--all", "--by", "obligation"])
    assert table.exit_code == 0 and "Art. 14(5)" in table.stdout
    wp = runner.invoke(app, ["weakpoints", "--json"])
    assert wp.exit_code == 0, wp.output
    kinds = {w["kind"] for w in json.loads(wp.stdout)}
    assert {"self_review", "rubber_stamp", "non_approved_template"} <= kinds
    assert (
        json.loads(runner.invoke(app, ["weakpoints", "--json", "--since", "2026-05-01"]).stdout)
        == []
    )


def test_weakpoints_summary_counts_what_the_drill_down_lists(home: Path) -> None:
    assert runner.invoke(app, ["score", "--all"]).exit_code == 0
    full = json.loads(runner.invoke(app, ["weakpoints", "--json"]).stdout)
    result = runner.invoke(app, ["weakpoints", "--summary", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary and all("run_ids" not in w for w in summary)
    counted = sorted((w["kind"], w["detail"], w["runs"]) for w in summary)
    assert counted == sorted((w["kind"], w["detail"], len(w["run_ids"])) for w in full)
    table = runner.invoke(app, ["weakpoints", "--summary"])
    assert table.exit_code == 0, table.output
    assert "self_review" in table.stdout and "run ids" not in table.stdout
    since = ["weakpoints", "--summary", "--json", "--since", "2026-05-01"]
    assert json.loads(runner.invoke(app, since).stdout) == []


def test_rubric_commands(home: Path, tmp_path: Path) -> None:
    listed = json.loads(runner.invoke(app, ["rubric", "list", "--json"]).stdout)
    assert [(r["id"], r["version"]) for r in listed] == [("raidt-default", "2")]
    shown = runner.invoke(app, ["rubric", "show", "raidt-default@2", "--json"])
    assert json.loads(shown.stdout)["text"] == default_rubric_text()
    good = tmp_path / "v2.yaml"
    good.write_text(default_rubric_text().replace('version: "2"', 'version: "4"'))
    assert runner.invoke(app, ["rubric", "add", str(good)]).exit_code == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        default_rubric_text()
        .replace('version: "2"', 'version: "3"')
        .replace("check: purpose_recorded", "check: vibes")
    )
    result = runner.invoke(app, ["rubric", "add", str(bad)])
    assert result.exit_code == 1
    assert "bad.yaml:" in result.stderr and "vibes" in result.stderr
    listed = json.loads(runner.invoke(app, ["rubric", "list", "--json"]).stdout)
    assert [r["version"] for r in listed] == ["2", "4"]


def test_usage_errors(home: Path) -> None:
    for args in (
        ["score"],
        ["score", "a-1", "--all"],
        ["score", "--all", "--by", "colour"],
        ["score", "--all", "--workers", "0"],
        ["score", "a-1", "--workers", "2"],
        ["score", "no-such-run"],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 1, args
        assert result.stderr.strip(), args
