#!/usr/bin/env python3
"""Ingest benchmark: durable appends per second through the RAIDT store.

Measures sealed appends (canonical JSON, event hash, run chain, Merkle leaf, run projection,
committed with SQLite WAL synchronous=FULL or PostgreSQL's default fsync) in batches, with
one and with several writer threads, and single-event appends; then runs the peers' script
(``../shared/bench/peers/peer_overhead.py limits``) in the same run, so the ratio against
raw sqlite3 executemany on this machine, right now, is printed beside our figure.

    .venv/bin/python bench/ingest.py [--events 60000] [--reps 3] [--engine sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from raidt.core.events import EventIn  # noqa: E402
from raidt.services.demo_data import DemoGenerator  # noqa: E402
from raidt.store.db import open_database  # noqa: E402
from raidt.store.events import EventStore  # noqa: E402

PEERS = ROOT.parent / "shared" / "bench" / "peers" / "peer_overhead.py"


def _events(n: int, seed: int = 11) -> list[EventIn]:
    out: list[EventIn] = []
    for run in DemoGenerator(seed=seed).runs(n):
        out.extend(run)
        if len(out) >= n:
            break
    return out[:n]


def _fresh_url(engine: str, pg_server: str | None) -> str:
    if engine == "sqlite":
        return f"sqlite:///{tempfile.mkdtemp(prefix='raidt-bench-')}/bench.db"
    assert pg_server
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"bench_{os.getpid()}_{time.monotonic_ns()}"
    admin = create_engine(pg_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(pg_server).set(database=name).render_as_string(hide_password=False)


def batched(
    engine: str, pg: str | None, events: list[EventIn], writers: int, batch: int = 1000
) -> float:
    store = EventStore(open_database(_fresh_url(engine, pg)))
    chunks = [events[i : i + batch] for i in range(0, len(events), batch)]
    per_writer = [chunks[w::writers] for w in range(writers)]

    def work(mine: list[list[EventIn]]) -> None:
        for c in mine:
            store.append(c)

    threads = [threading.Thread(target=work, args=(m,)) for m in per_writer]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    assert store.count_events() == len(events)
    store.db.dispose()
    return len(events) / elapsed


def single(engine: str, pg: str | None, events: list[EventIn]) -> float:
    store = EventStore(open_database(_fresh_url(engine, pg)))
    t0 = time.perf_counter()
    for e in events:
        store.append([e])
    elapsed = time.perf_counter() - t0
    store.db.dispose()
    return len(events) / elapsed


def peers_limits(reps: int) -> dict[str, float]:
    if not PEERS.exists():
        return {}
    out = subprocess.run(
        [sys.executable, str(PEERS), "limits", "--reps", str(reps)],
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return {row["case"]: row["rows_per_s_median"] for row in data["sqlite"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--events", type=int, default=60000)
    ap.add_argument("--single", type=int, default=2000, help="events for single appends")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    args = ap.parse_args()
    events = _events(args.events)
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    pg = os.environ.get("RAIDT_TEST_POSTGRES_URL")
    cluster = None
    if "postgresql" in engines and not pg:
        from tests import _postgres

        if _postgres.why_unavailable():
            print(f"skipping PostgreSQL: {_postgres.why_unavailable()}")
            engines.remove("postgresql")
        else:
            cluster = _postgres.start()
            pg = cluster.url
    results: dict[str, list[float]] = {}
    try:
        for _ in range(args.reps):
            for eng in engines:
                for w in (1, 4):
                    results.setdefault(f"{eng} batched x1000, {w} writer(s)", []).append(
                        batched(eng, pg, events, w)
                    )
                results.setdefault(f"{eng} single-event appends", []).append(
                    single(eng, pg, events[: args.single])
                )
        limits = peers_limits(args.reps)
    finally:
        if cluster:
            cluster.stop()
    raw = limits.get("journal=WAL synchronous=FULL rows/txn=1000")
    raw1 = limits.get("journal=WAL synchronous=FULL rows/txn=1")
    print(f"\nRAIDT durable appends ({len(events)} events of {args.reps} reps; median [min–max])")
    for name, vals in results.items():
        med = statistics.median(vals)
        ref = raw1 if "single" in name else raw
        ratio = f"  = {med / ref:.0%} of raw sqlite3" if ref and name.startswith("sqlite") else ""
        print(f"  {name:42s} {med:>10,.0f} events/s [{min(vals):,.0f}–{max(vals):,.0f}]{ratio}")
    for case, v in limits.items():
        print(f"  peer limit: sqlite3 {case:38s} {v:>10,.0f} rows/s")


if __name__ == "__main__":
    main()
