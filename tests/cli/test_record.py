"""``raidt record`` through a real terminal (pexpect), and scripted with ``--no-input``."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pexpect
import pytest
from typer.testing import CliRunner

from raidt.cli.main import app as cli
from raidt.core.events import EventType
from raidt.services.app import App

E = EventType
RAIDT = str(Path(sys.executable).parent / "raidt")


@pytest.fixture
def home(raidt_home: Path) -> Path:
    result = CliRunner().invoke(cli, ["init"])
    assert result.exit_code == 0, result.output
    return raidt_home


def events_of(home: Path, run_id: str) -> list[EventType]:
    with App.open(home=home) as a:
        return [e.type for e in a.events.run_events(run_id)]


def test_interactive_form_in_a_real_terminal(home: Path) -> None:
    env = {**os.environ, "RAIDT_HOME": str(home), "NO_COLOR": "1", "COLUMNS": "200", "TERM": "dumb"}
    child = pexpect.spawn(
        RAIDT,
        ["record", "--run-id", "m-2"],
        env=env,
        encoding="utf-8",
        timeout=30,
        dimensions=(40, 200),
    )
    try:
        steps = [
            ("Use case", "meeting-notes"),
            ("Team", "ops"),
            ("Purpose of the run", ""),  # refused: the policy makes purpose mandatory
            ("purpose is required by the policy", "weekly project sync"),
            ("Risk level", "low"),
            ("Initiator", "u-1"),
            ("Data context", ""),
            ("Prompt template id", ""),  # accept the policy's approved template
            ("Template version", ""),
            ("Model provider", "openai"),
            ("Model .*skip", "gpt-4o"),
            ("Reviewer", "u-2"),
            ("Review time in seconds", "95"),
            ("Review decision", "approved"),
            ("Number of edits", "1"),
            ("Override reason", ""),
            ("Signed off by", ""),
            ("Disposition", "accepted_with_edits"),
            ("Downstream destination", "team-wiki"),
            ("escalated", "n"),
        ]
        for prompt, answer in steps:
            child.expect(prompt)
            child.sendline(answer)
        child.expect("recorded run m-2")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
    assert events_of(home, "m-2") == [
        E.RUN_STARTED,
        E.MODEL_INVOKED,
        E.REVIEW_ASSIGNED,
        E.OUTPUT_EDITED,
        E.REVIEW_APPROVED,
        E.RUN_CLOSED,
        E.DOWNSTREAM_USED,
    ]
    with App.open(home=home) as a:
        started = a.events.run_events("m-2")[0]
    assert started.payload["template"] == {"id": "meeting-notes-summary", "version": "1"}
    assert started.payload["purpose"] == "weekly project sync"


def test_no_input_lists_missing_mandatory_fields_and_records_nothing(home: Path) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "record",
            "--no-input",
            "--use-case",
            "credit-memo",
            "--team",
            "sme",
            "--initiator",
            "u-301",
            "--run-id",
            "c-1",
        ],
    )
    assert result.exit_code == 1
    assert (
        "missing mandatory field(s) for policy credit-memo: risk_level, purpose, reviewer, "
        "disposition, data_context; nothing recorded"
    ) in " ".join(result.output.split())
    assert events_of(home, "c-1") == []


def test_no_input_with_every_field_records_the_run(home: Path) -> None:
    args = [
        "record",
        "--no-input",
        "--use-case",
        "credit-memo",
        "--run-id",
        "c-2",
        "--team",
        "sme",
        "--initiator",
        "u-301",
        "--purpose",
        "term loan memo",
        "--risk-level",
        "medium",
        "--data-context",
        "spread://acme-2025",
        "--template",
        "credit-memo-draft@1",
        "--provider",
        "anthropic",
        "--model",
        "claude-sonnet-4",
        "--reviewer",
        "u-302",
        "--review-seconds",
        "600",
        "--decision",
        "approved",
        "--signoff-by",
        "u-303",
        "--started-at",
        "2026-03-01T09:00:00Z",
        "--disposition",
        "accepted",
        "--field",
        "loan_ref=L-77",
        "--json",
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert '"events": 6' in result.output
    with App.open(home=home) as a:
        started = a.events.run_events("c-2")[0]
    assert started.payload["data_context"] == [{"ref": "spread://acme-2025"}]
    assert started.payload["loan_ref"] == "L-77"


def test_bad_value_is_named_and_nothing_recorded(home: Path) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "record",
            "--no-input",
            "--use-case",
            "meeting-notes",
            "--run-id",
            "m-9",
            "--team",
            "ops",
            "--initiator",
            "u",
            "--purpose",
            "p",
            "--risk-level",
            "low",
            "--disposition",
            "accepted",
            "--started-at",
            "monday",
        ],
    )
    assert result.exit_code == 1
    assert "raidt record: field 'started_at': not an RFC 3339 timestamp" in result.output
    assert events_of(home, "m-9") == []


def test_csv_template_prints_the_header(home: Path) -> None:
    result = CliRunner().invoke(cli, ["record", "--csv-template"])
    assert result.exit_code == 0
    assert result.output.startswith("run_id,use_case,team,purpose,risk_level,initiator,")
