"""Migration 0004 is frozen: it imports nothing from raidt, and backfills the weak-point
counters exactly as the live counting rule does today, on both engines."""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

import orjson
from sqlalchemy import select, text

from raidt.core.weakpoints import RunFacts, weak_keys
from raidt.store.db import open_database
from raidt.store.migrate import upgrade
from raidt.store.schema import score_weakpoints

MIGRATION = (
    Path(__file__).parents[2] / "src/raidt/store/migrations/versions/0004_weakpoint_counts.py"
)

FACTS = [
    RunFacts("r-1", use_case="credit-memo", team="a", started_at="2026-03-02T00:00:00.5Z"),
    RunFacts(
        "r-2",
        use_case="credit-memo",
        team="a",
        started_at="2026-03-03T10:00:00Z",
        approvers=("u-1", "u-2"),
        reviewers=("u-1",),
        self_review=True,
        rubber_stamp=True,
        template="t@1",
        template_ok=False,
        model_ok=False,
        overrides=3,
        open_escalations=1,
        config_drift=True,
        policy_version="2",
        failures=("timeout", "refusal"),
    ),
    RunFacts(
        "r-3",
        use_case=None,
        team=None,
        reviewers=("u-9",),
        rubber_stamp=True,
        missing_reviewer=True,
        overrides=1,
        open_past_sla=True,
    ),
]


def test_migration_imports_nothing_live() -> None:
    tree = ast.parse(MIGRATION.read_text(encoding="utf-8"))
    modules = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)] + [
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
    ]
    assert modules and not [m for m in modules if m.split(".")[0] == "raidt"]


def test_backfill_matches_the_live_rule(db_url: str) -> None:
    db = open_database(db_url, migrate=False)
    try:
        upgrade(db, "0003_scoring")
        with db.write() as conn:
            for i, f in enumerate(FACTS):
                conn.execute(
                    text(
                        "INSERT INTO scores (run_id, rubric_id, rubric_version, readiness, "
                        "pillars, profile, scored_at, last_seq, facts) VALUES (:r, 'x', '1', "
                        "'basic', '{}', '{}', '2026-03-04T00:00:00Z', :s, :f)"
                    ),
                    {"r": f.run_id, "s": i, "f": orjson.dumps(f.to_json()).decode()},
                )
        upgrade(db)
        with db.read() as conn:
            stored = {
                (r.kind, r.scope, r.extra, r.day): r.runs
                for r in conn.execute(select(score_weakpoints))
            }
    finally:
        db.dispose()
    live: Counter[tuple[str, str, str, str]] = Counter()
    for f in FACTS:
        for kind, scope, extra in weak_keys(f):
            live[(kind, scope, extra, (f.started_at or "")[:10])] += 1
    assert stored == dict(live)
    assert len(stored) > 15
