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
from raidt.core.ids import new_id  # noqa: E402
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


def appends(engine: str, pg: str | None, events: list[EventIn], writers: int, batch: int) -> float:
    """Events/s through ``EventStore.append`` with ``writers`` threads, ``batch`` per call."""
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


def stored_row_bytes(events: list[EventIn]) -> int:
    """Mean size of a stored events row (all columns), to size the raw-insert rows."""
    store = EventStore(open_database(_fresh_url("sqlite", None)))
    store.append(events[:1000])
    with store.db.read() as c:
        from sqlalchemy import text

        size = c.execute(
            text(
                "SELECT AVG(LENGTH(id) + LENGTH(run_id) + LENGTH(type) + LENGTH(at)"
                " + LENGTH(actor_id) + LENGTH(actor_role) + LENGTH(payload)"
                " + COALESCE(LENGTH(prev_hash), 0)"
                " + LENGTH(hash) + LENGTH(leaf_hash) + 8) FROM events"
            )
        ).scalar_one()
    store.db.dispose()
    return int(size)


def raw_sqlite(n: int, row_bytes: int, batch: int) -> float:
    """Plain sqlite3 inserts of rows of ``row_bytes`` with the events table's keys and indexes
    (time-ordered unique id, run index), WAL + synchronous=FULL: the physical limit."""
    import sqlite3

    path = Path(tempfile.mkdtemp(prefix="raidt-raw-")) / "raw.db"
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    con.execute(
        "CREATE TABLE raw (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, "
        "run_id TEXT NOT NULL, body BLOB NOT NULL)"
    )
    con.execute("CREATE INDEX raw_run ON raw (run_id, seq)")
    body = os.urandom(max(1, row_bytes - 36 - 10))
    rows = [(i, new_id(), f"run-{i // 10:06d}", body) for i in range(n)]
    t0 = time.perf_counter()
    for i in range(0, n, batch):
        con.execute("BEGIN")
        con.executemany("INSERT INTO raw VALUES (?, ?, ?, ?)", rows[i : i + batch])
        con.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    con.close()
    return n / elapsed


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
    ap.add_argument("--events", type=int, default=40000, help="events for batch=1000 runs")
    ap.add_argument("--single", type=int, default=1500, help="events for batch=1 runs")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--no-peers", action="store_true", help="skip the peers' limits script")
    args = ap.parse_args()
    events = _events(args.events)
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    pg = os.environ.get("RAIDT_TEST_POSTGRES_URL")
    cluster = None
    if "postgresql" in engines and not pg:
        from tests import _postgres

        reason = _postgres.why_unavailable()
        if reason:
            print(f"skipping PostgreSQL: {reason}")
            engines.remove("postgresql")
        else:
            cluster = _postgres.start()
            pg = cluster.url
    row_bytes = stored_row_bytes(events)
    results: dict[tuple[str, int, int], list[float]] = {}
    raw: dict[int, list[float]] = {}
    try:
        for rep in range(args.reps):
            for batch, n in ((1000, args.events), (1, args.single)):
                raw.setdefault(batch, []).append(raw_sqlite(n, row_bytes, batch))
                for eng in engines:
                    for writers in (1, 4):
                        results.setdefault((eng, writers, batch), []).append(
                            appends(eng, pg, events[:n], writers, batch)
                        )
            print(f"rep {rep + 1}/{args.reps} done", file=sys.stderr)
        limits = {} if args.no_peers else peers_limits(args.reps)
    finally:
        if cluster:
            cluster.stop()
    print(f"\nDurable appends, median of {args.reps} reps [min-max]; stored rows ~{row_bytes} B")
    print(
        f"{'engine':11s} {'writers':>7s} {'batch':>6s} {'events/s':>12s} {'range':>21s}"
        f" {'vs raw sqlite3':>15s}"
    )
    for (eng, writers, batch), vals in results.items():
        med = statistics.median(vals)
        ref = statistics.median(raw[batch])
        ratio = f"{med / ref:>14.0%}" if eng == "sqlite" else f"{'':>14s}"
        print(
            f"{eng:11s} {writers:>7d} {batch:>6d} {med:>12,.0f} "
            f"{min(vals):>10,.0f}-{max(vals):<10,.0f} {ratio}"
        )
    for batch, vals in raw.items():
        print(
            f"raw sqlite3 WAL FULL, {row_bytes} B rows, {batch:>4d}/txn: "
            f"{statistics.median(vals):>10,.0f} rows/s"
        )
    for case, v in limits.items():
        print(f"peer limit (4.6 KB rows): sqlite3 {case:40s} {v:>10,.0f} rows/s")


if __name__ == "__main__":
    main()
