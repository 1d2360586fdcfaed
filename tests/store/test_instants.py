"""Time filters compare instants, not text, on both engines.

``…T00:00:00.5Z`` sorts before ``…T00:00:00Z`` as text; a run started half a second after
midnight must still be "since" midnight, and one started on the second must not be "since"
half a second later.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from raidt.core.timefmt import format_ts
from tests.helpers import ev, open_app

MIDNIGHT = datetime(2026, 3, 2, tzinfo=UTC)
STARTS = {
    "before": MIDNIGHT - timedelta(microseconds=1),
    "on": MIDNIGHT,
    "half": MIDNIGHT + timedelta(microseconds=500_000),
    "later": MIDNIGHT + timedelta(seconds=1),
}


def _run(run_id: str, at: datetime) -> list[object]:
    payload = {"use_case": "meeting-notes", "team": "t", "purpose": "p", "risk_level": "low"}
    return [ev(run_id, "run.started", payload=payload, at=at)]


@pytest.mark.parametrize(
    ("since", "until", "expected"),
    [
        ("2026-03-02T00:00:00Z", None, {"on", "half", "later"}),
        ("2026-03-02", None, {"on", "half", "later"}),
        ("2026-03-02T00:00:00.5Z", None, {"half", "later"}),
        ("2026-03-02T00:00:00.25Z", None, {"half", "later"}),
        (None, "2026-03-02T00:00:00Z", {"before"}),
        (None, "2026-03-02T00:00:00.5Z", {"before", "on"}),
        (None, "2026-03-02T00:00:00.75Z", {"before", "on", "half"}),
        ("2026-03-02T00:00:00Z", "2026-03-02T00:00:01Z", {"on", "half"}),
    ],
)
def test_time_filters_compare_instants(
    tmp_path: Path, db_url: str, since: str | None, until: str | None, expected: set[str]
) -> None:
    from raidt.core.timefmt import parse_ts

    canon = [
        None if t is None else (t if "T" not in t else format_ts(parse_ts(t)))
        for t in (since, until)
    ]
    with open_app(tmp_path, db_url) as app:
        for name, at in STARTS.items():
            app.events.append(_run(name, at))  # type: ignore[arg-type]
        found = {s.run_id for s in app.events.list_runs(since=canon[0], until=canon[1])}
    assert found == expected


def test_runs_since_a_date_includes_fractional_starts(tmp_path: Path, db_url: str) -> None:
    with open_app(tmp_path, db_url) as app:
        app.events.append(_run("half", STARTS["half"]))  # type: ignore[arg-type]
        assert format_ts(STARTS["half"]) == "2026-03-02T00:00:00.500000Z"
        assert [s.run_id for s in app.events.list_runs(since="2026-03-02T00:00:00Z")] == ["half"]
