"""Concurrent writers get one total order with no gaps; a kill -9 loses nothing acknowledged."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import text

from raidt.services.app import App
from raidt.services.verification import verify_store
from tests.helpers import ev, open_app, started

ROOT = Path(__file__).resolve().parents[2]

_WRITER = """
import sys
from raidt.services.app import App
from tests.helpers import ev, started
home, url, name, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
app = App.open(home=home, database_url=url)
for i in range(n):
    run = f"{name}-{i % 5}"
    e = started(run) if i < 5 else ev(run, "output.edited", payload={"diff": f"-a\\n+b{i}"})
    stored = app.events.append([e])
    print(stored[0].id, flush=True)
"""


def _assert_gap_free(app: App, expected: int) -> None:
    with app.db.read() as c:
        seqs = c.execute(text("SELECT seq FROM events ORDER BY seq")).scalars().all()
    assert seqs == list(range(expected))
    report = verify_store(app)
    assert report.ok, report.problems


def test_threads_get_one_gap_free_order(tmp_path: Path, db_url: str) -> None:
    app = open_app(tmp_path, db_url)
    errors: list[BaseException] = []

    def writer(w: int) -> None:
        try:
            for i in range(15):
                run = f"t{w}-{i % 3}"
                batch = (
                    [started(run)]
                    if i < 3
                    else [ev(run, "output.edited", payload={"diff": f"-a\n+{i}"}) for _ in range(2)]
                )
                app.events.append(batch)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    _assert_gap_free(app, 4 * (3 + 12 * 2))
    for w in range(4):
        for r in range(3):
            chain = app.events.run_events(f"t{w}-{r}")
            assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(chain))


def test_processes_get_one_gap_free_order(tmp_path: Path, db_url: str) -> None:
    app = open_app(tmp_path, db_url)  # migrate once up front
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(tmp_path / "home"), db_url, f"p{w}", "25"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(4)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-500:] for o in outs]
    _assert_gap_free(app, 100)


def test_kill_9_loses_nothing_acknowledged(tmp_path: Path, db_url: str) -> None:
    app = open_app(tmp_path, db_url)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(tmp_path / "home"), db_url, "k", "100000"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    acknowledged = [proc.stdout.readline().strip() for _ in range(40)]
    time.sleep(0.05)  # let it be mid-append when the signal lands
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.stdout is not None
    acknowledged += [line.strip() for line in proc.stdout.read().splitlines() if line.strip()]
    app.close()
    app = open_app(tmp_path, db_url)
    with app.db.read() as c:
        stored = set(c.execute(text("SELECT id FROM events")).scalars())
    assert set(acknowledged) <= stored
    assert verify_store(app).ok
