"""A stub OpenAI-compatible model server for loopback tests (the only stub: the provider).

Answers chat completions (JSON or SSE), responses, embeddings and models the way the
OpenAI API does, with a reply derived from the last user message so a test can check
that what the caller got is what the evidence says. Model ``boom`` answers 500 with a
plain-text body. Every ``Authorization`` header received is kept in ``SEEN_AUTH``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

SEEN_AUTH: list[str] = []


def reply_for(messages: Any) -> str:
    last = ""
    if isinstance(messages, list):
        for m in messages:
            if isinstance(m, dict) and m.get("role") == "user":
                last = str(m.get("content"))
    elif isinstance(messages, str):
        last = messages
    return f"echo: {last}"


async def chat(request: Request) -> Response:
    SEEN_AUTH.append(request.headers.get("authorization", ""))
    req = orjson.loads(await request.body())
    if req["model"] == "boom":
        return Response(b"upstream exploded", status_code=500, media_type="text/plain")
    if req["model"] == "slow":
        await asyncio.sleep(5)
    text = reply_for(req.get("messages"))
    usage = {"prompt_tokens": 11, "completion_tokens": len(text.split()), "total_tokens": 0}
    base = {"id": "chatcmpl-stub", "created": int(time.time()), "model": req["model"]}
    if not req.get("stream"):
        return JSONResponse(
            {
                **base,
                "object": "chat.completion",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": "stop",
                    }
                ],
                "usage": usage,
            }
        )

    async def events() -> Any:
        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            body = {
                **base,
                "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            return b"data: " + orjson.dumps(body) + b"\n\n"

        yield chunk({"role": "assistant", "content": ""})
        for word in text.split(" "):
            yield chunk({"content": word if word == text.split(" ")[0] else " " + word})
        yield chunk({}, "stop")
        if (req.get("stream_options") or {}).get("include_usage"):
            yield (
                b"data: "
                + orjson.dumps(
                    {**base, "object": "chat.completion.chunk", "choices": [], "usage": usage}
                )
                + b"\n\n"
            )
        yield b"data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


async def responses(request: Request) -> Response:
    SEEN_AUTH.append(request.headers.get("authorization", ""))
    req = orjson.loads(await request.body())
    text = reply_for(req.get("input"))
    return JSONResponse(
        {
            "id": "resp-stub",
            "object": "response",
            "created_at": int(time.time()),
            "model": req["model"],
            "status": "completed",
            "output": [
                {
                    "type": "message",
                    "id": "msg-1",
                    "role": "assistant",
                    "status": "completed",
                    "content": [{"type": "output_text", "text": text, "annotations": []}],
                }
            ],
            "usage": {"input_tokens": 5, "output_tokens": 3, "total_tokens": 8},
        }
    )


async def embeddings(request: Request) -> Response:
    SEEN_AUTH.append(request.headers.get("authorization", ""))
    req = orjson.loads(await request.body())
    return JSONResponse(
        {
            "object": "list",
            "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2, 0.3]}],
            "model": req["model"],
            "usage": {"prompt_tokens": 2, "total_tokens": 2},
        }
    )


async def models(request: Request) -> Response:
    return JSONResponse(
        {"object": "list", "data": [{"id": "gpt-4o-mini", "object": "model", "owned_by": "stub"}]}
    )


app = Starlette(
    routes=[
        Route("/v1/chat/completions", chat, methods=["POST"]),
        Route("/v1/responses", responses, methods=["POST"]),
        Route("/v1/embeddings", embeddings, methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
    ]
)
