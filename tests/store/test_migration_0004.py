"""Migration 0004 is frozen: it imports nothing from raidt, and backfills the weak-point
counters by the counting rule of its own revision, on both engines."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select, text

from raidt.store.db import open_database
from raidt.store.migrate import upgrade
from raidt.store.schema import score_weakpoints

MIGRATION = (
    Path(__file__).parents[2] / "src/raidt/store/migrations/versions/0004_weakpoint_counts.py"
)

#: facts as revision 0004 stored them (the live RunFacts has moved on: issue 12)
FACTS: list[dict[str, Any]] = [
    {
        "run_id": "r-1",
        "use_case": "credit-memo",
        "team": "a",
        "started_at": "2026-03-02T00:00:00.5Z",
    },
    {
        "run_id": "r-2",
        "use_case": "credit-memo",
        "team": "a",
        "started_at": "2026-03-03T10:00:00Z",
        "approvers": ["u-1", "u-2"],
        "reviewers": ["u-1"],
        "self_review": True,
        "rubber_stamp": True,
        "template": "t@1",
        "template_ok": False,
        "model_ok": False,
        "overrides": 3,
        "open_escalations": 1,
        "config_drift": True,
        "policy_version": "2",
        "failures": ["timeout", "refusal"],
    },
    {
        "run_id": "r-3",
        "use_case": None,
        "team": None,
        "reviewers": ["u-9"],
        "rubber_stamp": True,
        "missing_reviewer": True,
        "overrides": 1,
        "open_past_sla": True,
    },
]

#: what the counting rule as of revision 0004 gives for FACTS, written out by hand
EXPECTED = {
    ("approvals", "u-1", "", "2026-03-03"): 1,
    ("approvals", "u-2", "", "2026-03-03"): 1,
    ("config_drift", "credit-memo (policy 2)", "", "2026-03-03"): 1,
    ("failure", "credit-memo", "refusal", "2026-03-03"): 1,
    ("failure", "credit-memo", "timeout", "2026-03-03"): 1,
    ("missing_reviewer", "? / ?", "", ""): 1,
    ("non_approved_model", "credit-memo / a", "?", "2026-03-03"): 1,
    ("non_approved_template", "credit-memo / a", "t@1", "2026-03-03"): 1,
    ("overrides", "? / ?", "", ""): 1,
    ("overrides", "credit-memo / a", "", "2026-03-03"): 1,
    ("repeated_overrides", "credit-memo / a", "run", "2026-03-03"): 1,
    ("rubber_stamp", "u-1", "", "2026-03-03"): 1,
    ("rubber_stamp", "u-2", "", "2026-03-03"): 1,
    ("rubber_stamp", "u-9", "", ""): 1,
    ("runs", "? / ?", "", ""): 1,
    ("runs", "credit-memo / a", "", "2026-03-02"): 1,
    ("runs", "credit-memo / a", "", "2026-03-03"): 1,
    ("self_review", "credit-memo / a", "", "2026-03-03"): 1,
    ("stale_open_run", "? / ?", "", ""): 1,
    ("unresolved_escalation", "credit-memo / a", "", "2026-03-03"): 1,
}


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
                    {"r": f["run_id"], "s": i, "f": orjson.dumps(f).decode()},
                )
        upgrade(db)
        with db.read() as conn:
            stored = {
                (r.kind, r.scope, r.extra, r.day): r.runs
                for r in conn.execute(select(score_weakpoints))
            }
    finally:
        db.dispose()
    # the frozen rule, not today's: a full rescore recounts with the live one
    assert stored == EXPECTED
