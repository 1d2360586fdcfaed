"""The SDK's remote path end to end: ``raidt.Recorder(url=..., token=...)`` against a real
``raidt serve`` on loopback: the runs land sealed, with what the SDK recorded."""

from __future__ import annotations

from pathlib import Path

import raidt
from raidt.services.app import App
from raidt.services.policies import install_presets
from raidt.services.tokens import TokenService
from raidt.services.verification import verify_store
from tests.api._server import running_server, settings_for


def test_sdk_records_into_a_remote_server(tmp_path: Path, sqlite_url: str) -> None:
    settings = settings_for(tmp_path / "server", sqlite_url)
    with App.from_settings(settings) as app:
        _ = app.signing_key
        install_presets(app)
        token = TokenService(app).create("system", "sdk").token
        with running_server(settings) as base:
            rec = raidt.Recorder(home=tmp_path / "client", url=base, token=token)
            ids = []
            for i in range(3):
                with rec.run(
                    use_case="meeting-notes",
                    initiator="u-1",
                    team="ops",
                    purpose="notes",
                    risk_level="low",
                ) as run:
                    run.model_call(
                        provider="openai",
                        model="gpt-4o-mini",
                        parameters={"temperature": 0.2},
                        prompt=f"prompt {i}",
                        output=f"output {i}",
                    )
                    ids.append(run.run_id)
            rec.flush()
            stored = {rid: app.events.run_events(rid) for rid in ids}
            assert all(len(evs) >= 3 for evs in stored.values())
            outputs = [
                e.payload.get("output")
                for evs in stored.values()
                for e in evs
                if e.type.value == "model.responded"
            ]
            assert outputs == ["output 0", "output 1", "output 2"]
            count = app.events.count_events()
            rec.close()
        assert verify_store(app).ok
        assert app.events.count_events() == count
