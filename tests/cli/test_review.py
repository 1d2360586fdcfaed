"""``raidt review``: a live run driven from the terminal, refusals as one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from raidt.cli.main import app as cli


@pytest.fixture
def home(raidt_home: Path) -> Path:
    assert CliRunner().invoke(cli, ["init"]).exit_code == 0
    return raidt_home


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["review", *args])
    return result.exit_code, " ".join(result.output.split())


def test_review_commands_drive_a_run_and_refuse_in_one_line(home: Path) -> None:
    assert (
        run(
            "start",
            "--as",
            "u-201",
            "--use-case",
            "policy-briefing",
            "--team",
            "t",
            "--risk-level",
            "low",
            "--purpose",
            "p",
            "--template",
            "policy-briefing-draft@1",
            "--run-id",
            "r1",
        )[0]
        == 0
    )
    code, out = run("approve", "r1", "--as", "u-202")
    assert code == 1 and out.startswith("error: run r1 is started: cannot approve; allowed next:")
    code, out = run("assign", "r1", "u-201", "--as", "u-201")
    assert code == 1 and "u-201 started run r1 and cannot act as its reviewer" in out
    assert run("assign", "r1", "u-202", "--as", "u-201")[0] == 0
    code, out = run("checklist", "r1", "--as", "u-202", "--done", "nonsense")
    assert code == 1 and "unknown checklist item(s): nonsense" in out
    code, out = run("close", "r1", "--as", "u-201", "--disposition", "accepted")
    assert code == 1 and "cannot close run r1; missing: an approval" in out
    code, out = run("queue", "--reviewer", "u-202", "--json")
    assert code == 0 and [r["run_id"] for r in json.loads(out)] == ["r1"]
    code, out = run("show", "r1", "--json")
    assert code == 0 and "review.approved" in json.loads(out)["allowed_next"]
    code, out = run(
        "close",
        "r1",
        "--as",
        "u-201",
        "--disposition",
        "withdrawn",
        "--field",
        "reason=duplicate of r0",
    )
    assert code == 0 and "closed run r1 as withdrawn" in out
    code, out = run("challenge", "r1", "--as", "p-1", "--reason", "why?", "--owner", "u-203")
    assert code == 0
    code, out = run("resolve-challenge", "r1", "--as", "u-203", "--resolution", "explained")
    assert code == 0
    code, out = run("edit", "r1", "--as", "u-202")
    assert code == 1 and "give --before and --after files, or --diff" in out
