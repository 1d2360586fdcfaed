"""Whether a run's review was human oversight or a click to approve.

The framework's central warning is that a nominal review is not oversight. The presence of
a ``review.approved`` event says nothing by itself; what counts is who decided, whether they
were the person the run was given to, whether the output they decided on existed yet, how
long they had it, and whether the checklist was worked through or ticked at the moment of
approval. :func:`judge_review` answers that once per run; the ``substantive_review`` check,
the weak-point facts (``rubber_stamp``) and the reviewer-workload rule all read the same
answer, so the score and the dashboard can never disagree about what happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from raidt.core.checks._base import CheckContext, EvidenceEvent, RunEvidence
from raidt.core.events import EventType, Role

__all__ = ["ReviewJudgement", "judge_review"]

_DECISIONS = (EventType.REVIEW_APPROVED, EventType.REVIEW_REJECTED)
_OUTPUTS = (EventType.MODEL_RESPONDED, EventType.OUTPUT_EDITED)


@dataclass(frozen=True, slots=True)
class ReviewJudgement:
    """The decision that settled the run's output, and why it is (not) oversight.

    ``problems`` is empty when the decision counts as human oversight; otherwise each entry
    says in words what is missing. ``window_start``/``seconds`` measure the review from the
    later of the decider's assignment and the latest output or revision before the decision.
    """

    decision: EvidenceEvent | None
    reviewer: str | None
    window_start: datetime | None
    start_label: str
    seconds: float | None
    required_seconds: float
    problems: tuple[str, ...]
    cited: tuple[EvidenceEvent, ...]

    @property
    def approved(self) -> bool:
        return self.decision is not None and self.decision.type is EventType.REVIEW_APPROVED

    @property
    def substantive(self) -> bool:
        return self.decision is not None and not self.problems


def _ref_id(value: object) -> str | None:
    if isinstance(value, dict) and value.get("id"):
        return str(value["id"])
    return None


def _secs(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds()


def judge_review(ev: RunEvidence, ctx: CheckContext) -> ReviewJudgement:
    """Judge the decision that released (or stopped) the run's output.

    The decision judged is the last approval, or, when nothing was approved, the last
    rejection (stopping an output needs no minimum reading time, but it must still be a
    person's decision on an output that existed). Worked out once per run and policy.
    """
    key = ("review", id(ctx.policy), tuple(sorted(ctx.params.items())))
    hit = ev.memo.get(key)
    if hit is None:
        hit = ev.memo[key] = _judge(ev, ctx)
    return hit  # type: ignore[return-value]


def _judge(ev: RunEvidence, ctx: CheckContext) -> ReviewJudgement:
    policy = ctx.policy
    floor = float(ctx.param("rubber_stamp_seconds", 30))
    minimum = float(policy.review.min_seconds if policy else ctx.param("min_seconds", 60))
    required = max(minimum, floor)
    decision = ev.last(EventType.REVIEW_APPROVED) or ev.last(EventType.REVIEW_REJECTED)
    if decision is None:
        return ReviewJudgement(None, None, None, "", None, required, (), ())
    who = decision.actor.id
    approving = decision.type is EventType.REVIEW_APPROVED
    problems: list[str] = []
    cited: list[EvidenceEvent] = [decision]
    verb = "approved" if approving else "rejected"

    # a person, known to the directory as one
    known = ctx.actors.get(who)
    if decision.actor.role is Role.SYSTEM or (known is not None and known.kind != "person"):
        problems.append(f"'{who}', who {verb} ({decision.id}), is a system component, not a person")
    elif known is None:
        problems.append(
            f"'{who}', who {verb} ({decision.id}), is not in the actor directory, so nothing "
            "shows that a person decided"
        )

    # assigned (or the policy lets reviewers take runs themselves)
    assignments = [e for e in ev.all(EventType.REVIEW_ASSIGNED) if e.seq < decision.seq]
    mine = [e for e in assignments if _ref_id(e.payload.get("reviewer")) == who]
    if mine:
        cited.append(mine[-1])
    elif not (policy is not None and policy.review.self_assign):
        named = sorted({r for e in assignments if (r := _ref_id(e.payload.get("reviewer")))})
        problems.append(
            f"'{who}' {verb} without being assigned the review"
            + (
                f" (assigned: {', '.join(repr(n) for n in named)})"
                if named
                else " (no review.assigned before the decision)"
            )
        )

    # the output decided on existed: the latest output or revision before the decision
    outputs = [
        e
        for e in ev.all(*_OUTPUTS)
        if e.seq < decision.seq and not (e.type is EventType.OUTPUT_EDITED and e.actor.id == who)
    ]
    produced = [e for e in outputs if e.at <= decision.at]
    if not produced:
        first = ev.first(EventType.MODEL_RESPONDED)
        problems.append(
            f"the decision {decision.id} ({decision.at_text}) comes before any output it could "
            "decide on"
            + (f" (model.responded {first.id} is dated {first.at_text})" if first else "")
        )
    latest = max(produced, key=lambda e: e.at) if produced else None
    if latest is not None:
        cited.append(latest)

    # the review window: from the later of the assignment and the latest output or revision
    starts: list[tuple[datetime, str]] = []
    if mine:
        starts.append((mine[-1].at, f"assignment {mine[-1].id}"))
    if latest is not None:
        what = "output" if latest.type is EventType.MODEL_RESPONDED else "revision"
        starts.append((latest.at, f"{what} {latest.id}"))
    start, label = max(starts, key=lambda s: s[0]) if starts else (None, "")
    seconds = None if start is None else _secs(start, decision.at)
    if approving and seconds is not None and seconds < required:
        problems.append(
            f"approved {seconds:.0f} s after {label}; "
            f"the policy's minimum review is {required:.0f} s"
        )

    if approving and policy is not None and policy.review.checklist:
        problems += _checklist_problems(ev, ctx, decision, who, cited)
    return ReviewJudgement(
        decision, who, start, label, seconds, required, tuple(problems), tuple(cited)
    )


def _checklist_problems(
    ev: RunEvidence,
    ctx: CheckContext,
    decision: EvidenceEvent,
    who: str,
    cited: list[EvidenceEvent],
) -> list[str]:
    """What is wrong with the checklist behind an approval (empty: worked through).

    An item answered "no" is honest, not a failure, when a later edit or tick deals with it
    before the approval; only items left unanswered, or answered "no" and left so, count.
    """
    assert ctx.policy is not None
    required = ctx.policy.review.checklist
    lists = [e for e in ev.all(EventType.CHECKLIST_COMPLETED) if e.seq < decision.seq]
    if not lists:
        return [f"no checklist was completed before the approval ({len(required)} items required)"]
    cited += lists
    answer: dict[str, tuple[bool, int]] = {}
    for e in lists:
        items = e.payload.get("items")
        if isinstance(items, dict):
            for k, v in items.items():
                if isinstance(v, bool):
                    answer[str(k)] = (v, e.seq)
    problems: list[str] = []
    unanswered = [i for i in required if i not in answer]
    if unanswered:
        problems.append("checklist items not answered: " + ", ".join(f"'{i}'" for i in unanswered))
    edits = [e for e in ev.all(EventType.OUTPUT_EDITED) if e.seq < decision.seq]
    left_no = [
        i
        for i in required
        if i in answer and not answer[i][0] and not any(e.seq > answer[i][1] for e in edits)
    ]
    if left_no:
        problems.append(
            "approved with checklist item(s) answered 'no' and no edit after: "
            + ", ".join(f"'{i}'" for i in left_no)
        )
    # ticked at the moment of approval, with nothing else showing the reviewer at work
    lead = float(ctx.param("checklist_lead_seconds", 10))
    work = [
        e
        for e in ev.all(
            EventType.CHECKLIST_COMPLETED,
            EventType.GUIDANCE_ACKNOWLEDGED,
            EventType.OUTPUT_EDITED,
        )
        if e.seq < decision.seq and e.actor.id == who
    ]
    if work and all(0 <= _secs(e.at, decision.at) <= lead for e in work):
        earliest = min(_secs(e.at, decision.at) for e in work)
        problems.append(
            f"the checklist was ticked {earliest:.0f} s before the approval and nothing "
            "else shows the reviewer at work earlier"
        )
    return problems
