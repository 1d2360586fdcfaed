"""Bulk rescoring (``score_all``'s fast path) stores exactly what scoring one run gives,
and the weak-point summary kept as counters agrees with the full drill-down."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

import raidt.services.bulk as bulk_helpers
import raidt.services.scoring as scoring_service
from raidt.core.canonical import canonical_json
from raidt.core.events import EventType, Role
from raidt.services.app import App
from raidt.services.scoring import ScoringService
from tests.core._runs import ALL, T0, build_events_in
from tests.services.test_scoring_service import fill

NOW = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture
def app(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[App]:
    # open runs are judged "now": pin the clock so both paths judge at the same instant
    monkeypatch.setattr(scoring_service, "utcnow", lambda: NOW)
    a = App.open(home=tmp_path / "home", database_url=db_url)
    fill(a)
    a.events.append(build_events_in("c-open", ALL - {"close", "downstream"}, t0=T0))
    overrides = [
        (
            700 + i,
            EventType.OVERRIDE_RECORDED,
            "u-r1",
            Role.REVIEWER,
            {"what": "x", "reason": "late"},
        )
        for i in range(2)
    ]
    a.events.append(
        build_events_in("d-overrides", extra=overrides, t0=T0 + timedelta(days=3, hours=5))
    )
    try:
        yield a
    finally:
        a.close()


def _all_runs(app: App) -> list[str]:
    return [rid for rid, _ in app.events.iter_runs()]


@pytest.fixture(params=[1, 2], ids=["one-cpu", "two-cpus"])
def cpus(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """Score as a process allowed one CPU (inline writes) or two (a background writer)."""
    n: int = request.param
    monkeypatch.setattr(bulk_helpers, "usable_cpus", lambda: n)
    return n


def test_score_all_stores_what_score_run_gives(app: App, cpus: int) -> None:
    bulk = ScoringService(app)
    out = bulk.score_all()
    assert out["runs"] == 10
    for rid in _all_runs(app):
        one = ScoringService(app).inputs_for(rid).score()  # fresh service: no warm caches
        assert canonical_json(bulk.stored(rid)) == one.canonical(), rid
    # and the rollup equals the one incremental saves build run by run
    by_team = bulk.aggregate("team")
    by_obligation = bulk.aggregate("obligation")
    with app.db.write() as c:
        c.execute(text("DELETE FROM scores"))
        c.execute(text("DELETE FROM score_rollup"))
        c.execute(text("DELETE FROM score_weakpoints"))
    single = ScoringService(app)
    for rid in _all_runs(app):
        single.score(rid)
    assert single.aggregate("team") == by_team
    assert single.aggregate("obligation") == by_obligation


#: weak points that compare runs with each other: the stored counters have them as a full
#: rescore found them over the whole history; a drill-down over a window, or after single
#: rescores, judges them among the runs it reads
CROSS_RUN = ("implausible_workload", "config_drift")


def _as_counts(
    found: list[dict[str, Any]], skip: tuple[str, ...] = ()
) -> list[tuple[str, str, int]]:
    return [(w["kind"], w["scope"], len(w["run_ids"])) for w in found if w["kind"] not in skip]


def _summary_counts(
    found: list[dict[str, Any]], skip: tuple[str, ...] = ()
) -> list[tuple[str, str, int]]:
    return [(w["kind"], w["scope"], w["runs"]) for w in found if w["kind"] not in skip]


@pytest.mark.parametrize(
    "since,until",
    [
        (None, None),
        ("2026-03-01", "2026-03-31"),
        ("2026-04-01", None),
        ("2026-03-04T06:00:00Z", None),
    ],
)
def test_weakpoint_summary_agrees_with_drill_down(
    app: App, since: str | None, until: str | None
) -> None:
    svc = ScoringService(app)
    svc.score_all()
    summary = svc.weakpoint_summary(since, until)
    skip = () if since is None and until is None else CROSS_RUN
    assert _summary_counts(summary, skip) == _as_counts(svc.weakpoints(since, until), skip)
    assert [w["detail"] for w in summary if w["kind"] not in skip] == [
        w["detail"] for w in svc.weakpoints(since, until) if w["kind"] not in skip
    ]
    if since is None:
        assert {"self_review", "rubber_stamp", "non_approved_template"} <= {
            w["kind"] for w in summary
        }
    # incremental rescoring keeps the counters in step
    svc.score("b-1")
    svc.score("d-overrides")
    assert _summary_counts(svc.weakpoint_summary(since, until)) == _summary_counts(summary)
    assert _summary_counts(summary, skip) == _as_counts(svc.weakpoints(since, until), skip)


def test_weakpoint_counters_follow_single_scores(app: App) -> None:
    svc = ScoringService(app)
    for rid in _all_runs(app):
        svc.score(rid)
    assert _summary_counts(svc.weakpoint_summary(), CROSS_RUN) == _as_counts(
        svc.weakpoints(), CROSS_RUN
    )


def _drop_event_triggers(app: App, conn: Any) -> None:
    if app.db.dialect == "sqlite":
        for verb in ("update", "delete"):
            conn.execute(text(f"DROP TRIGGER IF EXISTS events_no_{verb}"))
    else:
        conn.execute(text("DROP TRIGGER IF EXISTS events_append_only ON events"))


def test_chain_verdict_is_the_same_on_both_paths(app: App) -> None:
    # a payload rewritten as equivalent but non-canonical JSON still hashes the same once
    # canonicalised: the shortcut on stored bytes fails, the full check decides
    with app.db.engine.begin() as c:
        _drop_event_triggers(app, c)
        c.execute(
            text("UPDATE events SET payload = REPLACE(payload, '{\"', '{ \"') WHERE run_id = 'a-0'")
        )
        c.execute(
            text(
                "UPDATE events SET payload = REPLACE(payload, 'u-r2', 'u-r9') WHERE run_id = 'a-2'"
            )
        )
    svc = ScoringService(app)
    svc.score_all()
    for rid in ("a-0", "a-2", "a-1"):
        one = ScoringService(app).inputs_for(rid).score()
        assert canonical_json(svc.stored(rid)) == one.canonical(), rid
    assert svc.stored("a-0")["readiness"] == "audit_ready"  # type: ignore[index]
    assert svc.stored("a-2")["readiness"] == "not_governable"  # type: ignore[index]


def test_migration_fills_counters_of_a_store_scored_before_it(app: App) -> None:
    from raidt.store.migrate import upgrade

    svc = ScoringService(app)
    svc.score_all()
    want = _summary_counts(svc.weakpoint_summary())
    with app.db.write() as c:
        c.execute(text("DROP TABLE score_weakpoints"))
        c.execute(text("UPDATE alembic_version SET version_num = '0003_scoring'"))
    upgrade(app.db)
    assert _summary_counts(ScoringService(app).weakpoint_summary(), CROSS_RUN) == [
        w for w in want if w[0] not in CROSS_RUN
    ]
    assert want == _as_counts(svc.weakpoints())


def test_a_failed_profile_write_fails_the_rescore(app: App, cpus: int) -> None:
    svc = ScoringService(app)
    calls: list[int] = []

    def failing(rows: Any) -> None:
        calls.append(len(rows))
        raise RuntimeError("database is full")

    svc.scores.upsert_rows = failing  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="database is full"):
        svc.score_all(batch=3)
    assert calls == [3]  # nothing was written after the failure
    assert svc.scores.count() == 0
