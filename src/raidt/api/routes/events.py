"""``POST /api/events``: a batch of DESIGN 6.1 events, as ``raidt import`` takes them.

The SDK's remote path (``RAIDT_URL`` + ``RAIDT_TOKEN``). The body is a JSON list
(``application/json``) or JSONL (``application/x-ndjson``), optionally gzip-encoded;
every event is validated exactly as an import line is, and the whole batch is stored in
one transaction or not at all. Events whose ids are already stored with the same content
are skipped, so a retried batch does not duplicate. The answer is
``{"accepted": n, "stored": k, "duplicates": d, "run_ids": [...]}``.
"""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from raidt.api.auth import CAPTURE_ROLES, authenticate, status_of
from raidt.api.bodies import BodyError, read_body
from raidt.api.errors import problem_response
from raidt.api.state import ServerState
from raidt.errors import RaidtError
from raidt.services.capture import parse_events_body
from raidt.services.tokens import AuthError

__all__ = ["router"]

router = APIRouter(prefix="/api")


@router.post("/events", status_code=200)
async def post_events(request: Request) -> Response:
    """Append a batch of events (role ``system`` or ``admin``)."""
    state: ServerState = request.app.state.raidt
    try:
        authenticate(state.tokens, request.headers, CAPTURE_ROLES, bearer=True)
    except AuthError as exc:
        return problem_response(status_of(exc), exc)
    try:
        body = await read_body(request, state.settings.max_body_bytes)
    except BodyError as exc:
        return problem_response(exc.status, exc.message, "body_refused")
    try:
        events = parse_events_body(
            body, request.headers.get("content-type", ""), source="request body"
        )
        result = await run_in_threadpool(state.capture.append, events)
    except RaidtError as exc:
        return problem_response(422 if exc.code == "import_error" else 400, exc)
    return Response(orjson.dumps(result.to_dict()), media_type="application/json")
