"""The real openai client, wrapped, against a stub model server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

import raidt
from raidt.errors import CaptureError, PolicyViolation
from raidt.services.app import App
from tests.sdk._openai_stub import USAGE_IN, USAGE_OUT, StubServer, reply_to, stub_server
from tests.sdk._store import TEMPLATE, make_store, verified

KEY = "sk-test-caller-secret-0123456789"
RUN = {
    "use_case": "meeting-notes",
    "initiator": "u-1",
    "team": "ops",
    "risk_level": "low",
    "template": TEMPLATE,
}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    make_store(h)
    return h


@pytest.fixture
def stub() -> Iterator[StubServer]:
    with stub_server() as srv:
        yield srv


def _calls(home: Path) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(model.invoked payload, model.responded payload) of every recorded call."""
    out = []
    with App.open(home) as app:
        for _, events in app.events.iter_runs():
            inv = None
            for e in events:
                if e.type.value == "model.invoked":
                    inv = e.payload
                elif e.type.value == "model.responded":
                    assert inv is not None
                    out.append((inv, e.payload))
    return out


def _store_bytes(home: Path) -> bytes:
    return b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())


def test_chat_whole_and_streamed_sync(home: Path, stub: StubServer) -> None:
    rec = raidt.Recorder(home)
    client = raidt.wrap_openai(openai.OpenAI(api_key=KEY, base_url=stub.base_url), rec)
    assert type(client) is openai.OpenAI
    msgs = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"}]
    with rec.run(**RUN):
        whole = client.chat.completions.create(model="gpt-4o", messages=msgs, temperature=0.2)
        stream = client.chat.completions.create(
            model="gpt-4o", messages=msgs, stream=True, stream_options={"include_usage": True}
        )
        assert type(stream) is openai.Stream
        got = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert type(whole).__name__ == "ChatCompletion"
    assert whole.choices[0].message.content == reply_to("hello") == got
    rec.flush()
    (inv1, resp1), (inv2, resp2) = _calls(home)
    assert inv1["model"] == "gpt-4o" and inv1["parameters"] == {"temperature": 0.2}
    assert inv1["prompt"] == "system: be brief\nuser: hello"
    assert resp1["output"] == reply_to("hello") == resp2["output"]
    assert resp1["usage"] == {"input_tokens": USAGE_IN, "output_tokens": USAGE_OUT}
    assert resp2["usage"] == resp1["usage"] and inv2["parameters"] == {"stream": True}
    assert resp1["latency_ms"] >= 0
    sent = {k.lower(): v for k, v in stub.seen[0][1].items()}  # openai 3 sends it lower-case
    assert sent["authorization"] == f"Bearer {KEY}"  # sent upstream ...
    assert KEY.encode() not in _store_bytes(home)  # ... and nowhere in the store
    assert verified(home)


def test_responses_whole_and_streamed_async(home: Path, stub: StubServer) -> None:
    rec = raidt.Recorder(home)
    client = raidt.wrap_openai(openai.AsyncOpenAI(api_key=KEY, base_url=stub.base_url), rec)

    async def go() -> tuple[str, str]:
        async with rec.run(**RUN):
            whole = await client.responses.create(
                model="gpt-4o-mini", input="summarise", instructions="one line"
            )
            stream = await client.responses.create(model="gpt-4o-mini", input="again", stream=True)
            assert type(stream) is openai.AsyncStream
            parts = [ev.delta async for ev in stream if ev.type == "response.output_text.delta"]
        await client.close()
        return whole.output_text, "".join(parts)

    whole, streamed = asyncio.run(go())
    assert whole == reply_to("summarise") and streamed == reply_to("again")
    rec.flush()
    (inv1, resp1), (inv2, resp2) = _calls(home)
    assert inv1["prompt"] == "instructions: one line\nuser: summarise"
    assert inv2["prompt"] == "user: again" and inv2["parameters"] == {"stream": True}
    assert resp1["output"] == whole and resp2["output"] == streamed
    assert resp2["usage"] == {"input_tokens": USAGE_IN, "output_tokens": USAGE_OUT}


def test_async_chat_and_sync_responses(home: Path, stub: StubServer) -> None:
    rec = raidt.Recorder(home)
    aclient = raidt.wrap_openai(openai.AsyncOpenAI(api_key=KEY, base_url=stub.base_url), rec)
    sclient = raidt.wrap_openai(openai.OpenAI(api_key=KEY, base_url=stub.base_url), rec)

    async def go() -> str:
        async with rec.run(**RUN):
            r = await aclient.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "a"}]
            )
            s = await aclient.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "b"}], stream=True
            )
            text = "".join([c.choices[0].delta.content or "" async for c in s])
        await aclient.close()
        return str(r.choices[0].message.content) + "|" + text

    assert asyncio.run(go()) == reply_to("a") + "|" + reply_to("b")
    with rec.run(**RUN):
        out = sclient.responses.create(model="gpt-4o", input="c")
        with sclient.responses.create(model="gpt-4o", input="d", stream=True) as events:
            for _ in events:
                pass
    rec.flush()
    outputs = sorted(r["output"] for _, r in _calls(home))
    assert outputs == sorted([reply_to("a"), reply_to("b"), out.output_text, reply_to("d")])


def test_an_abandoned_stream_records_what_was_read(home: Path, stub: StubServer) -> None:
    rec = raidt.Recorder(home)
    client = raidt.wrap_openai(openai.OpenAI(api_key=KEY, base_url=stub.base_url), rec)
    with rec.run(**RUN):
        stream = client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "long"}], stream=True
        )
        first = next(iter(stream)).choices[0].delta.content
        del stream  # dropped half-read
        gc.collect()
    rec.flush()
    [(_, resp)] = _calls(home)
    assert resp["output"] == first  # the part the caller was given, nothing invented


def test_a_stream_read_after_the_run_block_still_lands_in_the_run(
    home: Path, stub: StubServer
) -> None:
    rec = raidt.Recorder(home)
    client = raidt.wrap_openai(openai.OpenAI(api_key=KEY, base_url=stub.base_url), rec)
    with rec.run(**RUN) as run:
        stream = client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "late"}], stream=True
        )
    text = "".join(c.choices[0].delta.content or "" for c in stream)
    rec.flush()
    with App.open(home) as app:
        types = [e.type.value for e in app.events.run_events(run.run_id)]
    assert types == ["run.started", "model.invoked", "model.responded"]
    assert _calls(home)[0][1]["output"] == text
    assert verified(home)


def test_an_upstream_error_is_recorded_and_raised_unchanged(home: Path, stub: StubServer) -> None:
    rec = raidt.Recorder(home)
    client = raidt.wrap_openai(
        openai.OpenAI(api_key=KEY, base_url=stub.base_url, max_retries=0), rec
    )
    with rec.run(**RUN), pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(
            model="missing-model", messages=[{"role": "user", "content": "x"}]
        )
    assert info.value.status_code == 404
    rec.flush()
    # the meeting-notes policy allows deviations: the unlisted model is one, and recorded
    [(inv, resp)] = _calls(home)
    assert inv["model"] == "missing-model"
    assert resp["error"].startswith("NotFoundError: ") and "does not exist" in resp["error"]
    assert "output" not in resp


def test_a_refused_model_is_never_sent(home: Path, stub: StubServer) -> None:
    rec = raidt.Recorder(home)
    client = raidt.wrap_openai(
        openai.OpenAI(api_key=KEY, base_url=stub.base_url), rec, provider="azure.ai.openai"
    )
    with rec.run(
        use_case="credit-memo",
        initiator="u-1",
        team="credit",
        risk_level="high",
        template={"id": "credit-memo-draft", "version": "1"},
    ):
        with pytest.raises(PolicyViolation, match="not approved"):
            client.chat.completions.create(
                model="gpt-3.5-turbo", messages=[{"role": "user", "content": "x"}]
            )
        client.responses.create(model="gpt-4o", input="x", temperature=0.1)  # approved
        with pytest.raises(PolicyViolation, match="temperature"):
            client.responses.create(model="gpt-4o", input="x", temperature=1.9)
    assert [path for path, _, _ in stub.seen] == ["/v1/responses"]  # the approved call only


def test_calls_outside_a_run(home: Path, stub: StubServer) -> None:
    rec = raidt.Recorder(home)
    bare = raidt.wrap_openai(openai.OpenAI(api_key=KEY, base_url=stub.base_url), rec)
    with pytest.raises(CaptureError, match=r"inside rec\.run"):
        bare.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    assert stub.seen == []
    own = raidt.wrap_openai(openai.OpenAI(api_key=KEY, base_url=stub.base_url), rec, run=RUN)
    own.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "1"}])
    for _ in own.chat.completions.create(
        model="gpt-4o", stream=True, messages=[{"role": "user", "content": "2"}]
    ):
        pass
    rec.flush()
    with App.open(home) as app:
        runs = {rid: [e.type.value for e in evs] for rid, evs in app.events.iter_runs()}
    assert sorted(runs.values()) == [["run.started", "model.invoked", "model.responded"]] * 2
