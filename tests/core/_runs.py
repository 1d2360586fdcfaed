"""Runs built directly as sealed events, for scoring tests (no database).

``build_run`` assembles the seed's two kinds of team: a well-run one (approved template,
named reviewer who takes time, checklist, guidance, sign-off, downstream record) and an
informal one (ad-hoc prompt, self-review or a seconds-long approval). Each optional piece
of evidence sits at a fixed time offset, so adding one never moves the others.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from raidt.core.actors import ActorDirectory, ActorsFile
from raidt.core.events import ActorRef, Event, EventIn, EventType, Role
from raidt.core.hashing import event_hash
from raidt.core.policy import load_policy
from raidt.core.timefmt import format_ts
from raidt.core.yamldoc import load_yaml_model

T0 = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)

POLICY_YAML = """\
id: briefing-test
version: "1"
title: Policy briefing drafts (test)
approved_templates:
  - {id: briefing, version: "2"}
approved_models:
  - provider: openai
    model: gpt-4o
    parameters: {temperature: {min: 0, max: 0.5}}
roles:
  qualifications: {reviewer: briefing-review}
review:
  min_seconds: 120
  checklist: [sources_checked, claims_verified]
  guidance: {id: briefing-guidance, version: "1", text: Check every claim against a source.}
signoff: {high: [approver]}
downstream_allowed: [ministerial-pack]
sla_hours: 48
"""

POLICY = load_policy(POLICY_YAML, "briefing-test.yaml")

ACTORS_YAML = """\
actors:
  - {id: u-a1, roles: [initiator], team: team-a}
  - id: u-r1
    roles: [reviewer]
    team: team-a
    qualifications: [{name: briefing-review, valid_from: 2025-01-01}]
  - id: u-r2
    roles: [reviewer]
    team: team-a
    qualifications: [{name: briefing-review, valid_from: 2025-01-01}]
  - {id: u-p1, roles: [approver], team: team-a}
  - {id: u-b1, roles: [initiator, reviewer], team: team-b}
  - {id: u-b2, roles: [reviewer], team: team-b}
"""


ACTORS = ActorDirectory(
    actors={a.id: a for a in load_yaml_model(ACTORS_YAML, ActorsFile, "actors.yaml").actors}
)


#: optional pieces of required evidence, each at a fixed offset (seconds after start)
PIECES: dict[str, int] = {
    "prompt": 10,
    "invoke": 20,
    "respond": 30,
    "assign": 60,
    "guidance": 90,
    "checklist": 400,
    "edit": 500,
    "approve": 700,
    "signoff": 900,
    "close": 1000,
    "downstream": 1100,
}
START_PIECES = ("purpose", "data_context", "template_on_start")
ALL = frozenset(PIECES) | frozenset(START_PIECES)


def seal(events: Iterable[EventIn]) -> list[Event]:
    """Seal events the way the store does: ids, seq, prev_hash chain, hash."""
    out: list[Event] = []
    prev: str | None = None
    for seq, e in enumerate(events):
        body = {
            "id": e.id or f"{e.run_id}-e{seq:02d}",
            "run_id": e.run_id,
            "type": e.type.value,
            "at": format_ts(e.at),
            "actor": {"id": e.actor.id, "role": e.actor.role.value},
            "payload": e.payload,
            "prev_hash": prev,
        }
        h = event_hash(body)
        out.append(Event(**{**body, "hash": h, "seq": seq}))
        prev = h
    return out


def build_run(run_id: str, pieces: Collection[str] = ALL, **kw: Any) -> list[Event]:
    """A sealed run of the briefing-test use case containing ``pieces``."""
    return seal(build_events_in(run_id, pieces, **kw))


def build_events_in(
    run_id: str,
    pieces: Collection[str] = ALL,
    *,
    team: str = "team-a",
    initiator: str = "u-a1",
    reviewer: str = "u-r1",
    approver: str = "u-p1",
    template: tuple[str, str] = ("briefing", "2"),
    temperature: float = 0.2,
    approve_after: int | None = None,
    risk: str = "high",
    extra: Iterable[tuple[int, EventType, str, Role, dict[str, Any]]] = (),
    t0: datetime = T0,
) -> list[EventIn]:
    """Unsealed events of one run (for the store, or for :func:`seal`)."""
    start: dict[str, Any] = {
        "use_case": "briefing-test",
        "team": team,
        "risk_level": risk,
        "policy": {"id": "briefing-test", "version": "1"},
    }
    if "purpose" in pieces:
        start["purpose"] = "briefing note on regional transport funding"
    if "data_context" in pieces:
        start["data_context"] = [{"ref": "doc://funding-2026.pdf", "digest": "sha256:" + "ab" * 32}]
    tmpl = {"id": template[0], "version": template[1]}
    if "template_on_start" in pieces:
        start["template"] = tmpl
    items: list[tuple[int, EventType, str, Role, dict[str, Any]]] = [
        (0, EventType.RUN_STARTED, initiator, Role.INITIATOR, start)
    ]
    spec: dict[str, tuple[EventType, str, Role, dict[str, Any]]] = {
        "prompt": (
            EventType.PROMPT_RENDERED,
            initiator,
            Role.INITIATOR,
            {"template": tmpl, "prompt": "Draft a briefing on ..."},
        ),
        "invoke": (
            EventType.MODEL_INVOKED,
            "sdk",
            Role.SYSTEM,
            {"provider": "openai", "model": "gpt-4o", "parameters": {"temperature": temperature}},
        ),
        "respond": (EventType.MODEL_RESPONDED, "sdk", Role.SYSTEM, {"output": "Draft text"}),
        "assign": (
            EventType.REVIEW_ASSIGNED,
            initiator,
            Role.INITIATOR,
            {"reviewer": {"id": reviewer, "role": "reviewer"}},
        ),
        "guidance": (
            EventType.GUIDANCE_ACKNOWLEDGED,
            reviewer,
            Role.REVIEWER,
            {"guidance": {"id": "briefing-guidance", "version": "1"}},
        ),
        "checklist": (
            EventType.CHECKLIST_COMPLETED,
            reviewer,
            Role.REVIEWER,
            {"items": {"sources_checked": True, "claims_verified": True}},
        ),
        "edit": (
            EventType.OUTPUT_EDITED,
            reviewer,
            Role.REVIEWER,
            {"diff": "-old\n+new", "reason": "claim not supported by source"},
        ),
        "approve": (EventType.REVIEW_APPROVED, reviewer, Role.REVIEWER, {}),
        "signoff": (EventType.SIGNOFF_RECORDED, approver, Role.APPROVER, {"statement": "cleared"}),
        "close": (
            EventType.RUN_CLOSED,
            reviewer,
            Role.REVIEWER,
            {"disposition": "accepted_with_edits"},
        ),
        "downstream": (
            EventType.DOWNSTREAM_USED,
            reviewer,
            Role.REVIEWER,
            {"destination": "ministerial-pack", "reference": "MP-2026-14"},
        ),
    }
    for name, offset in PIECES.items():
        if name in pieces:
            if name == "approve" and approve_after is not None:
                offset = PIECES["assign"] + approve_after
            items.append((offset, *spec[name]))
    items.extend(extra)
    items.sort(key=lambda x: x[0])
    return [
        EventIn(
            run_id=run_id,
            type=t,
            at=t0 + timedelta(seconds=off),
            actor=ActorRef(id=a, role=r),
            payload=p,
        )
        for off, t, a, r, p in items
    ]
