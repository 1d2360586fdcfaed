"""The gateway as developers use it: the real ``openai`` client with ``base_url`` pointed
at ``/openai/v1``, forwarding to a stub model server on loopback."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import orjson
import pytest

from raidt.services.app import App
from raidt.services.policies import install_presets
from raidt.services.tokens import TokenService
from raidt.services.verification import verify_store
from tests.api import _stub_openai
from tests.api._server import free_port, running_asgi, running_server, settings_for

CALLER_KEY = "sk-caller-secret-0123456789abcdef"


@dataclass
class Served:
    base: str
    app: App
    token: str
    home: Path

    def client(self, **headers: str) -> openai.OpenAI:
        return openai.OpenAI(
            api_key=CALLER_KEY,
            base_url=f"{self.base}/openai/v1",
            default_headers={"X-Raidt-Token": self.token, **headers},
            max_retries=0,
        )

    def events(self, run_id: str) -> list[dict[str, object]]:
        return [e.to_json_dict() for e in self.app.events.run_events(run_id)]


def _wait_recorded(served: Served, run_id: str, n: int) -> list[dict[str, object]]:
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        evs = served.events(run_id)
        if len(evs) >= n:
            return evs
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} has {len(served.events(run_id))} events, not {n}")


@pytest.fixture
def served(tmp_path: Path, sqlite_url: str) -> Iterator[Served]:
    with running_asgi(_stub_openai.app) as upstream:
        settings = settings_for(
            tmp_path / "home", sqlite_url, upstream_url=f"{upstream}/v1", upstream_timeout=2.0
        )
        with App.from_settings(settings) as app:
            _ = app.signing_key
            install_presets(app)
            token = TokenService(app).create("system", "gateway-test").token
            with running_server(settings) as base:
                yield Served(base, app, token, tmp_path / "home")


def _payload(evs: list[dict[str, object]], etype: str) -> dict[str, object]:
    found = [e["payload"] for e in evs if e["type"] == etype]
    assert found, f"no {etype} in {[e['type'] for e in evs]}"
    return found[0]  # type: ignore[return-value]


def test_chat_completion_recorded_as_sent_and_received(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = served.client(**{"X-Raidt-Use-Case": "meeting-notes", "X-Raidt-User": "u-7"})
    messages = [
        {"role": "system", "content": "You write minutes."},
        {"role": "user", "content": "Summarise: budget approved, launch in May."},
    ]
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=messages, temperature=0.2
    )
    reply = raw.parse()
    run_id = raw.headers["x-raidt-run-id"]
    assert reply.choices[0].message.content == "echo: Summarise: budget approved, launch in May."
    evs = _wait_recorded(served, run_id, 3)
    assert [e["type"] for e in evs] == ["run.started", "model.invoked", "model.responded"]
    started = _payload(evs, "run.started")
    assert started["use_case"] == "meeting-notes"
    assert evs[0]["actor"] == {"id": "u-7", "role": "initiator"}
    invoked = _payload(evs, "model.invoked")
    assert invoked["provider"] == "openai" and invoked["model"] == "gpt-4o-mini"
    assert invoked["parameters"] == {"temperature": 0.2}
    assert orjson.loads(str(invoked["prompt"])) == messages
    responded = _payload(evs, "model.responded")
    assert responded["output"] == reply.choices[0].message.content
    assert responded["usage"] == {
        "input_tokens": reply.usage.prompt_tokens,  # type: ignore[union-attr]
        "output_tokens": reply.usage.completion_tokens,  # type: ignore[union-attr]
    }
    assert responded["status"] == 200
    assert _stub_openai.SEEN_AUTH[-1] == f"Bearer {CALLER_KEY}"
    _no_secret_anywhere(served, caplog)


def test_streamed_chat_is_recorded_assembled(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = served.client(**{"X-Raidt-Use-Case": "meeting-notes"})
    with client.chat.completions.with_streaming_response.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "one two three four"}],
        stream=True,
        stream_options={"include_usage": True},
    ) as resp:
        run_id = resp.headers["x-raidt-run-id"]
        text = "".join(c.choices[0].delta.content or "" for c in resp.parse() if c.choices)
    assert text == "echo: one two three four"
    evs = _wait_recorded(served, run_id, 3)
    responded = _payload(evs, "model.responded")
    assert responded["output"] == text
    assert responded["usage"] == {"input_tokens": 11, "output_tokens": 5}
    assert responded["finish_reason"] == "stop"
    assert _payload(evs, "model.invoked")["stream"] is True
    _no_secret_anywhere(served, caplog)


def test_responses_embeddings_models_and_attach(served: Served) -> None:
    client = served.client(**{"X-Raidt-Use-Case": "meeting-notes"})
    raw = client.responses.with_raw_response.create(model="gpt-4o-mini", input="hello there")
    run_id = raw.headers["x-raidt-run-id"]
    assert raw.parse().output_text == "echo: hello there"
    attached = served.client(**{"X-Raidt-Run-Id": run_id})
    emb = attached.embeddings.with_raw_response.create(model="gpt-4o-mini", input="vector me")
    assert emb.headers["x-raidt-run-id"] == run_id
    assert emb.parse().data[0].embedding == [0.1, 0.2, 0.3]
    assert [m.id for m in client.models.list()] == ["gpt-4o-mini"]
    evs = _wait_recorded(served, run_id, 5)
    assert [e["type"] for e in evs] == [
        "run.started",
        "model.invoked",
        "model.responded",
        "model.invoked",
        "model.responded",
    ]
    assert evs[2]["payload"]["output"] == "echo: hello there"  # type: ignore[index]
    assert evs[3]["payload"]["endpoint"] == "embeddings"  # type: ignore[index]
    assert len(evs[4]["payload"]["output_sha256"]) == 64  # type: ignore[index,arg-type]


def test_refusals_are_openai_shaped(served: Served) -> None:
    strict = served.client(**{"X-Raidt-Use-Case": "discharge-summary"})
    with pytest.raises(openai.PermissionDeniedError) as denied:
        strict.chat.completions.create(
            model="gpt-3.5-turbo", messages=[{"role": "user", "content": "hi"}]
        )
    assert "not approved" in denied.value.message
    assert denied.value.code == "model_not_approved"
    lenient = served.client(**{"X-Raidt-Use-Case": "meeting-notes"})
    with pytest.raises(openai.PermissionDeniedError):
        lenient.chat.completions.create(
            model="gpt-3.5-turbo", messages=[{"role": "user", "content": "hi"}]
        )
    deviating = served.client(
        **{"X-Raidt-Use-Case": "meeting-notes", "X-Raidt-Deviation-Reason": "pilot of 3.5"}
    )
    raw = deviating.chat.completions.with_raw_response.create(
        model="gpt-3.5-turbo", messages=[{"role": "user", "content": "hi"}]
    )
    evs = _wait_recorded(served, raw.headers["x-raidt-run-id"], 4)
    assert _payload(evs, "deviation.recorded")["reason"] == "pilot of 3.5"
    no_token = openai.OpenAI(api_key="x", base_url=f"{served.base}/openai/v1", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        no_token.models.list()
    with pytest.raises(openai.BadRequestError):
        served.client().chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "no use case"}]
        )


def test_upstream_failures_are_recorded_and_openai_shaped(served: Served) -> None:
    client = served.client(**{"X-Raidt-Use-Case": "meeting-notes", "X-Raidt-Deviation-Reason": "t"})
    with pytest.raises(openai.InternalServerError) as boom:
        client.chat.completions.create(model="boom", messages=[{"role": "user", "content": "x"}])
    run_id = boom.value.response.headers["x-raidt-run-id"]
    assert "upstream answered HTTP 500" in boom.value.message
    evs = _wait_recorded(served, run_id, 4)
    assert "500" in str(_payload(evs, "model.responded")["error"])
    with pytest.raises(openai.APIStatusError) as slow:
        client.chat.completions.create(model="slow", messages=[{"role": "user", "content": "x"}])
    assert slow.value.status_code == 504
    evs = _wait_recorded(served, slow.value.response.headers["x-raidt-run-id"], 4)
    assert "did not answer in time" in str(_payload(evs, "model.responded")["error"])


def test_refused_connection_is_recorded(tmp_path: Path, sqlite_url: str) -> None:
    dead = f"http://127.0.0.1:{free_port()}/v1"
    settings = settings_for(tmp_path / "home", sqlite_url, upstream_url=dead)
    with App.from_settings(settings) as app:
        _ = app.signing_key
        install_presets(app)
        token = TokenService(app).create("system").token
        with running_server(settings) as base:
            served = Served(base, app, token, tmp_path / "home")
            client = served.client(**{"X-Raidt-Use-Case": "meeting-notes"})
            with pytest.raises(openai.APIStatusError) as refused:
                client.chat.completions.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}]
                )
            assert refused.value.status_code == 502
            run_id = refused.value.response.headers["x-raidt-run-id"]
            evs = _wait_recorded(served, run_id, 3)
            assert "cannot be reached" in str(_payload(evs, "model.responded")["error"])
        assert verify_store(app).ok


def _no_secret_anywhere(served: Served, caplog: pytest.LogCaptureFixture) -> None:
    assert CALLER_KEY not in caplog.text
    db = Path(served.app.db.engine.url.database or "")
    assert db.is_file() and db.stat().st_size > 0
    with sqlite3.connect(db) as conn:
        dump = "\n".join(conn.iterdump())
    assert CALLER_KEY not in dump
    for f in [*served.home.rglob("*"), *db.parent.glob(db.name + "*")]:
        if f.is_file():
            assert CALLER_KEY.encode() not in f.read_bytes(), f


def test_fail_closed_at_high_risk_open_below(tmp_path: Path, sqlite_url: str) -> None:
    """A store that cannot record (its write lock held elsewhere, the recorder's queue full):
    high-risk calls are refused with 503, others pass and the loss is counted."""
    with running_asgi(_stub_openai.app) as upstream:
        settings = settings_for(
            tmp_path / "home", sqlite_url, upstream_url=f"{upstream}/v1", gateway_queue=1
        )
        with App.from_settings(settings) as app:
            _ = app.signing_key
            install_presets(app)
            token = TokenService(app).create("system").token
            with running_server(settings) as base:
                served = Served(base, app, token, tmp_path / "home")
                low = served.client(**{"X-Raidt-Use-Case": "meeting-notes"})
                high = served.client(
                    **{"X-Raidt-Use-Case": "meeting-notes", "X-Raidt-Risk-Level": "high"}
                )
                msg = [{"role": "user", "content": "x"}]
                blocker = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), timeout=60)
                blocker.execute("BEGIN IMMEDIATE")  # the store's write lock, held by someone else
                try:
                    low.chat.completions.create(model="gpt-4o-mini", messages=msg)  # being sealed
                    _wait(lambda: _health(base)["sealing"] == 1)  # and stuck on the lock
                    low.chat.completions.create(model="gpt-4o-mini", messages=msg)  # queued
                    with pytest.raises(openai.InternalServerError) as refused:
                        high.chat.completions.create(model="gpt-4o-mini", messages=msg)
                    assert refused.value.status_code == 503
                    assert refused.value.code == "recording_unavailable"
                    passed = low.chat.completions.with_raw_response.create(
                        model="gpt-4o-mini", messages=msg
                    )
                    assert passed.status_code == 200
                    assert _health(base)["lost_calls"] == 1
                finally:
                    blocker.rollback()
                    blocker.close()
                _wait(lambda: _health(base)["queued"] == 0 and _health(base)["recorded_calls"] == 2)
                lost_run = passed.headers["x-raidt-run-id"]
                assert app.events.run_events(lost_run) == []  # counted, not silently kept
        assert verify_store(app).ok


def _health(base: str) -> dict[str, int]:
    return dict(httpx.get(f"{base}/healthz").json()["gateway"])


def _wait(cond: Callable[[], bool], timeout: float = 60) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached: {cond.__doc__}")
        time.sleep(0.05)
