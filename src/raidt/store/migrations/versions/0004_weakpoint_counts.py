"""Weak-point counters: the ``score_weakpoints`` table, filled from stored run facts.

Revision ID: 0004_weakpoint_counts
Revises: 0003_scoring

The dashboard's weak-point summary sums these counters instead of reading every stored
run. A store scored before this revision gets its counters from the facts already kept
beside each score (one streaming pass), so the summary is right at once.

Everything this revision needs is written out here, frozen as it was when the revision
was made: the two tables it touches and the counting rule (``raidt.core.weakpoints.
weak_keys`` of that time). A migration that imported live modules would silently change
what an old upgrade does whenever they change. If the counting rule changes later, a new
revision recounts; this one stays as it is.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op

revision = "0004_weakpoint_counts"
down_revision = "0003_scoring"
branch_labels = None
depends_on = None

_score_weakpoints = sa.Table(
    "score_weakpoints",
    sa.MetaData(),
    sa.Column("kind", sa.String(40), primary_key=True),
    sa.Column("scope", sa.Text, primary_key=True),
    sa.Column("extra", sa.Text, primary_key=True),
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("runs", sa.BigInteger, nullable=False),
)
_scores = sa.table("scores", sa.column("run_id", sa.String), sa.column("facts", sa.Text))

#: a run with this many overrides or more counts as repeated overrides
_OVERRIDES_PER_RUN = 2


def _weak_keys(f: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The counters one run's stored facts add 1 to (the rule as of this revision)."""
    scope = f"{f.get('use_case') or '?'} / {f.get('team') or '?'}"
    approvers = list(f.get("approvers") or ())
    out = [("runs", scope, "")]
    out += [("approvals", a, "") for a in approvers]
    if f.get("self_review"):
        out.append(("self_review", scope, ""))
    if f.get("missing_reviewer"):
        out.append(("missing_reviewer", scope, ""))
    if f.get("rubber_stamp"):
        out += [("rubber_stamp", a, "") for a in approvers or list(f.get("reviewers") or ())]
    if f.get("template_ok") is False:
        out.append(("non_approved_template", scope, f.get("template") or "no template"))
    if f.get("model_ok") is False:
        out.append(("non_approved_model", scope, f.get("model") or "?"))
    overrides = f.get("overrides") or 0
    if overrides:
        out.append(("overrides", scope, ""))
        if overrides >= _OVERRIDES_PER_RUN:
            out.append(("repeated_overrides", scope, "run"))
    if f.get("open_escalations"):
        out.append(("unresolved_escalation", scope, ""))
    if f.get("open_past_sla"):
        out.append(("stale_open_run", scope, ""))
    if f.get("config_drift"):
        out.append(("config_drift", f"{f.get('use_case')} (policy {f.get('policy_version')})", ""))
    out += [("failure", f.get("use_case") or "?", kind) for kind in f.get("failures") or ()]
    return out


def upgrade() -> None:
    bind = op.get_bind()
    table = _score_weakpoints
    table.create(bind, checkfirst=True)
    if bind.execute(sa.select(sa.func.count()).select_from(table)).scalar_one():
        return
    counts: Counter[tuple[str, str, str, str]] = Counter()
    last = ""
    while True:
        rows = bind.execute(
            sa.select(_scores.c.run_id, _scores.c.facts)
            .where(_scores.c.run_id > last)
            .order_by(_scores.c.run_id)
            .limit(5000)
        ).all()
        if not rows:
            break
        for r in rows:
            if r.facts:
                f = orjson.loads(r.facts)
                day = (f.get("started_at") or "")[:10]
                for kind, scope, extra in _weak_keys(f):
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
