"""W3C PROV-JSON provenance of a run, derived from its events alone.

PROV is the vocabulary auditors' tools already read: who (agents), did what (activities),
with which things (entities). Because the document is a pure function of the events (plus
the builder's name), a verifier rebuilds it from ``events.jsonl`` and compares, so
``prov.json`` cannot tell a different story from the evidence.

Mapping (DESIGN.md 4; INTEROP.md "W3C PROV-JSON"):

- agents: people (``prov:Person`` with ``prov:role``), system components and the model
  (``prov:SoftwareAgent``), RAIDT itself, the run's team (``prov:Organization``);
- activities: the run, prompt rendering, generation, tool use, review, edit, escalation,
  sign-off, downstream use and every other recorded step;
- entities: template version (the ``prov:plan``), model configuration, data context,
  prompt, output, edited output (``wasDerivedFrom`` as ``prov:Revision``), the pack;
- people act on behalf of their team; system components on behalf of the initiator.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from raidt.core.events import Event, EventType, Role
from raidt.core.hashing import sha256_hex
from raidt.core.timefmt import format_ts

__all__ = ["PROV_RELATIONS", "build_prov", "dangling_references"]

NS = "https://raidt.dev/ns#"
PROV_RELATIONS = (
    "wasGeneratedBy",
    "used",
    "wasAssociatedWith",
    "wasAttributedTo",
    "wasDerivedFrom",
    "actedOnBehalfOf",
)
_NODE_KINDS = ("entity", "activity", "agent")
#: relation -> the attributes that name nodes
_REFS: dict[str, tuple[str, ...]] = {
    "wasGeneratedBy": ("prov:entity", "prov:activity"),
    "used": ("prov:activity", "prov:entity"),
    "wasAssociatedWith": ("prov:activity", "prov:agent", "prov:plan"),
    "wasAttributedTo": ("prov:entity", "prov:agent"),
    "wasDerivedFrom": ("prov:generatedEntity", "prov:usedEntity", "prov:activity"),
    "actedOnBehalfOf": ("prov:delegate", "prov:responsible", "prov:activity"),
}
_UNSAFE = re.compile(r"[^A-Za-z0-9._~-]")


def _local(text: str) -> str:
    """Percent-encode what a QName local part should not hold (ids are free text)."""
    return _UNSAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), text)


def _qn(name: str) -> dict[str, str]:
    return {"$": name, "type": "prov:QUALIFIED_NAME"}


def _text_digest(payload: dict[str, Any], text_key: str, digest_key: str) -> str | None:
    text = payload.get(text_key)
    if isinstance(text, str):
        return sha256_hex(text.encode("utf-8"))
    digest = payload.get(digest_key)
    return digest if isinstance(digest, str) else None


class _Doc:
    """Accumulates nodes and relations with deterministic identifiers."""

    def __init__(self, run_id: str) -> None:
        self.doc: dict[str, dict[str, Any]] = {
            "prefix": {
                "raidt": NS,
                "run": f"urn:raidt:run:{_local(run_id)}:",
                "actor": "urn:raidt:actor:",
                "model": "urn:raidt:model:",
                "tpl": "urn:raidt:template:",
                "data": "urn:raidt:data:",
                "team": "urn:raidt:team:",
            }
        }
        self._n = 0

    def node(self, kind: str, ident: str, **attrs: Any) -> str:
        table = self.doc.setdefault(kind, {})
        current = table.setdefault(ident, {})
        for k, v in attrs.items():
            if v is not None:
                current[k] = v
        return ident

    def rel(self, kind: str, **attrs: Any) -> None:
        self._n += 1
        self.doc.setdefault(kind, {})[f"_:{kind}{self._n}"] = {
            k: v for k, v in attrs.items() if v is not None
        }


def build_prov(events: Sequence[Event], *, builder: str = "raidt") -> dict[str, Any]:
    """Build the PROV-JSON document of one run from its events (in chain order).

    Args:
        events: the run's events, first to last.
        builder: the software that builds the pack (``manifest.json`` ``generator``), so a
            verifier with another RAIDT version rebuilds the same document.
    """
    if not events:
        raise ValueError("a run without events has no provenance")
    run_id = events[0].run_id
    d = _Doc(run_id)
    sw = d.node(
        "agent", "raidt:software", **{"prov:type": _qn("prov:SoftwareAgent"), "prov:label": builder}
    )
    run_act = d.node(
        "activity", "run:run", **{"prov:type": _qn("raidt:Run"), "prov:label": f"run {run_id}"}
    )
    roles: dict[str, list[str]] = {}
    initiator: str | None = None
    team: str | None = None
    plan: str | None = None
    current_output: str | None = None
    prompt: str | None = None
    model_config: str | None = None
    model_agent: str | None = None
    open_generation: str | None = None
    open_reviews: dict[str, str] = {}
    open_escalations: list[str] = []
    data_entities: list[str] = []

    def agent(e: Event) -> str:
        ident = f"actor:{_local(e.actor.id)}"
        kind = "prov:SoftwareAgent" if e.actor.role is Role.SYSTEM else "prov:Person"
        held = roles.setdefault(ident, [])
        if e.actor.role.value not in held:
            held.append(e.actor.role.value)
        d.node("agent", ident, **{"prov:type": _qn(kind), "prov:label": e.actor.id})
        return ident

    def step(e: Event, name: str, *, end: bool = True) -> str:
        act = d.node(
            "activity",
            f"run:{name}-{_local(e.id)}",
            **{
                "prov:type": _qn(f"raidt:{e.type.value}"),
                "prov:startTime": format_ts(e.at),
                "prov:endTime": format_ts(e.at) if end else None,
                "raidt:event": e.id,
            },
        )
        who = agent(e)
        d.rel(
            "wasAssociatedWith",
            **{
                "prov:activity": act,
                "prov:agent": who,
                "prov:plan": plan,
                "prov:role": e.actor.role.value,
            },
        )
        if e.actor.role is Role.SYSTEM and initiator and initiator != who:
            d.rel(
                "actedOnBehalfOf",
                **{"prov:delegate": who, "prov:responsible": initiator, "prov:activity": act},
            )
        return act

    def data(refs: Iterable[Any]) -> list[str]:
        out: list[str] = []
        for src in refs:
            if isinstance(src, dict) and isinstance(src.get("ref"), str):
                ident = d.node(
                    "entity",
                    f"data:{_local(src['ref'])}",
                    **{
                        "prov:type": _qn("raidt:DataContext"),
                        "prov:label": src["ref"],
                        "raidt:digest": src.get("digest"),
                    },
                )
                out.append(ident)
        return out

    def template(ref: Any) -> str | None:  # the current plan unless ``ref`` names one
        if not isinstance(ref, dict) or "id" not in ref:
            return plan
        ident = f"tpl:{_local(str(ref['id']))}@{_local(str(ref.get('version')))}"
        return d.node(
            "entity",
            ident,
            **{
                "prov:type": _qn("prov:Plan"),
                "prov:label": f"{ref['id']}@{ref.get('version')}",
                "raidt:kind": "template version",
            },
        )

    for e in events:
        p = e.payload
        t = e.type
        if t is EventType.RUN_STARTED:
            initiator = agent(e)
            team = p.get("team") if isinstance(p.get("team"), str) else None
            plan = template(p.get("template"))
            data_entities = data(p.get("data_context") or [])
            d.node(
                "activity",
                run_act,
                **{"prov:startTime": format_ts(e.at), "raidt:use_case": p.get("use_case")},
            )
            d.rel(
                "wasAssociatedWith",
                **{
                    "prov:activity": run_act,
                    "prov:agent": initiator,
                    "prov:plan": plan,
                    "prov:role": "initiator",
                },
            )
            for ent in data_entities:
                d.rel("used", **{"prov:activity": run_act, "prov:entity": ent})
        elif t is EventType.PROMPT_RENDERED:
            plan = template(p.get("template"))
            act = step(e, "render")
            prompt = d.node(
                "entity",
                f"run:prompt-{_local(e.id)}",
                **{
                    "prov:type": _qn("raidt:Prompt"),
                    "raidt:sha256": _text_digest(p, "prompt", "prompt_sha256"),
                },
            )
            d.rel(
                "wasGeneratedBy",
                **{"prov:entity": prompt, "prov:activity": act, "prov:time": format_ts(e.at)},
            )
            d.rel("wasAttributedTo", **{"prov:entity": prompt, "prov:agent": agent(e)})
            if plan:
                d.rel("used", **{"prov:activity": act, "prov:entity": plan})
        elif t is EventType.MODEL_INVOKED:
            model_agent = d.node(
                "agent",
                f"model:{_local(str(p.get('provider')))}/{_local(str(p.get('model')))}",
                **{
                    "prov:type": _qn("prov:SoftwareAgent"),
                    "prov:label": f"{p.get('provider')} {p.get('model')}",
                },
            )
            model_config = d.node(
                "entity",
                f"run:model-config-{_local(e.id)}",
                **{
                    "prov:type": _qn("raidt:ModelConfiguration"),
                    "raidt:provider": str(p.get("provider")),
                    "raidt:model": str(p.get("model")),
                    "raidt:parameters": json.dumps(p.get("parameters") or {}, sort_keys=True),
                },
            )
            open_generation = step(e, "generation", end=False)
            d.rel(
                "wasAssociatedWith",
                **{
                    "prov:activity": open_generation,
                    "prov:agent": model_agent,
                    "prov:role": "model",
                },
            )
            for used in (model_config, prompt, plan, *data_entities):
                if used:
                    d.rel("used", **{"prov:activity": open_generation, "prov:entity": used})
        elif t is EventType.MODEL_RESPONDED:
            gen = open_generation or step(e, "generation")
            d.node("activity", gen, **{"prov:endTime": format_ts(e.at)})
            open_generation = None
            if (
                p.get("error") is not None
                and p.get("output") is None
                and p.get("output_sha256") is None
            ):
                continue
            current_output = d.node(
                "entity",
                f"run:output-{_local(e.id)}",
                **{
                    "prov:type": _qn("raidt:Output"),
                    "raidt:sha256": _text_digest(p, "output", "output_sha256"),
                },
            )
            d.rel(
                "wasGeneratedBy",
                **{
                    "prov:entity": current_output,
                    "prov:activity": gen,
                    "prov:time": format_ts(e.at),
                },
            )
            d.rel(
                "wasAttributedTo",
                **{"prov:entity": current_output, "prov:agent": model_agent or agent(e)},
            )
        elif t in (EventType.TOOL_CALLED, EventType.RETRIEVAL_PERFORMED):
            act = step(e, "retrieval" if t is EventType.RETRIEVAL_PERFORMED else "tool")
            for ent in data(p.get("sources") or []):
                d.rel("used", **{"prov:activity": act, "prov:entity": ent})
                data_entities.append(ent)
        elif t is EventType.REVIEW_ASSIGNED:
            rev = p.get("reviewer") or {}
            rid = f"actor:{_local(str(rev.get('id')))}"
            open_reviews[rid] = step(e, "review", end=False)
        elif t in (EventType.REVIEW_APPROVED, EventType.REVIEW_REJECTED):
            who = agent(e)
            pending = open_reviews.pop(who, None)
            if pending is None:
                act = step(e, "review")
            else:
                act = pending
                d.rel(
                    "wasAssociatedWith",
                    **{
                        "prov:activity": act,
                        "prov:agent": who,
                        "prov:plan": plan,
                        "prov:role": e.actor.role.value,
                    },
                )
            d.node("activity", act, **{"prov:endTime": format_ts(e.at), "raidt:verdict": t.value})
            if current_output:
                d.rel("used", **{"prov:activity": act, "prov:entity": current_output})
        elif t is EventType.OUTPUT_EDITED:
            act = step(e, "edit")
            edited = d.node(
                "entity",
                f"run:output-{_local(e.id)}",
                **{
                    "prov:type": _qn("raidt:EditedOutput"),
                    "raidt:sha256": p.get("after_sha256"),
                    "raidt:diff_sha256": sha256_hex(p["diff"].encode())
                    if isinstance(p.get("diff"), str)
                    else None,
                    "raidt:reason": p.get("reason"),
                },
            )
            d.rel(
                "wasGeneratedBy",
                **{"prov:entity": edited, "prov:activity": act, "prov:time": format_ts(e.at)},
            )
            d.rel("wasAttributedTo", **{"prov:entity": edited, "prov:agent": agent(e)})
            if current_output:
                d.rel("used", **{"prov:activity": act, "prov:entity": current_output})
                d.rel(
                    "wasDerivedFrom",
                    **{
                        "prov:generatedEntity": edited,
                        "prov:usedEntity": current_output,
                        "prov:activity": act,
                        "prov:type": _qn("prov:Revision"),
                    },
                )
            current_output = edited
        elif t is EventType.ESCALATION_RAISED:
            act = step(e, "escalation", end=False)
            owner = p.get("owner") or {}
            oid = d.node(
                "agent",
                f"actor:{_local(str(owner.get('id')))}",
                **{"prov:type": _qn("prov:Person"), "prov:label": str(owner.get("id"))},
            )
            d.rel(
                "wasAssociatedWith",
                **{"prov:activity": act, "prov:agent": oid, "prov:role": str(owner.get("role"))},
            )
            roles.setdefault(oid, [])
            if str(owner.get("role")) not in roles[oid]:
                roles[oid].append(str(owner.get("role")))
            open_escalations.append(act)
        elif t is EventType.ESCALATION_RESOLVED:
            act = open_escalations.pop(0) if open_escalations else step(e, "escalation")
            d.node("activity", act, **{"prov:endTime": format_ts(e.at)})
            d.rel(
                "wasAssociatedWith",
                **{"prov:activity": act, "prov:agent": agent(e), "prov:role": e.actor.role.value},
            )
        elif t in (EventType.SIGNOFF_RECORDED, EventType.DOWNSTREAM_USED):
            act = step(e, "signoff" if t is EventType.SIGNOFF_RECORDED else "downstream")
            if current_output:
                d.rel("used", **{"prov:activity": act, "prov:entity": current_output})
        else:
            step(e, t.value.replace(".", "-"))
            if t is EventType.RUN_CLOSED:
                d.node("activity", run_act, **{"prov:endTime": format_ts(e.at)})

    for ident, held in roles.items():
        d.node("agent", ident, **{"prov:role": held[0] if len(held) == 1 else held})
        kind = d.doc["agent"][ident]["prov:type"]["$"]
        if team and kind == "prov:Person":
            org = d.node(
                "agent",
                f"team:{_local(team)}",
                **{"prov:type": _qn("prov:Organization"), "prov:label": team},
            )
            d.rel("actedOnBehalfOf", **{"prov:delegate": ident, "prov:responsible": org})
    pack = d.node(
        "entity",
        "run:pack",
        **{"prov:type": _qn("raidt:EvidencePack"), "prov:label": f"evidence pack of run {run_id}"},
    )
    packing = d.node("activity", "run:packing", **{"prov:type": _qn("raidt:PackBuild")})
    d.rel("wasGeneratedBy", **{"prov:entity": pack, "prov:activity": packing})
    d.rel(
        "wasAssociatedWith", **{"prov:activity": packing, "prov:agent": sw, "prov:role": "builder"}
    )
    if current_output or prompt:
        d.rel("used", **{"prov:activity": packing, "prov:entity": current_output or prompt})
    d.rel("wasAttributedTo", **{"prov:entity": pack, "prov:agent": sw})
    if current_output:
        d.rel("wasDerivedFrom", **{"prov:generatedEntity": pack, "prov:usedEntity": current_output})
    return d.doc


def dangling_references(doc: dict[str, Any]) -> list[str]:
    """Relations that name a node the document does not declare (empty when sound)."""
    known: set[str] = set()
    for kind in _NODE_KINDS:
        known.update(doc.get(kind, {}))
    problems: list[str] = []
    for kind, attrs in _REFS.items():
        for rid, rel in doc.get(kind, {}).items():
            for attr in attrs:
                ref = rel.get(attr)
                if ref is not None and ref not in known:
                    problems.append(f"{kind} {rid}: {attr} names undeclared {ref}")
    return problems
