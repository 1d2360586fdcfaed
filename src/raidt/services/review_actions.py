"""The reviewer's side of the live workflow: review, approve, escalate, sign off, close.

:class:`ReviewActions` holds every action taken on a run after it started: assigning and
acting as a reviewer (guidance, checklist, edits, approval or rejection), overrides,
escalations, sign-offs, closing, downstream use, and contestability (challenges and
assessments). Each one checks the pure rules of :mod:`raidt.core.review_rules` and the
state machine of :mod:`raidt.core.workflow` inside the run's write transaction (see
:class:`~raidt.services.run_transactions.RunTransactions`, which it is given) before
recording anything. :class:`~raidt.services.workflow.WorkflowService` holds one and offers
its actions beside starting runs and recording model calls; adapters use that class.
"""

from __future__ import annotations

import difflib
from datetime import datetime
from typing import Any

from raidt.core.events import Event, EventIn, EventType, Role
from raidt.core.hashing import sha256_hex
from raidt.core.policy import Policy
from raidt.core.redaction import redact
from raidt.core.review_rules import (
    check_approve,
    check_assessor,
    check_challenge_resolver,
    check_downstream,
    check_escalation_owner,
    check_escalation_resolver,
    check_qualified,
    check_reviewer_acting,
    check_separation,
    check_signoff,
    missing_for_close,
)
from raidt.core.run_facts import RunFacts
from raidt.core.workflow import check_transition
from raidt.errors import PolicyViolation, ValidationError, WorkflowError
from raidt.services.run_transactions import RunTransactions

__all__ = ["ReviewActions", "unified_diff"]

_E = EventType


class ReviewActions:
    """Actions on a started run, each checked against its policy, then recorded.

    Args:
        tx: the shared store, policy source, clock and read-check-append plumbing.
    """

    def __init__(self, tx: RunTransactions) -> None:
        self.tx = tx

    # --- review -------------------------------------------------------------------------

    def assign_reviewer(self, run_id: str, reviewer: str, by: str) -> Event:
        """Assign a reviewer: not the initiator, qualified on the run date if required."""

        def build(f: RunFacts, p: Policy, at: datetime) -> list[EventIn]:
            check_transition(f.state, _E.REVIEW_ASSIGNED)
            check_separation(f, p, reviewer, "reviewer")
            who = self.tx.find_actor(reviewer)
            if who is not None and who.kind != "person":
                raise PolicyViolation(
                    f"{reviewer} is a system component, not a person; a reviewer must be a person",
                    rule="reviewer",
                )
            check_qualified(p, "reviewer", reviewer, who, f.started_at or at)
            return [
                self.tx.event(
                    run_id,
                    _E.REVIEW_ASSIGNED,
                    at,
                    by,
                    self.tx.role_in_run(f, by),
                    {"reviewer": {"id": reviewer, "role": "reviewer"}},
                )
            ]

        return self.tx.act(run_id, build)[0]

    def acknowledge_guidance(self, run_id: str, actor: str) -> Event:
        """The reviewer confirms they read the policy's reviewer guidance for this task."""

        def build(f: RunFacts, p: Policy, at: datetime) -> list[EventIn]:
            check_transition(f.state, _E.GUIDANCE_ACKNOWLEDGED)
            check_reviewer_acting(f, actor, "acknowledge guidance")
            g = p.review.guidance
            if g is None:
                raise WorkflowError(f"policy {p.id} has no reviewer guidance to acknowledge")
            return [
                self.tx.event(
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

        return self.tx.act(run_id, build)[0]

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
                self.tx.event(
                    run_id, _E.CHECKLIST_COMPLETED, at, actor, Role.REVIEWER, {"items": dict(items)}
                )
            ]

        return self.tx.act(run_id, build)[0]

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
            return [self.tx.event(run_id, _E.OUTPUT_EDITED, at, actor, Role.REVIEWER, payload)]

        return self.tx.act(run_id, build)[0]

    def approve(self, run_id: str, actor: str, reason: str | None = None) -> Event:
        """Approve after the policy's minimum review (time, checklist, guidance)."""

        def build(f: RunFacts, p: Policy, at: datetime) -> list[EventIn]:
            check_transition(f.state, _E.REVIEW_APPROVED)
            check_reviewer_acting(f, actor, "approve")
            check_separation(f, p, actor, "reviewer")
            check_qualified(p, "reviewer", actor, self.tx.find_actor(actor), f.started_at or at)
            check_approve(f, p, actor, at)
            return [
                self.tx.event(
                    run_id,
                    _E.REVIEW_APPROVED,
                    at,
                    actor,
                    Role.REVIEWER,
                    {"reason": reason} if reason else {},
                )
            ]

        return self.tx.act(run_id, build)[0]

    def reject(self, run_id: str, actor: str, reason: str) -> Event:
        """Reject the output; a reason is required so the rejection can be understood."""
        if not reason or not reason.strip():
            raise ValidationError("a rejection needs a reason")

        def build(f: RunFacts, p: Policy, at: datetime) -> list[EventIn]:
            check_transition(f.state, _E.REVIEW_REJECTED)
            check_reviewer_acting(f, actor, "reject")
            check_separation(f, p, actor, "reviewer")
            return [
                self.tx.event(
                    run_id, _E.REVIEW_REJECTED, at, actor, Role.REVIEWER, {"reason": reason}
                )
            ]

        return self.tx.act(run_id, build)[0]

    def override(self, run_id: str, actor: str, what: str, reason: str) -> Event:
        """Record that ``actor`` overrode ``what`` (a check, a decision) and why."""
        if not what.strip() or not reason.strip():
            raise ValidationError("an override needs both 'what' and a 'reason'")

        def build(f: RunFacts, p: Policy, at: datetime) -> list[EventIn]:
            check_transition(f.state, _E.OVERRIDE_RECORDED)
            return [
                self.tx.event(
                    run_id,
                    _E.OVERRIDE_RECORDED,
                    at,
                    actor,
                    self.tx.role_in_run(f, actor),
                    {"what": what, "reason": reason},
                )
            ]

        return self.tx.act(run_id, build)[0]

    def escalate(self, run_id: str, actor: str, reason: str, owner: str) -> Event:
        """Escalate to ``owner``, who must hold the policy's escalation owner role."""
        if not reason.strip():
            raise ValidationError("an escalation needs a reason")

        def build(f: RunFacts, p: Policy, at: datetime) -> list[EventIn]:
            check_transition(f.state, _E.ESCALATION_RAISED)
            check_escalation_owner(f, p, owner, self.tx.find_actor(owner))
            role = p.escalation.owner_role
            owner_role = role if role in Role.__members__.values() else "escalation_owner"
            check_separation(f, p, owner, owner_role)
            return [
                self.tx.event(
                    run_id,
                    _E.ESCALATION_RAISED,
                    at,
                    actor,
                    self.tx.role_in_run(f, actor),
                    {
                        "reason": reason,
                        "owner": {"id": owner, "role": owner_role},
                        **({"owner_role": role} if role != owner_role else {}),
                    },
                )
            ]

        return self.tx.act(run_id, build)[0]

    def resolve_escalation(self, run_id: str, actor: str, resolution: str) -> Event:
        """The owner of an open escalation resolves it (oldest first)."""
        if not resolution.strip():
            raise ValidationError("a resolution must say how the escalation was resolved")

        def build(f: RunFacts, p: Policy, at: datetime) -> list[EventIn]:
            check_transition(f.state, _E.ESCALATION_RESOLVED)
            esc = check_escalation_resolver(f, actor)
            return [
                self.tx.event(
                    run_id,
                    _E.ESCALATION_RESOLVED,
                    at,
                    actor,
                    Role.ESCALATION_OWNER,
                    {"resolution": resolution, "escalation": esc["id"]},
                )
            ]

        return self.tx.act(run_id, build)[0]

    def signoff(self, run_id: str, actor: str, role: str, statement: str | None = None) -> Event:
        """Sign off in ``role``, which the policy must ask for at the run's risk level."""

        def build(f: RunFacts, p: Policy, at: datetime) -> list[EventIn]:
            check_transition(f.state, _E.SIGNOFF_RECORDED)
            check_signoff(f, p, actor, role, self.tx.find_actor(actor))
            act_role = Role(role) if role in Role.__members__.values() else Role.APPROVER
            payload: dict[str, Any] = {"role": role}
            if statement:
                payload["statement"] = statement
            return [self.tx.event(run_id, _E.SIGNOFF_RECORDED, at, actor, act_role, payload)]

        return self.tx.act(run_id, build)[0]

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
                self.tx.event(
                    run_id,
                    _E.RUN_CLOSED,
                    at,
                    actor,
                    self.tx.role_in_run(f, actor),
                    {**extra, "disposition": disposition},
                )
            ]

        return self.tx.act(run_id, build)[0]

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
                self.tx.event(
                    run_id, _E.DOWNSTREAM_USED, at, actor, self.tx.role_in_run(f, actor), payload
                )
            ]

        return self.tx.act(run_id, build)[0]

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
                self.tx.event(
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

        return self.tx.act(run_id, build)[0]

    def resolve_challenge(self, run_id: str, actor: str, subject: str, resolution: str) -> Event:
        """The challenge's owner answers it; the answer is evidence too."""
        if not resolution.strip():
            raise ValidationError("a resolution must say how the challenge was answered")

        def build(f: RunFacts, p: Policy, at: datetime) -> list[EventIn]:
            check_transition(f.state, _E.CHALLENGE_RESOLVED)
            ch = check_challenge_resolver(f, actor, subject)
            return [
                self.tx.event(
                    run_id,
                    _E.CHALLENGE_RESOLVED,
                    at,
                    actor,
                    Role.ESCALATION_OWNER,
                    {"subject": subject, "resolution": resolution, "challenge": ch["id"]},
                )
            ]

        return self.tx.act(run_id, build)[0]

    def record_assessment(
        self, run_id: str, actor: str, criterion: str, result: str, rationale: str
    ) -> Event:
        """A human assessor's judgement on one criterion (never by a participant)."""

        def build(f: RunFacts, p: Policy, at: datetime) -> list[EventIn]:
            check_transition(f.state, _E.ASSESSMENT_RECORDED)
            check_assessor(f, actor)
            return [
                self.tx.event(
                    run_id,
                    _E.ASSESSMENT_RECORDED,
                    at,
                    actor,
                    Role.ASSESSOR,
                    {"criterion": criterion, "result": result, "rationale": rationale},
                )
            ]

        return self.tx.act(run_id, build)[0]


def unified_diff(before: str, after: str) -> str:
    """A unified diff between two texts, line by line (what ``output.edited`` stores)."""
    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile="before",
        tofile="after",
    )
    return "".join(x if x.endswith("\n") else x + "\n\\ No newline at end of file\n" for x in lines)
