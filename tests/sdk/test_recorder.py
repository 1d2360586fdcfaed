"""Recording runs through the SDK into a real store, with the policy enforced first."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

import raidt
from raidt.errors import PolicyViolation, ValidationError
from raidt.sdk._spool import segment_paths
from raidt.services.app import App
from tests.sdk._store import OUTPUT, PROMPT, TEMPLATE, make_store, stored_runs, verified


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    make_store(h)
    return h


def _notes_run(rec: raidt.Recorder, **kw: object) -> raidt.Run:
    args: dict[str, object] = {
        "use_case": "meeting-notes",
        "initiator": "u-1",
        "team": "ops",
        "risk_level": "low",
        "purpose": "weekly notes",
        "template": TEMPLATE,
    }
    args.update(kw)
    return rec.run(**args)  # type: ignore[arg-type]


def test_a_recorded_run_is_sealed_by_flush(home: Path) -> None:
    rec = raidt.Recorder(home)
    with _notes_run(rec) as run:
        assert raidt.current_run() is run
        run.model_call(
            provider="openai",
            model="gpt-4o",
            parameters={"temperature": 0.2},
            prompt=PROMPT,
            output=OUTPUT,
            usage={"input_tokens": 812, "output_tokens": 240},
            latency_ms=12.5,
        )
        run.tool_call(name="calendar", inputs={"week": 9})
        run.tool_call(
            name="wiki",
            query="budget",
            retrieval=True,
            sources=[{"ref": "wiki:42", "digest": "ab" * 32}],
        )
        run.review(reviewer="u-2", approved=True, checklist={"actions have an owner": True})
        run.close("accepted")
    assert raidt.current_run() is None
    assert stored_runs(home) == {}  # acknowledged, not sealed yet
    assert rec.flush() == 9
    runs = stored_runs(home)
    assert runs == {
        run.run_id: [
            "run.started",
            "model.invoked",
            "model.responded",
            "tool.called",
            "retrieval.performed",
            "review.assigned",
            "checklist.completed",
            "review.approved",
            "run.closed",
        ]
    }
    with App.open(home) as app:
        events = app.events.run_events(run.run_id)
        state = app.events.get_run(run.run_id)
    assert events[1].payload["prompt"] == PROMPT
    assert events[2].payload["output"] == OUTPUT
    assert events[2].payload["usage"] == {"input_tokens": 812, "output_tokens": 240}
    assert events[0].payload["policy"]["id"] == "meeting-notes"
    assert events[0].payload["template"]["sha256"]  # the stored template's hash, pinned
    assert events[7].actor.id == "u-2" and events[7].actor.role.value == "reviewer"
    assert state is not None and state.status == "closed" and state.disposition == "accepted"
    assert segment_paths(rec.spool_dir) == []
    assert verified(home)
    rec.close()


def test_a_model_outside_a_strict_policy_is_refused_and_nothing_recorded(home: Path) -> None:
    rec = raidt.Recorder(home)
    with pytest.raises(PolicyViolation, match="not approved"):  # noqa: SIM117
        with rec.run(
            use_case="credit-memo",
            initiator="u-1",
            team="credit",
            risk_level="high",
            template={"id": "credit-memo-draft", "version": "1"},
        ) as run:
            run.model_call(provider="openai", model="gpt-3.5-turbo", prompt="p", output="o")
    rec.flush()
    [(rid, types)] = stored_runs(home).items()
    assert rid == run.run_id and types == ["run.started"]  # the refused call left no event


def test_a_non_approved_template_is_refused_where_deviations_are_not_allowed(
    home: Path,
) -> None:
    rec = raidt.Recorder(home)
    with pytest.raises(PolicyViolation, match="allows no deviations"):
        rec.run(
            use_case="credit-memo",
            initiator="u-1",
            team="credit",
            risk_level="high",
            template={"id": "home-made", "version": "3"},
        )
    assert rec.flush() == 0


def test_deviations_are_recorded_where_the_policy_allows_them(home: Path) -> None:
    rec = raidt.Recorder(home)
    with _notes_run(rec, template=None) as run:
        run.model_call(
            provider="openai",
            model="gpt-3.5-turbo",
            prompt="p",
            output="o",
            deviation_reason="the approved model was down",
        )
    rec.flush()
    with App.open(home) as app:
        events = app.events.run_events(run.run_id)
    types = [e.type.value for e in events]
    assert types == [
        "run.started",
        "deviation.recorded",
        "deviation.recorded",
        "model.invoked",
        "model.responded",
    ]
    assert events[1].payload["what"] == "template"
    assert "recorded by the SDK" in events[1].payload["reason"]
    assert events[2].payload["what"] == "model"
    assert events[2].payload["reason"] == "the approved model was down"


def test_capture_mode_redacted_keeps_no_matched_text(home: Path) -> None:
    rec = raidt.Recorder(home)
    with rec.run(
        use_case="credit-memo",
        initiator="u-1",
        team="credit",
        risk_level="high",
        template={"id": "credit-memo-draft", "version": "1"},
    ) as run:
        with App.open(home) as app:
            from raidt.services.policies import PolicyService

            approved = PolicyService(app).get("credit-memo").approved_models[0]
        run.model_call(
            provider=approved.provider,
            model=approved.model,
            prompt="customer SSN 123-45-6789",
            output="ok for 123-45-6789",
        )
    rec.flush()
    with App.open(home) as app:
        inv, resp = app.events.run_events(run.run_id)[1:3]
    assert "123-45-6789" not in inv.payload["prompt"] + resp.payload["output"]
    assert "[REDACTED:" in inv.payload["prompt"]


def test_self_review_is_refused_where_roles_are_separated(home: Path) -> None:
    rec = raidt.Recorder(home)
    with rec.run(
        use_case="credit-memo",
        initiator="u-1",
        team="credit",
        risk_level="high",
        template={"id": "credit-memo-draft", "version": "1"},
    ) as run:
        with pytest.raises(PolicyViolation, match="may not review"):
            run.review(reviewer="u-1", approved=True)
        with pytest.raises(ValidationError, match="needs a reason"):
            run.review(reviewer="u-2", approved=False)


def test_bad_arguments_are_refused_at_the_call(home: Path) -> None:
    rec = raidt.Recorder(home)
    with pytest.raises(ValidationError, match="risk_level"):
        _notes_run(rec, risk_level="extreme")
    with pytest.raises(raidt.RaidtError, match="unknown"):
        _notes_run(rec, use_case="no-such-use-case")
    with _notes_run(rec) as run, pytest.raises(ValidationError, match="provider"):
        run.model_call(provider="", model="m")
    with pytest.raises(ValidationError, match="RAIDT_TOKEN"):
        raidt.Recorder(home, url="http://127.0.0.1:9")


def test_the_callers_exception_passes_and_the_run_is_kept(home: Path) -> None:
    rec = raidt.Recorder(home)
    with pytest.raises(KeyError, match="boom"), _notes_run(rec) as run:
        run.model_call(provider="openai", model="gpt-4o", prompt="p", error="timeout")
        raise KeyError("boom")
    rec.flush()
    assert stored_runs(home)[run.run_id] == ["run.started", "model.invoked", "model.responded"]


def test_async_runs_and_the_decorator(home: Path) -> None:
    rec = raidt.Recorder(home)
    args = {
        "use_case": "meeting-notes",
        "initiator": "u-3",
        "team": "ops",
        "risk_level": "low",
        "template": TEMPLATE,
    }

    @rec.governed(**args)
    def summarise(text: str) -> str:
        run = raidt.current_run()
        assert run is not None
        run.model_call(provider="openai", model="gpt-4o", prompt=text, output=text.upper())
        return text.upper()

    @raidt.governed(recorder=rec, **args)
    async def asummarise(text: str) -> str:
        run = raidt.current_run()
        assert run is not None
        await asyncio.sleep(0)
        run.model_call(provider="openai", model="gpt-4o", prompt=text, output=text[::-1])
        return text[::-1]

    async def concurrent() -> list[str]:
        async with rec.run(**args) as outer:  # type: ignore[arg-type]
            outer.tool_call(name="outer")
            got = await asyncio.gather(asummarise("ab"), asummarise("cd"))
            assert raidt.current_run() is outer  # each task had its own run
        return list(got)

    assert summarise("abc") == "ABC"
    assert asyncio.run(concurrent()) == ["ba", "dc"]
    assert rec.flush() == 3 + 3 + 3 + 2
    kinds = sorted(tuple(t) for t in stored_runs(home).values())
    assert kinds == sorted(
        [("run.started", "model.invoked", "model.responded")] * 3 + [("run.started", "tool.called")]
    )


def test_a_replayed_spool_seals_nothing_twice(home: Path, tmp_path: Path) -> None:
    rec = raidt.Recorder(home)
    for _ in range(3):
        with _notes_run(rec) as run:
            run.model_call(provider="openai", model="gpt-4o", prompt="p", output="o")
    [segment] = rec._writer.rotate()
    copy = tmp_path / "copy.spool"
    shutil.copy(segment, copy)
    assert rec.flush() == 9
    shutil.copy(copy, rec.spool_dir / ("0" + segment.name))  # as if removal never happened
    assert rec.flush() == 0
    assert len(stored_runs(home)) == 3
    assert verified(home)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_flush_into_either_engine(
    tmp_path: Path, request: pytest.FixtureRequest, kind: str
) -> None:
    url = None
    if kind == "postgresql":
        url = request.getfixturevalue("pg_url")
    home = tmp_path / "h"
    make_store(home, url)
    with raidt.Recorder(home, url) as rec:
        for i in range(50):
            with _notes_run(rec, initiator=f"u-{i}") as run:
                run.model_call(provider="openai", model="gpt-4o-mini", prompt=PROMPT, output=OUTPUT)
        assert rec.flush() == 150
    assert len(stored_runs(home, url)) == 50
    assert verified(home, url)


def test_a_forked_child_records_into_a_segment_of_its_own(home: Path) -> None:
    rec = raidt.Recorder(home)
    with _notes_run(rec) as parent_run:
        parent_run.tool_call(name="before-fork")
    pid = os.fork()
    if pid == 0:  # the child: record one run, leave it spooled, exit without cleanup
        code = 0
        try:
            with _notes_run(rec, initiator="u-child") as child_run:
                child_run.tool_call(name="in-child")
        except BaseException:
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    with _notes_run(rec) as after:
        after.tool_call(name="after-fork")
    assert len(segment_paths(rec.spool_dir)) == 2  # the parent's and the child's
    assert rec.flush() == 6
    assert sorted(s.initiator for s in _states(home)) == ["u-1", "u-1", "u-child"]
    assert verified(home)


def _states(home: Path) -> list[Any]:
    with App.open(home) as app:
        return app.events.list_runs()
