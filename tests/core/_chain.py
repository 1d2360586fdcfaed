"""Sealed event chains built in memory (no store), for tests of pure pack code."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from raidt.core.events import ActorRef, Event, EventType, Role
from raidt.core.hashing import event_hash

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

#: (type, actor id, role, payload) of a realistic reviewed run with an edit
STEPS: list[tuple[str, str, str, dict[str, Any]]] = [
    (
        "run.started",
        "u-1",
        "initiator",
        {
            "use_case": "discharge-summary",
            "team": "ward-7",
            "purpose": "discharge summary",
            "risk_level": "high",
            "template": {"id": "ds", "version": "3"},
            "data_context": [{"ref": "ehr:patient/42", "digest": "ab" * 32}],
        },
    ),
    (
        "prompt.rendered",
        "sdk",
        "system",
        {"template": {"id": "ds", "version": "3"}, "prompt": "Summarise the stay."},
    ),
    (
        "model.invoked",
        "sdk",
        "system",
        {"provider": "openai", "model": "gpt-4o", "parameters": {"temperature": 0.2}},
    ),
    (
        "model.responded",
        "sdk",
        "system",
        {
            "output": "Patient admitted with...",
            "usage": {"input_tokens": 812, "output_tokens": 240},
        },
    ),
    ("review.assigned", "u-1", "initiator", {"reviewer": {"id": "u-2", "role": "reviewer"}}),
    (
        "output.edited",
        "u-2",
        "reviewer",
        {"diff": "-admitted\n+admitted on 1 March", "reason": "date missing"},
    ),
    ("review.approved", "u-2", "reviewer", {}),
    ("signoff.recorded", "u-3", "approver", {"statement": "ok"}),
    ("run.closed", "u-1", "initiator", {"disposition": "accepted_with_edits"}),
]


def make_chain(
    run_id: str = "r-1",
    first_seq: int = 0,
    steps: list[tuple[str, str, str, dict[str, Any]]] | None = None,
) -> list[Event]:
    out: list[Event] = []
    prev: str | None = None
    for i, (etype, actor, role, payload) in enumerate(steps or STEPS):
        body = {
            "id": f"{run_id}-e{i}",
            "run_id": run_id,
            "type": EventType(etype),
            "at": T0 + timedelta(minutes=3 * i),
            "actor": ActorRef(id=actor, role=Role(role)),
            "payload": payload,
            "prev_hash": prev,
        }
        draft = Event(**body, hash="0" * 64, seq=first_seq + i)
        sealed = draft.model_copy(update={"hash": event_hash(draft.body())})
        out.append(sealed)
        prev = sealed.hash
    return out
