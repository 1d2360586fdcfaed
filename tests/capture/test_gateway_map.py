"""The gateway's mapping on its own: streams assembled, errors, capture modes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from raidt.capture.gateway_map import GatewayCall, assemble_stream, call_events, parameters_of
from raidt.core.policy import load_policy

POLICY = load_policy("id: p\nversion: '1'\ntitle: t\n", "test")
REDACTING = load_policy(
    "id: q\nversion: '1'\ntitle: t\n"
    "capture: {mode: redacted, redact_patterns: ['builtin:email']}\n",
    "test",
)
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def sse(*objs: Any) -> list[bytes]:
    return [b"data: " + orjson.dumps(o) + b"\n\n" for o in objs] + [b"data: [DONE]\n\n"]


def call(**kw: Any) -> GatewayCall:
    base: dict[str, Any] = {
        "run_id": "r-1",
        "new_run": True,
        "endpoint": "chat",
        "provider": "openai",
        "model": "gpt-4o",
        "request": {"model": "gpt-4o", "messages": [{"role": "user", "content": "a@b.org?"}]},
        "policy": POLICY,
        "policy_ref": {"id": "p", "version": "1", "sha256": POLICY.content_hash},
        "actor_id": "u-1",
        "actor_role": "initiator",
        "started": T0,
        "use_case": "p",
        "status": 200,
    }
    base.update(kw)
    return GatewayCall(**base)


def test_chat_stream_with_tool_call_deltas() -> None:
    chunks = sse(
        {"id": "c1", "model": "gpt-4o", "choices": [{"index": 0, "delta": {"content": "Hel"}}]},
        {"choices": [{"index": 0, "delta": {"content": "lo"}}]},
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": "t1",
                                "function": {"name": "look", "arguments": '{"q":'},
                            }
                        ]
                    },
                }
            ]
        },
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {"tool_calls": [{"index": 0, "function": {"arguments": '"x"}'}}]},
                    "finish_reason": "tool_calls",
                }
            ]
        },
        {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2}},
    )
    r = assemble_stream("chat", [b"".join(chunks)[:50], b"".join(chunks)[50:]])  # split mid-line
    assert r.output == "Hello"
    assert r.tool_calls == [{"id": "t1", "name": "look", "arguments": '{"q":"x"}'}]
    assert r.usage == {"input_tokens": 3, "output_tokens": 2}
    assert r.finish_reason == "tool_calls" and r.response_id == "c1"


def test_responses_stream() -> None:
    def event(kind: str, **data: Any) -> bytes:
        return (
            f"event: {kind}\n".encode() + b"data: " + orjson.dumps({"type": kind, **data}) + b"\n\n"
        )

    usage = {"input_tokens": 4, "output_tokens": 2}
    chunks = [
        event("response.output_text.delta", delta="Hi "),
        event("response.output_text.delta", delta="there"),
        event(
            "response.completed", response={"id": "resp-1", "status": "completed", "usage": usage}
        ),
    ]
    r = assemble_stream("responses", chunks)
    assert r.output == "Hi there"
    assert r.usage == {"input_tokens": 4, "output_tokens": 2}
    assert r.response_id == "resp-1"


def test_events_of_a_call_and_capture_modes() -> None:
    body = orjson.dumps(
        {
            "id": "c",
            "choices": [
                {"index": 0, "message": {"content": "mail x@y.org"}, "finish_reason": "stop"}
            ],
        }
    )
    evs = call_events(
        call(
            body=body,
            request={"model": "gpt-4o", "messages": [], "temperature": 0.3, "stream": False},
        )
    )
    assert [e.type.value for e in evs] == ["run.started", "model.invoked", "model.responded"]
    assert evs[1].payload["parameters"] == {"temperature": 0.3}
    assert evs[2].payload["output"] == "mail x@y.org"
    red = call_events(call(body=body, policy=REDACTING, new_run=False))
    assert [e.type.value for e in red] == ["model.invoked", "model.responded"]
    assert (
        "a@b.org" not in red[0].payload["prompt"] and "[REDACTED:email]" in red[0].payload["prompt"]
    )
    assert red[1].payload["output"] == "mail [REDACTED:email]"


def test_errors_and_abandoned_streams() -> None:
    failed = call_events(call(error="the upstream did not answer in time", status=504))
    assert failed[-1].payload["error"] == "the upstream did not answer in time"
    assert "output" not in failed[-1].payload
    half = call_events(
        call(
            stream=True,
            abandoned=True,
            chunks=sse({"choices": [{"index": 0, "delta": {"content": "par"}}]})[:1],
        )
    )
    assert half[-1].payload["output"] == "par"
    assert "abandoned" in half[-1].payload["error"]
    upstream_500 = call_events(call(status=500, body=b"boom"))
    assert upstream_500[-1].payload["error"] == "upstream answered HTTP 500"


def test_parameters_leave_content_out() -> None:
    assert parameters_of({"model": "m", "messages": [], "tools": [], "top_p": 1, "user": "x"}) == {
        "top_p": 1
    }
