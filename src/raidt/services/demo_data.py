"""A generator of realistic run histories for the demo, benchmarks and tests.

It produces the event JSON of DESIGN.md 6.1 (as :class:`EventIn`) for runs of the six
sector use cases, mixing well-governed runs with the weak patterns governance leads must
see: self-review, rubber stamps, overrides, escalations, non-approved templates or
models, runs left open. Deterministic for a given seed, so figures and tests repeat.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from raidt.core.actors import ActorDirectory
from raidt.core.events import ActorRef, EventIn, EventType, Role
from raidt.core.policy import Policy

__all__ = ["USE_CASES", "DemoGenerator"]

ANCHOR = datetime(2026, 11, 27, 17, 0, tzinfo=UTC)


@dataclass(frozen=True)
class UseCaseSketch:
    use_case: str
    teams: tuple[str, ...]
    purpose: str
    task: str
    output: str
    destinations: tuple[str, ...]
    context: str


USE_CASES: tuple[UseCaseSketch, ...] = (
    UseCaseSketch(
        "discharge-summary",
        ("ward-7", "ward-9"),
        "draft a discharge summary for the GP",
        "Summarise the admission of patient {ref} for the GP: diagnosis, procedures, "
        "medication changes, follow-up.",
        "Admitted with community-acquired pneumonia; treated with IV amoxicillin, "
        "switched to oral on day 3. Follow-up chest X-ray in 6 weeks.",
        ("ehr", "gp-letter"),
        "ehr://encounter/{ref}",
    ),
    UseCaseSketch(
        "policy-briefing",
        ("housing-policy", "transport-unit"),
        "brief the minister on a consultation",
        "Draft a two-page briefing on consultation {ref}: options, risks, "
        "stakeholder positions, recommendation.",
        "Three options are assessed; option B balances cost and coverage. Risks: "
        "legal challenge from landlords' associations.",
        ("ministerial-submission", "records-system"),
        "docs://consultation/{ref}",
    ),
    UseCaseSketch(
        "credit-memo",
        ("sme-credit", "corporate-lending"),
        "draft a credit memo for committee",
        "Draft a credit memo for application {ref}: business summary, financials, "
        "repayment capacity, covenants, risk rating rationale.",
        "Debt service coverage of 1.6x over three years; recommend approval with a "
        "leverage covenant of 3.0x.",
        ("credit-committee", "loan-system"),
        "loans://application/{ref}",
    ),
    UseCaseSketch(
        "student-feedback",
        ("humanities", "year-11-science"),
        "draft formative feedback on an essay",
        "Draft formative feedback for submission {ref} against the rubric: two "
        "strengths, two targets, one next step.",
        "Strong use of evidence in paragraph two; work on linking analysis back to the question.",
        ("learning-platform",),
        "lms://submission/{ref}",
    ),
    UseCaseSketch(
        "benefits-letter",
        ("east-region-claims", "claims-south"),
        "draft a benefits decision letter",
        "Draft the decision letter for claim {ref}: decision, reasons in plain "
        "language, how to ask for a reconsideration.",
        "We have decided you are entitled to the standard rate from 3 March. You can "
        "ask us to look at this decision again within one month.",
        ("case-system", "post"),
        "claims://case/{ref}",
    ),
    UseCaseSketch(
        "meeting-notes",
        ("payments-product", "finance-ops"),
        "summarise a meeting into actions",
        "Summarise meeting {ref} into decisions and actions with owners.",
        "Decisions: ship v2 on 4 Dec. Actions: Priya to update the runbook.",
        ("wiki", "email"),
        "meet://recording/{ref}",
    ),
)

_INFORMAL_TEAMS = {
    "ward-9",
    "transport-unit",
    "corporate-lending",
    "year-11-science",
    "claims-south",
    "finance-ops",
}


def _digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


class DemoGenerator:
    """Yields runs as lists of events; policies supply approved templates and models."""

    def __init__(
        self,
        policies: dict[str, Policy] | None = None,
        seed: int = 7,
        anchor: datetime = ANCHOR,
        days: int = 120,
        actors: ActorDirectory | None = None,
    ) -> None:
        self.policies = policies or {}
        self.actors = actors
        self.rng = random.Random(seed)
        self.anchor = anchor
        self.days = days
        self.counter = 0

    def runs(self, n: int) -> Iterator[list[EventIn]]:
        for _ in range(n):
            yield self.one_run()

    def one_run(self) -> list[EventIn]:
        r = self.rng
        self.counter += 1
        sketch = r.choice(USE_CASES)
        team = r.choice(sketch.teams)
        informal_team = team in _INFORMAL_TEAMS
        kind = r.choices(
            ["governed", "escalated", "override", "informal", "rejected", "open", "deviation"],
            weights=[30, 8, 6, 40, 5, 6, 5] if informal_team else [62, 10, 6, 5, 6, 6, 5],
        )[0]
        run_id = f"run-{self.counter:06d}"
        ref = f"{r.randrange(10**6):06d}"
        tno = sum(team.encode()) % 50
        policy = self.policies.get(sketch.use_case)
        people = self._people(team, policy)
        initiator = people.get("initiator") or f"u-{700 + tno:03d}{r.randrange(3)}"
        reviewer = people.get("reviewer") or f"u-{800 + tno:03d}{r.randrange(2)}"
        approver = people.get("approver") or f"u-{900 + tno:03d}0"
        owner = people.get("escalation_owner") or f"u-{950 + tno:03d}0"
        risk = r.choices(["low", "medium", "high"], weights=[3, 5, 2])[0]
        t = self.anchor - timedelta(days=r.uniform(0, self.days), hours=r.uniform(0, 8))
        evs: list[EventIn] = []

        def add(
            etype: EventType, actor: str, role: Role, payload: dict[str, Any], after_s: float
        ) -> None:
            nonlocal t
            t = t + timedelta(seconds=after_s)
            evs.append(
                EventIn(
                    run_id=run_id,
                    type=etype,
                    at=t,
                    actor=ActorRef(id=actor, role=role),
                    payload=payload,
                )
            )

        approved_t = policy.approved_templates[0] if policy and policy.approved_templates else None
        approved_m = policy.approved_models[0] if policy and policy.approved_models else None
        use_template = kind not in ("informal",) or r.random() < 0.3
        template = (
            {"id": approved_t.id, "version": approved_t.version}
            if approved_t and use_template
            else {"id": f"{sketch.use_case}-adhoc", "version": "0"}
            if use_template
            else None
        )
        model = (
            {"provider": approved_m.provider, "model": approved_m.model}
            if approved_m and kind != "deviation"
            else {"provider": "openai", "model": "gpt-4o"}
        )
        if kind == "deviation":
            model = {"provider": "openai", "model": "gpt-4.1-preview"}
        params = {"temperature": round(r.choice([0.1, 0.2, 0.3]), 2), "max_tokens": 1200}
        if approved_m and kind not in ("informal", "deviation"):
            # governed runs use the team's configuration, inside the policy's bounds
            params = _within({"temperature": 0.2, "max_tokens": 1200}, approved_m.parameters)
        if kind == "informal" and r.random() < 0.4:
            params["temperature"] = 1.2
        started: dict[str, Any] = {
            "use_case": sketch.use_case,
            "team": team,
            "risk_level": risk,
            "data_context": [
                {"ref": sketch.context.format(ref=ref), "digest": _digest(sketch.context + ref)}
            ],
        }
        if kind != "informal" or r.random() < 0.5:
            started["purpose"] = sketch.purpose
        if template:
            started["template"] = template
        if policy:
            started["policy"] = {
                "id": policy.id,
                "version": policy.version,
                "sha256": policy.content_hash,
            }
        add(EventType.RUN_STARTED, initiator, Role.INITIATOR, started, 0)
        if kind == "deviation":
            add(
                EventType.DEVIATION_RECORDED,
                initiator,
                Role.INITIATOR,
                {
                    "what": f"model {model['model']} is not approved for {sketch.use_case}",
                    "reason": "approved model unavailable during provider incident",
                },
                5,
            )
        prompt = sketch.task.format(ref=ref)
        add(
            EventType.PROMPT_RENDERED,
            "raidt-sdk",
            Role.SYSTEM,
            {"template": template, "prompt": prompt} if template else {"prompt": prompt},
            1,
        )
        add(
            EventType.MODEL_INVOKED, "raidt-sdk", Role.SYSTEM, {**model, "parameters": params}, 0.05
        )
        failed = r.random() < 0.03
        if failed:
            add(
                EventType.MODEL_RESPONDED,
                "raidt-sdk",
                Role.SYSTEM,
                {"error": "upstream timeout", "latency_ms": 30000},
                30,
            )
            add(
                EventType.MODEL_INVOKED,
                "raidt-sdk",
                Role.SYSTEM,
                {**model, "parameters": params},
                2,
            )
        add(
            EventType.MODEL_RESPONDED,
            "raidt-sdk",
            Role.SYSTEM,
            {
                "output": sketch.output,
                "usage": {
                    "input_tokens": r.randrange(300, 3000),
                    "output_tokens": r.randrange(100, 900),
                },
                "latency_ms": r.randrange(800, 9000),
            },
            r.uniform(1, 9),
        )
        if kind == "informal":
            # self-approved in seconds, no checklist, often never closed
            add(EventType.REVIEW_APPROVED, initiator, Role.REVIEWER, {}, r.uniform(3, 20))
            if r.random() < 0.4:
                add(
                    EventType.DOWNSTREAM_USED,
                    initiator,
                    Role.INITIATOR,
                    {"destination": r.choice(sketch.destinations), "reference": ref},
                    30,
                )
            return evs
        add(
            EventType.REVIEW_ASSIGNED,
            "raidt-workflow",
            Role.SYSTEM,
            {"reviewer": {"id": reviewer, "role": "reviewer"}},
            r.uniform(30, 900),
        )
        if kind == "open":
            return evs
        assigned_at = t
        min_review = policy.review.min_seconds if policy else 60
        guidance = policy.review.guidance if policy else None
        if guidance:
            add(
                EventType.GUIDANCE_ACKNOWLEDGED,
                reviewer,
                Role.REVIEWER,
                {"guidance": {"id": guidance.id, "version": guidance.version}},
                r.uniform(20, 120),
            )
        items = policy.review.checklist if policy else ["accuracy", "completeness"]
        answers = {i: r.random() > 0.05 for i in items}
        add(
            EventType.CHECKLIST_COMPLETED,
            reviewer,
            Role.REVIEWER,
            {"items": answers},
            r.uniform(120, 900),
        )
        # an item answered "no" is fixed by an edit before approval, as a reviewer would
        edited = r.random() < 0.45 or not all(answers.values())
        if edited:
            add(
                EventType.OUTPUT_EDITED,
                reviewer,
                Role.REVIEWER,
                {
                    "diff": f"--- output\n+++ output\n@@ -1 +1 @@\n-{sketch.output[:60]}\n"
                    f"+{sketch.output[:60]} (checked against source)\n",
                    "reason": "corrected against the source record",
                },
                r.uniform(60, 600),
            )
        if kind == "override":
            add(
                EventType.OVERRIDE_RECORDED,
                reviewer,
                Role.REVIEWER,
                {
                    "what": "kept a statement the checklist flagged",
                    "reason": "confirmed with the responsible clinician/officer by phone",
                },
                60,
            )
        triggers = _fired(policy, risk, kind, failed)
        if kind == "escalated" or (triggers and kind != "rejected"):
            add(
                EventType.ESCALATION_RAISED,
                reviewer,
                Role.REVIEWER,
                {
                    "reason": "output conflicts with the source record",
                    "owner": {"id": owner, "role": "escalation_owner"},
                },
                120,
            )
            if kind != "escalated" or r.random() < 0.8:
                add(
                    EventType.ESCALATION_RESOLVED,
                    owner,
                    Role.ESCALATION_OWNER,
                    {"resolution": "source record corrected; draft amended"},
                    r.uniform(600, 7200),
                )
        if kind == "rejected":
            add(
                EventType.REVIEW_REJECTED,
                reviewer,
                Role.REVIEWER,
                {"reason": "draft omits medication changes"},
                60,
            )
            if policy and policy.escalation.triggers and _fired(policy, risk, "rejected", failed):
                add(
                    EventType.ESCALATION_RAISED,
                    reviewer,
                    Role.REVIEWER,
                    {
                        "reason": "draft rejected",
                        "owner": {"id": owner, "role": "escalation_owner"},
                    },
                    60,
                )
                add(
                    EventType.ESCALATION_RESOLVED,
                    owner,
                    Role.ESCALATION_OWNER,
                    {"resolution": "rejection confirmed; task done by hand"},
                    r.uniform(600, 3600),
                )
            add(
                EventType.RUN_CLOSED,
                reviewer,
                Role.REVIEWER,
                {"disposition": "rejected", "purpose": sketch.purpose},
                30,
            )
            return evs
        # the reviewer takes at least the policy's minimum review time
        spent = (t - assigned_at).total_seconds()
        add(
            EventType.REVIEW_APPROVED,
            reviewer,
            Role.REVIEWER,
            {"reason": "checked against the source"},
            max(r.uniform(30, 300), min_review + 30 - spent),
        )
        roles_needed = (
            policy.signoff_roles(risk) if policy else (["approver"] if risk == "high" else [])
        )
        for role in roles_needed:
            who = {"reviewer": reviewer, "approver": approver}.get(role, approver)
            add(
                EventType.SIGNOFF_RECORDED,
                who,
                Role(role),
                {"statement": "content reviewed and approved for release"},
                r.uniform(60, 3600),
            )
        add(
            EventType.RUN_CLOSED,
            reviewer,
            Role.REVIEWER,
            {
                "disposition": "accepted_with_edits" if edited else "accepted",
                "purpose": sketch.purpose,
                "risk_level": risk,
                "reviewer": reviewer,
            },
            30,
        )
        dest = (
            policy.downstream_allowed[0]
            if policy and policy.downstream_allowed
            else sketch.destinations[0]
        )
        add(
            EventType.DOWNSTREAM_USED,
            reviewer,
            Role.REVIEWER,
            {"destination": dest, "reference": f"{dest}:{ref}"},
            r.uniform(10, 600),
        )
        return evs

    def _people(self, team: str, policy: Policy | None) -> dict[str, str]:
        """Pick directory people of ``team`` for each role (distinct where the policy asks)."""
        if self.actors is None:
            return {}
        members = [a for a in self.actors.actors.values() if a.team == team]
        if not members:  # a team the directory does not list borrows its people
            members = [a for a in self.actors.actors.values() if a.kind == "person"]
        if not members:
            return {}
        r = self.rng
        out: dict[str, str] = {}
        quals = policy.roles.qualifications if policy else {}
        for role in ("initiator", "reviewer", "approver", "escalation_owner"):
            pool = [a for a in members if role in a.roles and a.id not in out.values()]
            if role in quals:
                pool = [a for a in pool if any(q.name == quals[role] for q in a.qualifications)]
            if not pool and role == "escalation_owner":
                pool = [a for a in self.actors.actors.values() if role in a.roles]
            if not pool and role != "reviewer":
                pool = [a for a in members if role in a.roles]
            if not pool:  # everyone who acts is in the directory: borrow from another team
                pool = [
                    a
                    for a in self.actors.actors.values()
                    if role in a.roles and a.id not in out.values() and a.kind == "person"
                ]
            if pool:
                out[role] = r.choice(pool).id
        return out


def _within(params: dict[str, Any], bounds: dict[str, Any]) -> dict[str, Any]:
    """``params`` with each bounded value moved inside the policy's bounds."""
    out = dict(params)
    for name, b in bounds.items():
        v = out.get(name)
        if isinstance(v, int | float):
            if b.max is not None and v > b.max:
                out[name] = type(v)(b.max)
            if b.min is not None and v < b.min:
                out[name] = type(v)(b.min)
    return out


def _fired(policy: Policy | None, risk: str, kind: str, failed: bool) -> list[str]:
    """The escalation triggers of ``policy`` a run of this kind sets off."""
    if policy is None:
        return []
    happened = {f"risk_level:{risk}"}
    happened |= {"override"} if kind == "override" else set()
    happened |= {"rejected"} if kind == "rejected" else set()
    happened |= {"deviation"} if kind == "deviation" else set()
    happened |= {"model_error"} if failed else set()
    return [t for t in policy.escalation.triggers if t in happened]
