"""The shared plumbing of the live workflow: read a run, check, append, in one transaction.

:class:`RunTransactions` is the collaborator that
:class:`~raidt.services.workflow.WorkflowService` and its
:class:`~raidt.services.review_actions.ReviewActions` are given. Each action opens one write
transaction, reads the run's events inside it, works out the run's facts and the policy
the run started under, asks the pure rules in :mod:`raidt.core.review_rules` and
:mod:`raidt.core.workflow`, and appends the new events in the same transaction. Because
writes are serialised by the store, two people acting at once cannot both pass a check
that only one of them should (two sign-offs for one role, an approval racing a
rejection). It lives apart from the actions so that they and the service can share one
instance without importing each other.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from pydantic import ValidationError as PydanticValidationError

from raidt.core.actors import Actor
from raidt.core.events import ActorRef, Event, EventIn, EventType, Role
from raidt.core.policy import Policy, PromptTemplate
from raidt.core.redaction import capture_fields
from raidt.core.run_facts import RunFacts, run_facts
from raidt.core.timefmt import utcnow
from raidt.errors import (
    IntegrityError,
    NotFoundError,
    PolicyViolation,
    ValidationError,
    WorkflowError,
)
from raidt.services.app import App

__all__ = ["PolicySource", "RunTransactions"]

_E = EventType


class PolicySource(Protocol):
    """Where the service finds policies, templates and actors (``PolicyService`` fits)."""

    def get(self, policy_id: str, version: str | None = None) -> Policy: ...
    def policy_in_force(self, policy_id: str, at: datetime) -> Policy: ...
    def get_template(self, template_id: str, version: str | None = None) -> PromptTemplate: ...
    def find_actor(self, actor_id: str) -> Actor | None: ...


class RunTransactions:
    """The store, policy source and clock every workflow action shares, and its plumbing.

    :class:`~raidt.services.workflow.WorkflowService` builds one from its own arguments;
    adapters construct the service, not this.

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

    def find_actor(self, actor_id: str) -> Actor | None:
        """The actor's current directory entry (one row read, not the whole directory)."""
        return self.policies.find_actor(actor_id)

    def template_hash(self, template_id: str, version: str) -> str | None:
        """The stored template's content hash, or None when the store does not hold it."""
        try:
            return self.policies.get_template(template_id, version).content_hash
        except NotFoundError:
            return None

    def policy_for(self, facts: RunFacts) -> Policy:
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

    def act(
        self, run_id: str, build: Callable[[RunFacts, Policy, datetime], list[EventIn]]
    ) -> list[Event]:
        """Read, check and append in one serialised write transaction."""
        at = self.now()
        with self.app.db.write() as conn:
            events = self.app.events.run_events(run_id, conn=conn)
            if not events:
                raise NotFoundError(f"no run with id {run_id!r}")
            facts = run_facts(events, run_id)
            policy = self.policy_for(facts)
            new = build(facts, policy, at)
            return self.app.events.append_in(conn, new)

    @staticmethod
    def event(
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
    def role_in_run(facts: RunFacts, actor: str) -> Role:
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
    def capture(policy: Policy, key: str, text: str) -> dict[str, Any]:
        """The payload fields for a prompt/output under the policy's capture mode."""
        return dict(capture_fields(key, text, policy))

    def deviation(
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
        return self.event(
            run_id,
            _E.DEVIATION_RECORDED,
            at,
            actor,
            role,
            {"what": what, "reason": reason, "detail": problem},
        )
