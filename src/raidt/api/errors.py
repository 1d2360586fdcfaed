"""Error bodies of the HTTP routes: one JSON object, one line, no traceback.

The REST routes answer an RFC 9457-style problem (``RaidtError.problem``); the gateway
answers in the OpenAI error shape so OpenAI clients raise their usual exceptions; OTLP
routes answer per the OTLP/HTTP specification (see :mod:`raidt.api.routes.otlp`).
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from raidt.errors import RaidtError

__all__ = ["openai_error", "problem_response"]


def problem_response(status: int, exc: RaidtError | str, code: str | None = None) -> Response:
    body: dict[str, Any] = (
        exc.problem()
        if isinstance(exc, RaidtError)
        else {"type": code or "error", "title": str(exc).replace("\n", " ")}
    )
    body["status"] = status
    return Response(orjson.dumps(body), status_code=status, media_type="application/problem+json")


def openai_error(
    message: str, type_: str, code: str | None = None, param: str | None = None
) -> bytes:
    """The body OpenAI's API answers errors with."""
    return orjson.dumps(
        {"error": {"message": message, "type": type_, "param": param, "code": code}}
    )
