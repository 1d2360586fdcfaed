"""The live run lifecycle: every action is checked against the policy, then recorded.

:class:`WorkflowService` is what adapters (review CLI, API, web UI, gateway) call. It
starts runs, renders prompts and records model calls here, and takes every later action
through :class:`~raidt.services.review_actions.ReviewActions`; each action reads, checks
and appends in one serialised write transaction (see
:class:`~raidt.services.run_transactions.RunTransactions`), so two people acting at once
cannot both pass a check that only one of them should. Importing history does not come
through here: it records what happened.

:class:`PolicySource` and :func:`unified_diff` moved out with the code that uses them and
are re-exported here, so every name in ``__all__`` still imports from this module.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
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
from raidt.services.review_actions import ReviewActions, unified_diff
from raidt.services.run_transactions import PolicySource

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


class WorkflowService(ReviewActions):
    """Start runs and act on them, enforcing the run's policy before anything is recorded.

    Args:
        app: the open store.
        policies: where policies, templates and actors come from; by default the
            ``PolicyService`` of the same store.
        now: the clock (injected in tests so review times are exact).
    """

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
            stored = self._template_hash(tref["id"], tref["version"])
            if stored:
                tref["sha256"] = stored
            problem = check_template(policy, tref["id"], tref["version"], stored)
        elif policy.approved_templates:
            approved = ", ".join(f"{t.id}@{t.version}" for t in policy.approved_templates)
            problem = f"policy {policy.id} asks for an approved template ({approved})"
        check_qualified(policy, "initiator", initiator, self._actor(initiator), when)
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
        new = [self._ev(rid, _E.RUN_STARTED, when, initiator, Role.INITIATOR, payload)]
        if problem:
            new.append(
                self._deviation(
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
            role = self._role_in_run(f, who)
            payload = {
                "template": {
                    "id": template.id,
                    "version": template.version,
                    "sha256": template.content_hash,
                },
                **self._capture(p, "prompt", text),
            }
            out = [self._ev(run_id, _E.PROMPT_RENDERED, at, who, role, payload)]
            problem = check_template(p, template.id, template.version, template.content_hash)
            if problem:
                out.append(
                    self._deviation(p, run_id, at, who, role, "template", problem, deviation_reason)
                )
            return out

        self._act(run_id, build)
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
            role = self._role_in_run(f, who)
            inv: dict[str, Any] = {
                "provider": provider,
                "model": model,
                "parameters": dict(parameters),
            }
            if prompt is not None:
                inv.update(self._capture(p, "prompt", prompt))
            resp: dict[str, Any] = {}
            if output is not None:
                resp.update(self._capture(p, "output", output))
            if usage is not None:
                resp["usage"] = dict(usage)
            if latency_ms is not None:
                resp["latency_ms"] = latency_ms
            if error is not None:
                resp["error"] = error
            out = [
                self._ev(run_id, _E.MODEL_INVOKED, at, who, role, inv),
                self._ev(run_id, _E.MODEL_RESPONDED, at, who, role, resp),
            ]
            problem = check_model(p, provider, model, dict(parameters))
            if problem:
                out.insert(
                    0, self._deviation(p, run_id, at, who, role, "model", problem, deviation_reason)
                )
            return out

        return self._act(run_id, build)

    # --- reading ------------------------------------------------------------------------

    def view(self, run_id: str) -> RunView:
        """The run with its policy, allowed next actions and what is missing to close."""
        events = self.app.events.require_run_events(run_id)
        facts = run_facts(events, run_id)
        return RunView(facts, events, self._policy_for(facts))

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
