"""What one call through the gateway becomes as evidence (pure: no I/O).

The gateway hands the recorder a :class:`GatewayCall` — the request as sent, the reply
bytes as received (or the SSE chunks of a stream), timings and the decision taken on the
request path — and :func:`call_events` turns it into DESIGN 6.1 events, applying the
policy's capture mode to prompt and output. This runs in the recorder's thread, off the
request path: parsing a reply and sealing it is work the caller never waits for.

The prompt of a chat call is the JSON text of its ``messages`` exactly as sent; of a
responses or embeddings call, its ``input`` (text as is, anything else as JSON). The
output is the assistant text (a stream assembled from its deltas); an embedding's output
is kept as the SHA-256 of the reply, the vectors themselves being no one's evidence.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from raidt.core.events import ActorRef, EventIn, EventType, Role
from raidt.core.policy import Policy
from raidt.core.redaction import capture_fields

__all__ = ["CONTENT_KEYS", "GatewayCall", "assemble_stream", "call_events", "parameters_of"]

#: request fields that are content or transport, not model parameters
CONTENT_KEYS = frozenset(
    {
        "model",
        "messages",
        "input",
        "instructions",
        "prompt",
        "stream",
        "stream_options",
        "tools",
        "functions",
        "metadata",
        "user",
    }
)

_E = EventType


def parameters_of(request: dict[str, Any]) -> dict[str, Any]:
    """The model parameters of a request (temperature, max_tokens, ...)."""
    return {k: v for k, v in request.items() if k not in CONTENT_KEYS}


@dataclass
class GatewayCall:
    """One call through the gateway, as the request path saw it."""

    run_id: str
    new_run: bool
    endpoint: str
    provider: str
    model: str
    request: dict[str, Any]
    policy: Policy
    policy_ref: dict[str, str]
    actor_id: str
    actor_role: str
    started: datetime
    use_case: str = ""
    team: str = "unknown"
    purpose: str | None = None
    risk_level: str = "medium"
    template: dict[str, str] | None = None
    deviation: tuple[str, str, str] | None = None  # (what, detail, reason)
    ended: datetime | None = None
    latency_ms: float | None = None
    status: int | None = None
    body: bytes | None = None
    chunks: list[bytes] = field(default_factory=list)
    stream: bool = False
    error: str | None = None
    abandoned: bool = False


def _prompt_text(call: GatewayCall) -> str | None:
    req = call.request
    content = req.get("messages") if "messages" in req else req.get("input", req.get("prompt"))
    if content is None:
        return None
    if isinstance(content, str):
        return content
    return orjson.dumps(content).decode()


def _usage(raw: Any) -> dict[str, int] | None:
    if not isinstance(raw, dict):
        return None
    inp = raw.get("input_tokens", raw.get("prompt_tokens"))
    out = raw.get("output_tokens", raw.get("completion_tokens"))
    usage: dict[str, int] = {}
    if isinstance(inp, int) and inp >= 0:
        usage["input_tokens"] = inp
    if isinstance(out, int) and out >= 0:
        usage["output_tokens"] = out
    return usage or None


def _responses_text(resp: dict[str, Any]) -> str:
    parts: list[str] = []
    for item in resp.get("output") or []:
        if isinstance(item, dict) and item.get("type") == "message":
            for c in item.get("content") or []:
                if isinstance(c, dict) and c.get("type") == "output_text":
                    parts.append(str(c.get("text", "")))
    return "".join(parts)


@dataclass
class Reply:
    """What the model answered, whatever the endpoint and transport."""

    output: str | None = None
    output_digest: str | None = None
    usage: dict[str, int] | None = None
    finish_reason: str | None = None
    response_id: str | None = None
    response_model: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None


def _reply_from_json(endpoint: str, data: Any, raw: bytes) -> Reply:
    r = Reply()
    if not isinstance(data, dict):
        r.error = "the upstream reply is not a JSON object"
        return r
    if isinstance(data.get("error"), dict):
        r.error = str(data["error"].get("message") or data["error"])
        return r
    r.usage = _usage(data.get("usage"))
    r.response_id = data.get("id") if isinstance(data.get("id"), str) else None
    r.response_model = data.get("model") if isinstance(data.get("model"), str) else None
    if endpoint == "embeddings":
        r.output_digest = hashlib.sha256(raw).hexdigest()
    elif endpoint == "responses":
        r.output = _responses_text(data)
        r.finish_reason = data.get("status") if isinstance(data.get("status"), str) else None
    else:
        choices = data.get("choices") or []
        first = choices[0] if choices and isinstance(choices[0], dict) else {}
        msg = first.get("message") or {}
        r.output = str(msg.get("content") or "")
        r.finish_reason = first.get("finish_reason")
        for tc in msg.get("tool_calls") or []:
            fn = (tc or {}).get("function") or {}
            r.tool_calls.append(
                {"id": tc.get("id"), "name": fn.get("name"), "arguments": fn.get("arguments")}
            )
    return r


def assemble_stream(endpoint: str, chunks: list[bytes]) -> Reply:
    """The reply an SSE stream carried: text from its deltas, usage from its last chunk."""
    r = Reply()
    text: list[str] = []
    tools: dict[int, dict[str, Any]] = {}
    for line in b"".join(chunks).split(b"\n"):
        if not line.startswith(b"data:"):
            continue
        data = line[5:].strip()
        if not data or data == b"[DONE]":
            continue
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(obj, dict):
            continue
        if endpoint == "responses":
            kind = obj.get("type")
            if kind == "response.output_text.delta":
                text.append(str(obj.get("delta", "")))
            elif kind in ("response.completed", "response.incomplete", "response.failed"):
                resp = obj.get("response") or {}
                r.usage = _usage(resp.get("usage"))
                r.response_id = resp.get("id")
                r.response_model = resp.get("model")
                r.finish_reason = resp.get("status")
                if kind == "response.failed":
                    err = resp.get("error") or {}
                    r.error = str(err.get("message") or "the response failed")
            continue
        if isinstance(obj.get("error"), dict):
            r.error = str(obj["error"].get("message") or obj["error"])
            continue
        r.response_id = r.response_id or obj.get("id")
        r.response_model = r.response_model or obj.get("model")
        if obj.get("usage"):
            r.usage = _usage(obj["usage"])
        for ch in obj.get("choices") or []:
            if not isinstance(ch, dict) or ch.get("index", 0) != 0:
                continue
            delta = ch.get("delta") or {}
            if delta.get("content"):
                text.append(str(delta["content"]))
            for tc in delta.get("tool_calls") or []:
                slot = tools.setdefault(
                    int(tc.get("index", 0)), {"id": None, "name": "", "arguments": ""}
                )
                slot["id"] = tc.get("id") or slot["id"]
                fn = tc.get("function") or {}
                slot["name"] += fn.get("name") or ""
                slot["arguments"] += fn.get("arguments") or ""
            if ch.get("finish_reason"):
                r.finish_reason = ch["finish_reason"]
    r.output = "".join(text)
    r.tool_calls = [tools[i] for i in sorted(tools)]
    return r


def _reply(call: GatewayCall) -> Reply:
    if call.error is not None:
        return Reply(error=call.error)
    if call.stream and call.status == 200:
        r = assemble_stream(call.endpoint, call.chunks)
        if call.abandoned:
            r.error = r.error or "the caller abandoned the stream before it ended"
        return r
    raw = call.body or b""
    try:
        data = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        data = None
    failed = call.status is not None and call.status >= 400
    if failed and not (isinstance(data, dict) and isinstance(data.get("error"), dict)):
        return Reply(error=f"upstream answered HTTP {call.status}")
    return _reply_from_json(call.endpoint, data, raw)


def call_events(call: GatewayCall) -> list[EventIn]:
    """The events that record ``call`` (run.started first when the call opened its run)."""
    actor = ActorRef(id=call.actor_id, role=Role(call.actor_role))
    policy = call.policy
    at0 = call.started
    at1 = call.ended or call.started
    out: list[EventIn] = []

    def ev(etype: EventType, at: datetime, payload: dict[str, Any]) -> None:
        out.append(EventIn(run_id=call.run_id, type=etype, at=at, actor=actor, payload=payload))

    if call.new_run:
        started: dict[str, Any] = {
            "use_case": call.use_case,
            "team": call.team,
            "purpose": call.purpose,
            "risk_level": call.risk_level,
            "policy": dict(call.policy_ref),
            "source": "gateway",
        }
        if call.template is not None:
            started["template"] = call.template
        ev(_E.RUN_STARTED, at0, started)
    if call.deviation is not None:
        what, detail, reason = call.deviation
        ev(_E.DEVIATION_RECORDED, at0, {"what": what, "reason": reason, "detail": detail})
    invoked: dict[str, Any] = {
        "provider": call.provider,
        "model": call.model,
        "parameters": parameters_of(call.request),
        "endpoint": call.endpoint,
        "stream": call.stream,
    }
    prompt = _prompt_text(call)
    if prompt is not None:
        invoked.update(capture_fields("prompt", prompt, policy))
    instructions = call.request.get("instructions")
    if isinstance(instructions, str):
        invoked.update(capture_fields("instructions", instructions, policy))
    tools = call.request.get("tools")
    if isinstance(tools, list):
        invoked["tools"] = [_tool_name(t) for t in tools]
    ev(_E.MODEL_INVOKED, at0, invoked)

    reply = _reply(call)
    responded: dict[str, Any] = {}
    if reply.output is not None and (reply.error is None or reply.output):
        responded.update(capture_fields("output", reply.output or "", policy))
    if reply.output_digest is not None:
        responded["output_sha256"] = reply.output_digest
    if reply.error is not None:
        responded["error"] = reply.error
    if reply.usage:
        responded["usage"] = reply.usage
    if call.latency_ms is not None:
        responded["latency_ms"] = round(call.latency_ms, 3)
    if call.status is not None:
        responded["status"] = call.status
    for key, value in (
        ("finish_reason", reply.finish_reason),
        ("response_id", reply.response_id),
        ("response_model", reply.response_model),
    ):
        if value is not None:
            responded[key] = value
    if reply.tool_calls:
        responded["tool_calls"] = [
            {**tc, **capture_fields("arguments", str(tc.get("arguments") or ""), policy)}
            for tc in reply.tool_calls
        ]
    ev(_E.MODEL_RESPONDED, at1, responded)
    return out


def _tool_name(tool: Any) -> str:
    if isinstance(tool, dict):
        fn = tool.get("function")
        if isinstance(fn, dict) and fn.get("name"):
            return str(fn["name"])
        if tool.get("name"):
            return str(tool["name"])
        return str(tool.get("type", "tool"))
    return str(tool)
