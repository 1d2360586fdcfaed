"""``POST /api/events`` and the token checks, against a real server on loopback."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from raidt.services.app import App
from raidt.services.demo_data import DemoGenerator
from raidt.services.tokens import TokenService
from raidt.services.verification import verify_store
from tests.api._server import running_server, settings_for


def _events(n_runs: int = 3, seed: int = 11) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for run in DemoGenerator(seed=seed).runs(n_runs):
        for i, e in enumerate(run):
            d = e.model_dump(mode="json", exclude_none=True)
            d["id"] = f"{e.run_id}-e{i}"
            out.append(d)
    return out


@pytest.fixture
def served(tmp_path: Path, db_url: str) -> Iterator[tuple[str, App, str]]:
    settings = settings_for(tmp_path / "home", db_url)
    with App.from_settings(settings) as app:
        _ = app.signing_key  # one key file, made before the server's threads start
        token = TokenService(app).create("system", "sdk").token
        with running_server(settings) as base:
            yield base, app, token


def test_a_batch_is_stored_once_even_when_retried(served: tuple[str, App, str]) -> None:
    base, app, token = served
    events = _events()
    body = orjson.dumps(events)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    first = httpx.post(f"{base}/api/events", content=body, headers=headers)
    assert first.status_code == 200, first.text
    answer = first.json()
    assert answer["accepted"] == len(events) == answer["stored"]
    assert answer["run_ids"] == list(dict.fromkeys(str(e["run_id"]) for e in events))
    again = httpx.post(f"{base}/api/events", content=body, headers=headers)
    assert again.json() == {**answer, "stored": 0, "duplicates": len(events)}
    assert app.events.count_events() == len(events)
    stored = app.events.run_events(str(events[0]["run_id"]))
    assert stored[0].payload == events[0]["payload"]
    assert stored[0].id == events[0]["id"]
    assert verify_store(app).ok


def test_jsonl_and_gzip_and_x_raidt_token(served: tuple[str, App, str]) -> None:
    base, app, token = served
    events = _events(2, seed=12)
    lines = b"\n".join(orjson.dumps(e) for e in events) + b"\n\n"
    r = httpx.post(
        f"{base}/api/events",
        content=gzip.compress(lines),
        headers={
            "X-Raidt-Token": token,
            "Content-Type": "application/x-ndjson",
            "Content-Encoding": "gzip",
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["stored"] == len(events) == app.events.count_events()


@pytest.mark.parametrize(
    ("mutate", "content_type", "status", "needle"),
    [
        (lambda b: b[:-5], "application/json", 422, "not valid JSON"),
        (lambda b: b, "text/plain", 400, "Content-Type"),
        (lambda b: b.replace(b'"risk_level"', b'"risk"'), "application/json", 422, "risk_level"),
        (lambda b: b.replace(b'"run.started"', b'"run.begun"'), "application/json", 422, "type"),
    ],
)
def test_a_bad_batch_stores_nothing(
    served: tuple[str, App, str], mutate: object, content_type: str, status: int, needle: str
) -> None:
    base, app, token = served
    body = mutate(orjson.dumps(_events()))  # type: ignore[operator]
    r = httpx.post(
        f"{base}/api/events",
        content=body,
        headers={"X-Raidt-Token": token, "Content-Type": content_type},
    )
    assert r.status_code == status, r.text
    assert needle in r.json()["title"]
    assert "\n" not in r.text
    assert app.events.count_events() == 0


def test_an_id_reused_for_other_content_is_a_conflict(served: tuple[str, App, str]) -> None:
    base, app, token = served
    events = _events(1)
    headers = {"X-Raidt-Token": token, "Content-Type": "application/json"}
    assert httpx.post(f"{base}/api/events", content=orjson.dumps(events), headers=headers)
    changed = [dict(events[0], payload={**events[0]["payload"], "team": "other"})]  # type: ignore[dict-item]
    r = httpx.post(f"{base}/api/events", content=orjson.dumps(changed), headers=headers)
    assert r.status_code == 400
    assert "different content" in r.json()["title"]
    assert app.events.count_events() == len(events)


def test_tokens_missing_bad_revoked_or_wrong_role(tmp_path: Path, sqlite_url: str) -> None:
    settings = settings_for(tmp_path / "home", sqlite_url, token_cache_seconds=0)
    body = orjson.dumps(_events(1))
    with App.from_settings(settings) as app, running_server(settings) as base:
        _ = app.signing_key
        tokens = TokenService(app)
        good = tokens.create("system")
        auditor = tokens.create("auditor")

        def post(headers: dict[str, str]) -> httpx.Response:
            return httpx.post(
                f"{base}/api/events",
                content=body,
                headers={"Content-Type": "application/json", **headers},
            )

        assert post({}).status_code == 401
        assert post({"X-Raidt-Token": "raidt_not-a-token"}).status_code == 401
        assert post({"Authorization": "Basic abc"}).status_code == 401
        refused = post({"X-Raidt-Token": auditor.token})
        assert refused.status_code == 403
        assert auditor.token not in refused.text
        assert post({"X-Raidt-Token": good.token}).status_code == 200
        tokens.revoke(good.info.id)
        gone = post({"X-Raidt-Token": good.token})
        assert gone.status_code == 401
        assert good.token not in gone.text
        assert httpx.get(f"{base}/healthz").json()["ok"] is True
