"""``raidt.wrap_openai``: record every call an OpenAI client makes, as run evidence.

The client is patched in place (``client.chat.completions.create`` and
``client.responses.create``, sync and async), so it stays the caller's object of the
caller's class, and every result, stream and exception the caller gets is the one the
``openai`` library produced. Before a call is sent, the run's policy is asked about the
model and its parameters: a refusal raises :class:`~raidt.errors.PolicyViolation` and the
call is never made. After it, the call is recorded (``model.invoked`` and
``model.responded``) with the prompt, the output, token usage, latency, or the error.

A stream is recorded when it ends or is abandoned (closed, or dropped half-read): the
recorded output is what the caller was given, assembled. Calls inside ``rec.run(...)``
attach to that run; a call outside any run becomes a run of its own when ``wrap_openai``
was given ``run`` defaults (``use_case``, ``initiator``, ``team``, ``risk_level``), and is
refused with :class:`~raidt.errors.CaptureError` otherwise, so a governed client never makes
an unrecorded call. ``openai`` itself is never imported here: the wrapper works on whatever
client object it is given.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, TypeVar

import orjson

from raidt.errors import CaptureError
from raidt.sdk._recorder import Recorder, Run, _default_recorder, current_run

__all__ = ["wrap_openai"]

_C = TypeVar("_C")

#: request fields recorded as the call's parameters (what a policy may bound)
PARAMETERS = (
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "max_output_tokens",
    "n",
    "seed",
    "stop",
    "presence_penalty",
    "frequency_penalty",
    "reasoning_effort",
    "service_tier",
    "response_format",
    "tool_choice",
)


def wrap_openai(
    client: _C,
    recorder: Recorder | None = None,
    *,
    provider: str = "openai",
    run: dict[str, Any] | None = None,
) -> _C:
    """Record the client's chat completions and responses calls; returns the same client.

    Args:
        client: an ``openai.OpenAI`` or ``openai.AsyncOpenAI`` (or Azure) client.
        recorder: where runs go (default: a recorder configured from the environment).
        provider: the provider name matched against the policy's approved models.
        run: arguments of :meth:`Recorder.run` for calls made outside any run (each such
            call becomes a run of its own); without them such calls are refused.
    """
    rec = recorder
    calls = _Calls(lambda: rec or _default_recorder(), provider, run)
    chat = getattr(getattr(client, "chat", None), "completions", None)
    if chat is not None:
        chat.create = calls.wrap(chat.create, _chat_prompt, _ChatOutput)
    responses = getattr(client, "responses", None)
    if responses is not None:
        responses.create = calls.wrap(responses.create, _responses_prompt, _ResponsesOutput)
    return client


# --- what was asked ---------------------------------------------------------------------


def _text_of(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict):
                text = part.get("text")
                parts.append(text if isinstance(text, str) else f"[{part.get('type', 'part')}]")
            else:
                parts.append(str(part))
        return "\n".join(parts)
    return str(content)


def _chat_prompt(kwargs: dict[str, Any]) -> str:
    lines = []
    for m in kwargs.get("messages") or ():
        if isinstance(m, dict):
            lines.append(f"{m.get('role', 'user')}: {_text_of(m.get('content'))}")
        else:
            lines.append(str(m))
    return "\n".join(lines)


def _responses_prompt(kwargs: dict[str, Any]) -> str:
    lines = []
    if kwargs.get("instructions"):
        lines.append(f"instructions: {kwargs['instructions']}")
    given = kwargs.get("input")
    if isinstance(given, str):
        lines.append(f"user: {given}")
    elif isinstance(given, list):
        for item in given:
            if isinstance(item, dict):
                lines.append(
                    f"{item.get('role', item.get('type', 'input'))}: "
                    f"{_text_of(item.get('content', item.get('output')))}"
                )
            else:
                lines.append(str(item))
    return "\n".join(lines)


def _parameters(kwargs: dict[str, Any]) -> dict[str, Any]:
    out = {k: kwargs[k] for k in PARAMETERS if k in kwargs and kwargs[k] is not None}
    if kwargs.get("stream"):
        out["stream"] = True
    for k, v in list(out.items()):  # keep only what JSON holds as it is
        if not isinstance(v, str | int | float | bool | list | dict):
            out[k] = str(v)
    return out


# --- what came back ---------------------------------------------------------------------


def _usage(obj: Any, inp: str, out: str) -> dict[str, int] | None:
    usage = getattr(obj, "usage", None)
    if usage is None:
        return None
    a, b = getattr(usage, inp, None), getattr(usage, out, None)
    if not isinstance(a, int) or not isinstance(b, int):
        return None
    return {"input_tokens": a, "output_tokens": b}


class _ChatOutput:
    """The output of a chat completion, whole or assembled from stream chunks."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.usage: dict[str, int] | None = None
        self.model: str | None = None

    def whole(self, resp: Any) -> None:
        self.model = getattr(resp, "model", None)
        choices = getattr(resp, "choices", None) or []
        if choices:
            msg = choices[0].message
            if msg.content:
                self.parts.append(msg.content)
            elif getattr(msg, "tool_calls", None):
                self.parts.append(orjson.dumps([tc.model_dump() for tc in msg.tool_calls]).decode())
        self.usage = _usage(resp, "prompt_tokens", "completion_tokens")

    def chunk(self, chunk: Any) -> None:
        self.model = self.model or getattr(chunk, "model", None)
        for choice in getattr(chunk, "choices", None) or []:
            if choice.index == 0 and choice.delta is not None and choice.delta.content:
                self.parts.append(choice.delta.content)
        self.usage = _usage(chunk, "prompt_tokens", "completion_tokens") or self.usage

    @property
    def text(self) -> str:
        return "".join(self.parts)


class _ResponsesOutput(_ChatOutput):
    """The output of a responses call, whole or assembled from stream events."""

    def whole(self, resp: Any) -> None:
        self.model = getattr(resp, "model", None)
        text = getattr(resp, "output_text", None)
        if text:
            self.parts.append(text)
        self.usage = _usage(resp, "input_tokens", "output_tokens")

    def chunk(self, event: Any) -> None:
        kind = getattr(event, "type", "")
        if kind == "response.output_text.delta":
            self.parts.append(event.delta)
        elif kind in ("response.completed", "response.incomplete", "response.failed"):
            resp = event.response
            self.model = self.model or getattr(resp, "model", None)
            self.usage = _usage(resp, "input_tokens", "output_tokens") or self.usage


# --- the call ---------------------------------------------------------------------------


class _Call:
    """One call being recorded: into the open run, or a run of its own."""

    def __init__(self, run: Run, own: bool, provider: str, kwargs: dict[str, Any]) -> None:
        self.run = run
        self.own = own
        self.provider = provider
        self.model = str(kwargs.get("model") or "")
        self.parameters = _parameters(kwargs)
        self.prompt: str | None = None
        self.started = time.perf_counter()
        self.done = False

    def finish(self, output: _ChatOutput | None, error: BaseException | str | None) -> None:
        if self.done:
            return
        self.done = True
        err = None
        if error is not None:
            err = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        text = output.text if output is not None else None
        self.run.model_call(
            provider=self.provider,
            model=self.model,
            parameters=self.parameters,
            prompt=self.prompt,
            output=text if (text or err is None) else None,
            usage=output.usage if output is not None else None,
            latency_ms=round((time.perf_counter() - self.started) * 1000, 3),
            error=err,
        )
        if self.own:
            self.run.__exit__(None, None, None)


class _Calls:
    def __init__(
        self,
        recorder: Callable[[], Recorder],
        provider: str,
        run_args: dict[str, Any] | None,
    ) -> None:
        self.recorder = recorder
        self.provider = provider
        self.run_args = run_args

    def begin(self, kwargs: dict[str, Any], prompt_of: Callable[[dict[str, Any]], str]) -> _Call:
        run = current_run()
        own = run is None
        if run is None:
            if self.run_args is None:
                raise CaptureError(
                    "this OpenAI client is governed: call it inside rec.run(...), or give "
                    "wrap_openai(..., run={...}) so each call is a run of its own"
                )
            run = self.recorder().run(**self.run_args)
        call = _Call(run, own, self.provider, kwargs)
        try:
            run.check_model(self.provider, call.model, call.parameters)  # refuse before sending
        except BaseException:
            if own:
                run.__exit__(None, None, None)
            raise
        call.prompt = prompt_of(kwargs)
        return call

    def wrap(
        self,
        create: Callable[..., Any],
        prompt_of: Callable[[dict[str, Any]], str],
        output: type[_ChatOutput],
    ) -> Callable[..., Any]:
        if getattr(create, "__raidt_wrapped__", False):
            return create

        @functools.wraps(create)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            call = self.begin(kwargs, prompt_of)
            try:
                result = create(*args, **kwargs)
            except BaseException as exc:
                call.finish(None, exc)
                raise
            if inspect.isawaitable(result):  # the async client: settle once awaited
                return _settle_later(call, result, output(), kwargs)
            return _settle(call, result, output(), kwargs)

        wrapped.__raidt_wrapped__ = True  # type: ignore[attr-defined]
        return wrapped


async def _settle_later(
    call: _Call, pending: Awaitable[Any], out: _ChatOutput, kwargs: dict[str, Any]
) -> Any:
    try:
        result = await pending
    except BaseException as exc:
        call.finish(None, exc)
        raise
    return _settle(call, result, out, kwargs)


def _settle(call: _Call, result: Any, out: _ChatOutput, kwargs: dict[str, Any]) -> Any:
    """Record a whole result now, or hook a stream so it is recorded when it ends."""
    iterator = getattr(result, "_iterator", None)
    if not kwargs.get("stream") or iterator is None:
        try:
            out.whole(result)
        finally:
            call.finish(out, None)
        return result
    if hasattr(iterator, "__anext__"):
        result._iterator = _observe_async(iterator, call, out)
        close = result.close

        async def aclose() -> None:
            call.finish(out, None)
            await close()

        result.close = aclose
    else:
        result._iterator = _observe(iterator, call, out)
        sclose = result.close

        def close_() -> None:
            call.finish(out, None)
            sclose()

        result.close = close_
    return result


def _observe(items: Iterator[Any], call: _Call, out: _ChatOutput) -> Iterator[Any]:
    error: BaseException | None = None
    try:
        for item in items:
            out.chunk(item)
            yield item
    except GeneratorExit:
        raise
    except BaseException as exc:
        error = exc
        raise
    finally:
        call.finish(out, error)


async def _observe_async(items: AsyncIterator[Any], call: _Call, out: _ChatOutput) -> Any:
    error: BaseException | None = None
    try:
        async for item in items:
            out.chunk(item)
            yield item
    except GeneratorExit:
        raise
    except BaseException as exc:
        error = exc
        raise
    finally:
        call.finish(out, error)
