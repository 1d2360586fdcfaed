"""The live run lifecycle: every action is checked against the policy, then recorded.

:class:`WorkflowService` is what adapters (review CLI, API, web UI, gateway) call. It
starts runs, renders prompts and records model calls here, and hands every later action
to the :class:`~raidt.services.review_actions.ReviewActions` it holds. Both use one
:class:`~raidt.services.run_transactions.RunTransactions`, in which each action reads,
checks and appends in one serialised write transaction, so two people acting at once
cannot both pass a check that only one of them should. Importing history does not come
through here: it records what happened.

:class:`PolicySource` and :func:`unified_diff` moved out with the code that uses them and
are re-exported here, so every name in ``__all__`` still imports from this module.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from raidt.core.events import Event, EventIn, EventType, Role
from raidt.core.ids import new_id
from raidt.core.policy import Policy, PromptTemplate
from raidt.core.projection import RunState
from raidt.core.review_rules import (
    check_model,
    check_qualified,
    check_template,
    missing_for_close,
)
from raidt.core.run_facts import RunFacts, run_facts
from raidt.core.workflow import allowed_next, check_transition
from raidt.errors import ValidationError, WorkflowError
from raidt.services.app import App
from raidt.services.review_actions import ReviewActions, unified_diff
from raidt.services.run_transactions import PolicySource, RunTransactions

__all__ = ["PolicySource", "RunView", "WorkflowService", "render_template", "unified_diff"]

_E = EventType
_VAR = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def render_template(template: PromptTemplate, variables: dict[str, Any]) -> str:
    """Fill ``{{ name }}`` placeholders; a missing variable is an error, not a blank."""
    missing = sorted({m.group(1) for m in _VAR.finditer(template.text)} - set(variables))
    if missing:
        raise ValidationError(
            f"template {template.id}@{template.version} needs variable(s): {', '.join(missing)}"
        )
    return _VAR.sub(lambda m: str(variables[m.group(1)]), template.text)


class RunView:
    """A run as a reviewer sees it: state, events, policy, what is allowed and missing."""

    def __init__(self, facts: RunFacts, events: list[Event], policy: Policy) -> None:
        self.facts = facts
        self.state: RunState = facts.state
        self.events = events
        self.policy = policy
        self.allowed_next = [t.value for t in allowed_next(facts.state)]
        self.missing_for_close = missing_for_close(facts, policy, None)

    def to_dict(self) -> dict[str, Any]:
        g = self.policy.review.guidance
        return {
            "run": self.state.to_dict(),
            "policy": {
                "id": self.policy.id,
                "version": self.policy.version,
                "sha256": self.policy.content_hash,
            },
            "allowed_next": self.allowed_next,
            "missing_for_close": self.missing_for_close,
            "checklist": {
                i: self.facts.checklist.get(i, False) for i in self.policy.review.checklist
            },
            "guidance": None if g is None else {"id": g.id, "version": g.version, "text": g.text},
            "events": [e.to_json_dict() for e in self.events],
        }


class WorkflowService:
    """Start runs and act on them, enforcing the run's policy before anything is recorded.

    Composed of two collaborators: ``tx`` (:class:`RunTransactions`: store, policies,
    clock, and the read-check-append transaction) and ``reviews`` (:class:`ReviewActions`:
    every action after the start, given the same ``tx``). The review actions are offered
    here one by one, so this class shows the whole surface adapters use.

    Args:
        app: the open store.
        policies: where policies, templates and actors come from; by default the
            ``PolicyService`` of the same store.
        now: the clock (injected in tests so review times are exact).
    """

    def __init__(
        self,
        app: App,
        *,
        policies: PolicySource | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.tx = RunTransactions(app, policies=policies, now=now)
        self.reviews = ReviewActions(self.tx)
        self.app = app
        self.policies: PolicySource = self.tx.policies
        self.now: Callable[[], datetime] = self.tx.now

    # --- start and model events ---------------------------------------------------------

    def start_run(
        self,
        use_case: str,
        initiator: str,
        team: str,
        purpose: str | None,
        risk_level: str,
        template: dict[str, Any] | None = None,
        data_context: Sequence[dict[str, Any]] = (),
        run_id: str | None = None,
        deviation_reason: str | None = None,
        at: datetime | None = None,
    ) -> str:
        """Start a run under the policy in force for ``use_case``; returns the run id.

        A template the policy does not approve (or no template where the policy lists
        some) is refused, unless the policy allows deviations and ``deviation_reason``
        is given; then the run starts and the deviation is recorded with the reason.
        """
        when = at or self.now()
        policy = self.policies.policy_in_force(use_case, when)
        rid = run_id or new_id()
        problem: str | None = None
        if template is not None:
            if not template.get("id") or template.get("version") in (None, ""):
                raise ValidationError("template must give 'id' and 'version'")
            tref = {"id": str(template["id"]), "version": str(template["version"])}
            stored = self.tx.template_hash(tref["id"], tref["version"])
            if stored:
                tref["sha256"] = stored
            problem = check_template(policy, tref["id"], tref["version"], stored)
        elif policy.approved_templates:
            approved = ", ".join(f"{t.id}@{t.version}" for t in policy.approved_templates)
            problem = f"policy {policy.id} asks for an approved template ({approved})"
        check_qualified(policy, "initiator", initiator, self.tx.find_actor(initiator), when)
        payload: dict[str, Any] = {
            "use_case": use_case,
            "team": team,
            "purpose": purpose,
            "risk_level": risk_level,
            "data_context": [dict(d) for d in data_context],
            "policy": {"id": policy.id, "version": policy.version, "sha256": policy.content_hash},
        }
        if template is not None:
            payload["template"] = tref
        new = [self.tx.event(rid, _E.RUN_STARTED, when, initiator, Role.INITIATOR, payload)]
        if problem:
            new.append(
                self.tx.deviation(
                    policy,
                    rid,
                    when,
                    initiator,
                    Role.INITIATOR,
                    "template",
                    problem,
                    deviation_reason,
                )
            )
        with self.app.db.write() as conn:
            if self.app.events.run_events(rid, conn=conn):
                raise WorkflowError(f"run {rid} already exists; pick another run id")
            self.app.events.append_in(conn, new)
        return rid

    def render_prompt(
        self,
        run_id: str,
        template_id: str,
        version: str,
        variables: dict[str, Any],
        actor: str | None = None,
        deviation_reason: str | None = None,
    ) -> str:
        """Render an approved template for the run, record it, and return the prompt."""
        template = self.policies.get_template(template_id, str(version))
        text = render_template(template, variables)

        def build(f: RunFacts, p: Policy, at: datetime) -> list[EventIn]:
            check_transition(f.state, _E.PROMPT_RENDERED)
            who = actor or f.initiator or "unknown"
            role = self.tx.role_in_run(f, who)
            payload = {
                "template": {
                    "id": template.id,
                    "version": template.version,
                    "sha256": template.content_hash,
                },
                **self.tx.capture(p, "prompt", text),
            }
            out = [self.tx.event(run_id, _E.PROMPT_RENDERED, at, who, role, payload)]
            problem = check_template(p, template.id, template.version, template.content_hash)
            if problem:
                out.append(
                    self.tx.deviation(
                        p, run_id, at, who, role, "template", problem, deviation_reason
                    )
                )
            return out

        self.tx.act(run_id, build)
        return text

    def record_model_call(
        self,
        run_id: str,
        provider: str,
        model: str,
        parameters: dict[str, Any],
        prompt: str | None,
        output: str | None,
        usage: dict[str, int] | None = None,
        latency_ms: float | None = None,
        *,
        actor: str | None = None,
        error: str | None = None,
        deviation_reason: str | None = None,
    ) -> list[Event]:
        """Record one model call (invoked + responded) under the policy's capture mode.

        A model or parameter set the policy does not approve is refused, or recorded as a
        deviation when the policy allows it and a reason is given.
        """

        def build(f: RunFacts, p: Policy, at: datetime) -> list[EventIn]:
            check_transition(f.state, _E.MODEL_INVOKED)
            who = actor or f.initiator or "unknown"
            role = self.tx.role_in_run(f, who)
            inv: dict[str, Any] = {
                "provider": provider,
                "model": model,
                "parameters": dict(parameters),
            }
            if prompt is not None:
                inv.update(self.tx.capture(p, "prompt", prompt))
            resp: dict[str, Any] = {}
            if output is not None:
                resp.update(self.tx.capture(p, "output", output))
            if usage is not None:
                resp["usage"] = dict(usage)
            if latency_ms is not None:
                resp["latency_ms"] = latency_ms
            if error is not None:
                resp["error"] = error
            out = [
                self.tx.event(run_id, _E.MODEL_INVOKED, at, who, role, inv),
                self.tx.event(run_id, _E.MODEL_RESPONDED, at, who, role, resp),
            ]
            problem = check_model(p, provider, model, dict(parameters))
            if problem:
                out.insert(
                    0,
                    self.tx.deviation(p, run_id, at, who, role, "model", problem, deviation_reason),
                )
            return out

        return self.tx.act(run_id, build)

    # --- reading ------------------------------------------------------------------------

    def view(self, run_id: str) -> RunView:
        """The run with its policy, allowed next actions and what is missing to close."""
        events = self.app.events.require_run_events(run_id)
        facts = run_facts(events, run_id)
        return RunView(facts, events, self.tx.policy_for(facts))

    def review_queue(self, reviewer: str | None = None) -> list[RunState]:
        """Open runs that wait on a person: unassigned, in review, escalated, approved.

        With ``reviewer``, only runs assigned to them, oldest first.
        """
        out: list[RunState] = []
        for status in ("started", "in_review", "escalated", "rejected", "approved"):
            for st in self.app.events.list_runs(status=status):
                if reviewer is None or reviewer in st.reviewers:
                    out.append(st)
        out.sort(key=lambda s: (s.started_at or "", s.run_id))
        return out

    # --- review actions (see ReviewActions) ----------------------------------------------

    def assign_reviewer(self, run_id: str, reviewer: str, by: str) -> Event:
        """Assign a reviewer: not the initiator, qualified on the run date if required."""
        return self.reviews.assign_reviewer(run_id, reviewer, by)

    def acknowledge_guidance(self, run_id: str, actor: str) -> Event:
        """The reviewer confirms they read the policy's reviewer guidance for this task."""
        return self.reviews.acknowledge_guidance(run_id, actor)

    def complete_checklist(self, run_id: str, actor: str, items: dict[str, bool]) -> Event:
        """Record checklist items; names the policy does not list are refused (typos)."""
        return self.reviews.complete_checklist(run_id, actor, items)

    def edit_output(
        self,
        run_id: str,
        actor: str,
        before: str | None,
        after: str | None,
        reason: str | None = None,
        *,
        diff: str | None = None,
    ) -> Event:
        """Record an edit as a unified diff attributed to the reviewer."""
        return self.reviews.edit_output(run_id, actor, before, after, reason, diff=diff)

    def approve(self, run_id: str, actor: str, reason: str | None = None) -> Event:
        """Approve after the policy's minimum review (time, checklist, guidance)."""
        return self.reviews.approve(run_id, actor, reason)

    def reject(self, run_id: str, actor: str, reason: str) -> Event:
        """Reject the output; a reason is required so the rejection can be understood."""
        return self.reviews.reject(run_id, actor, reason)

    def override(self, run_id: str, actor: str, what: str, reason: str) -> Event:
        """Record that ``actor`` overrode ``what`` (a check, a decision) and why."""
        return self.reviews.override(run_id, actor, what, reason)

    def escalate(self, run_id: str, actor: str, reason: str, owner: str) -> Event:
        """Escalate to ``owner``, who must hold the policy's escalation owner role."""
        return self.reviews.escalate(run_id, actor, reason, owner)

    def resolve_escalation(self, run_id: str, actor: str, resolution: str) -> Event:
        """The owner of an open escalation resolves it (oldest first)."""
        return self.reviews.resolve_escalation(run_id, actor, resolution)

    def signoff(self, run_id: str, actor: str, role: str, statement: str | None = None) -> Event:
        """Sign off in ``role``, which the policy must ask for at the run's risk level."""
        return self.reviews.signoff(run_id, actor, role, statement)

    def close(
        self, run_id: str, actor: str, disposition: str, fields: dict[str, Any] | None = None
    ) -> Event:
        """Close the run; refused with the list of what the policy still asks for."""
        return self.reviews.close(run_id, actor, disposition, fields)

    def record_downstream(
        self, run_id: str, actor: str, destination: str, reference: str | None = None
    ) -> Event:
        """Record where the output went; only approved output, only allowed destinations."""
        return self.reviews.record_downstream(run_id, actor, destination, reference)

    def raise_challenge(
        self, run_id: str, actor: str, subject: str, reason: str, owner: str
    ) -> Event:
        """Anyone affected contests the run (``subject='run'``) or one score criterion."""
        return self.reviews.raise_challenge(run_id, actor, subject, reason, owner)

    def resolve_challenge(self, run_id: str, actor: str, subject: str, resolution: str) -> Event:
        """The challenge's owner answers it; the answer is evidence too."""
        return self.reviews.resolve_challenge(run_id, actor, subject, resolution)

    def record_assessment(
        self, run_id: str, actor: str, criterion: str, result: str, rationale: str
    ) -> Event:
        """A human assessor's judgement on one criterion (never by a participant)."""
        return self.reviews.record_assessment(run_id, actor, criterion, result, rationale)
