"""Persistence of score profiles and the dashboard rollup.

Scores are derived data (recomputable from events + policy + rubric), so the latest profile
per run is upserted. Dashboards do not scan a million profiles: every write also applies the
profile's additive contribution to ``score_rollup`` (removing the contribution of the
profile it replaces), so an aggregate by use case, team, reviewer, month or obligation reads
a few hundred rollup rows. Bulk rescoring rebuilds the rollup once at the end instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, delete, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from raidt.core.aggregate import RollupRow, merge, rollup_rows
from raidt.core.rubric import PILLARS
from raidt.core.scoring import compact_profile
from raidt.core.weakpoints import RunFacts, WeakKey, weak_keys
from raidt.store.db import Database
from raidt.store.instants import at_or_after, before
from raidt.store.schema import score_rollup as t_rollup
from raidt.store.schema import score_weakpoints as t_weak
from raidt.store.schema import scores as t_scores

__all__ = ["DayKey", "ScoreStore", "StoredScore", "score_row"]

_CHUNK = 500
_SUM_COLS = tuple(f"s_{p.value}" for p in PILLARS)


@dataclass(frozen=True, slots=True)
class StoredScore:
    """One profile ready to store, with the facts weak-point detection reads."""

    profile: dict[str, Any]
    facts: dict[str, Any]
    flagged: bool
    scored_at: str

    @property
    def run_id(self) -> str:
        return str(self.profile["run_id"])

    def rollup(self, sign: int = 1) -> list[RollupRow]:
        return rollup_rows(self.profile, self.facts.get("reviewers") or (), sign)

    def weak(self) -> list[DayKey]:
        """The weak-point counters this run adds to (empty without facts)."""
        if not self.facts:
            return []
        f = RunFacts.from_json(self.facts)
        day = (f.started_at or "")[:10]
        return [(*k, day) for k in weak_keys(f)]


#: (kind, scope, extra, start day): one row of ``score_weakpoints``
DayKey = tuple[str, str, str, str]


def _dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


_SCORE_COLUMNS = (
    "run_id",
    "rubric_id",
    "rubric_version",
    "readiness",
    "pillars",
    "profile",
    "scored_at",
    "last_seq",
    "use_case",
    "team",
    "policy_version",
    "started_at",
    "flagged",
    "facts",
)


def score_row(
    profile: dict[str, Any], facts: dict[str, Any], flagged: bool, scored_at: str
) -> tuple[Any, ...]:
    """The ``scores`` row of one profile (its stored form), in ``_SCORE_COLUMNS`` order."""
    p, run = profile, profile.get("run") or {}
    return (
        p["run_id"],
        p["rubric"]["id"],
        p["rubric"]["version"],
        p["readiness"],
        _dumps(p["pillars"]),
        _dumps(p),
        scored_at,
        int((p.get("inputs") or {}).get("events", {}).get("last_seq") or -1),
        run.get("use_case"),
        run.get("team"),
        run.get("policy_version"),
        run.get("started_at"),
        1 if flagged else 0,
        _dumps(facts),
    )


#: turns a stored profile (compact form or full) into ``ScoreProfile.to_json()``
Expand = Callable[[dict[str, Any]], dict[str, Any]]


class ScoreStore:
    """The ``scores`` and ``score_rollup`` tables of one database.

    Profiles are stored in the compact form of ``core.scoring`` (criteria without what the
    rubric says of them); ``expand`` (given by the scoring service, which knows the
    rubrics) turns a stored profile back into the full one whenever it is read.
    """

    def __init__(self, db: Database, expand: Expand) -> None:
        self.db = db
        self._expand = expand
        self._insert = pg_insert if db.dialect == "postgresql" else sqlite_insert

    def checkpoint_times(self) -> list[tuple[int, str]]:
        """(tree size, signing time) of every signed checkpoint, smallest first: the latest
        instant each event can have been sealed by (scoring refuses later dates)."""
        from raidt.store.schema import checkpoints as t_cp

        with self.db.read() as conn:
            rows = conn.execute(
                select(t_cp.c.tree_size, t_cp.c.created_at).order_by(t_cp.c.tree_size)
            ).all()
        return [(int(r[0]), str(r[1])) for r in rows]

    # --- writing ------------------------------------------------------------------------

    def save(self, items: Sequence[StoredScore], *, update_rollup: bool = True) -> None:
        """Upsert profiles (one transaction) and keep the rollup in step."""
        if items:
            with self.db.write() as conn:
                self.save_in(conn, items, update_rollup=update_rollup)

    def save_in(
        self, conn: Connection, items: Sequence[StoredScore], *, update_rollup: bool = True
    ) -> None:
        """Like :meth:`save`, inside a write transaction the caller holds."""
        latest: dict[str, StoredScore] = {i.run_id: i for i in items}
        if update_rollup:
            deltas: list[RollupRow] = []
            for old in self._load(conn, list(latest)):
                deltas += old.rollup(-1)
            weak: dict[DayKey, int] = {}
            for old in self._load(conn, list(latest)):
                for k in old.weak():
                    weak[k] = weak.get(k, 0) - 1
            for item in latest.values():
                deltas += item.rollup(1)
                for k in item.weak():
                    weak[k] = weak.get(k, 0) + 1
            self._apply(conn, merge(deltas).values())
            self._apply_weak(conn, weak)
        rows = [
            dict(
                zip(
                    _SCORE_COLUMNS,
                    score_row(compact_profile(i.profile), i.facts, i.flagged, i.scored_at),
                    strict=True,
                )
            )
            for i in latest.values()
        ]
        stmt = self._insert(t_scores)
        cols = {c: stmt.excluded[c] for c in rows[0] if c != "run_id"} if rows else {}
        if rows:
            conn.execute(stmt.on_conflict_do_update(index_elements=["run_id"], set_=cols), rows)

    def upsert_rows(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Upsert :func:`score_row` tuples in one write transaction, through the driver's
        executemany (the bulk path of a full rescore; the rollup is rebuilt apart).

        Not durable (``Database.write(durable=False)``): profiles are derived data, and a
        rescore cut short by a crash is finished by running it again."""
        if not rows:
            return
        with self.db.write(durable=False) as conn:
            mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
            sets = ", ".join(f"{c} = excluded.{c}" for c in _SCORE_COLUMNS[1:])
            conn.exec_driver_sql(
                f"INSERT INTO scores ({', '.join(_SCORE_COLUMNS)}) "
                f"VALUES ({', '.join([mark] * len(_SCORE_COLUMNS))}) "
                f"ON CONFLICT (run_id) DO UPDATE SET {sets}",
                list(rows),
            )

    def _load(self, conn: Connection, run_ids: list[str]) -> Iterator[StoredScore]:
        for i in range(0, len(run_ids), _CHUNK):
            chunk = run_ids[i : i + _CHUNK]
            for r in conn.execute(
                select(
                    t_scores.c.profile, t_scores.c.facts, t_scores.c.flagged, t_scores.c.scored_at
                ).where(t_scores.c.run_id.in_(chunk))
            ):
                yield StoredScore(
                    self._expand(orjson.loads(r.profile)),
                    orjson.loads(r.facts or "{}"),
                    bool(r.flagged),
                    r.scored_at,
                )

    def _apply(self, conn: Connection, rows: Iterable[RollupRow]) -> None:
        values = [
            {
                "dim": r.dim,
                "key": r.key[:200],
                "month": r.month,
                "bucket": r.bucket,
                "runs": r.runs,
                **{c: int(s) for c, s in zip(_SUM_COLS, r.sums, strict=True)},
            }
            for r in rows
        ]
        if not values:
            return
        stmt = self._insert(t_rollup)
        add = {c: t_rollup.c[c] + stmt.excluded[c] for c in ("runs", *_SUM_COLS)}
        conn.execute(
            stmt.on_conflict_do_update(index_elements=["dim", "key", "month", "bucket"], set_=add),
            values,
        )

    def rebuild_rollup(
        self, rows: Iterable[RollupRow], weak: Mapping[DayKey, int] | None = None
    ) -> None:
        """Replace the whole rollup with ``rows`` (after a full rescore), and the
        weak-point counters with ``weak`` when given."""
        merged = merge(rows)
        with self.db.write() as conn:
            conn.execute(delete(t_rollup))
            values = list(merged.values())
            for i in range(0, len(values), 2000):
                self._apply(conn, values[i : i + 2000])
            if weak is not None:
                conn.execute(delete(t_weak))
                self._apply_weak(conn, weak)

    def _apply_weak(self, conn: Connection, counts: Mapping[DayKey, int]) -> None:
        values = [
            {"kind": k, "scope": s, "extra": x, "day": d, "runs": n}
            for (k, s, x, d), n in counts.items()
            if n
        ]
        if not values:
            return
        stmt = self._insert(t_weak)
        add = {"runs": t_weak.c.runs + stmt.excluded.runs}
        for i in range(0, len(values), 2000):
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["kind", "scope", "extra", "day"], set_=add
                ),
                values[i : i + 2000],
            )

    def weak_counts(
        self, *, since: str | None = None, until: str | None = None
    ) -> dict[WeakKey, int]:
        """Weak-point counters summed over runs started on days ``[since, until)``.

        ``since``/``until`` are ISO dates (``YYYY-MM-DD``); with either, runs without a
        start time are left out, as :meth:`iter_facts` leaves them out.
        """
        total = func.sum(t_weak.c.runs)
        q = select(t_weak.c.kind, t_weak.c.scope, t_weak.c.extra, total).group_by(
            t_weak.c.kind, t_weak.c.scope, t_weak.c.extra
        )
        if since or until:
            q = q.where(t_weak.c.day != "")
        if since:
            q = q.where(t_weak.c.day >= since)
        if until:
            q = q.where(t_weak.c.day < until)
        with self.db.read() as conn:
            return {(r[0], r[1], r[2]): int(r[3]) for r in conn.execute(q) if r[3]}

    # --- reading ------------------------------------------------------------------------

    def get(self, run_id: str) -> dict[str, Any] | None:
        """The stored profile of ``run_id`` (JSON data), or None."""
        with self.db.read() as conn:
            text = conn.execute(
                select(t_scores.c.profile).where(t_scores.c.run_id == run_id)
            ).scalar_one_or_none()
        return None if text is None else self._expand(dict(orjson.loads(text)))

    def rollup(
        self, dim: str, *, since: str | None = None, until: str | None = None
    ) -> list[RollupRow]:
        """Rollup rows of one dimension, optionally within months ``since``..``until``."""
        q = select(t_rollup).where(t_rollup.c.dim == dim, t_rollup.c.runs != 0)
        if since:
            q = q.where(t_rollup.c.month >= since[:7])
        if until:
            q = q.where(t_rollup.c.month <= until[:7])
        with self.db.read() as conn:
            return [
                RollupRow(
                    r.dim,
                    r.key,
                    r.month,
                    r.bucket,
                    int(r.runs),
                    [float(getattr(r, c)) for c in _SUM_COLS],
                )
                for r in conn.execute(q)
            ]

    def iter_facts(
        self,
        *,
        since: str | None = None,
        until: str | None = None,
        flagged_only: bool = False,
        batch: int = 5000,
    ) -> Iterator[dict[str, Any]]:
        """Stored run facts in run-id order, streamed in keyset pages (memory flat)."""
        last = ""
        while True:
            q = select(t_scores.c.run_id, t_scores.c.facts).where(t_scores.c.run_id > last)
            if flagged_only:
                q = q.where(t_scores.c.flagged == 1)
            if since:
                q = q.where(at_or_after(t_scores.c.started_at, since))
            if until:
                q = q.where(before(t_scores.c.started_at, until))
            with self.db.read() as conn:
                rows = conn.execute(q.order_by(t_scores.c.run_id).limit(batch)).all()
            if not rows:
                return
            for r in rows:
                if r.facts:
                    yield dict(orjson.loads(r.facts))
            last = rows[-1].run_id

    def count(self) -> int:
        with self.db.read() as conn:
            return int(conn.execute(select(func.count()).select_from(t_scores)).scalar_one())

    # --- comparable runs -----------------------------------------------------------------

    def run_config_counts(
        self, *, use_case: str | None = None, policy_version: str | None = None
    ) -> list[tuple[str | None, str | None, Any, Any, int]]:
        """(use case, policy version, model config, template, runs) for each distinct
        combination among the projected runs (of one use case and version, if given).

        Counted by the database in one grouped pass over the run projection: a million
        runs share a handful of configurations, so only those few rows reach Python. The
        model and template are each run's as its projected state records them (JSON null
        or absent: None); the same configuration written with another key order comes
        back as a row of its own, which the caller's canonical keys fold together.
        """
        if self.db.dialect == "sqlite":
            model = "json_quote(json_extract(state, '$.model'))"
            template = "json_quote(json_extract(state, '$.template'))"
            source = "runs"
        else:
            model, template = "(j -> 'model')::text", "(j -> 'template')::text"
            source = "(SELECT use_case, policy_version, CAST(state AS json) AS j FROM runs) r"
        where, params = "", {}
        if use_case is not None:
            where = " WHERE use_case = :uc AND " + (
                "policy_version IS NULL" if policy_version is None else "policy_version = :pv"
            )
            params = {"uc": use_case, "pv": policy_version}
        sql = (
            f"SELECT use_case, policy_version, {model}, {template}, COUNT(*) FROM {source}"
            f"{where} GROUP BY 1, 2, 3, 4"
        )
        with self.db.read() as conn:
            rows: list[tuple[Any, ...]] = [tuple(r) for r in conn.execute(text(sql), params)]
        loads = orjson.loads
        return [
            (uc, pv, loads(m) if m else None, loads(t) if t else None, int(n))
            for uc, pv, m, t, n in rows
        ]
