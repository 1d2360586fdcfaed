"""Aggregating score profiles over sets of runs: the numbers behind the dashboards.

Aggregation is expressed as *rollup rows* — additive counters keyed by (dimension, key,
month, bucket) — so the same arithmetic serves an in-memory aggregation over a handful of
profiles and the rollup table the store maintains on write for a million runs. A profile
contributes one row per dimension it belongs to; :func:`summarise` turns rows back into
per-group distributions, mean pillar scores and a monthly trend.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from raidt.core.rubric import PILLARS, READINESS_LEVELS

__all__ = [
    "DIMENSIONS",
    "RESULTS",
    "RollupAccumulator",
    "RollupRow",
    "merge",
    "rollup_rows",
    "summarise",
]

#: what ``--by`` accepts
DIMENSIONS = ("use_case", "team", "reviewer", "month", "obligation")
RESULTS = ("met", "partial", "unmet", "not_applicable")


@dataclass(slots=True)
class RollupRow:
    """Additive counters for one (dimension, key, month, bucket).

    ``bucket`` is the readiness level for run dimensions and the criterion result for the
    ``obligation`` dimension; ``runs`` counts runs (or criterion results), ``sums`` the five
    pillar scores in pillar order (zeros for obligations).
    """

    dim: str
    key: str
    month: str
    bucket: str
    runs: int = 1
    sums: list[float] = field(default_factory=lambda: [0.0] * 5)

    def ident(self) -> tuple[str, str, str, str]:
        return (self.dim, self.key, self.month, self.bucket)


def rollup_rows(
    profile: dict[str, Any], reviewers: Iterable[str] = (), sign: int = 1
) -> list[RollupRow]:
    """The rows one profile (``ScoreProfile.to_json()``) adds (``sign=-1``: removes)."""
    run = profile.get("run") or {}
    started = run.get("started_at") or ""
    month = started[:7] if started else "unknown"
    readiness = profile["readiness"]
    sums = [sign * float(profile["pillars"][p.value]) for p in PILLARS]
    keys = {
        "use_case": [run.get("use_case") or "(none)"],
        "team": [run.get("team") or "(none)"],
        "reviewer": sorted(set(reviewers)) or ["(none)"],
        "month": [month],
    }
    rows = [
        RollupRow(dim, k, month, readiness, sign, list(sums))
        for dim, ks in keys.items()
        for k in ks
    ]
    counts: dict[tuple[str, str], int] = {}
    for c in profile["criteria"]:
        for ob in c.get("obligations", ()):
            counts[(ob, c["result"])] = counts.get((ob, c["result"]), 0) + 1
    rows += [
        RollupRow("obligation", ob, month, res, sign * n, [0.0] * 5)
        for (ob, res), n in sorted(counts.items())
    ]
    return rows


_PILLAR_KEYS = tuple(p.value for p in PILLARS)


class RollupAccumulator:
    """The rollup of many profiles as plain counters, for a full rescore.

    Equal to :func:`merge` over :func:`rollup_rows` of every profile added (a test checks
    it), without building rows per run: run dimensions keep ``[runs, five pillar sums]``
    per identity, and a run's criterion results are counted as one vector per month (runs
    fall into few distinct vectors), spread over each criterion's obligations by
    :meth:`rows`. Memory depends on the number of groups and distinct vectors, which is
    bounded by folding vectors into per-criterion counts past ``max_vectors``.
    """

    def __init__(self, max_vectors: int = 20000) -> None:
        self._runs: dict[tuple[str, str, str, str], list[int]] = {}
        self._vectors: dict[tuple[str, tuple[str, ...], tuple[str, ...]], int] = {}
        self._results: dict[tuple[str, str, str], int] = {}
        self._obligations: dict[str, Sequence[str]] = {}
        self._max_vectors = max_vectors

    def add(
        self,
        run: Mapping[str, Any],
        readiness: str,
        pillars: Mapping[str, int],
        ids: tuple[str, ...],
        results: tuple[str, ...],
        obligations: Sequence[Sequence[str]],
        reviewers: Iterable[str] = (),
    ) -> None:
        """Count one profile: its ``run`` block, readiness, pillar scores, each criterion's
        id, result and obligations (in rubric order) and the run's reviewers (as
        :func:`rollup_rows` reads them from its JSON)."""
        started = run.get("started_at") or ""
        month = started[:7] if started else "unknown"
        sums = [int(pillars[p]) for p in _PILLAR_KEYS]
        revs = sorted(set(reviewers)) or ["(none)"]
        runs = self._runs
        for ident in (
            ("use_case", run.get("use_case") or "(none)", month, readiness),
            ("team", run.get("team") or "(none)", month, readiness),
            *(("reviewer", r, month, readiness) for r in revs),
            ("month", month, month, readiness),
        ):
            have = runs.get(ident)
            if have is None:
                runs[ident] = [1, *sums]
            else:
                have[0] += 1
                for i in range(5):
                    have[i + 1] += sums[i]
        key = (month, ids, results)
        n = self._vectors.get(key)
        if n is None:
            for cid, obs in zip(ids, obligations, strict=True):
                if cid not in self._obligations:
                    self._obligations[cid] = tuple(obs)
            if len(self._vectors) >= self._max_vectors:
                self._fold()
            self._vectors[key] = 1
        else:
            self._vectors[key] = n + 1

    def _fold(self) -> None:
        counts = self._results
        for (month, ids, results), n in self._vectors.items():
            for cid, result in zip(ids, results, strict=True):
                k = (month, cid, result)
                counts[k] = counts.get(k, 0) + n
        self._vectors.clear()

    def rows(self) -> list[RollupRow]:
        self._fold()
        out = [
            RollupRow(dim, key, month, bucket, v[0], [float(x) for x in v[1:]])
            for (dim, key, month, bucket), v in self._runs.items()
        ]
        obligation: dict[tuple[str, str, str], int] = {}
        for (month, cid, result), n in self._results.items():
            for ob in self._obligations[cid]:
                k = (ob, month, result)
                obligation[k] = obligation.get(k, 0) + n
        out += [
            RollupRow("obligation", ob, month, res, n, [0.0] * 5)
            for (ob, month, res), n in sorted(obligation.items())
        ]
        return out


def merge(rows: Iterable[RollupRow]) -> dict[tuple[str, str, str, str], RollupRow]:
    """Sum rows with the same identity."""
    out: dict[tuple[str, str, str, str], RollupRow] = {}
    for r in rows:
        have = out.get(r.ident())
        if have is None:
            out[r.ident()] = RollupRow(r.dim, r.key, r.month, r.bucket, r.runs, list(r.sums))
        else:
            have.runs += r.runs
            have.sums = [a + b for a, b in zip(have.sums, r.sums, strict=True)]
    return out


def summarise(
    rows: Iterable[RollupRow], by: str, *, since: str | None = None, until: str | None = None
) -> dict[str, Any]:
    """Per-group figures for dimension ``by`` from rollup rows.

    ``since`` / ``until`` are months (``YYYY-MM``) or dates, compared at month granularity
    (``until`` exclusive of later months). Groups are sorted by key; each has ``runs``,
    ``readiness`` counts, mean ``pillars``, ``mean`` and a monthly ``trend``. For
    ``obligation`` groups ``results`` counts criterion results and ``share_met`` is given.
    """
    if by not in DIMENSIONS:
        raise ValueError(f"cannot aggregate by {by!r}; choose one of {', '.join(DIMENSIONS)}")
    lo = since[:7] if since else None
    hi = until[:7] if until else None
    groups: dict[str, dict[str, Any]] = {}
    for r in merge(r for r in rows if r.dim == by).values():
        if r.dim != by or (lo and r.month < lo) or (hi and r.month > hi) or r.runs == 0:
            continue
        g = groups.setdefault(r.key, {"runs": 0, "buckets": {}, "sums": [0.0] * 5, "months": {}})
        g["runs"] += r.runs
        g["buckets"][r.bucket] = g["buckets"].get(r.bucket, 0) + r.runs
        g["sums"] = [a + b for a, b in zip(g["sums"], r.sums, strict=True)]
        m = g["months"].setdefault(r.month, {"runs": 0, "sums": [0.0] * 5, "buckets": {}})
        m["runs"] += r.runs
        m["sums"] = [a + b for a, b in zip(m["sums"], r.sums, strict=True)]
        m["buckets"][r.bucket] = m["buckets"].get(r.bucket, 0) + r.runs
    out = []
    for key in sorted(groups):
        g = groups[key]
        n = g["runs"]
        if n <= 0:
            continue
        if by == "obligation":
            res = {k: g["buckets"].get(k, 0) for k in RESULTS}
            applicable = n - res["not_applicable"]
            out.append(
                {
                    "key": key,
                    "results": res,
                    "checks": n,
                    "share_met": round(res["met"] / applicable, 4) if applicable else None,
                    "trend": [
                        {"month": mo, "share_met": _share(v["buckets"])}
                        for mo, v in sorted(g["months"].items())
                    ],
                }
            )
            continue
        pillars = {p.value: round(s / n, 1) for p, s in zip(PILLARS, g["sums"], strict=True)}
        out.append(
            {
                "key": key,
                "runs": n,
                "readiness": {lv.value: g["buckets"].get(lv.value, 0) for lv in READINESS_LEVELS},
                "pillars": pillars,
                "mean": round(sum(g["sums"]) / (5 * n), 1),
                "trend": [
                    {
                        "month": mo,
                        "runs": v["runs"],
                        "mean": round(sum(v["sums"]) / (5 * v["runs"]), 1) if v["runs"] else None,
                        "audit_ready": v["buckets"].get("audit_ready", 0),
                    }
                    for mo, v in sorted(g["months"].items())
                ],
            }
        )
    return {"by": by, "since": since, "until": until, "groups": out}


def _share(buckets: dict[str, int]) -> float | None:
    applicable = sum(v for k, v in buckets.items() if k != "not_applicable")
    return round(buckets.get("met", 0) / applicable, 4) if applicable else None
