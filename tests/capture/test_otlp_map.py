"""The OTLP mapping on its own (pure: no server, no store): conventions old and new."""

from __future__ import annotations

from typing import Any

import orjson

from raidt.capture.otlp_map import (
    RunContext,
    has_completion,
    has_content,
    is_inference,
    log_events,
    span_events,
    trace_context,
)
from raidt.core.policy import load_policy

CTX = RunContext("r-1", "meeting-notes", "ward-7", "medium", "u-1")
NS = 1_764_000_000_000_000_000


def span(attrs: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return {
        "trace_id": "ab" * 16,
        "span_id": "cd" * 8,
        "parent_span_id": None,
        "name": kw.pop("name", "chat gpt-4o"),
        "kind": 3,
        "start_ns": NS,
        "end_ns": NS + 250_000_000,
        "attributes": attrs,
        "events": kw.pop("events", []),
        "status": kw.pop("status", {"code": 0, "message": ""}),
        "resource": kw.pop("resource", {}),
        "scope": "test",
    }


def _msgs(role: str, *parts: dict[str, Any]) -> str:
    return orjson.dumps([{"role": role, "parts": list(parts)}]).decode()


def by_type(events: list[Any]) -> dict[str, dict[str, Any]]:
    return {e.type.value: e.payload for e in events}


def test_current_genai_names() -> None:
    s = span(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.request.temperature": 0.1,
            "gen_ai.usage.input_tokens": 7,
            "gen_ai.usage.output_tokens": 3,
            "gen_ai.system_instructions": '[{"type": "text", "content": "be brief"}]',
            "gen_ai.input.messages": _msgs("user", {"type": "text", "content": "hi"}),
            "gen_ai.output.messages": _msgs(
                "assistant",
                {"type": "text", "content": "hello"},
                {"type": "tool_call", "name": "lookup", "arguments": {"q": 1}},
            ),
            "gen_ai.prompt.name": "notes-summary",
            "gen_ai.prompt.version": "2",
        }
    )
    assert is_inference(s) and has_content(s)
    got = by_type(span_events(s, [], CTX))
    assert got["model.invoked"]["provider"] == "openai"
    assert got["model.invoked"]["parameters"] == {"temperature": 0.1}
    assert orjson.loads(got["model.invoked"]["prompt"]) == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi"},
    ]
    assert got["model.responded"]["output"] == "hello"
    assert got["model.responded"]["tool_calls"] == [{"name": "lookup", "arguments": {"q": 1}}]
    assert got["model.responded"]["usage"] == {"input_tokens": 7, "output_tokens": 3}
    assert got["model.responded"]["latency_ms"] == 250.0
    assert got["prompt.rendered"]["template"] == {"id": "notes-summary", "version": "2"}


def test_older_genai_names() -> None:
    s = span(
        {
            "gen_ai.system": "anthropic",
            "gen_ai.request.model": "claude-x",
            "gen_ai.usage.prompt_tokens": 5,
            "gen_ai.usage.completion_tokens": 2,
            "gen_ai.prompt.0.role": "user",
            "gen_ai.prompt.0.content": "question",
            "gen_ai.completion.0.role": "assistant",
            "gen_ai.completion.0.content": "answer",
        }
    )
    assert is_inference(s)
    got = by_type(span_events(s, [], CTX))
    assert got["model.invoked"]["provider"] == "anthropic"
    assert orjson.loads(got["model.invoked"]["prompt"]) == [{"role": "user", "content": "question"}]
    assert got["model.responded"]["output"] == "answer"
    assert got["model.responded"]["usage"] == {"input_tokens": 5, "output_tokens": 2}


def test_openinference_names() -> None:
    s = span(
        {
            "openinference.span.kind": "LLM",
            "llm.model_name": "gpt-4o-mini",
            "llm.provider": "openai",
            "llm.invocation_parameters": '{"temperature": 0.5}',
            "llm.input_messages.0.message.role": "user",
            "llm.input_messages.0.message.content": "q",
            "llm.output_messages.0.message.role": "assistant",
            "llm.output_messages.0.message.content": "a",
            "llm.token_count.prompt": 4,
            "llm.token_count.completion": 1,
            "user.id": "u-5",
        }
    )
    got = by_type(span_events(s, [], CTX))
    assert got["model.invoked"]["parameters"] == {"temperature": 0.5}
    assert got["model.responded"]["output"] == "a"
    assert trace_context([s], "otel")["ab" * 16]["initiator"] == "u-5"


def test_content_from_log_records_and_errors() -> None:
    s = span(
        {"gen_ai.operation.name": "chat", "gen_ai.system": "openai", "gen_ai.request.model": "m"},
        status={"code": 2, "message": "rate limited"},
    )
    assert not has_content(s)
    logs = [
        {"event_name": "gen_ai.user.message", "body": {"content": "hi"}, "time_ns": NS},
        {
            "event_name": "gen_ai.choice",
            "body": {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": "yo"},
            },
            "time_ns": NS + 1,
        },
    ]
    assert has_completion(logs)
    got = by_type(span_events(s, logs, CTX))
    assert orjson.loads(got["model.invoked"]["prompt"]) == [{"role": "user", "content": "hi"}]
    assert got["model.responded"]["output"] == "yo"
    assert got["model.responded"]["error"] == "rate limited"


def test_no_content_keeps_the_facts_on_invoked() -> None:
    s = span(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "m",
            "gen_ai.usage.input_tokens": 3,
        }
    )
    got = by_type(span_events(s, [], CTX))
    assert "model.responded" not in got
    assert got["model.invoked"]["content_captured"] is False
    assert got["model.invoked"]["usage"] == {"input_tokens": 3}


def test_tools_evaluations_and_unknown_spans() -> None:
    tool = span(
        {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": "search",
            "gen_ai.tool.call.arguments": '{"q": "x"}',
        }
    )
    assert by_type(span_events(tool, [], CTX))["tool.called"]["inputs"] == {"q": "x"}
    ev = span(
        {"gen_ai.operation.name": "chat", "gen_ai.request.model": "m"},
        events=[
            {
                "name": "gen_ai.evaluation.result",
                "time_ns": NS,
                "attributes": {
                    "gen_ai.evaluation.name": "faithful",
                    "gen_ai.evaluation.score.label": "pass",
                    "gen_ai.evaluation.explanation": "matches the notes",
                },
            }
        ],
    )
    got = by_type(span_events(ev, [], CTX))
    assert got["assessment.recorded"] == {
        "criterion": "faithful",
        "result": "met",
        "rationale": "matches the notes",
        "source": "otlp",
        "score_label": "pass",
    }
    other = span({"http.route": "/x", "big": 2**62}, name="GET /x")
    raw = by_type(span_events(other, [], CTX))["telemetry.recorded"]
    assert raw["span"]["name"] == "GET /x"
    assert raw["span"]["attributes"]["big"] == str(2**62)  # past JSON's safe integers
    assert raw["span"]["start_ns"] == str(NS)


def test_policy_deviation_and_capture_mode() -> None:
    policy = load_policy(
        "id: p\nversion: '1'\ntitle: t\napproved_models: [{provider: openai, model: gpt-4o}]\n"
        "capture: {mode: digest}\n",
        "test",
    )
    ctx = RunContext("r-2", "p", "t", "low", "u-1", policy)
    s = span(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-3.5",
            "gen_ai.input.messages": '[{"role": "user", "content": "secret"}]',
            "gen_ai.output.messages": '[{"role": "assistant", "content": "reply"}]',
        }
    )
    got = by_type(span_events(s, [], ctx))
    assert "not approved" in got["deviation.recorded"]["detail"]
    assert "prompt" not in got["model.invoked"] and len(got["model.invoked"]["prompt_sha256"]) == 64
    assert "output" not in got["model.responded"]
    late = log_events(
        "k",
        [{"event_name": "gen_ai.choice", "body": {"message": {"content": "x"}}, "time_ns": NS}],
        ctx,
    )
    assert "output_sha256" in late[0].payload and "output" not in late[0].payload


def test_event_ids_are_stable_for_retries() -> None:
    s = span(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "m",
            "gen_ai.input.messages": "[]",
            "gen_ai.output.messages": '[{"role":"assistant","content":"a"}]',
        }
    )
    assert [e.id for e in span_events(s, [], CTX)] == [e.id for e in span_events(s, [], CTX)]
