"""The live run lifecycle: every action is checked against the policy, then recorded.

Each method opens one write transaction, reads the run's events inside it, asks the pure
rules in :mod:`raidt.core.workflow`, and appends the new events in the same transaction.
Because writes are serialised by the store, two people acting at once cannot both pass a
check that only one of them should (two sign-offs for one role, an approval racing a
rejection). Importing history does not come through here: it records what happened.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from pydantic import ValidationError as PydanticValidationError

from raidt.core.actors import Actor, ActorDirectory
from raidt.core.events import ActorRef, Event, EventIn, EventType, Role
from raidt.core.hashing import sha256_hex
from raidt.core.ids import new_id
from raidt.core.policy import Policy, PromptTemplate
from raidt.core.projection import RunState
from raidt.core.redaction import capture_fields, redact
from raidt.core.timefmt import utcnow
from raidt.core.workflow import (
    RunFacts,
    allowed_next,
    check_approve,
    check_assessor,
    check_challenge_resolver,
    check_downstream,
    check_escalation_owner,
    check_escalation_resolver,
    check_model,
    check_qualified,
    check_reviewer_acting,
    check_separation,
    check_signoff,
    check_template,
    check_transition,
    missing_for_close,
    run_facts,
)
from raidt.errors import (
    IntegrityError,
    NotFoundError,
    PolicyViolation,
    ValidationError,
    WorkflowError,
)
from raidt.services.app import App

__all__ = ["PolicySource", "RunView", "WorkflowService", "render_template", "unified_diff"]

_E = EventType
_VAR = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class PolicySource(Protocol):
    """Where the service finds policies, templates and actors (``PolicyService`` fits)."""

    def get(self, policy_id: str, version: str | None = None) -> Policy: ...
    def policy_in_force(self, policy_id: str, at: datetime) -> Policy: ...
    def get_template(self, template_id: str, version: str | None = None) -> PromptTemplate: ...
    def actor_directory(self) -> ActorDirectory: ...


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
        self.app = app
        if policies is None:
            from raidt.services.policies import PolicyService

            policies = PolicyService(app)
        self.policies: PolicySource = policies
        self.now = now or utcnow

    # --- plumbing -----------------------------------------------------------------------

    def _actor(self, actor_id: str) -> Actor | None:
        return self.policies.actor_directory().get(actor_id)

    def _template_hash(self, template_id: str, version: str) -> str | None:
        """The stored template's content hash, or None when the store does not hold it."""
        try:
            return self.policies.get_template(template_id, version).content_hash
        except NotFoundError:
            return None

    def _policy_for(self, facts: RunFacts) -> Policy:
        ref = facts.started.get("policy")
        if isinstance(ref, dict) and ref.get("id"):
            policy = self.policies.get(str(ref["id"]), str(ref.get("version")))
            want = ref.get("sha256")
            if want and want != policy.content_hash:
                raise IntegrityError(
                    f"policy {policy.id}@{policy.version} in the store does not match the "
                    f"hash recorded when run {facts.run_id} started"
                )
            return policy
        use_case = facts.state.use_case
        if not use_case or facts.started_at is None:
            raise WorkflowError(f"run {facts.run_id} has no run.started event")
        return self.policies.policy_in_force(use_case, facts.started_at)

    def _act(
        self, run_id: str, build: Callable[[RunFacts, Policy, datetime], list[EventIn]]
    ) -> list[Event]:
        """Read, check and append in one serialised write transaction."""
        at = self.now()
        with self.app.db.write() as conn:
            events = self.app.events.run_events(run_id, conn=conn)
            if not events:
                raise NotFoundError(f"no run with id {run_id!r}")
            facts = run_facts(events, run_id)
            policy = self._policy_for(facts)
            new = build(facts, policy, at)
            return self.app.events.append_in(conn, new)

    @staticmethod
    def _ev(
        run_id: str,
        type_: EventType,
        at: datetime,
        actor: str,
        role: Role | str,
        payload: dict[str, Any],
    ) -> EventIn:
        try:
            return EventIn(
                run_id=run_id,
                type=type_,
                at=at,
                actor=ActorRef(id=actor, role=Role(role)),
                payload=payload,
            )
        except PydanticValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(x) for x in err["loc"])
            raise ValidationError(f"{type_.value}: {where}: {err['msg']}") from None

    @staticmethod
    def _role_in_run(facts: RunFacts, actor: str) -> Role:
        """The role an actor acts in when the action itself does not name one."""
        if actor in facts.assigned_at:
            return Role.REVIEWER
        if actor == facts.initiator:
            return Role.INITIATOR
        held = facts.roles_held.get(actor, set())
        for r in (Role.ESCALATION_OWNER, Role.APPROVER):
            if r.value in held:
                return r
        return Role.ADMIN

    @staticmethod
    def _capture(policy: Policy, key: str, text: str) -> dict[str, Any]:
        """The payload fields for a prompt/output under the policy's capture mode."""
        return dict(capture_fields(key, text, policy))

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

    def _deviation(
        self,
        policy: Policy,
        run_id: str,
        at: datetime,
        actor: str,
        role: Role,
        what: str,
        problem: str,
        reason: str | None,
    ) -> EventIn:
        if not policy.allow_deviations:
            raise PolicyViolation(
                f"{problem}; policy {policy.id} allows no deviations", rule="approved_" + what
            )
        if not reason:
            raise PolicyViolation(
                f"{problem}; give a deviation reason to proceed anyway", rule="approved_" + what
            )
        return self._ev(
            run_id,
            _E.DEVIATION_RECORDED,
            at,
            actor,
            role,
            {"what": what, "reason": reason, "detail": problem},
        )

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

    # --- review -------------------------------------------------------------------------

    def assign_reviewer(self, run_id: str, reviewer: str, by: str) -> Event:
        """Assign a reviewer: not the initiator, qualified on the run date if required."""

        def build(f: RunFacts, p: Policy, at: datetime) -> list[EventIn]:
            check_transition(f.state, _E.REVIEW_ASSIGNED)
            check_separation(f, p, reviewer, "reviewer")
            who = self._actor(reviewer)
            if who is not None and who.kind != "person":
                raise PolicyViolation(
                    f"{reviewer} is a system component, not a person; a reviewer must be a person",
                    rule="reviewer",
                )
            check_qualified(p, "reviewer", reviewer, who, f.started_at or at)
            return [
                self._ev(
                    run_id,
                    _E.REVIEW_ASSIGNED,
                    at,
                    by,
                    self._role_in_run(f, by),
                    {"reviewer": {"id": reviewer, "role": "reviewer"}},
                )
            ]

        return self._act(run_id, build)[0]

    def acknowledge_guidance(self, run_id: str, actor: str) -> Event:
        """The reviewer confirms they read the policy's reviewer guidance for this task."""

        def build(f: RunFacts, p: Policy, at: datetime) -> list[EventIn]:
            check_transition(f.state, _E.GUIDANCE_ACKNOWLEDGED)
            check_reviewer_acting(f, actor, "acknowledge guidance")
            g = p.review.guidance
            if g is None:
                raise WorkflowError(f"policy {p.id} has no reviewer guidance to acknowledge")
            return [
                self._ev(
                    run_id,
                    _E.GUIDANCE_ACKNOWLEDGED,
                    at,
                    actor,
                    Role.REVIEWER,
                    {
                        "guidance": {
                            "id": g.id,
                            "version": g.version,
                            "sha256": sha256_hex(g.text.encode("utf-8")),
                        }
                    },
                )
            ]

        return self._act(run_id, build)[0]

    def complete_checklist(self, run_id: str, actor: str, items: dict[str, bool]) -> Event:
        """Record checklist items; names the policy does not list are refused (typos)."""

        def build(f: RunFacts, p: Policy, at: datetime) -> list[EventIn]:
            check_transition(f.state, _E.CHECKLIST_COMPLETED)
            check_reviewer_acting(f, actor, "complete the checklist")
            unknown = [k for k in items if k not in p.review.checklist]
            if unknown or not items:
                listed = "; ".join(p.review.checklist) or "none"
                raise ValidationError(
                    f"unknown checklist item(s): {', '.join(unknown) or '(none given)'}; "
                    f"policy {p.id} lists: {listed}"
                )
            return [
                self._ev(
                    run_id, _E.CHECKLIST_COMPLETED, at, actor, Role.REVIEWER, {"items": dict(items)}
                )
            ]

        return self._act(run_id, build)[0]

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
        """Record an edit as a unified diff attributed to the reviewer.

        Under digest-only capture only the hashes of both versions are kept; under
        redacted capture the diff is taken between the redacted texts.
        """
        if diff is None and (before is None or after is None):
            raise ValidationError("give the text before and after the edit, or a diff")
        if diff is not None and not diff.strip():
            raise ValidationError("the diff is empty")
        if diff is None and before == after:
            raise ValidationError("the edit changes nothing (before and after are equal)")

        def build(f: RunFacts, p: Policy, at: datetime) -> list[EventIn]:
            check_transition(f.state, _E.OUTPUT_EDITED)
            check_reviewer_acting(f, actor, "edit the output")
            payload: dict[str, Any] = {}
            if before is not None and after is not None:
                b, a = before, after
                if p.capture.mode == "redacted":
                    b, a = redact(b, p), redact(a, p)
                payload["before_sha256"] = sha256_hex(b.encode("utf-8"))
                payload["after_sha256"] = sha256_hex(a.encode("utf-8"))
                if diff is None and p.capture.mode != "digest":
                    payload["diff"] = unified_diff(b, a)
            if diff is not None:
                payload["diff"] = redact(diff, p) if p.capture.mode == "redacted" else diff
            if reason:
                payload["reason"] = reason
            return [self._ev(run_id, _E.OUTPUT_EDITED, at, actor, Role.REVIEWER, payload)]

        return self._act(run_id, build)[0]

    def approve(self, run_id: str, actor: str, reason: str | None = None) -> Event:
        """Approve after the policy's minimum review (time, checklist, guidance)."""

        def build(f: RunFacts, p: Policy, at: datetime) -> list[EventIn]:
            check_transition(f.state, _E.REVIEW_APPROVED)
            check_reviewer_acting(f, actor, "approve")
            check_separation(f, p, actor, "reviewer")
            check_qualified(p, "reviewer", actor, self._actor(actor), f.started_at or at)
            check_approve(f, p, actor, at)
            return [
                self._ev(
                    run_id,
                    _E.REVIEW_APPROVED,
                    at,
                    actor,
                    Role.REVIEWER,
                    {"reason": reason} if reason else {},
                )
            ]

        return self._act(run_id, build)[0]

    def reject(self, run_id: str, actor: str, reason: str) -> Event:
        """Reject the output; a reason is required so the rejection can be understood."""
        if not reason or not reason.strip():
            raise ValidationError("a rejection needs a reason")

        def build(f: RunFacts, p: Policy, at: datetime) -> list[EventIn]:
            check_transition(f.state, _E.REVIEW_REJECTED)
            check_reviewer_acting(f, actor, "reject")
            check_separation(f, p, actor, "reviewer")
            return [
                self._ev(run_id, _E.REVIEW_REJECTED, at, actor, Role.REVIEWER, {"reason": reason})
            ]

        return self._act(run_id, build)[0]

    def override(self, run_id: str, actor: str, what: str, reason: str) -> Event:
        """Record that ``actor`` overrode ``what`` (a check, a decision) and why."""
        if not what.strip() or not reason.strip():
            raise ValidationError("an override needs both 'what' and a 'reason'")

        def build(f: RunFacts, p: Policy, at: datetime) -> list[EventIn]:
            check_transition(f.state, _E.OVERRIDE_RECORDED)
            return [
                self._ev(
                    run_id,
                    _E.OVERRIDE_RECORDED,
                    at,
                    actor,
                    self._role_in_run(f, actor),
                    {"what": what, "reason": reason},
                )
            ]

        return self._act(run_id, build)[0]

    def escalate(self, run_id: str, actor: str, reason: str, owner: str) -> Event:
        """Escalate to ``owner``, who must hold the policy's escalation owner role."""
        if not reason.strip():
            raise ValidationError("an escalation needs a reason")

        def build(f: RunFacts, p: Policy, at: datetime) -> list[EventIn]:
            check_transition(f.state, _E.ESCALATION_RAISED)
            check_escalation_owner(f, p, owner, self._actor(owner))
            role = p.escalation.owner_role
            owner_role = role if role in Role.__members__.values() else "escalation_owner"
            check_separation(f, p, owner, owner_role)
            return [
                self._ev(
                    run_id,
                    _E.ESCALATION_RAISED,
                    at,
                    actor,
                    self._role_in_run(f, actor),
                    {
                        "reason": reason,
                        "owner": {"id": owner, "role": owner_role},
                        **({"owner_role": role} if role != owner_role else {}),
                    },
                )
            ]

        return self._act(run_id, build)[0]

    def resolve_escalation(self, run_id: str, actor: str, resolution: str) -> Event:
        """The owner of an open escalation resolves it (oldest first)."""
        if not resolution.strip():
            raise ValidationError("a resolution must say how the escalation was resolved")

        def build(f: RunFacts, p: Policy, at: datetime) -> list[EventIn]:
            check_transition(f.state, _E.ESCALATION_RESOLVED)
            esc = check_escalation_resolver(f, actor)
            return [
                self._ev(
                    run_id,
                    _E.ESCALATION_RESOLVED,
                    at,
                    actor,
                    Role.ESCALATION_OWNER,
                    {"resolution": resolution, "escalation": esc["id"]},
                )
            ]

        return self._act(run_id, build)[0]

    def signoff(self, run_id: str, actor: str, role: str, statement: str | None = None) -> Event:
        """Sign off in ``role``, which the policy must ask for at the run's risk level."""

        def build(f: RunFacts, p: Policy, at: datetime) -> list[EventIn]:
            check_transition(f.state, _E.SIGNOFF_RECORDED)
            check_signoff(f, p, actor, role, self._actor(actor))
            act_role = Role(role) if role in Role.__members__.values() else Role.APPROVER
            payload: dict[str, Any] = {"role": role}
            if statement:
                payload["statement"] = statement
            return [self._ev(run_id, _E.SIGNOFF_RECORDED, at, actor, act_role, payload)]

        return self._act(run_id, build)[0]

    def close(
        self, run_id: str, actor: str, disposition: str, fields: dict[str, Any] | None = None
    ) -> Event:
        """Close the run; refused with the list of what the policy still asks for."""
        extra = dict(fields or {})

        def build(f: RunFacts, p: Policy, at: datetime) -> list[EventIn]:
            if f.state.status == "closed":
                check_transition(f.state, _E.RUN_CLOSED)
            missing = missing_for_close(f, p, disposition, extra, now=at)
            if missing:
                raise PolicyViolation(
                    f"cannot close run {run_id}; missing: " + "; ".join(missing),
                    rule="close",
                    missing=missing,
                )
            check_transition(f.state, _E.RUN_CLOSED)
            return [
                self._ev(
                    run_id,
                    _E.RUN_CLOSED,
                    at,
                    actor,
                    self._role_in_run(f, actor),
                    {**extra, "disposition": disposition},
                )
            ]

        return self._act(run_id, build)[0]

    def record_downstream(
        self, run_id: str, actor: str, destination: str, reference: str | None = None
    ) -> Event:
        """Record where the output went; only approved output, only allowed destinations."""

        def build(f: RunFacts, p: Policy, at: datetime) -> list[EventIn]:
            check_transition(f.state, _E.DOWNSTREAM_USED)
            if f.state.status == "closed" and f.state.disposition not in (
                "accepted",
                "accepted_with_edits",
            ):
                raise WorkflowError(
                    f"run {run_id} closed as {f.state.disposition}; its output may not be "
                    f"used downstream"
                )
            check_downstream(p, destination)
            payload = {"destination": destination}
            if reference:
                payload["reference"] = reference
            return [
                self._ev(
                    run_id, _E.DOWNSTREAM_USED, at, actor, self._role_in_run(f, actor), payload
                )
            ]

        return self._act(run_id, build)[0]

    # --- contestability -----------------------------------------------------------------

    def raise_challenge(
        self, run_id: str, actor: str, subject: str, reason: str, owner: str
    ) -> Event:
        """Anyone affected contests the run (``subject='run'``) or one score criterion."""
        if not subject.strip() or not reason.strip():
            raise ValidationError(
                "a challenge needs a subject ('run' or a criterion id) and a reason"
            )
        if owner == actor:
            raise PolicyViolation(
                f"{actor} cannot own a challenge they raise; name who must answer it",
                rule="challenge_owner",
            )

        def build(f: RunFacts, p: Policy, at: datetime) -> list[EventIn]:
            check_transition(f.state, _E.CHALLENGE_RAISED)
            return [
                self._ev(
                    run_id,
                    _E.CHALLENGE_RAISED,
                    at,
                    actor,
                    Role.AFFECTED,
                    {
                        "subject": subject,
                        "reason": reason,
                        "owner": {"id": owner, "role": "escalation_owner"},
                    },
                )
            ]

        return self._act(run_id, build)[0]

    def resolve_challenge(self, run_id: str, actor: str, subject: str, resolution: str) -> Event:
        """The challenge's owner answers it; the answer is evidence too."""
        if not resolution.strip():
            raise ValidationError("a resolution must say how the challenge was answered")

        def build(f: RunFacts, p: Policy, at: datetime) -> list[EventIn]:
            check_transition(f.state, _E.CHALLENGE_RESOLVED)
            ch = check_challenge_resolver(f, actor, subject)
            return [
                self._ev(
                    run_id,
                    _E.CHALLENGE_RESOLVED,
                    at,
                    actor,
                    Role.ESCALATION_OWNER,
                    {"subject": subject, "resolution": resolution, "challenge": ch["id"]},
                )
            ]

        return self._act(run_id, build)[0]

    def record_assessment(
        self, run_id: str, actor: str, criterion: str, result: str, rationale: str
    ) -> Event:
        """A human assessor's judgement on one criterion (never by a participant)."""

        def build(f: RunFacts, p: Policy, at: datetime) -> list[EventIn]:
            check_transition(f.state, _E.ASSESSMENT_RECORDED)
            check_assessor(f, actor)
            return [
                self._ev(
                    run_id,
                    _E.ASSESSMENT_RECORDED,
                    at,
                    actor,
                    Role.ASSESSOR,
                    {"criterion": criterion, "result": result, "rationale": rationale},
                )
            ]

        return self._act(run_id, build)[0]

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


def unified_diff(before: str, after: str) -> str:
    """A unified diff between two texts, line by line (what ``output.edited`` stores)."""
    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile="before",
        tofile="after",
    )
    return "".join(x if x.endswith("\n") else x + "\n\\ No newline at end of file\n" for x in lines)
