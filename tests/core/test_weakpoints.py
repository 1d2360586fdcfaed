"""The seed's two teams: same model, different arrangements, clearly different profiles."""

from __future__ import annotations

from datetime import timedelta

from raidt.core.aggregate import rollup_rows, summarise
from raidt.core.events import Event
from raidt.core.rubric import Readiness
from raidt.core.weakpoints import RunFacts, WeakPointRules, detect, run_facts
from tests.core._runs import ACTORS, ALL, POLICY, T0, build_run
from tests.core.test_scoring import score

LEVELS = [lv.value for lv in Readiness]
INFORMAL = ALL - {"checklist", "guidance", "edit", "signoff", "downstream"}


def well_run(i: int) -> list[Event]:
    return build_run(f"a-{i:02d}", reviewer="u-r1" if i % 2 else "u-r2", t0=T0 + timedelta(days=i))


def informal(i: int) -> list[Event]:
    # ad-hoc template; half the runs self-reviewed, half approved seconds after assignment
    own = i % 2 == 0
    return build_run(
        f"b-{i:02d}",
        INFORMAL,
        team="team-b",
        initiator="u-b1",
        reviewer="u-b1" if own else "u-b2",
        template=("scratch", "1"),
        approve_after=6,
        t0=T0 + timedelta(days=i),
    )


def test_well_run_team_scores_clearly_higher() -> None:
    a = [score(well_run(i)) for i in range(6)]
    b = [score(informal(i)) for i in range(6)]
    assert all(p.readiness == "audit_ready" for p in a)
    assert all(LEVELS.index(p.readiness) <= LEVELS.index("basic") for p in b)
    for pillar in a[0].pillars:
        mean_a = sum(p.pillars[pillar] for p in a) / len(a)
        mean_b = sum(p.pillars[pillar] for p in b) / len(b)
        assert mean_a >= mean_b, pillar
    assert sum(p.mean for p in a) / 6 - sum(p.mean for p in b) / 6 >= 30
    # rationales name what is wrong and cite the events
    own = b[0]
    crit = next(c for c in own.criteria if c.id == "resp.reviewer-distinct")
    assert crit.result == "unmet" and "self-review" in crit.rationale and "u-b1" in crit.rationale
    assert crit.evidence
    stamp = next(c for c in b[1].criteria if c.id == "interp.substantive-review")
    assert stamp.result == "unmet" and "rubber stamp" in stamp.rationale
    tmpl = next(c for c in b[1].criteria if c.id == "interp.approved-template")
    assert "scratch@1" in tmpl.rationale and "briefing@2" in tmpl.rationale


def _facts(events: list[Event]) -> RunFacts:
    return run_facts(events, policy=POLICY, actors=ACTORS)


def test_informal_team_flagged_with_rationales() -> None:
    facts = [_facts(well_run(i)) for i in range(6)] + [_facts(informal(i)) for i in range(6)]
    found = detect(facts)
    kinds = {w["kind"]: w for w in found}
    assert {"self_review", "rubber_stamp", "non_approved_template"} <= set(kinds)
    assert kinds["self_review"]["run_ids"] == ["b-00", "b-02", "b-04"]
    assert "team-b" in kinds["self_review"]["detail"]
    stamps = [w for w in found if w["kind"] == "rubber_stamp"]
    assert any(w["scope"] == "u-b2" and w["run_ids"] == ["b-01", "b-03", "b-05"] for w in stamps)
    assert "scratch@1" in kinds["non_approved_template"]["detail"]
    assert len(kinds["non_approved_template"]["run_ids"]) == 6
    # the well-run team is behind none of them
    assert not any(r.startswith("a-") for w in found for r in w["run_ids"])
    for w in found:
        assert set(w) >= {"kind", "run_ids", "detail"}


def test_volume_alone_never_flags_a_diligent_reviewer() -> None:
    """A reviewer doing far more runs than peers, each a ten-minute review with edits, is
    no weak point: their claimed review time fits in their day."""
    facts = [
        RunFacts(
            run_id=f"r{i:02d}",
            approvers=("busy",),
            reviewers=("busy",),
            decider="busy",
            started_at=f"2026-03-02T{8 + i // 6:02d}:{(i % 6) * 10:02d}:00Z",
            review_start=f"2026-03-02T{8 + i // 6:02d}:{(i % 6) * 10:02d}:00+00:00",
            review_end=f"2026-03-02T{8 + i // 6:02d}:{(i % 6) * 10 + 9:02d}:00Z",
            review_min=300,
        )
        for i in range(40)
    ]
    facts += [RunFacts(run_id=f"p{n}", approvers=(f"peer{n}",)) for n in range(4)]
    kinds = {w["kind"] for w in detect(facts, WeakPointRules())}
    assert not kinds & {"rubber_stamp", "implausible_workload"}


def test_overlapping_claimed_reviews_are_implausible_workload() -> None:
    """300 approvals in one eight-hour day, each claiming two minutes, cannot all have had
    their minimum review time: the ones that do not fit are listed."""
    facts = [
        RunFacts(
            run_id=f"w{i:03d}",
            approvers=("fast",),
            decider="fast",
            started_at="2026-03-02T09:00:00Z",
            review_start="2026-03-02T09:00:00+00:00",
            review_end=f"2026-03-02T{9 + (i * 96) // 3600:02d}:"
            f"{((i * 96) % 3600) // 60:02d}:{(i * 96) % 60:02d}Z",
            review_min=120,
        )
        for i in range(1, 301)
    ]
    [w] = [w for w in detect(facts) if w["kind"] == "implausible_workload"]
    assert w["scope"] == "fast" and 50 <= len(w["run_ids"]) < 300
    assert "cannot fit" in w["detail"]


def test_aggregate_by_team_and_obligation() -> None:
    profiles = [score(well_run(i)).to_json() for i in range(4)]
    profiles += [score(informal(i)).to_json() for i in range(4)]
    rows = [r for p in profiles for r in rollup_rows(p, ["x"])]
    by_team = {g["key"]: g for g in summarise(rows, "team")["groups"]}
    assert by_team["team-a"]["runs"] == 4 and by_team["team-a"]["readiness"]["audit_ready"] == 4
    assert by_team["team-a"]["mean"] > by_team["team-b"]["mean"]
    assert [t["month"] for t in by_team["team-a"]["trend"]] == ["2026-03"]
    obligations = {g["key"]: g for g in summarise(rows, "obligation")["groups"]}
    assert obligations["EU AI Act Art. 14(5)"]["results"]["met"] >= 4
    assert obligations["EU AI Act Art. 14(5)"]["share_met"] < 1
    # removing what was added leaves nothing behind
    neg = [r for p in profiles for r in rollup_rows(p, ["x"], sign=-1)]
    assert summarise(rows + neg, "team")["groups"] == []
    assert summarise(rows, "team", since="2026-04")["groups"] == []
