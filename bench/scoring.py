"""Scoring benchmark: runs scored per second (streaming, memory flat) and dashboard queries.

Generates a store of N runs (about 12 events each; a mix of well-run, rubber-stamped,
self-reviewed, ad-hoc and still-open runs), then:

1. scores every run with ``ScoringService.score_all`` on one core, sampling RSS along the
   way to show memory stays flat, and reporting peak RSS;
2. times each dashboard aggregate (by use case, team, reviewer, month, obligation), the
   median of 5 calls, and the streaming weak-point scan.

Usage::

    .venv/bin/python bench/scoring.py --runs 20000 --engine both
    .venv/bin/python bench/scoring.py --runs 1000000 --engine sqlite   # the real figure

For PostgreSQL, ``RAIDT_TEST_POSTGRES_URL`` is used when set; otherwise a throwaway cluster
is started with ``tests/_postgres.py``. Generated stores live in a temporary directory and
are deleted afterwards, unless ``--keep DIR`` names a directory (under /tmp, never in the
repository): the SQLite store and a PostgreSQL cluster are then kept there and reused by
later runs of the same size, so re-measuring does not regenerate ten million events::

    .venv/bin/python bench/scoring.py --runs 1000000 --engine sqlite --keep /tmp/rb --generate-only
    .venv/bin/python bench/scoring.py --runs 1000000 --engine sqlite --keep /tmp/rb --repeat 3

``--one-core`` pins the benchmark process to one CPU (the issue's one-core figure); the
bulk path then writes profiles on the scoring thread (see ``raidt.services.bulk``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from raidt import buildinfo
from raidt.core.events import ActorRef, EventIn, EventType, Role
from raidt.services.app import App
from raidt.services.policies import PolicyService
from raidt.services.scoring import ScoringService, install_default_rubric

POLICY = """\
id: bench-briefing
version: "1"
title: Benchmark briefing drafts
approved_templates: [{id: briefing, version: "2"}]
approved_models:
  - {provider: openai, model: gpt-4o, parameters: {temperature: {min: 0, max: 0.5}}}
roles: {qualifications: {reviewer: briefing-review}}
review:
  min_seconds: 120
  checklist: [sources_checked, claims_verified]
  guidance: {id: briefing-guidance, version: "1", text: Check every claim.}
signoff: {high: [approver]}
downstream_allowed: [ministerial-pack]
sla_hours: 48
"""

TEAMS = [f"team-{i:02d}" for i in range(20)]
USE_CASES = ["bench-briefing"]


def actors_yaml() -> str:
    lines = ["actors:"]
    for t in TEAMS:
        lines.append(f"  - {{id: i-{t}, roles: [initiator], team: {t}}}")
        for r in range(3):
            lines.append(
                f"  - {{id: r-{t}-{r}, roles: [reviewer], team: {t}, qualifications: "
                "[{name: briefing-review, valid_from: 2025-01-01}]}"
            )
        lines.append(f"  - {{id: p-{t}, roles: [approver], team: {t}}}")
    return "\n".join(lines) + "\n"


def _ev(
    run_id: str, t: EventType, at: datetime, actor: str, role: Role, payload: dict[str, Any]
) -> EventIn:
    # pre-validated shape: skip pydantic validation for the bulk generator
    return EventIn.model_construct(
        run_id=run_id,
        type=t,
        at=at,
        actor=ActorRef.model_construct(id=actor, role=role),
        payload=payload,
        id=None,
    )


def one_run(rng: random.Random, n: int, t0: datetime) -> list[EventIn]:
    team = rng.choice(TEAMS)
    rid = f"run-{n:08d}"
    kind = rng.random()
    ini, rev, appr = f"i-{team}", f"r-{team}-{rng.randrange(3)}", f"p-{team}"
    at = t0 + timedelta(minutes=n % 500_000)
    template = (
        {"id": "briefing", "version": "2"} if kind > 0.10 else {"id": "scratch", "version": "1"}
    )
    temp = 0.2 if kind > 0.05 else 0.9
    if 0.10 < kind < 0.18:
        rev = ini  # self-review
    stamp = 0.18 < kind < 0.30
    start = {
        "use_case": "bench-briefing",
        "team": team,
        "risk_level": "high",
        "purpose": "briefing note on regional transport funding",
        "policy": {"id": "bench-briefing", "version": "1"},
        "data_context": [{"ref": f"doc://{n}.pdf", "digest": "sha256:" + "ab" * 32}],
    }
    out = [
        _ev(rid, EventType.RUN_STARTED, at, ini, Role.INITIATOR, start),
        _ev(
            rid,
            EventType.PROMPT_RENDERED,
            at + timedelta(seconds=5),
            ini,
            Role.INITIATOR,
            {"template": template, "prompt_sha256": "cd" * 32},
        ),
        _ev(
            rid,
            EventType.MODEL_INVOKED,
            at + timedelta(seconds=6),
            "sdk",
            Role.SYSTEM,
            {"provider": "openai", "model": "gpt-4o", "parameters": {"temperature": temp}},
        ),
        _ev(
            rid,
            EventType.MODEL_RESPONDED,
            at + timedelta(seconds=9),
            "sdk",
            Role.SYSTEM,
            {"output_sha256": "ef" * 32, "usage": {"input_tokens": 800, "output_tokens": 240}},
        ),
        _ev(
            rid,
            EventType.REVIEW_ASSIGNED,
            at + timedelta(seconds=30),
            ini,
            Role.INITIATOR,
            {"reviewer": {"id": rev, "role": "reviewer"}},
        ),
    ]
    if kind > 0.95:  # still open, in review
        return out
    review_s = 6 if stamp else rng.randrange(150, 900)
    ra = at + timedelta(seconds=30 + review_s)
    if not stamp:
        out += [
            _ev(
                rid,
                EventType.GUIDANCE_ACKNOWLEDGED,
                at + timedelta(seconds=40),
                rev,
                Role.REVIEWER,
                {"guidance": {"id": "briefing-guidance", "version": "1"}},
            ),
            _ev(
                rid,
                EventType.CHECKLIST_COMPLETED,
                ra - timedelta(seconds=20),
                rev,
                Role.REVIEWER,
                {"items": {"sources_checked": True, "claims_verified": True}},
            ),
            _ev(
                rid,
                EventType.OUTPUT_EDITED,
                ra - timedelta(seconds=10),
                rev,
                Role.REVIEWER,
                {"before_sha256": "ef" * 32, "after_sha256": "01" * 32, "reason": "source"},
            ),
        ]
    out.append(_ev(rid, EventType.REVIEW_APPROVED, ra, rev, Role.REVIEWER, {}))
    if not stamp:
        out.append(
            _ev(
                rid,
                EventType.SIGNOFF_RECORDED,
                ra + timedelta(minutes=5),
                appr,
                Role.APPROVER,
                {"statement": "cleared"},
            )
        )
    out.append(
        _ev(
            rid,
            EventType.RUN_CLOSED,
            ra + timedelta(minutes=6),
            rev,
            Role.REVIEWER,
            {"disposition": "accepted_with_edits"},
        )
    )
    out.append(
        _ev(
            rid,
            EventType.DOWNSTREAM_USED,
            ra + timedelta(minutes=7),
            rev,
            Role.REVIEWER,
            {"destination": "ministerial-pack", "reference": rid},
        )
    )
    return out


def generate(app: App, runs: int, batch_runs: int = 2000, seed: int = 11) -> tuple[int, float]:
    PolicyService(app).add_policy(POLICY, "bench-briefing.yaml")
    PolicyService(app).import_actors(actors_yaml(), "bench-actors.yaml")
    install_default_rubric(app)
    rng = random.Random(seed)
    t0 = datetime(2025, 6, 1, tzinfo=UTC)
    events = 0
    started = time.perf_counter()
    pending: list[EventIn] = []
    for n in range(runs):
        pending += one_run(rng, n, t0)
        if (n + 1) % batch_runs == 0:
            app.events.append(pending)
            events += len(pending)
            pending = []
    if pending:
        app.events.append(pending)
        events += len(pending)
    return events, time.perf_counter() - started


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def bench(
    engine: str,
    url: str,
    runs: int,
    home: Path,
    *,
    marker: Path | None = None,
    generate_only: bool = False,
    repeat: int = 1,
    workers: int = 1,
) -> dict[str, Any]:
    app = App.open(home=home, database_url=url)
    try:
        if marker is not None and marker.exists():
            made = json.loads(marker.read_text())
            events, gen_s = int(made["events"]), float(made["gen_s"])
            print(f"[{engine}] reusing {runs} runs / {events} events ({marker.parent})")
        else:
            events, gen_s = generate(app, runs)
            if marker is not None:
                marker.write_text(json.dumps({"events": events, "gen_s": gen_s}))
        print(
            f"[{engine}] generated {runs} runs / {events} events in {gen_s:.1f}s "
            f"({events / gen_s:,.0f} events/s)",
            flush=True,
        )
        if generate_only:
            return {"engine": engine, "runs": runs, "events": events, "gen_s": gen_s}
        svc = ScoringService(app)
        step = max(1, runs // 10)
        timings: list[float] = []
        for attempt in range(repeat):
            svc = ScoringService(app)
            samples: list[tuple[int, float]] = []

            def tick(done: int, total: int, samples: list[tuple[int, float]] = samples) -> None:
                if not samples or done - samples[-1][0] >= step:
                    samples.append((done, rss_mb()))

            load = os.getloadavg()[0]
            kids = resource.getrusage(resource.RUSAGE_CHILDREN)
            t, cpu = time.perf_counter(), time.process_time()
            summary = svc.score_all(tick, workers=workers)
            score_s = time.perf_counter() - t
            cpu = time.process_time() - cpu
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            # worker processes (--workers > 1): their CPU counts too
            cpu += (after.ru_utime - kids.ru_utime) + (after.ru_stime - kids.ru_stime)
            if workers > 1:
                print(
                    f"[{engine}] {workers} worker processes; largest worker RSS "
                    f"{after.ru_maxrss / 1024:.0f} MiB",
                    flush=True,
                )
            timings.append(score_s)
            samples.append((summary["runs"], rss_mb()))
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(
                f"[{engine}] #{attempt + 1} scored {summary['runs']} runs in {score_s:.1f}s = "
                f"{summary['runs'] / score_s:,.0f} runs/s (load {load:.2f} -> "
                f"{os.getloadavg()[0]:.2f}; CPU {cpu:.1f}s = {summary['runs'] / cpu:,.0f} runs/s); "
                f"readiness {summary['readiness']}",
                flush=True,
            )
            print(
                f"[{engine}] RSS MiB along the way: "
                + ", ".join(f"{d}:{m:.0f}" for d, m in samples)
                + f"; peak {peak:.0f}",
                flush=True,
            )
        score_s = statistics.median(timings)
        if repeat > 1:
            print(
                f"[{engine}] median of {repeat}: {score_s:.1f}s = "
                f"{summary['runs'] / score_s:,.0f} runs/s",
                flush=True,
            )
        queries: dict[str, float] = {}
        for by in ("use_case", "team", "reviewer", "month", "obligation"):
            times = []
            for _ in range(5):
                t = time.perf_counter()
                svc.aggregate(by)
                times.append(time.perf_counter() - t)
            queries[f"aggregate by {by}"] = statistics.median(times)
        t = time.perf_counter()
        svc.aggregate("team", since="2025-07", until="2025-09")
        queries["aggregate by team, 3 months"] = time.perf_counter() - t
        t = time.perf_counter()
        svc.score(f"run-{runs // 2:08d}")
        queries["score one run + incremental rollup"] = time.perf_counter() - t
        times = []
        for _ in range(5):
            t = time.perf_counter()
            ws = svc.weakpoint_summary()
            times.append(time.perf_counter() - t)
        queries[f"weak-point summary (counters, {len(ws)} found)"] = statistics.median(times)
        t = time.perf_counter()
        svc.weakpoint_summary(since="2025-07-01", until="2025-10-01")
        queries["weak-point summary, 3 months"] = time.perf_counter() - t
        t = time.perf_counter()
        wp = svc.weakpoints()
        queries[f"weakpoints drill-down (streaming scan, {len(wp)} found)"] = (
            time.perf_counter() - t
        )
        for name, secs in queries.items():
            print(f"[{engine}] {name}: {secs * 1000:.1f} ms", flush=True)
        return {
            "engine": engine,
            "runs": summary["runs"],
            "events": events,
            "gen_s": gen_s,
            "score_s": score_s,
            "rss": samples,
            "peak": peak,
            "queries": queries,
        }
    finally:
        app.close()


_PG_BIN = Path("/usr/lib/postgresql/15/bin")


def kept_cluster(directory: Path) -> str:
    """URL of a PostgreSQL cluster kept in ``directory`` (created or started as needed)."""
    as_pg = ["runuser", "-u", "postgres", "--"]
    data = directory / "data"
    port_file = directory / "port"
    if not data.exists():
        directory.mkdir(parents=True, exist_ok=True)
        shutil.chown(directory, "postgres")
        subprocess.run(
            [*as_pg, str(_PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
            check=True,
            capture_output=True,
        )
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port_file.write_text(str(s.getsockname()[1]))
    port = int(port_file.read_text())
    running = subprocess.run(
        [*as_pg, str(_PG_BIN / "pg_ctl"), "-D", str(data), "status"], capture_output=True
    )
    if running.returncode != 0:
        subprocess.run(
            [
                *as_pg,
                str(_PG_BIN / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(directory / "log"),
                "-w",
                "start",
                "-o",
                f"-k {directory} -p {port} -c listen_addresses=127.0.0.1",
            ],
            check=True,
            capture_output=True,
        )
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5000)
    ap.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="sqlite")
    ap.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="keep the generated stores in DIR (under /tmp) and reuse them on later runs",
    )
    ap.add_argument("--generate-only", action="store_true", help="generate the stores and stop")
    ap.add_argument("--repeat", type=int, default=1, help="score this many times (median)")
    ap.add_argument(
        "--workers", type=int, default=1, help="score in this many processes (default 1)"
    )
    ap.add_argument(
        "--one-core",
        action="store_true",
        help="pin this process (not a PostgreSQL server) to one CPU, as `taskset -c 0` does",
    )
    args = ap.parse_args()
    if args.one_core:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    print(f"[bench] may run on CPUs {sorted(os.sched_getaffinity(0))}", flush=True)
    print(f"[bench] {buildinfo.describe()} ({Path(buildinfo.scoring.__file__ or '').name})")
    os.environ.pop("RAIDT_DATABASE_URL", None)
    keep: Path | None = args.keep.resolve() if args.keep else None
    tmp = keep or Path(tempfile.mkdtemp(prefix="raidt-bench-scoring-"))
    tmp.mkdir(parents=True, exist_ok=True)
    opts: dict[str, Any] = {
        "generate_only": args.generate_only,
        "repeat": args.repeat,
        "workers": args.workers,
    }
    cluster = None
    try:
        if args.engine in ("sqlite", "both"):
            d = tmp / f"sqlite-{args.runs}"
            d.mkdir(exist_ok=True)
            marker = d / "generated.json" if keep else None
            bench(
                "sqlite",
                f"sqlite:///{d / 'bench.db'}",
                args.runs,
                d / "home",
                marker=marker,
                **opts,
            )
        if args.engine in ("postgresql", "both"):
            url = os.environ.get("RAIDT_TEST_POSTGRES_URL")
            if keep is not None and not url:
                url = kept_cluster(keep / "pg")
            elif not url:
                from tests import _postgres

                cluster = _postgres.start()
                url = cluster.url
            name = f"bench_{args.runs}" if keep else "bench_" + uuid.uuid4().hex[:8]
            admin = create_engine(url, isolation_level="AUTOCOMMIT")
            with admin.connect() as c:
                exists = c.execute(
                    text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
                ).first()
                if not exists:
                    c.execute(text(f'CREATE DATABASE "{name}"'))
            admin.dispose()
            db = make_url(url).set(database=name).render_as_string(hide_password=False)
            marker = tmp / f"pg-{args.runs}.json" if keep else None
            if marker is not None and not exists and marker.exists():
                marker.unlink()
            bench("postgresql", db, args.runs, tmp / f"home-pg-{args.runs}", marker=marker, **opts)
    finally:
        if cluster is not None:
            cluster.stop()
        if keep is None:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept {tmp}")


if __name__ == "__main__":
    main()
