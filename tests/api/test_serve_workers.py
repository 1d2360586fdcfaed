"""``raidt serve --workers 2`` on PostgreSQL, as an operator runs it (a real subprocess)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import orjson
import pytest

from raidt.services.app import App
from raidt.services.tokens import TokenService
from raidt.services.verification import verify_store
from tests.api._server import free_port


@pytest.mark.postgres
def test_two_workers_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    env = dict(os.environ, RAIDT_HOME=str(tmp_path / "home"), RAIDT_DATABASE_URL=pg_url)
    with App.open(home=tmp_path / "home", database_url=pg_url) as app:
        _ = app.signing_key
        token = TokenService(app).create("system", "sdk").token
        port = free_port()
        raidt = str(Path(sys.executable).parent / "raidt")
        proc = subprocess.Popen(
            [raidt, "serve", "--port", str(port), "--workers", "2"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/healthz").json()["database"] == "postgresql":
                        break
                except httpx.HTTPError:
                    pass
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "raidt serve did not start"
                time.sleep(0.2)

            def post(i: int) -> int:
                events = [
                    {
                        "id": f"r-{i}-start",
                        "run_id": f"r-{i}",
                        "type": "run.started",
                        "at": "2026-03-01T09:00:00Z",
                        "actor": {"id": "u-1", "role": "initiator"},
                        "payload": {"use_case": "x", "team": "t", "risk_level": "low"},
                    }
                ]
                r = httpx.post(
                    f"{base}/api/events",
                    content=orjson.dumps(events),
                    headers={"X-Raidt-Token": token, "Content-Type": "application/json"},
                )
                return r.status_code

            with ThreadPoolExecutor(8) as pool:
                assert set(pool.map(post, range(40))) == {200}
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)
        assert app.events.count_runs() == 40
        assert verify_store(app).ok
