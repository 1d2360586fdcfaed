"""OTLP ingest with the real instrumentations and exporters, and malformed payloads.

The real ``opentelemetry-instrumentation-openai-v2`` and
``openinference-instrumentation-openai`` wrap the real ``openai`` client talking to a stub
model server; the real OTLP/HTTP exporters send to ``/v1/traces`` and ``/v1/logs``.
"""

from __future__ import annotations

import gzip
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import orjson
import pytest
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from raidt.services.app import App
from raidt.services.policies import install_presets
from raidt.services.tokens import TokenService
from raidt.services.verification import verify_store
from tests.api import _stub_openai
from tests.api._server import running_asgi, running_server, settings_for


@dataclass
class Served:
    base: str
    upstream: str
    app: App
    token: str


@pytest.fixture
def served(tmp_path: Path, sqlite_url: str) -> Iterator[Served]:
    with running_asgi(_stub_openai.app) as upstream:
        settings = settings_for(tmp_path / "home", sqlite_url, capture_use_case="meeting-notes")
        with App.from_settings(settings) as app:
            _ = app.signing_key
            install_presets(app)
            token = TokenService(app).create("system", "otel").token
            with running_server(settings) as base:
                yield Served(base, f"{upstream}/v1", app, token)


def _providers(served: Served) -> tuple[TracerProvider, LoggerProvider]:
    headers = {"X-Raidt-Token": served.token}
    resource = Resource.create({"service.name": "ward-7-notes"})
    tp = TracerProvider(resource=resource)
    tp.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{served.base}/v1/traces", headers=headers))
    )
    lp = LoggerProvider(resource=resource)
    lp.add_log_record_processor(
        BatchLogRecordProcessor(OTLPLogExporter(endpoint=f"{served.base}/v1/logs", headers=headers))
    )
    return tp, lp


def _runs_with_output(app: App, deadline_s: float = 30) -> list[list[dict[str, object]]]:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        runs = [[e.to_json_dict() for e in events] for _, events in app.events.iter_runs()]
        done = [r for r in runs if any(e["type"] == "model.responded" for e in r)]
        if done:
            return done
        time.sleep(0.1)
    raise AssertionError("no run with a model reply reached the store")


def _check_run(run: list[dict[str, object]], prompt: str, user: str) -> None:
    types = [e["type"] for e in run]
    assert types[0] == "run.started"
    assert run[0]["actor"] == {"id": user, "role": "initiator"}
    started = run[0]["payload"]
    assert started["use_case"] == "meeting-notes"  # type: ignore[index]
    invoked = next(e["payload"] for e in run if e["type"] == "model.invoked")
    responded = next(e["payload"] for e in run if e["type"] == "model.responded")
    assert invoked["model"] == "gpt-4o-mini"  # type: ignore[index]
    assert invoked["provider"] == "openai"  # type: ignore[index]
    messages = orjson.loads(str(invoked["prompt"]))  # type: ignore[index]
    assert {"role": "user", "content": prompt} in messages
    assert responded["output"] == f"echo: {prompt}"  # type: ignore[index]
    assert responded["usage"]["input_tokens"] == 11  # type: ignore[index]


def test_opentelemetry_openai_v2_spans_and_logs(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    tp, lp = _providers(served)
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=tp, logger_provider=lp)
    try:
        client = openai.OpenAI(api_key="sk-stub", base_url=served.upstream, max_retries=0)
        tracer = tp.get_tracer("app")
        with tracer.start_as_current_span("discharge note", attributes={"enduser.id": "u-42"}):
            client.chat.completions.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": "summarise the ward round"}],
                temperature=0.3,
            )
        # logs first: content that arrives before its span waits for it
        lp.force_flush()
        tp.force_flush()
    finally:
        instrumentor.uninstrument()
        tp.shutdown()
        lp.shutdown()
    runs = _runs_with_output(served.app)
    assert len(runs) == 1
    _check_run(runs[0], "summarise the ward round", "u-42")
    invoked = next(e["payload"] for e in runs[0] if e["type"] == "model.invoked")
    assert invoked["parameters"]["temperature"] == 0.3  # type: ignore[index]
    # the wrapper span is no GenAI span: kept whole, not dropped
    assert any(e["type"] == "telemetry.recorded" for e in runs[0])
    assert verify_store(served.app).ok


def test_openinference_openai_spans(served: Served) -> None:
    from openinference.instrumentation import using_user
    from openinference.instrumentation.openai import OpenAIInstrumentor

    tp, lp = _providers(served)
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=tp)
    try:
        client = openai.OpenAI(api_key="sk-stub", base_url=served.upstream, max_retries=0)
        with using_user("u-9"):
            client.chat.completions.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": "draft the credit memo"}],
            )
        tp.force_flush()
    finally:
        instrumentor.uninstrument()
        tp.shutdown()
        lp.shutdown()
    runs = _runs_with_output(served.app)
    assert len(runs) == 1
    _check_run(runs[0], "draft the credit memo", "u-9")


def _post(served: Served, path: str, body: bytes, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{served.base}{path}",
        content=body,
        headers={"X-Raidt-Token": served.token, **headers},
        timeout=120,
    )


def _valid_trace_body() -> bytes:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    req = ExportTraceServiceRequest()
    span = req.resource_spans.add().scope_spans.add().spans.add()
    span.trace_id = bytes(range(16))
    span.span_id = bytes(range(8))
    span.name = "chat gpt-4o-mini"
    span.start_time_unix_nano = 1_700_000_000_000_000_000
    span.end_time_unix_nano = 1_700_000_000_500_000_000
    for k, v in (
        ("gen_ai.operation.name", "chat"),
        ("gen_ai.provider.name", "openai"),
        ("gen_ai.request.model", "gpt-4o-mini"),
        ("gen_ai.input.messages", '[{"role":"user","parts":[{"type":"text","content":"hi"}]}]'),
        (
            "gen_ai.output.messages",
            '[{"role":"assistant","parts":[{"type":"text","content":"yo"}]}]',
        ),
    ):
        kv = span.attributes.add()
        kv.key = k
        kv.value.string_value = v
    data: bytes = req.SerializeToString()
    return data


def test_malformed_otlp_is_refused_and_stores_nothing(served: Served) -> None:
    good = _valid_trace_body()
    proto = {"Content-Type": "application/x-protobuf"}
    cases = [
        (good[: len(good) // 2], proto),  # truncated protobuf
        (good, {"Content-Type": "text/plain"}),  # wrong content type
        (
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}',
            {"Content-Type": "application/json"},
        ),
        (
            gzip.compress(b"\0" * (64 * 1024 * 1024)),
            {**proto, "Content-Encoding": "gzip"},
        ),  # gzip bomb
        (gzip.compress(good)[:-8], {**proto, "Content-Encoding": "gzip"}),  # truncated gzip
        (os.urandom(1024) * (100 * 1024), proto),  # 100 MB body
    ]
    for body, headers in cases:
        r = _post(served, "/v1/traces", body, **headers)
        assert 400 <= r.status_code < 500, (r.status_code, headers)
    assert _post(served, "/v1/logs", b"\x0a\xff", **proto).status_code == 400
    assert httpx.post(f"{served.base}/v1/traces", content=good, headers=proto).status_code == 401
    assert served.app.events.count_events() == 0
    # the server is still up and takes a good payload, in both encodings
    assert httpx.get(f"{served.base}/healthz").status_code == 200
    ok = _post(served, "/v1/traces", gzip.compress(good), **proto, **{"Content-Encoding": "gzip"})
    assert ok.status_code == 200, ok.text
    assert served.app.events.count_events() == 3  # run.started, model.invoked, model.responded
    # an exporter's retry stores nothing twice
    assert _post(served, "/v1/traces", good, **proto).status_code == 200
    assert served.app.events.count_events() == 3
    json_body = orjson.dumps(
        {
            "resourceSpans": [
                {
                    "scopeSpans": [
                        {
                            "spans": [
                                {
                                    "traceId": "0f" * 16,
                                    "spanId": "0e" * 8,
                                    "name": "some job",
                                    "startTimeUnixNano": "1700000000000000000",
                                    "endTimeUnixNano": "1700000001000000000",
                                    "attributes": [
                                        {"key": "raidt.run_id", "value": {"stringValue": "r-json"}}
                                    ],
                                }
                            ]
                        }
                    ]
                }
            ]
        }
    )
    r = _post(served, "/v1/traces", json_body, **{"Content-Type": "application/json"})
    assert r.status_code == 200 and r.json() == {}
    evs = served.app.events.run_events("r-json")
    assert [e.type.value for e in evs] == ["run.started", "telemetry.recorded"]
    assert evs[1].payload["span"]["span_id"] == "0e" * 8
