"""ScoringService on a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import orjson
import pytest

from raidt.core.canonical import canonical_json
from raidt.errors import NotFoundError, ValidationError
from raidt.services.app import App
from raidt.services.policies import PolicyService
from raidt.services.scoring import ScoringService, default_rubric_text, install_default_rubric
from tests.core._runs import ACTORS_YAML, ALL, POLICY_YAML, T0, build_events_in

INFORMAL = ALL - {"checklist", "guidance", "edit", "signoff", "downstream"}


def fill(app: App) -> None:
    PolicyService(app).add_policy(POLICY_YAML, "briefing-test.yaml")
    PolicyService(app).import_actors(ACTORS_YAML, "actors.yaml")
    install_default_rubric(app)
    for i in range(4):
        app.events.append(
            build_events_in(
                f"a-{i}", reviewer="u-r1" if i % 2 else "u-r2", t0=T0 + timedelta(days=i)
            )
        )
        app.events.append(
            build_events_in(
                f"b-{i}",
                INFORMAL,
                team="team-b",
                initiator="u-b1",
                reviewer="u-b1" if i % 2 == 0 else "u-b2",
                template=("scratch", "1"),
                approve_after=5,
                t0=T0 + timedelta(days=40 + i),
            )
        )


@pytest.fixture
def app(db_url: str, tmp_path: Path) -> Iterator[App]:
    a = App.open(home=tmp_path / "home", database_url=db_url)
    fill(a)
    try:
        yield a
    finally:
        a.close()


def test_score_one_run_store_and_recompute_offline(app: App) -> None:
    svc = ScoringService(app)
    profile = svc.score("a-1")
    assert profile.readiness == "audit_ready"
    assert svc.stored("a-1") == profile.to_json()
    inputs = svc.inputs_for("a-1")
    assert inputs.policy_text == POLICY_YAML and inputs.rubric_text == default_rubric_text()
    assert inputs.chain_ok and inputs.as_of is None
    assert inputs.comparables is not None and inputs.comparables.runs == 8
    # a fresh service (as a pack verifier would) gets byte-identical canonical JSON
    assert ScoringService(app).inputs_for("a-1").score().canonical() == profile.canonical()
    assert profile.policy == {
        "id": "briefing-test",
        "version": "1",
        "sha256": inputs.policy.content_hash,
    }  # type: ignore[union-attr]


def test_score_all_aggregates_and_weakpoints(app: App) -> None:
    svc = ScoringService(app)
    seen: list[tuple[int, int]] = []
    out = svc.score_all(lambda d, t: seen.append((d, t)), by="team")
    assert out["runs"] == 8 and seen[-1] == (8, 8)
    groups = {g["key"]: g for g in out["aggregate"]["groups"]}
    assert groups["team-a"]["readiness"]["audit_ready"] == 4
    assert groups["team-a"]["mean"] > groups["team-b"]["mean"] + 25
    months = {g["key"] for g in svc.aggregate("month")["groups"]}
    assert months == {"2026-03", "2026-04"}
    assert [g["key"] for g in svc.aggregate("team", since="2026-04")["groups"]] == ["team-b"]
    reviewers = {g["key"] for g in svc.aggregate("reviewer")["groups"]}
    assert reviewers == {"u-b1", "u-b2", "u-r1", "u-r2"}
    obligations = {g["key"] for g in svc.aggregate("obligation")["groups"]}
    assert "EU AI Act Art. 14(5)" in obligations and "R7" in obligations
    before = svc.aggregate("team")
    svc.score("b-1")  # incremental update replaces the old contribution exactly
    assert svc.aggregate("team") == before
    found = svc.weakpoints()
    kinds = {w["kind"] for w in found}
    assert {"self_review", "rubber_stamp", "non_approved_template"} <= kinds
    self_review = next(w for w in found if w["kind"] == "self_review")
    assert self_review["run_ids"] == ["b-0", "b-2"]
    assert svc.weakpoints(since="2026-03-01", until="2026-03-31") == []


def test_bad_requests_change_nothing(app: App) -> None:
    svc = ScoringService(app)
    with pytest.raises(NotFoundError, match="no-such-run"):
        svc.score("no-such-run")
    with pytest.raises(ValidationError, match="not a date"):
        svc.weakpoints(since="2026-13-45")
    with pytest.raises(ValidationError, match="cannot aggregate by 'colour'"):
        svc.aggregate("colour")
    inverted = "since 2026-05-01 is not before until 2026-04-01: no run can start in that window"
    for ask in (svc.weakpoints, svc.weakpoint_summary):
        with pytest.raises(ValidationError, match=inverted):
            ask(since="2026-05-01", until="2026-04-01")
    with pytest.raises(ValidationError, match="since 2026-06 is after until 2026-05"):
        svc.aggregate("team", since="2026-06", until="2026-05")
    assert svc.aggregate("team", since="2026-05", until="2026-05")["groups"] == []  # one month
    before = [(d.id, d.version) for d in svc.list_rubrics()]
    bad = (
        default_rubric_text()
        .replace('version: "2"', 'version: "3"')
        .replace("weight: 2\n", "weight: many\n", 1)
    )
    with pytest.raises(ValidationError) as exc:
        svc.add_rubric(bad, "bad.yaml")
    assert "bad.yaml:" in exc.value.diagnostic() and "weight" in exc.value.diagnostic()
    changed = default_rubric_text().replace("min_chars: 10", "min_chars: 12")
    with pytest.raises(ValidationError, match="new version"):
        svc.add_rubric(changed, "changed.yaml")
    assert [(d.id, d.version) for d in svc.list_rubrics()] == before
    assert svc.scores.count() == 0
    with pytest.raises(NotFoundError, match="unknown rubric nope"):
        ScoringService(app, "nope").rubric()


def test_new_rubric_version_scores_with_its_own_hash(app: App) -> None:
    text = (
        default_rubric_text()
        .replace('version: "2"', 'version: "3"')
        .replace("min_chars: 10", "min_chars: 12")
    )
    svc = ScoringService(app)
    assert svc.add_rubric(text, "v2.yaml") is True
    assert svc.add_rubric(text, "v2.yaml") is False
    p2 = ScoringService(app, "raidt-default", "3").score("a-0", store=False)
    p1 = ScoringService(app, "raidt-default", "2").score("a-0", store=False)
    assert p2.rubric["version"] == "3" and p2.rubric["sha256"] != p1.rubric["sha256"]
    assert canonical_json(p2.pillars) == canonical_json(p1.pillars)


def test_run_config_counts_tally_every_projected_run(app: App) -> None:
    """The grouped count the comparable-runs summary is built from agrees with reading
    each run's projected state, on both engines (SQLite's json_extract, PostgreSQL's ->)."""
    want: Counter[tuple[object, ...]] = Counter()
    for run_id in [f"a-{i}" for i in range(4)] + [f"b-{i}" for i in range(4)]:
        state = app.events.get_run(run_id)
        assert state is not None
        st = orjson.loads(orjson.dumps(state.to_dict()))
        want[
            (
                st["use_case"],
                st.get("policy_version"),
                canonical_json(st.get("model")),
                canonical_json(st.get("template")),
            )
        ] += 1
    scores = ScoringService(app).scores
    got: Counter[tuple[object, ...]] = Counter()
    for uc, pv, model, tmpl, n in scores.run_config_counts():
        got[(uc, pv, canonical_json(model), canonical_json(tmpl))] += n
    assert got == want
    assert sum(want.values()) == 8
    # one use case and version: only its runs
    uc, pv = next(iter(want))[:2]
    only = scores.run_config_counts(use_case=str(uc), policy_version=str(pv))
    assert sum(n for *_, n in only) == sum(n for k, n in want.items() if k[:2] == (uc, pv))
    assert scores.run_config_counts(use_case="no-such-use-case") == []
