"""OTLP ingest benchmark: spans per second sealed into the store, against the raw decode rate.

Each span is one GenAI chat call as the current conventions send it (operation, provider,
model, parameters, usage, ``gen_ai.input.messages`` / ``gen_ai.output.messages`` of about
2 KB), its own trace (so its own run: run.started + model.invoked + model.responded).
Three rates over the same request bodies, in one run:

* raw decode: ``ExportTraceServiceRequest.ParseFromString`` only (the floor of any Python
  OTLP receiver; the peers' script has no Collector figures to compare with);
* decode + map: our decoding to plain records and the mapping to events (pure, no store);
* end to end: ``POST /v1/traces`` to ``raidt serve`` (SQLite, durable commits) with one
  and with four concurrent exporters; a 200 means the spans are sealed in the store.

    .venv/bin/python bench/capture_otlp.py --spans 20000 --batch 512
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from raidt.capture.otlp_decode import decode_traces
from raidt.capture.otlp_map import RunContext, run_started, span_events, trace_context

RAIDT_BIN = str(Path(sys.executable).parent / "raidt")
PORT = 18120


def make_bodies(n_spans: int, batch: int) -> list[bytes]:
    text = "The customer reports that exports of the quarterly ledger time out. " * 15
    bodies = []
    for start in range(0, n_spans, batch):
        req = ExportTraceServiceRequest()
        rs = req.resource_spans.add()
        kv = rs.resource.attributes.add()
        kv.key, kv.value.string_value = "service.name", "bench"
        ss = rs.scope_spans.add()
        for i in range(start, min(start + batch, n_spans)):
            s = ss.spans.add()
            s.trace_id = os.urandom(16)
            s.span_id = os.urandom(8)
            s.name = "chat gpt-4o-mini"
            s.kind = 3
            s.start_time_unix_nano = 1_764_000_000_000_000_000 + i * 1_000_000
            s.end_time_unix_nano = s.start_time_unix_nano + 800_000_000
            for key, value in (
                ("gen_ai.operation.name", "chat"),
                ("gen_ai.provider.name", "openai"),
                ("gen_ai.request.model", "gpt-4o-mini"),
                ("gen_ai.response.model", "gpt-4o-mini"),
                ("gen_ai.response.id", f"chatcmpl-{i}"),
                ("enduser.id", f"u-{i % 50}"),
                ("raidt.use_case", "meeting-notes"),
                (
                    "gen_ai.input.messages",
                    json.dumps([{"role": "user", "parts": [{"type": "text", "content": text}]}]),
                ),
                (
                    "gen_ai.output.messages",
                    json.dumps(
                        [{"role": "assistant", "parts": [{"type": "text", "content": text}]}]
                    ),
                ),
            ):
                a = s.attributes.add()
                a.key, a.value.string_value = key, value
            for key, num in (
                ("gen_ai.usage.input_tokens", 260),
                ("gen_ai.usage.output_tokens", 200),
            ):
                a = s.attributes.add()
                a.key, a.value.int_value = key, num
            a = s.attributes.add()
            a.key, a.value.double_value = "gen_ai.request.temperature", 0.2
        bodies.append(req.SerializeToString())
    return bodies


def rate_decode(bodies: list[bytes], n: int) -> float:
    t0 = time.perf_counter()
    for b in bodies:
        ExportTraceServiceRequest().ParseFromString(b)
    return n / (time.perf_counter() - t0)


def rate_map(bodies: list[bytes], n: int) -> float:
    t0 = time.perf_counter()
    for b in bodies:
        spans = decode_traces(b, "application/x-protobuf")
        ctxs = trace_context(spans, "otel")
        for s in spans:
            c = ctxs[s["trace_id"]]
            ctx = RunContext(c["run_id"], c["use_case"], c["team"], c["risk_level"], c["initiator"])
            run_started(ctx, time_of(s))
            span_events(s, [], ctx)
    return n / (time.perf_counter() - t0)


def time_of(span: dict[str, object]) -> object:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(int(span["start_ns"]) / 1e9, tz=UTC)  # type: ignore[call-overload]


def post(url: str, token: str, body: bytes) -> None:
    req = urllib.request.Request(
        url,
        data=body,
        headers={"Content-Type": "application/x-protobuf", "X-Raidt-Token": token},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=300) as r:
        r.read()
        assert r.status == 200


def rate_server(bodies: list[bytes], n: int, clients: int) -> tuple[float, int]:
    home = Path(tempfile.mkdtemp(prefix="raidt-otlp-"))
    env = dict(os.environ, RAIDT_HOME=str(home))
    env.pop("RAIDT_DATABASE_URL", None)
    subprocess.run([RAIDT_BIN, "init"], env=env, check=True, capture_output=True)
    token = json.loads(
        subprocess.run(
            [RAIDT_BIN, "token", "create", "--role", "system", "--json"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )["token"]
    proc = subprocess.Popen(
        [RAIDT_BIN, "serve", "--port", str(PORT)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{PORT}/healthz", timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        url = f"http://127.0.0.1:{PORT}/v1/traces"
        t0 = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(lambda b: post(url, token, b), bodies))
        elapsed = time.perf_counter() - t0
    finally:
        proc.terminate()
        proc.wait(30)
    out = subprocess.run(
        [RAIDT_BIN, "verify", "--json"], env=env, capture_output=True, text=True, check=True
    )
    events = int(json.loads(out.stdout)["events"])
    shutil.rmtree(home, ignore_errors=True)
    return n / elapsed, events


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--spans", type=int, default=20000)
    p.add_argument("--batch", type=int, default=512)
    a = p.parse_args()
    bodies = make_bodies(a.spans, a.batch)
    size = sum(map(len, bodies)) / a.spans
    out: dict[str, object] = {"spans": a.spans, "batch": a.batch, "bytes_per_span": round(size)}
    out["raw_decode_spans_per_s"] = round(rate_decode(bodies, a.spans))
    out["decode_map_spans_per_s"] = round(rate_map(bodies, a.spans))
    for clients in (1, 4):
        rate, events = rate_server(bodies, a.spans, clients)
        out[f"end_to_end_{clients}_clients_spans_per_s"] = round(rate)
        out[f"end_to_end_{clients}_clients_events_stored"] = events
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
