"""Run-level CSV records: the events they become, and bad rows named by line and column."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from raidt.core.events import EventType
from raidt.core.review_rules import missing_for_close
from raidt.errors import ImportFileError
from raidt.services.csv_records import (
    CSV_COLUMNS,
    REQUIRED_COLUMNS,
    csv_template,
    csv_to_events,
    record_to_events,
)

E = EventType

TEAM_A = {
    "run_id": "a-1", "use_case": "policy-briefing", "team": "team-a",
    "purpose": "ministerial briefing", "risk_level": "high", "initiator": "u-a1",
    "started_at": "2026-03-01T09:00:00Z", "template_id": "briefing", "template_version": "2",
    "provider": "openai", "model": "gpt-4o", "parameters": '{"temperature": 0.2}',
    "reviewer": "u-a2", "reviewed_at": "2026-03-01T09:40:00Z", "review_seconds": "1500",
    "decision": "approved", "edits": "2", "edit_reason": "sourced claims",
    "escalation_reason": "unsourced figure", "escalation_owner": "u-a3",
    "escalation_resolution": "figure removed", "signoff_by": "u-a3",
    "disposition": "accepted_with_edits", "closed_at": "2026-03-01T10:00:00Z",
    "downstream": "minister-office", "downstream_reference": "BRF-19",
}  # fmt: skip
TEAM_B = {
    "run_id": "b-1", "use_case": "policy-briefing", "team": "team-b", "risk_level": "high",
    "initiator": "u-b1", "started_at": "2026-03-01T09:00:00Z", "provider": "openai",
    "model": "gpt-4o", "parameters": '{"temperature": 0.2}', "reviewer": "u-b1",
    "review_seconds": "4", "decision": "approved",
}  # fmt: skip


def to_csv(*rows: dict[str, str], columns: tuple[str, ...] = CSV_COLUMNS) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    w.writeheader()
    for row in rows:
        w.writerow(row)
    return buf.getvalue()


def test_template_header_lists_every_column_and_parses_as_empty() -> None:
    text = csv_template()
    assert text.strip().split(",") == list(CSV_COLUMNS)
    assert csv_to_events(text, "t.csv", False) == ([], [])


def test_team_a_row_becomes_the_full_lifecycle_in_order() -> None:
    events, errors = csv_to_events(to_csv(TEAM_A), "runs.csv", False)
    assert errors == []
    assert [e.type for e in events] == [
        E.RUN_STARTED,
        E.MODEL_INVOKED,
        E.REVIEW_ASSIGNED,
        E.OUTPUT_EDITED,
        E.OUTPUT_EDITED,
        E.ESCALATION_RAISED,
        E.ESCALATION_RESOLVED,
        E.REVIEW_APPROVED,
        E.SIGNOFF_RECORDED,
        E.RUN_CLOSED,
        E.DOWNSTREAM_USED,
    ]
    started, _, assigned, *_ = events
    assert started.payload["template"] == {"id": "briefing", "version": "2"}
    assert started.payload["recorded_from"] == {"source": "runs.csv", "line": 2}
    # the review began review_seconds before the decision
    assert (events[7].at - assigned.at).total_seconds() == 1500
    assert events[7].actor.id == "u-a2" and events[8].payload == {"role": "approver"}
    assert events[9].payload == {"disposition": "accepted_with_edits"}
    assert events[10].payload == {"destination": "minister-office", "reference": "BRF-19"}


def test_team_b_row_records_the_self_approval_and_no_close_faithfully() -> None:
    events, _ = csv_to_events(to_csv(TEAM_B), "runs.csv", False)
    assert [e.type for e in events] == [
        E.RUN_STARTED,
        E.MODEL_INVOKED,
        E.REVIEW_ASSIGNED,
        E.REVIEW_APPROVED,
    ]
    assert events[0].actor.id == events[3].actor.id == "u-b1"  # self-approved
    assert (events[3].at - events[2].at).total_seconds() == 4
    assert not any(e.type is E.RUN_CLOSED for e in events)


def test_extra_columns_are_kept_on_run_started() -> None:
    cols = (*REQUIRED_COLUMNS, "loan_ref")
    row = {k: TEAM_B[k] for k in REQUIRED_COLUMNS} | {"loan_ref": "L-9"}
    events, _ = csv_to_events(to_csv(row, columns=cols), "x.csv", False)
    assert events[0].payload["loan_ref"] == "L-9"


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"risk_level": "extreme"}, "risk_level", "'extreme' is not one of: low, medium, high"),
        ({"started_at": "2026-03-01 09:00"}, "started_at", "with a zone"),
        ({"initiator": ""}, "initiator", "is required and empty"),
        ({"review_seconds": "-3"}, "review_seconds", "must be zero or more"),
        ({"review_seconds": "soon"}, "review_seconds", "'soon' is not a number"),
        ({"edits": "1.5"}, "edits", "is not a whole number"),
        ({"decision": "maybe"}, "decision", "not one of: approved, rejected"),
        ({"parameters": "{temperature"}, "parameters", "is not valid JSON"),
        ({"parameters": "[1]"}, "parameters", "must be a JSON object"),
        ({"template_version": "", "template_id": "t"}, "template_version",
         "is required when template_id is given"),
        ({"escalation_owner": ""}, "escalation_owner", "required when escalation_reason"),
        ({"reviewer": "", "decision": "approved", "reviewed_at": "", "review_seconds": "",
          "edits": ""}, "reviewer", "is required when decision is approved"),
        ({"reviewed_at": "2026-03-01T08:00:00Z"}, "reviewed_at", "is before started_at"),
        ({"closed_at": "2026-03-01T09:10:00Z"}, "closed_at", "is before reviewed_at"),
        ({"disposition": "", "closed_at": "2026-03-01T11:00:00Z"}, "disposition",
         "is required when closed_at is given"),
        ({"disposition": "done"}, "disposition", "is not one of: accepted"),
    ],
)  # fmt: skip
def test_bad_row_is_named_by_line_and_column(
    change: dict[str, str], field: str, message: str
) -> None:
    text = to_csv(TEAM_B | {"run_id": "b-0"}, TEAM_A | change)
    with pytest.raises(ImportFileError) as exc:
        csv_to_events(text, "runs.csv", False)
    assert exc.value.line == 3 and exc.value.field == field
    assert exc.value.diagnostic().startswith(f"runs.csv:3: field '{field}': ")
    assert message in exc.value.diagnostic()


def test_skip_bad_keeps_good_rows_and_lists_every_bad_one() -> None:
    rows = [
        TEAM_A,
        TEAM_B | {"risk_level": "?"},
        TEAM_B | {"run_id": "b-2"},
        TEAM_A | {"run_id": "a-2", "started_at": "yesterday"},
    ]
    with pytest.raises(ImportFileError, match=r"runs.csv:3: field 'risk_level'"):
        csv_to_events(to_csv(*rows), "runs.csv", False)
    events, errors = csv_to_events(to_csv(*rows), "runs.csv", True)
    assert [(e.line, e.field) for e in errors] == [(3, "risk_level"), (5, "started_at")]
    assert sorted({e.run_id for e in events}) == ["a-1", "b-2"]


def test_line_numbers_count_quoted_line_breaks_and_blank_lines() -> None:
    text = (
        to_csv(TEAM_A | {"purpose": "two\nlines"})
        + "\n"
        + to_csv(TEAM_B | {"risk_level": "?"}).split("\n", 1)[1]
    )
    with pytest.raises(ImportFileError) as exc:
        csv_to_events(text, "r.csv", False)
    assert exc.value.line == 5  # header 1, row 2-3, blank 4, bad row 5


def test_header_problems_are_always_fatal() -> None:
    with pytest.raises(ImportFileError, match=r"r.csv:1: field 'initiator': column missing"):
        csv_to_events("run_id,use_case,team,risk_level,started_at\n", "r.csv", True)
    with pytest.raises(ImportFileError, match="the file is empty"):
        csv_to_events("", "r.csv", True)
    cols = ",".join([*REQUIRED_COLUMNS, "team"])
    with pytest.raises(ImportFileError, match="field 'team': column appears twice"):
        csv_to_events(cols + "\n", "r.csv", True)


def test_duplicate_run_and_extra_cells_are_bad_rows() -> None:
    with pytest.raises(
        ImportFileError,
        match=r"r.csv:3: field 'run_id': run 'b-1' already "
        r"appears on line 2",
    ):
        csv_to_events(to_csv(TEAM_B, TEAM_B), "r.csv", False)
    text = to_csv(TEAM_B).rstrip("\n") + ",surplus\n"
    with pytest.raises(ImportFileError, match=r"r.csv:2: the row has more cells"):
        csv_to_events(text, "r.csv", False)


def test_a_hand_record_missing_policy_fields_is_visible_to_the_close_rules() -> None:
    from raidt.core.policy import Policy

    policy = Policy(id="p", version="1", title="P", mandatory_fields=["purpose", "reviewer"])
    events = record_to_events(TEAM_B | {"disposition": "accepted"}, 2, "form")
    missing = missing_for_close(events[:-1], policy, "accepted")
    assert "field 'purpose'" in missing
    assert "an approval by an assigned reviewer" not in missing


def test_csv_import_through_the_store_stores_nothing_on_a_bad_row(
    tmp_path: Path, sqlite_url: str
) -> None:
    from raidt.services.app import App
    from raidt.services.importing import import_file

    path = tmp_path / "runs.csv"
    path.write_text(to_csv(TEAM_A, TEAM_B | {"review_seconds": "x"}), encoding="utf-8")
    with App.open(home=tmp_path / "home", database_url=sqlite_url) as app:
        with pytest.raises(ImportFileError, match=r"runs.csv:3: field 'review_seconds'"):
            import_file(app, path)
        assert app.events.count_events() == 0
        result = import_file(app, path, skip_bad=True)
        assert (result.runs, result.events) == (1, 11)
        state = app.events.get_run("a-1")
        assert state is not None and state.status == "closed"


# --- fuzz --------------------------------------------------------------------------------

_cell = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.dictionaries(st.sampled_from(CSV_COLUMNS), _cell), max_size=4), st.booleans())
def test_fuzz_rows_either_parse_or_fail_with_a_line(rows: list[dict[str, str]], skip: bool) -> None:
    base = {k: TEAM_B[k] for k in REQUIRED_COLUMNS}
    text = to_csv(*[base | r for r in rows])
    try:
        events, errors = csv_to_events(text, "f.csv", skip)
    except ImportFileError as exc:
        assert not skip
        assert exc.line is not None and exc.line >= 2
        return
    for err in errors:
        assert err.line is not None and err.line >= 2
    assert all(e.type is not None for e in events)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200), st.booleans())
def test_fuzz_arbitrary_text_never_escapes_as_another_error(text: str, skip: bool) -> None:
    try:
        csv_to_events(text, "f.csv", skip)
    except ImportFileError as exc:
        assert exc.line is not None
