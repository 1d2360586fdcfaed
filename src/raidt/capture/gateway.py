"""The OpenAI-compatible recording gateway under ``/openai/v1/``.

``OpenAI(base_url="http://HOST:PORT/openai/v1", default_headers={"X-Raidt-Token": ...})``
works unchanged: chat completions (streaming or not), responses, embeddings and models
are forwarded to ``RAIDT_UPSTREAM_URL`` through one shared aiohttp connection pool (the
floor measurements chose aiohttp: half the added latency of httpx and five times the
throughput). The caller's ``Authorization`` header goes to the upstream and nowhere
else: it is not stored, logged or echoed.

On the request path the gateway does only what must happen before the call: the token
check, the policy check (a model or template the policy does not approve is refused
with 403 in OpenAI's error shape, or let through as a recorded deviation when the policy
allows deviations and ``X-Raidt-Deviation-Reason`` gives the reason) and the fail-mode
check. Recording happens afterwards, off the request path (:mod:`raidt.capture.recorder`).

Request headers (DESIGN 6): ``X-Raidt-Token`` (required), ``X-Raidt-Use-Case``,
``X-Raidt-User``, ``X-Raidt-Role``, ``X-Raidt-Run-Id`` (attach to an existing run),
``X-Raidt-Template`` (``id@version``); and ``X-Raidt-Team``, ``X-Raidt-Purpose``,
``X-Raidt-Risk-Level`` (default ``medium``), ``X-Raidt-Deviation-Reason``. Every answer to
a recorded call carries ``X-Raidt-Run-Id``.

When the store cannot record (the recorder's last batch failed, or its queue is full),
``RAIDT_GATEWAY_FAIL_MODE`` decides: ``closed`` refuses calls with 503, ``open`` lets
them through and counts and logs the loss, ``auto`` (default) is closed for high-risk
runs and open otherwise.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime

import aiohttp
import orjson
from starlette.types import Receive, Scope, Send

from raidt.capture.gateway_map import GatewayCall, parameters_of
from raidt.capture.recorder import Recorder
from raidt.core.ids import new_id
from raidt.core.policy import Policy
from raidt.errors import RaidtError
from raidt.services.capture import CaptureService
from raidt.services.tokens import AuthError, TokenService
from raidt.settings import Settings

__all__ = ["PREFIX", "Gateway"]

log = logging.getLogger("raidt.gateway")

PREFIX = "/openai/v1"
GATEWAY_ROLES = frozenset({"system", "admin", "initiator"})
_RECORDED = {"/chat/completions": "chat", "/responses": "responses", "/embeddings": "embeddings"}
_FORWARDED_HEADERS = (
    "authorization",
    "accept",
    "openai-organization",
    "openai-project",
    "openai-beta",
)
_RISK = ("low", "medium", "high")
_PERSON_ROLES = (
    "initiator",
    "reviewer",
    "approver",
    "escalation_owner",
    "assessor",
    "auditor",
    "admin",
    "system",
)


class _Refusal(Exception):
    def __init__(self, status: int, message: str, type_: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_
        self.code = code


def _error_body(message: str, type_: str, code: str | None = None) -> bytes:
    return orjson.dumps({"error": {"message": message, "type": type_, "param": None, "code": code}})


class Gateway:
    """The ASGI handler of ``/openai/v1/...`` and its upstream pool and recorder."""

    def __init__(self, settings: Settings, tokens: TokenService, capture: CaptureService) -> None:
        self.settings = settings
        self.tokens = tokens
        self.capture = capture
        self.upstream = (settings.upstream_url or "").rstrip("/")
        self.provider = settings.upstream_provider
        self.recorder = Recorder(capture, max_queue=settings.gateway_queue)
        self.session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=512, keepalive_timeout=60),
            timeout=aiohttp.ClientTimeout(total=self.settings.upstream_timeout),
            auto_decompress=False,
        )
        self.recorder.start()

    async def stop(self) -> None:
        if self.session is not None:
            await self.session.close()
        await asyncio.to_thread(self.recorder.stop)

    def health(self) -> dict[str, object]:
        return {"upstream": bool(self.upstream), **self.recorder.health()}

    # --- the request path -------------------------------------------------------------

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        path = scope["path"][len(PREFIX) :] or "/"
        method = scope["method"]
        run_id: str | None = None
        try:
            self.tokens.authenticate(headers.get("x-raidt-token"), GATEWAY_ROLES)
            if not self.upstream:
                raise _Refusal(
                    503, "the gateway has no upstream (set RAIDT_UPSTREAM_URL)", "server_error"
                )
            body = await self._body(receive)
            endpoint = _RECORDED.get(path)
            if method == "GET" and (path == "/models" or path.startswith("/models/")):
                await self._forward_plain(method, path, headers, send)
                return
            if method != "POST" or endpoint is None:
                raise _Refusal(
                    404,
                    f"the gateway does not serve {method} {PREFIX}{path}",
                    "invalid_request_error",
                    "unknown_url",
                )
            call = self._decide(endpoint, body, headers)
            run_id = call.run_id
        except AuthError as exc:
            await self._send_error(
                send,
                403 if exc.forbidden else 401,
                exc.message,
                "invalid_request_error",
                "invalid_raidt_token",
            )
            return
        except _Refusal as exc:
            await self._send_error(send, exc.status, exc.message, exc.type, exc.code, run_id)
            return
        await self._forward_recorded(path, body, headers, call, send)

    async def _body(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        cap = self.settings.max_body_bytes
        while True:
            msg = await receive()
            chunk = msg.get("body", b"")
            size += len(chunk)
            if size <= cap:
                chunks.append(chunk)
            if not msg.get("more_body"):
                break
        if size > cap:
            raise _Refusal(
                413, f"the request body is larger than {cap} bytes", "invalid_request_error"
            )
        return b"".join(chunks)

    def _decide(self, endpoint: str, body: bytes, headers: dict[str, str]) -> GatewayCall:
        """Parse, check against the policy, decide the fail mode: the call to forward."""
        try:
            req = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise _Refusal(
                400, "the request body is not valid JSON", "invalid_request_error"
            ) from None
        if not isinstance(req, dict) or not isinstance(req.get("model"), str) or not req["model"]:
            raise _Refusal(
                400, "the request must be a JSON object with a 'model'", "invalid_request_error"
            )
        model: str = req["model"]
        risk = headers.get("x-raidt-risk-level", "medium").strip().lower()
        if risk not in _RISK:
            raise _Refusal(
                400, "X-Raidt-Risk-Level must be low, medium or high", "invalid_request_error"
            )
        role = headers.get("x-raidt-role", "initiator").strip().lower()
        if role not in _PERSON_ROLES:
            raise _Refusal(
                400,
                f"X-Raidt-Role must be one of {', '.join(_PERSON_ROLES)}",
                "invalid_request_error",
            )
        attach = headers.get("x-raidt-run-id", "").strip()
        use_case = (
            headers.get("x-raidt-use-case", "").strip() or self.settings.gateway_use_case or ""
        )
        policy: Policy
        try:
            if attach:
                policy = self.capture.policy_of_run(attach)
                use_case = policy.id
            else:
                if not use_case:
                    raise _Refusal(
                        400,
                        "send X-Raidt-Use-Case (or set RAIDT_GATEWAY_USE_CASE)",
                        "invalid_request_error",
                    )
                policy = self.capture.policy_in_force(use_case)
        except RaidtError as exc:
            status = 404 if exc.code == "not_found" else 400
            raise _Refusal(status, exc.diagnostic(), "invalid_request_error", exc.code) from None
        problems: list[tuple[str, str]] = []
        template: dict[str, str] | None = None
        tref = headers.get("x-raidt-template", "").strip()
        if tref:
            tid, sep, version = tref.rpartition("@")
            if not sep or not tid or not version:
                raise _Refusal(
                    400, "X-Raidt-Template must be 'id@version'", "invalid_request_error"
                )
            template = {"id": tid, "version": version}
            why = policy.template_problem(tid, version)
            if why:
                problems.append(("template", why))
        why = policy.model_problem(self.provider, model, parameters_of(req))
        if why:
            problems.append(("model", why))
        deviation: tuple[str, str, str] | None = None
        if problems:
            what, detail = problems[0]
            reason = headers.get("x-raidt-deviation-reason", "").strip()
            if not policy.allow_deviations:
                raise _Refusal(
                    403,
                    f"{detail}; policy {policy.id} allows no deviations",
                    "invalid_request_error",
                    f"{what}_not_approved",
                )
            if not reason:
                raise _Refusal(
                    403,
                    f"{detail}; send X-Raidt-Deviation-Reason to proceed as a recorded deviation",
                    "invalid_request_error",
                    f"{what}_not_approved",
                )
            deviation = (what, "; ".join(d for _, d in problems), reason)
        cannot_record = not self.recorder.healthy or self.recorder.full()
        if cannot_record and self._fails_closed(risk):
            raise _Refusal(
                503,
                "the evidence store cannot record now and this call's policy fails closed",
                "server_error",
                "recording_unavailable",
            )
        return GatewayCall(
            run_id=attach or new_id(),
            new_run=not attach,
            endpoint=endpoint,
            provider=self.provider,
            model=model,
            request=req,
            policy=policy,
            policy_ref=self.capture.policy_ref(policy),
            actor_id=headers.get("x-raidt-user", "").strip() or "gateway-caller",
            actor_role=role,
            started=datetime.now(UTC),
            use_case=use_case,
            team=headers.get("x-raidt-team", "").strip() or "unknown",
            purpose=headers.get("x-raidt-purpose") or None,
            risk_level=risk,
            template=template,
            deviation=deviation,
            stream=bool(req.get("stream")),
        )

    def _fails_closed(self, risk: str) -> bool:
        mode = self.settings.gateway_fail_mode
        return mode == "closed" or (mode == "auto" and risk == "high")

    def _upstream_headers(self, headers: dict[str, str]) -> dict[str, str]:
        out = {"content-type": "application/json"}
        for name in _FORWARDED_HEADERS:
            value = headers.get(name)
            if value is not None:
                out[name] = value
        return out

    async def _forward_plain(
        self, method: str, path: str, headers: dict[str, str], send: Send
    ) -> None:
        assert self.session is not None
        try:
            async with self.session.request(
                method, self.upstream + path, headers=self._upstream_headers(headers)
            ) as resp:
                data = await resp.read()
                ctype = resp.headers.get("content-type", "application/json")
                status = resp.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            status, data, ctype = self._upstream_failure(exc)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", ctype.encode())],
            }
        )
        await send({"type": "http.response.body", "body": data})

    @staticmethod
    def _upstream_failure(exc: BaseException) -> tuple[int, bytes, str]:
        if isinstance(exc, TimeoutError):
            return (
                504,
                _error_body("the upstream did not answer in time", "timeout", "upstream_timeout"),
                "application/json",
            )
        why = type(exc).__name__
        return (
            502,
            _error_body(
                f"the upstream cannot be reached ({why})", "server_error", "upstream_unreachable"
            ),
            "application/json",
        )

    async def _forward_recorded(
        self, path: str, body: bytes, headers: dict[str, str], call: GatewayCall, send: Send
    ) -> None:
        assert self.session is not None
        t0 = time.perf_counter()
        rid = call.run_id.encode()
        try:
            resp = await self.session.post(
                self.upstream + path, data=body, headers=self._upstream_headers(headers)
            )
        except (TimeoutError, aiohttp.ClientError) as exc:
            status, data, ctype = self._upstream_failure(exc)
            call.error = orjson.loads(data)["error"]["message"]
            call.status = status
            self._record(call, t0)
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"x-raidt-run-id", rid)],
                }
            )
            await send({"type": "http.response.body", "body": data})
            return
        ctype = resp.headers.get("content-type", "application/json")
        call.status = resp.status
        out_headers = [(b"content-type", ctype.encode("latin-1")), (b"x-raidt-run-id", rid)]
        if ctype.startswith("text/event-stream") and resp.status == 200:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [*out_headers, (b"cache-control", b"no-cache")],
                }
            )
            call.stream = True
            try:
                async for chunk in resp.content.iter_any():
                    call.chunks.append(chunk)
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b""})
            except (TimeoutError, aiohttp.ClientError) as exc:
                call.error = f"the upstream stream broke off ({type(exc).__name__})"
                await send({"type": "http.response.body", "body": b""})
            except OSError:
                call.abandoned = True
            finally:
                resp.release()
                self._record(call, t0)
            return
        try:
            data = await resp.read()
        except (TimeoutError, aiohttp.ClientError) as exc:
            status, data, ctype = self._upstream_failure(exc)
            call.status = status
            call.error = orjson.loads(data)["error"]["message"]
            out_headers = [(b"content-type", b"application/json"), (b"x-raidt-run-id", rid)]
        finally:
            resp.release()
        if call.status is not None and call.status >= 500 and call.error is None:
            data = self._openai_shaped(call.status, data)
            out_headers = [(b"content-type", b"application/json"), (b"x-raidt-run-id", rid)]
        call.body = data
        self._record(call, t0)
        await send(
            {"type": "http.response.start", "status": call.status or 502, "headers": out_headers}
        )
        await send({"type": "http.response.body", "body": data})

    @staticmethod
    def _openai_shaped(status: int, data: bytes) -> bytes:
        try:
            obj = orjson.loads(data)
            if isinstance(obj, dict) and isinstance(obj.get("error"), dict):
                return data
        except orjson.JSONDecodeError:
            pass
        text = data[:200].decode("utf-8", "replace").replace("\n", " ")
        return _error_body(
            f"the upstream answered HTTP {status}: {text}", "server_error", "upstream_error"
        )

    def _record(self, call: GatewayCall, t0: float) -> None:
        call.latency_ms = (time.perf_counter() - t0) * 1000.0
        call.ended = datetime.now(UTC)
        if not self.recorder.submit(call):
            self.recorder.count_lost(1, f"the recording queue is full (run {call.run_id})")

    async def _send_error(
        self,
        send: Send,
        status: int,
        message: str,
        type_: str,
        code: str | None = None,
        run_id: str | None = None,
    ) -> None:
        headers = [(b"content-type", b"application/json")]
        if run_id:
            headers.append((b"x-raidt-run-id", run_id.encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": _error_body(message, type_, code)})
