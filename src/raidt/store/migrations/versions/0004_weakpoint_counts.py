"""Weak-point counters: the ``score_weakpoints`` table, filled from stored run facts.

Revision ID: 0004_weakpoint_counts
Revises: 0003_scoring

The dashboard's weak-point summary sums these counters instead of reading every stored
run. A store scored before this revision gets its counters from the facts already kept
beside each score (one streaming pass), so the summary is right at once.
"""

from __future__ import annotations

from collections import Counter

import orjson
import sqlalchemy as sa
from alembic import op

from raidt.core.weakpoints import RunFacts, weak_keys
from raidt.store.schema import metadata

revision = "0004_weakpoint_counts"
down_revision = "0003_scoring"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    table = metadata.tables["score_weakpoints"]
    table.create(bind, checkfirst=True)
    if bind.execute(sa.select(sa.func.count()).select_from(table)).scalar_one():
        return
    scores = metadata.tables["scores"]
    counts: Counter[tuple[str, str, str, str]] = Counter()
    last = ""
    while True:
        rows = bind.execute(
            sa.select(scores.c.run_id, scores.c.facts)
            .where(scores.c.run_id > last)
            .order_by(scores.c.run_id)
            .limit(5000)
        ).all()
        if not rows:
            break
        for r in rows:
            if r.facts:
                f = RunFacts.from_json(orjson.loads(r.facts))
                day = (f.started_at or "")[:10]
                for kind, scope, extra in weak_keys(f):
                    counts[(kind, scope, extra, day)] += 1
        last = rows[-1].run_id
    values = [
        {"kind": k, "scope": s, "extra": x, "day": d, "runs": n}
        for (k, s, x, d), n in counts.items()
    ]
    for i in range(0, len(values), 2000):
        bind.execute(table.insert(), values[i : i + 2000])


def downgrade() -> None:
    op.drop_table("score_weakpoints")
