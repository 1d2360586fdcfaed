"""A stub OpenAI-compatible model server on 127.0.0.1 (the one stub the house rules allow:
a remote model provider). Answers chat completions and responses, whole or streamed (SSE),
with a deterministic reply; the model ``missing-model`` gets OpenAI's 404 error shape."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

USAGE_IN, USAGE_OUT = 11, 7


def reply_to(text: str) -> str:
    return f"echo: {text[:40]} (three short sentences follow.) One. Two. Three."


def _chat(model: str, text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "logprobs": None,
                "message": {"role": "assistant", "content": reply_to(text)},
            }
        ],
        "usage": {
            "prompt_tokens": USAGE_IN,
            "completion_tokens": USAGE_OUT,
            "total_tokens": USAGE_IN + USAGE_OUT,
        },
    }


def _response(model: str, text: str) -> dict[str, Any]:
    return {
        "id": "resp_1",
        "object": "response",
        "created_at": int(time.time()),
        "model": model,
        "status": "completed",
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "output": [
            {
                "type": "message",
                "id": "msg_1",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": reply_to(text), "annotations": []}],
            }
        ],
        "usage": {
            "input_tokens": USAGE_IN,
            "output_tokens": USAGE_OUT,
            "total_tokens": USAGE_IN + USAGE_OUT,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0},
        },
    }


def _pieces(text: str) -> list[str]:
    return [text[i : i + 7] for i in range(0, len(text), 7)]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: StubServer

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        self.server.seen.append((self.path, dict(self.headers), body))
        model = body.get("model", "")
        if model == "missing-model":
            self._json(
                404,
                {
                    "error": {
                        "message": f"The model `{model}` does not exist",
                        "type": "invalid_request_error",
                        "param": None,
                        "code": "model_not_found",
                    }
                },
            )
            return
        if self.path.endswith("/chat/completions"):
            text = str(body["messages"][-1]["content"])
            if body.get("stream"):
                self._stream_chat(model, text, body)
            else:
                self._json(200, _chat(model, text))
        elif self.path.endswith("/responses"):
            given = body.get("input")
            text = given if isinstance(given, str) else str(given[-1]["content"])
            if body.get("stream"):
                self._stream_responses(model, text)
            else:
                self._json(200, _response(model, text))
        else:
            self._json(404, {"error": {"message": "no such route", "type": "not_found"}})

    def _json(self, status: int, obj: Any) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _sse_start(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def _send(self, obj: Any, event: str | None = None) -> None:
        head = f"event: {event}\n" if event else ""
        self.wfile.write(f"{head}data: {json.dumps(obj)}\n\n".encode())
        self.wfile.flush()

    def _stream_chat(self, model: str, text: str, body: dict[str, Any]) -> None:
        self._sse_start()
        base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 0, "model": model}
        for piece in _pieces(reply_to(text)):
            self._send(
                {
                    **base,
                    "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
                }
            )
        self._send({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        if (body.get("stream_options") or {}).get("include_usage"):
            self._send(
                {
                    **base,
                    "choices": [],
                    "usage": {
                        "prompt_tokens": USAGE_IN,
                        "completion_tokens": USAGE_OUT,
                        "total_tokens": USAGE_IN + USAGE_OUT,
                    },
                }
            )
        self.wfile.write(b"data: [DONE]\n\n")

    def _stream_responses(self, model: str, text: str) -> None:
        self._sse_start()
        whole = _response(model, text)
        seq = 0
        self._send(
            {
                "type": "response.created",
                "sequence_number": seq,
                "response": {**whole, "status": "in_progress", "output": [], "usage": None},
            },
            "response.created",
        )
        for piece in _pieces(reply_to(text)):
            seq += 1
            self._send(
                {
                    "type": "response.output_text.delta",
                    "item_id": "msg_1",
                    "output_index": 0,
                    "content_index": 0,
                    "delta": piece,
                    "logprobs": [],
                    "sequence_number": seq,
                },
                "response.output_text.delta",
            )
        self._send(
            {"type": "response.completed", "sequence_number": seq + 1, "response": whole},
            "response.completed",
        )


class StubServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.seen: list[tuple[str, dict[str, str], Any]] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


@contextmanager
def stub_server() -> Iterator[StubServer]:
    srv = StubServer()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
