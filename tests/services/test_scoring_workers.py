"""Rescoring with several worker processes stores exactly what one process stores."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from raidt.errors import ValidationError
from raidt.services.app import App
from raidt.services.scoring import ScoringService
from tests.services.test_scoring_bulk import app  # noqa: F401  (fixture: a filled store)

_TABLES = ("scores", "score_rollup", "score_weakpoints")


def _snapshot(store: App) -> dict[str, Any]:
    """Stored profiles (expanded) of closed runs, rollup and weak-point counters.

    Open runs are judged at the current time, which the workers (fresh processes) read
    from the real clock, not the pinned one; their verdicts are compared, not their text."""
    svc = ScoringService(store)
    with store.db.read() as c:
        ids = [r[0] for r in c.execute(text("SELECT run_id FROM scores ORDER BY run_id"))]
        rollup = sorted(tuple(r) for r in c.execute(text("SELECT * FROM score_rollup")))
        weak = sorted(tuple(r) for r in c.execute(text("SELECT * FROM score_weakpoints")))
    profiles = {}
    for rid in ids:
        p = svc.stored(rid)
        assert p is not None
        profiles[rid] = p
    return {"profiles": profiles, "rollup": rollup, "weak": weak}


def _verdicts(profile: dict[str, Any]) -> tuple[Any, ...]:
    return profile["readiness"], [(c["id"], c["result"]) for c in profile["criteria"]]


def _clear(store: App) -> None:
    with store.db.write() as c:
        for t in _TABLES:
            c.execute(text(f"DELETE FROM {t}"))


@pytest.mark.parametrize("workers", [2, 3])
def test_workers_store_what_one_process_stores(app: App, workers: int) -> None:  # noqa: F811
    one = ScoringService(app).score_all()
    want = _snapshot(app)
    _clear(app)
    seen: list[tuple[int, int]] = []
    many = ScoringService(app).score_all(lambda d, t: seen.append((d, t)), workers=workers)
    assert many == one
    got = _snapshot(app)
    assert got["rollup"] == want["rollup"]
    assert got["weak"] == want["weak"]
    assert got["profiles"].keys() == want["profiles"].keys()
    for rid, profile in want["profiles"].items():
        if profile["inputs"]["as_of"] is None:  # closed: byte for byte
            assert got["profiles"][rid] == profile, rid
        else:  # open: judged at another instant, same verdicts here
            assert _verdicts(got["profiles"][rid]) == _verdicts(profile), rid
    assert any(p["inputs"]["as_of"] for p in want["profiles"].values())
    assert seen[-1] == (one["runs"], one["runs"])  # progress reaches the total


def test_more_workers_than_runs_and_bad_counts(app: App) -> None:  # noqa: F811
    runs = ScoringService(app).score_all()["runs"]
    out = ScoringService(app).score_all(workers=runs + 5)
    assert out["runs"] == runs
    with pytest.raises(ValidationError, match="workers must be at least 1"):
        ScoringService(app).score_all(workers=0)


def test_a_failing_worker_fails_the_rescore_with_its_error(app: App) -> None:  # noqa: F811
    with app.db.write() as c:
        if app.db.dialect == "sqlite":
            c.execute(
                text(
                    "CREATE TRIGGER no_scores BEFORE INSERT ON scores "
                    "BEGIN SELECT RAISE(ABORT, 'no scores today'); END"
                )
            )
        else:
            c.execute(
                text(
                    "CREATE FUNCTION no_scores() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN RAISE EXCEPTION 'no scores today'; END $$"
                )
            )
            c.execute(
                text(
                    "CREATE TRIGGER no_scores BEFORE INSERT ON scores "
                    "FOR EACH ROW EXECUTE FUNCTION no_scores()"
                )
            )
    with pytest.raises(Exception, match="no scores today"):
        ScoringService(app).score_all(workers=2)
    with app.db.read() as c:
        assert c.execute(text("SELECT count(*) FROM scores")).scalar_one() == 0
        assert c.execute(text("SELECT count(*) FROM score_rollup")).scalar_one() == 0
