"""Importing the same events twice never stores them twice (issue 13.12)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from raidt.errors import ImportFileError
from raidt.services.app import App
from raidt.services.demo_data import DemoGenerator
from raidt.services.importing import import_file
from tests.helpers import open_app


def _jsonl(path: Path, runs: int) -> list[bytes]:
    lines = [
        orjson.dumps(e.model_dump(mode="json", exclude_none=True, exclude={"id"}))
        for run in DemoGenerator(seed=4).runs(runs)
        for e in run
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return lines


@pytest.fixture
def app(tmp_path: Path, db_url: str) -> App:
    return open_app(tmp_path, db_url)


def test_a_file_without_ids_imported_twice_is_refused(app: App, tmp_path: Path) -> None:
    f = tmp_path / "e.jsonl"
    lines = _jsonl(f, 3)
    assert all(b'"id"' not in line.split(b'"actor"')[0] for line in lines)
    first = import_file(app, f)
    assert first.events == len(lines)
    with pytest.raises(ImportFileError, match="already stored") as caught:
        import_file(app, f)
    assert caught.value.line == 1
    assert app.events.count_events() == len(lines)


def test_skip_bad_imports_only_the_new_events_of_a_grown_file(app: App, tmp_path: Path) -> None:
    f = tmp_path / "e.jsonl"
    lines = _jsonl(f, 2)
    import_file(app, f)
    grown = _jsonl(tmp_path / "g.jsonl", 4)
    assert grown[: len(lines)] == lines
    result = import_file(app, tmp_path / "g.jsonl", skip_bad=True)
    assert result.events == len(grown) - len(lines)
    assert len(result.skipped) == len(lines)
    assert app.events.count_events() == len(grown)


def test_identical_events_in_one_run_are_both_kept(app: App, tmp_path: Path) -> None:
    f = tmp_path / "twice.jsonl"
    line = orjson.dumps(
        {
            "run_id": "r-1",
            "type": "downstream.used",
            "at": "2026-03-01T09:00:00Z",
            "actor": {"id": "u-1", "role": "initiator"},
            "payload": {"destination": "wiki", "reference": "page-1"},
        }
    )
    f.write_bytes(line + b"\n" + line + b"\n")
    assert import_file(app, f).events == 2


def test_a_csv_imported_twice_is_refused(app: App, tmp_path: Path) -> None:
    from raidt.services.csv_records import csv_template

    f = tmp_path / "runs.csv"
    header = csv_template().strip()
    cols = header.split(",")
    row = {c: "" for c in cols}
    row.update(
        run_id="csv-1",
        use_case="meeting-notes",
        team="product",
        risk_level="low",
        initiator="u-1",
        started_at="2026-03-01T09:00:00Z",
    )
    f.write_text(header + "\n" + ",".join(row[c] for c in cols) + "\n")
    stored = import_file(app, f).events
    assert stored > 0
    with pytest.raises(ImportFileError, match="already stored"):
        import_file(app, f)
    assert app.events.count_events() == stored
