"""OTLP/HTTP ingest: ``POST /v1/traces`` and ``POST /v1/logs``.

Protobuf (``application/x-protobuf``) and JSON (``application/json``) bodies, optionally
gzip-encoded, as the OTLP specification defines; ``X-Raidt-Token`` authorises the exporter
(``OTEL_EXPORTER_OTLP_HEADERS=X-Raidt-Token=...``). Success is an empty export response in
the request's encoding. A malformed body gets 400 with a ``google.rpc.Status`` (protobuf or
JSON) and changes nothing; a store that cannot write gets 503, which exporters retry.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from raidt.api.auth import EXPORTER_ROLES, authenticate, status_of
from raidt.api.bodies import BodyError, read_body
from raidt.api.state import ServerState
from raidt.capture.otlp_decode import OtlpDecodeError, decode_logs, decode_traces
from raidt.errors import RaidtError
from raidt.services.tokens import AuthError

__all__ = ["router"]

router = APIRouter()

_PROTOBUF = "application/x-protobuf"
_JSON = "application/json"


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _status(media: str, http: int, grpc_code: int, message: str) -> Response:
    """An OTLP error answer: google.rpc.Status {code, message} in the request's encoding."""
    if media == _PROTOBUF:
        msg = message.encode("utf-8")
        body = b"\x08" + _varint(grpc_code) + b"\x12" + _varint(len(msg)) + msg
        return Response(body, status_code=http, media_type=_PROTOBUF)
    return Response(
        orjson.dumps({"code": grpc_code, "message": message}), status_code=http, media_type=_JSON
    )


async def _ingest(
    request: Request,
    decode: Callable[[bytes, str], list[dict[str, Any]]],
    ingest: Callable[[list[dict[str, Any]]], Any],
) -> Response:
    state: ServerState = request.app.state.raidt
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    answer_media = _PROTOBUF if media == _PROTOBUF else _JSON
    try:
        authenticate(state.tokens, request.headers, EXPORTER_ROLES, bearer=False)
    except AuthError as exc:
        return _status(answer_media, status_of(exc), 16, exc.message)
    try:
        body = await read_body(request, state.settings.max_body_bytes)
        records = decode(body, media)
    except BodyError as exc:
        return _status(answer_media, exc.status, 3, exc.message)
    except OtlpDecodeError as exc:
        return _status(answer_media, 415 if "Content-Type" in str(exc) else 400, 3, str(exc))
    try:
        await run_in_threadpool(ingest, records)
    except RaidtError as exc:
        return _status(answer_media, 400, 3, exc.diagnostic())
    except Exception as exc:  # the store could not write: the exporter should retry
        return _status(answer_media, 503, 14, f"the store cannot record now ({type(exc).__name__})")
    if answer_media == _PROTOBUF:
        return Response(b"", media_type=_PROTOBUF)
    return Response(b"{}", media_type=_JSON)


@router.post("/v1/traces")
async def traces(request: Request) -> Response:
    """Ingest spans (OTLP/HTTP)."""
    state: ServerState = request.app.state.raidt
    assert state.otlp is not None
    return await _ingest(request, decode_traces, state.otlp.traces)


@router.post("/v1/logs")
async def logs(request: Request) -> Response:
    """Ingest log records (OTLP/HTTP): GenAI prompts and replies often arrive here."""
    state: ServerState = request.app.state.raidt
    assert state.otlp is not None
    return await _ingest(request, decode_logs, state.otlp.logs)
