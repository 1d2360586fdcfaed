"""OTLP spans and log records -> DESIGN 6.1 events (pure: no I/O).

Reads both the OpenTelemetry GenAI conventions — current names (``gen_ai.provider.name``,
``gen_ai.input.messages``, ``gen_ai.usage.input_tokens``) and older ones still sent
(``gen_ai.system``, ``gen_ai.prompt.N.*``, ``gen_ai.usage.prompt_tokens``, per-message
events and log records such as ``gen_ai.user.message`` and ``gen_ai.choice``) — and the
OpenInference conventions (``openinference.span.kind``, ``llm.*``). A GenAI inference
span becomes ``model.invoked`` + ``model.responded`` (and ``prompt.rendered`` when it
names a template), a tool span ``tool.called``, a retrieval span
``retrieval.performed``, an evaluation result ``assessment.recorded``; any other span
is kept whole as ``telemetry.recorded``, never dropped.

Event ids are derived from the span id, so an exporter's retry of the same batch stores
nothing twice. The prompt is recorded as the JSON text of the input messages
(``[{"role", "content"}]``), the output as the assistant's text, both under the policy's
capture mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from raidt.core.events import ActorRef, EventIn, EventType, Role
from raidt.core.policy import Policy
from raidt.core.redaction import capture_fields

__all__ = [
    "RunContext",
    "has_completion",
    "has_content",
    "is_inference",
    "log_events",
    "span_events",
    "trace_context",
]

_E = EventType
_INFERENCE_OPS = frozenset(
    {"chat", "text_completion", "generate_content", "embeddings", "completion"}
)
_INFERENCE_KINDS = frozenset({"LLM", "EMBEDDING"})
_MESSAGE_EVENTS = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}
_PARAMS = (
    "temperature",
    "top_p",
    "top_k",
    "max_tokens",
    "stop_sequences",
    "frequency_penalty",
    "presence_penalty",
    "seed",
    "choice.count",
)


@dataclass(frozen=True)
class RunContext:
    """The run a trace's events go to, and who and what it is for."""

    run_id: str
    use_case: str
    team: str
    risk_level: str
    initiator: str
    policy: Policy | None = None

    def to_json(self) -> dict[str, str]:
        return {
            "run_id": self.run_id,
            "use_case": self.use_case,
            "team": self.team,
            "risk_level": self.risk_level,
            "initiator": self.initiator,
        }


_SAFE_INT = 2**53 - 1


def _safe(value: Any) -> Any:
    """``value`` with integers past JSON's safe range (nanosecond times, 64-bit ids) as
    text, since canonical JSON (RFC 8785) cannot carry them."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if -_SAFE_INT <= value <= _SAFE_INT else str(value)
    if isinstance(value, dict):
        return {k: _safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_safe(v) for v in value]
    return value


def _attr(span: dict[str, Any], *names: str) -> Any:
    for where in (span.get("attributes") or {}, span.get("resource") or {}):
        for n in names:
            v = where.get(n)
            if v not in (None, ""):
                return v
    return None


def trace_context(spans: list[dict[str, Any]], default_use_case: str) -> dict[str, dict[str, str]]:
    """Per trace id: the run id, use case, team, risk and initiator its spans name.

    One trace is one run unless a span carries ``raidt.run_id``; ``raidt.use_case``,
    ``raidt.team``, ``raidt.risk_level`` and ``enduser.id``/``user.id`` may sit on any
    span of the trace (or its resource).
    """
    out: dict[str, dict[str, str]] = {}
    for s in spans:
        t = s["trace_id"]
        ctx = out.setdefault(
            t,
            {
                "run_id": f"otel-{t}",
                "use_case": default_use_case,
                "team": str(_attr(s, "raidt.team", "service.name") or "unknown"),
                "risk_level": "medium",
                "initiator": "",
            },
        )
        for key, names in (
            ("run_id", ("raidt.run_id",)),
            ("use_case", ("raidt.use_case",)),
            ("team", ("raidt.team",)),
            ("risk_level", ("raidt.risk_level",)),
            ("initiator", ("enduser.id", "user.id", "enduser.pseudo.id")),
        ):
            v = _attr(s, *names)
            if v not in (None, ""):
                ctx[key] = str(v)
    for ctx in out.values():
        if ctx["risk_level"] not in ("low", "medium", "high"):
            ctx["risk_level"] = "medium"
        ctx["initiator"] = ctx["initiator"] or "otel-unidentified"
    return out


def is_inference(span: dict[str, Any]) -> bool:
    a = span.get("attributes") or {}
    if a.get("gen_ai.operation.name") in _INFERENCE_OPS:
        return True
    if a.get("openinference.span.kind") in _INFERENCE_KINDS:
        return True
    return bool(
        (a.get("gen_ai.system") or a.get("gen_ai.provider.name"))
        and a.get("gen_ai.request.model")
        and not a.get("gen_ai.operation.name")
    )


def _kind(span: dict[str, Any]) -> str:
    a = span.get("attributes") or {}
    if is_inference(span):
        return "inference"
    op, oi = a.get("gen_ai.operation.name"), a.get("openinference.span.kind")
    if op == "execute_tool" or oi == "TOOL":
        return "tool"
    if op == "retrieval" or oi == "RETRIEVER":
        return "retrieval"
    return "other"


def _text_of(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # parts
        out = []
        for p in content:
            if isinstance(p, dict):
                if p.get("type") in (None, "text") and "content" in p:
                    out.append(str(p["content"]))
                elif "text" in p:
                    out.append(str(p["text"]))
            else:
                out.append(str(p))
        return "".join(out)
    return orjson.dumps(content).decode()


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def _indexed(
    a: dict[str, Any], prefix: str, role_key: str, content_key: str
) -> list[dict[str, Any]]:
    msgs: dict[int, dict[str, Any]] = {}
    for k, v in a.items():
        if not k.startswith(prefix):
            continue
        rest = k[len(prefix) :]
        idx, _, field = rest.partition(".")
        if not idx.isdigit():
            continue
        m = msgs.setdefault(int(idx), {})
        if field == role_key:
            m["role"] = str(v)
        elif field == content_key:
            m["content"] = _text_of(v)
        elif field.endswith("tool_call.function.name") or field.endswith(
            "tool_calls.0.tool_call.function.name"
        ):
            m.setdefault("tool_calls", []).append(str(v))
    return [msgs[i] for i in sorted(msgs) if msgs[i]]


def _structured(value: Any) -> list[dict[str, Any]]:
    data = _json(value)
    out: list[dict[str, Any]] = []
    if isinstance(data, list):
        for m in data:
            if isinstance(m, dict):
                msg: dict[str, Any] = {
                    "role": str(m.get("role", "")),
                    "content": _text_of(m.get("parts", m.get("content"))),
                }
                calls = [
                    p
                    for p in m.get("parts") or []
                    if isinstance(p, dict) and p.get("type") == "tool_call"
                ]
                if calls:
                    msg["tool_calls"] = [
                        {"name": c.get("name"), "arguments": c.get("arguments")} for c in calls
                    ]
                out.append(msg)
    return out


def _span_messages(span: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(input messages, output messages) carried by the span itself."""
    a = span.get("attributes") or {}
    inp: list[dict[str, Any]] = []
    out: list[dict[str, Any]] = []
    if a.get("gen_ai.system_instructions"):
        inp.append({"role": "system", "content": _text_of(_json(a["gen_ai.system_instructions"]))})
    if "gen_ai.input.messages" in a:
        inp.extend(_structured(a["gen_ai.input.messages"]))
    if "gen_ai.output.messages" in a:
        out.extend(_structured(a["gen_ai.output.messages"]))
    inp.extend(_indexed(a, "gen_ai.prompt.", "role", "content"))
    out.extend(_indexed(a, "gen_ai.completion.", "role", "content"))
    inp.extend(_indexed(a, "llm.input_messages.", "message.role", "message.content"))
    out.extend(_indexed(a, "llm.output_messages.", "message.role", "message.content"))
    for ev in span.get("events") or []:
        name, ea = ev.get("name", ""), ev.get("attributes") or {}
        if name == "gen_ai.client.inference.operation.details":
            inp.extend(_structured(ea.get("gen_ai.input.messages")))
            out.extend(_structured(ea.get("gen_ai.output.messages")))
        elif name in _MESSAGE_EVENTS:
            body = _json(ea.get("gen_ai.event.content") or ea.get("content"))
            inp.append(
                {
                    "role": _MESSAGE_EVENTS[name],
                    "content": _text_of(body.get("content") if isinstance(body, dict) else body),
                }
            )
        elif name == "gen_ai.choice":
            body = _json(ea.get("gen_ai.event.content") or ea.get("message") or ea.get("content"))
            msg = body.get("message", body) if isinstance(body, dict) else {"content": body}
            out.append(
                {
                    "role": "assistant",
                    "content": _text_of(msg.get("content") if isinstance(msg, dict) else msg),
                }
            )
    if (
        not inp
        and a.get("input.value") is not None
        and a.get("openinference.span.kind") in _INFERENCE_KINDS
    ):
        inp.append({"role": "user", "content": _text_of(a["input.value"])})
    return inp, out


def _log_messages(logs: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    inp: list[dict[str, Any]] = []
    out: list[dict[str, Any]] = []
    for rec in sorted(logs, key=lambda r: r.get("time_ns", 0)):
        name = rec.get("event_name", "")
        body = rec.get("body")
        if name in _MESSAGE_EVENTS:
            msg: dict[str, Any] = {
                "role": _MESSAGE_EVENTS[name],
                "content": _text_of(body.get("content") if isinstance(body, dict) else body),
            }
            if isinstance(body, dict) and body.get("tool_calls"):
                msg["tool_calls"] = [
                    {
                        "name": (tc.get("function") or {}).get("name"),
                        "arguments": (tc.get("function") or {}).get("arguments"),
                    }
                    for tc in body["tool_calls"]
                    if isinstance(tc, dict)
                ]
            inp.append(msg)
        elif name == "gen_ai.choice":
            m = body.get("message", {}) if isinstance(body, dict) else {"content": body}
            item: dict[str, Any] = {
                "role": "assistant",
                "content": _text_of(m.get("content") if isinstance(m, dict) else m),
            }
            if isinstance(body, dict) and body.get("finish_reason"):
                item["finish_reason"] = body["finish_reason"]
            if isinstance(m, dict) and m.get("tool_calls"):
                item["tool_calls"] = [
                    {
                        "name": (tc.get("function") or {}).get("name"),
                        "arguments": (tc.get("function") or {}).get("arguments"),
                    }
                    for tc in m["tool_calls"]
                    if isinstance(tc, dict)
                ]
            if not isinstance(body, dict) or body.get("index", 0) == 0:
                out.append(item)
        elif name == "gen_ai.client.inference.operation.details":
            attrs = rec.get("attributes") or {}
            inp.extend(_structured(attrs.get("gen_ai.input.messages")))
            out.extend(_structured(attrs.get("gen_ai.output.messages")))
    return inp, out


def has_content(span: dict[str, Any]) -> bool:
    """True when the span carries its prompt or reply (no log records to wait for)."""
    inp, out = _span_messages(span)
    return bool(out or inp)


def has_completion(logs: list[dict[str, Any]]) -> bool:
    """True when the log records include the reply (so the span's content is complete)."""
    return any(
        r.get("event_name") in ("gen_ai.choice", "gen_ai.client.inference.operation.details")
        for r in logs
    )


def _ts(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, tz=UTC) if ns else datetime.now(UTC)


def _parameters(a: dict[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for p in _PARAMS:
        v = a.get(f"gen_ai.request.{p}")
        if v is not None:
            params[p] = v
    inv = _json(a.get("llm.invocation_parameters"))
    if isinstance(inv, dict):
        for k, v in inv.items():
            if k not in ("model", "messages", "stream", "stream_options"):
                params.setdefault(k, v)
    return params


def _usage(a: dict[str, Any]) -> dict[str, int] | None:
    inp = a.get(
        "gen_ai.usage.input_tokens",
        a.get("gen_ai.usage.prompt_tokens", a.get("llm.token_count.prompt")),
    )
    out = a.get(
        "gen_ai.usage.output_tokens",
        a.get("gen_ai.usage.completion_tokens", a.get("llm.token_count.completion")),
    )
    usage = {}
    if isinstance(inp, int) and inp >= 0:
        usage["input_tokens"] = inp
    if isinstance(out, int) and out >= 0:
        usage["output_tokens"] = out
    return usage or None


def _error(span: dict[str, Any]) -> str | None:
    status = span.get("status") or {}
    if status.get("code") != 2:
        return None
    a = span.get("attributes") or {}
    for ev in span.get("events") or []:
        if ev.get("name") == "exception":
            ea = ev.get("attributes") or {}
            return f"{ea.get('exception.type', 'error')}: {ea.get('exception.message', '')}".strip()
    return str(status.get("message") or a.get("error.type") or "the call failed")


def _capture(policy: Policy | None, name: str, text: str) -> dict[str, str]:
    return capture_fields(name, text, policy) if policy is not None else {name: text}


def _assessments(
    span: dict[str, Any], logs: list[dict[str, Any]]
) -> list[tuple[int, dict[str, Any]]]:
    found: list[tuple[int, dict[str, Any]]] = []
    for ev in span.get("events") or []:
        if ev.get("name") == "gen_ai.evaluation.result":
            found.append((int(ev.get("time_ns") or 0), ev.get("attributes") or {}))
    for rec in logs:
        if rec.get("event_name") == "gen_ai.evaluation.result":
            found.append((int(rec.get("time_ns") or 0), rec.get("attributes") or {}))
    a = span.get("attributes") or {}
    if a.get("openinference.span.kind") == "EVALUATOR" or a.get("gen_ai.evaluation.name"):
        found.append((int(span.get("end_ns") or 0), a))
    out = []
    for t, ea in found:
        label = str(ea.get("gen_ai.evaluation.score.label") or "")
        result = {
            "pass": "met",
            "passed": "met",
            "met": "met",
            "fail": "unmet",
            "failed": "unmet",
            "unmet": "unmet",
            "partial": "partial",
        }.get(label.lower(), "partial" if label else "not_applicable")
        payload: dict[str, Any] = {
            "criterion": str(ea.get("gen_ai.evaluation.name") or "evaluation"),
            "result": result,
            "rationale": str(
                ea.get("gen_ai.evaluation.explanation")
                or f"score {ea.get('gen_ai.evaluation.score.value')} {label}".strip()
            ),
            "source": "otlp",
        }
        if ea.get("gen_ai.evaluation.score.value") is not None:
            payload["score_value"] = ea["gen_ai.evaluation.score.value"]
        if label:
            payload["score_label"] = label
        out.append((t, payload))
    return out


def _ref(span: dict[str, Any]) -> dict[str, Any]:
    return {
        "trace_id": span["trace_id"],
        "span_id": span["span_id"],
        "name": span.get("name", ""),
        "scope": span.get("scope", ""),
    }


def run_started(ctx: RunContext, at: datetime) -> EventIn:
    """The ``run.started`` of a run opened by telemetry (stored only if the run is new)."""
    payload: dict[str, Any] = {
        "use_case": ctx.use_case,
        "team": ctx.team,
        "purpose": None,
        "risk_level": ctx.risk_level,
        "source": "otlp",
    }
    if ctx.policy is not None:
        p = ctx.policy
        payload["policy"] = {"id": p.id, "version": p.version, "sha256": p.content_hash}
    return EventIn(
        id=f"otel-run-{ctx.run_id}"[:200],
        run_id=ctx.run_id,
        type=_E.RUN_STARTED,
        at=at,
        actor=ActorRef(id=ctx.initiator, role=Role.INITIATOR),
        payload=payload,
    )


def span_events(span: dict[str, Any], logs: list[dict[str, Any]], ctx: RunContext) -> list[EventIn]:
    """The events of one span and the log records joined to it (``run.started`` apart:
    see :func:`run_started`)."""
    a = span.get("attributes") or {}
    sid = span["span_id"]
    start, end = _ts(span.get("start_ns", 0)), _ts(span.get("end_ns", 0) or span.get("start_ns", 0))
    actor = ActorRef(id=ctx.initiator, role=Role.INITIATOR)
    system = ActorRef(id="otlp-ingest", role=Role.SYSTEM)
    out: list[EventIn] = []

    def add(
        suffix: str, etype: EventType, at: datetime, payload: dict[str, Any], who: ActorRef = actor
    ) -> None:
        out.append(
            EventIn(
                id=f"otel-{sid}-{suffix}",
                run_id=ctx.run_id,
                type=etype,
                at=at,
                actor=who,
                payload=_safe(payload),
            )
        )

    kind = _kind(span)
    if kind == "inference":
        inp, outp = _span_messages(span)
        if not inp and not outp:
            inp, outp = _log_messages(logs)
        model = str(
            a.get("gen_ai.request.model")
            or a.get("gen_ai.response.model")
            or a.get("llm.model_name")
            or "unknown"
        )
        provider = str(
            a.get("gen_ai.provider.name")
            or a.get("gen_ai.system")
            or a.get("llm.provider")
            or a.get("llm.system")
            or "unknown"
        )
        params = _parameters(a)
        name, version = (
            a.get("gen_ai.prompt.name"),
            a.get("gen_ai.prompt.version") or a.get("llm.prompt_template.version"),
        )
        prompt_text = (
            orjson.dumps(
                [{k: v for k, v in m.items() if k != "finish_reason"} for m in inp]
            ).decode()
            if inp
            else None
        )
        if name:
            template = {"id": str(name), "version": str(version or "unversioned")}
            rendered: dict[str, Any] = {"template": template}
            rendered.update(_capture(ctx.policy, "prompt", prompt_text or ""))
            variables = {
                k[len("gen_ai.prompt.variable.") :]: v
                for k, v in a.items()
                if k.startswith("gen_ai.prompt.variable.")
            }
            if variables:
                rendered["variables"] = variables
            add("prompt", _E.PROMPT_RENDERED, start, rendered)
        if ctx.policy is not None:
            why = ctx.policy.model_problem(provider, model, params)
            if why:
                add(
                    "deviation",
                    _E.DEVIATION_RECORDED,
                    start,
                    {
                        "what": "model",
                        "reason": "observed through OTLP after the call was made",
                        "detail": why,
                    },
                    system,
                )
            if name:
                why_t = ctx.policy.template_problem(str(name), str(version or ""))
                if why_t:
                    add(
                        "deviation-template",
                        _E.DEVIATION_RECORDED,
                        start,
                        {
                            "what": "template",
                            "reason": "observed through OTLP after the call was made",
                            "detail": why_t,
                        },
                        system,
                    )
        invoked: dict[str, Any] = {
            "provider": provider,
            "model": model,
            "parameters": params,
            "operation": a.get("gen_ai.operation.name") or a.get("openinference.span.kind"),
            "otel": _ref(span),
        }
        if prompt_text is not None:
            invoked.update(_capture(ctx.policy, "prompt", prompt_text))
        if a.get("gen_ai.conversation.id") or a.get("session.id"):
            invoked["conversation_id"] = a.get("gen_ai.conversation.id") or a.get("session.id")
        responded: dict[str, Any] = {
            "latency_ms": max(0.0, (span.get("end_ns", 0) - span.get("start_ns", 0)) / 1e6)
        }
        error = _error(span)
        if outp:
            responded.update(_capture(ctx.policy, "output", outp[0].get("content", "")))
            if outp[0].get("tool_calls"):
                responded["tool_calls"] = outp[0]["tool_calls"]
        if error:
            responded["error"] = error
        usage = _usage(a)
        if usage:
            responded["usage"] = usage
        for key, attr in (
            ("response_model", "gen_ai.response.model"),
            ("response_id", "gen_ai.response.id"),
            ("finish_reasons", "gen_ai.response.finish_reasons"),
        ):
            if a.get(attr) is not None:
                responded[key] = a[attr]
        if outp or "error" in responded:
            add("invoked", _E.MODEL_INVOKED, start, invoked)
            add("responded", _E.MODEL_RESPONDED, end, responded)
        else:  # content not captured: the call's facts stay on model.invoked
            add(
                "invoked",
                _E.MODEL_INVOKED,
                start,
                {**invoked, **responded, "content_captured": False},
            )
    elif kind == "tool":
        add(
            "tool",
            _E.TOOL_CALLED,
            start,
            {
                "name": str(
                    a.get("gen_ai.tool.name") or a.get("tool.name") or span.get("name") or "tool"
                ),
                "inputs": _json(a.get("gen_ai.tool.call.arguments") or a.get("input.value")),
                "output": _json(a.get("gen_ai.tool.call.result") or a.get("output.value")),
                "error": _error(span),
                "otel": _ref(span),
            },
        )
    elif kind == "retrieval":
        add(
            "retrieval",
            _E.RETRIEVAL_PERFORMED,
            start,
            {
                "name": str(a.get("gen_ai.data_source.id") or span.get("name") or "retrieval"),
                "query": _json(a.get("gen_ai.retrieval.query.text") or a.get("input.value")),
                "sources": [],
                "otel": _ref(span),
            },
        )
    else:
        add("raw", _E.TELEMETRY_RECORDED, start, {"source": "otlp", "span": span}, system)
    for i, (t, payload) in enumerate(_assessments(span, logs)):
        add(f"eval-{i}", _E.ASSESSMENT_RECORDED, _ts(t) if t else end, payload)
    return out


def log_events(key: str, logs: list[dict[str, Any]], ctx: RunContext) -> list[EventIn]:
    """Log records whose span is sealed already or never came: kept as events of the run
    (the prompt as ``prompt.rendered``-free telemetry, the reply as ``model.responded``)."""
    out: list[EventIn] = []
    system = ActorRef(id="otlp-ingest", role=Role.SYSTEM)
    for i, rec in enumerate(sorted(logs, key=lambda r: r.get("time_ns", 0))):
        at = _ts(int(rec.get("time_ns") or 0))
        eid = f"otel-log-{key}-{rec.get('time_ns', 0)}-{i}"[:200]
        inp, outp = _log_messages([rec])
        if outp:
            payload: dict[str, Any] = {
                "late": True,
                "otel": {"trace_id": rec.get("trace_id"), "span_id": rec.get("span_id")},
            }
            payload.update(_capture(ctx.policy, "output", outp[0].get("content", "")))
            out.append(
                EventIn(
                    id=eid,
                    run_id=ctx.run_id,
                    type=_E.MODEL_RESPONDED,
                    at=at,
                    actor=ActorRef(id=ctx.initiator, role=Role.INITIATOR),
                    payload=payload,
                )
            )
        else:
            body = dict(rec)
            if inp and ctx.policy is not None and ctx.policy.capture.mode != "full":
                body["body"] = _capture(
                    ctx.policy, "content", orjson.dumps(rec.get("body")).decode()
                )
            out.append(
                EventIn(
                    id=eid,
                    run_id=ctx.run_id,
                    type=_E.TELEMETRY_RECORDED,
                    at=at,
                    actor=system,
                    payload={"source": "otlp-log", "record": _safe(body)},
                )
            )
    return out
