"""OTLP/HTTP request bodies -> plain span and log records (pure: no I/O).

Both encodings of the OTLP specification are read with ``opentelemetry-proto``'s
messages: protobuf as is, JSON through protobuf's JSON mapping after the one place where
OTLP/JSON departs from it (trace and span ids are hex, not base64). What comes out is
plain data — dicts of attributes with their values unwrapped — that the mapping
(:mod:`raidt.capture.otlp_map`) reads and that can be staged as JSON.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

__all__ = ["OtlpDecodeError", "any_value", "decode_logs", "decode_traces"]

_ID_KEYS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")


class OtlpDecodeError(ValueError):
    """The body is not an OTLP export request in the stated encoding."""


def any_value(v: AnyValue) -> Any:
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return attributes(v.kvlist_value.values)
    if kind == "bytes_value":
        return v.bytes_value.hex()
    return getattr(v, kind)


def attributes(kvs: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    kv: KeyValue
    for kv in kvs:
        out[kv.key] = any_value(kv.value)
    return out


def _hex_ids_to_base64(node: Any) -> Any:
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k in _ID_KEYS and isinstance(v, str) and v:
                try:
                    v = base64.b64encode(bytes.fromhex(v)).decode()
                except ValueError:
                    raise OtlpDecodeError(f"{k} is not hex: {v[:40]!r}") from None
            else:
                v = _hex_ids_to_base64(v)
            out[k] = v
        return out
    if isinstance(node, list):
        return [_hex_ids_to_base64(x) for x in node]
    return node


def _parse(body: bytes, media: str, message: Any) -> Any:
    if media == "application/x-protobuf":
        try:
            message.ParseFromString(body)
        except (DecodeError, RuntimeError, ValueError) as exc:
            raise OtlpDecodeError(f"not an OTLP protobuf message ({exc})") from None
        return message
    if media == "application/json":
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise OtlpDecodeError(f"not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise OtlpDecodeError("an OTLP JSON body is an object")
        try:
            json_format.ParseDict(_hex_ids_to_base64(data), message, ignore_unknown_fields=True)
        except (json_format.ParseError, ValueError, TypeError) as exc:
            raise OtlpDecodeError(f"not an OTLP JSON message ({str(exc)[:200]})") from None
        return message
    raise OtlpDecodeError(
        f"Content-Type {media or '(none)'!r} is not OTLP: use application/x-protobuf or "
        "application/json"
    )


def _id(raw: bytes, size: int, what: str) -> str:
    if len(raw) != size:
        raise OtlpDecodeError(f"a {what} has {len(raw)} bytes, not {size}")
    return raw.hex()


def decode_traces(body: bytes, media: str) -> list[dict[str, Any]]:
    """Every span of an ExportTraceServiceRequest, with its resource and scope."""
    req = _parse(body, media, ExportTraceServiceRequest())
    spans: list[dict[str, Any]] = []
    for rs in req.resource_spans:
        resource = attributes(rs.resource.attributes)
        for ss in rs.scope_spans:
            for s in ss.spans:
                spans.append(
                    {
                        "trace_id": _id(s.trace_id, 16, "trace id"),
                        "span_id": _id(s.span_id, 8, "span id"),
                        "parent_span_id": s.parent_span_id.hex() or None,
                        "name": s.name,
                        "kind": int(s.kind),
                        "start_ns": int(s.start_time_unix_nano),
                        "end_ns": int(s.end_time_unix_nano),
                        "attributes": attributes(s.attributes),
                        "events": [
                            {
                                "name": e.name,
                                "time_ns": int(e.time_unix_nano),
                                "attributes": attributes(e.attributes),
                            }
                            for e in s.events
                        ],
                        "status": {"code": int(s.status.code), "message": s.status.message},
                        "resource": resource,
                        "scope": ss.scope.name,
                    }
                )
    return spans


def decode_logs(body: bytes, media: str) -> list[dict[str, Any]]:
    """Every log record of an ExportLogsServiceRequest, with its resource and scope."""
    req = _parse(body, media, ExportLogsServiceRequest())
    logs: list[dict[str, Any]] = []
    for rl in req.resource_logs:
        resource = attributes(rl.resource.attributes)
        for sl in rl.scope_logs:
            for r in sl.log_records:
                attrs = attributes(r.attributes)
                name = r.event_name or str(attrs.get("event.name") or "")
                logs.append(
                    {
                        "trace_id": r.trace_id.hex() if len(r.trace_id) == 16 else "",
                        "span_id": r.span_id.hex() if len(r.span_id) == 8 else "",
                        "time_ns": int(r.time_unix_nano or r.observed_time_unix_nano),
                        "event_name": name,
                        "body": any_value(r.body),
                        "attributes": attrs,
                        "severity": r.severity_text,
                        "resource": resource,
                        "scope": sl.scope.name,
                    }
                )
    return logs
