#!/usr/bin/env python3
"""Capture benchmark (SDK part): what recording one run costs the caller, and how long until
it is durable (hashed, chained, in the store, under a signed checkpoint), side by side with
the peers' tracing SDKs measured in the same run.

The run is the peers' run (``../shared/bench/peers/peer_overhead.py``): a 2 KB prompt, a
2 KB completion from the same pool, the model configuration, user, role and run id. Each
(tool, repetition) is a fresh process; repetitions go round-robin through the tools. The
method is the peers' ``measure_tool``: 200 warm-up runs and a flush, then N runs back to
back; caller = loop wall time / N; end to end = (loop + flush) / N; stored = what arrived.

RAIDT rows (``raidt.Recorder``, SQLite WAL + synchronous=FULL, 3 events a run):

- ``raidt-flush``: the spool only while the loop runs; ``flush()`` seals it after.
- ``raidt-agent``: a ``raidt agent`` process drains the spool while the loop runs; the end
  is when every run is in the store.
- ``raidt-thread``: a drainer *thread* inside the caller's process instead: what a
  background thread costs the caller's thread (the GIL), for comparison.
- ``spool-floor``: the floor under all of them, for scale: the same run as one JSON
  record, framed and written with one ``write()``, nothing else (no ids, no policy, never
  sealed: its end to end is its caller cost).

The peers need their own venv (see the peers' README); pass ``--peers-python``.

    .venv/bin/python bench/capture.py [--n 20000] [--reps 3] \
        [--peers-python /tmp/peers-venv/bin/python]
    .venv/bin/python bench/capture.py measure raidt-flush --n 20000   # one row, one JSON line
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PEERS = ROOT.parent / "shared" / "bench" / "peers" / "peer_overhead.py"
RAIDT_ROWS = ("spool-floor", "raidt-flush", "raidt-agent", "raidt-thread")
PEER_ROWS = ("baseline", "otel-bsp-memory", "otel-bsp-otlp", "langfuse")
TEMPLATE = {"id": "meeting-notes-summary", "version": "1"}


def _pool() -> tuple[list[str], list[str]]:
    sys.path.insert(0, str(PEERS.parent))
    from peer_overhead import make_pool

    prompts, completions = make_pool()
    return list(prompts), list(completions)


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _stored_runs(home: Path) -> int:
    import sqlite3

    con = sqlite3.connect(home / "raidt.db")
    try:
        return int(con.execute("SELECT COUNT(*) FROM runs").fetchone()[0])
    finally:
        con.close()


def measure(mode: str, n: int, warmup: int) -> dict[str, Any]:
    """One measured batch in this (fresh) process."""
    sys.path.insert(0, str(ROOT / "src"))
    from raidt.services.app import App
    from raidt.services.policies import install_presets

    work = Path(tempfile.mkdtemp(prefix=f"{mode}-"))
    home = work / "home"
    with App.open(home) as app:
        install_presets(app)

    import raidt

    prompts, completions = _pool()
    rec = raidt.Recorder(home)
    pool = len(prompts)

    def run_one(i: int) -> None:
        with rec.run(
            use_case="meeting-notes",
            initiator=f"user-{i % 100}",
            team="analyst" if i % 2 else "clinician",
            risk_level="low",
            template=TEMPLATE,
        ) as run:
            # ... the model call would happen here ...
            run.model_call(
                provider="openai",
                model="gpt-4o-mini",
                parameters={"temperature": 0.2, "max_tokens": 512, "top_p": 1.0},
                prompt=prompts[i % pool],
                output=completions[i % pool],
                usage={"input_tokens": 480, "output_tokens": 470},
            )

    if mode == "spool-floor":
        run_one = _floor_writer(work, prompts, completions)

    for i in range(warmup):
        run_one(i)
    if mode != "spool-floor":
        rec.flush()

    agent: subprocess.Popen[bytes] | None = None
    stop = threading.Event()
    drainer_thread: threading.Thread | None = None
    if mode == "raidt-agent":
        agent = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from raidt.cli.main import main; main()",
                "agent",
                "--interval",
                "0.05",
            ],
            env={**os.environ, "RAIDT_HOME": str(home), "PYTHONPATH": str(ROOT / "src")},
            stdout=subprocess.DEVNULL,
        )
        time.sleep(2.0)  # let it start up before the clock starts
    elif mode == "raidt-thread":
        from raidt.sdk._drain import Drainer
        from raidt.sdk._local import LocalSink

        sink = LocalSink(home)
        drainer = Drainer(sink, rec.spool_dir)

        def drain_loop() -> None:
            while not stop.is_set():
                if not drainer.drain(live=True):
                    time.sleep(0.05)
            drainer.drain(live=True)
            sink.close()

        drainer_thread = threading.Thread(target=drain_loop, daemon=True)
        drainer_thread.start()

    gc.collect()
    lat = [0] * n
    pc = time.perf_counter_ns
    cpu0 = _cpu_s()
    t0 = pc()
    for i in range(n):
        a = pc()
        run_one(warmup + i)
        lat[i] = pc() - a
    t1 = pc()
    want = warmup + n
    if mode == "spool-floor":
        pass
    elif mode == "raidt-flush":
        rec.flush()
    elif mode == "raidt-agent":
        rec.close()  # the agent may now take the segment whole
        while _stored_runs(home) < want:
            time.sleep(0.005)
    else:
        stop.set()
        rec.close()
        assert drainer_thread is not None
        drainer_thread.join()
    t2 = pc()
    cpu1 = _cpu_s()
    if agent is not None:
        agent.send_signal(signal.SIGTERM)
        agent.wait()
    stored = _stored_runs(home) - warmup if mode != "spool-floor" else n
    tv = time.perf_counter()
    verify = subprocess.run(
        [sys.executable, "-c", "from raidt.cli.main import main; main()", "verify"],
        env={**os.environ, "RAIDT_HOME": str(home), "PYTHONPATH": str(ROOT / "src")},
        capture_output=True,
        text=True,
    )
    verify_s = time.perf_counter() - tv
    lat.sort()
    rec.close()
    shutil.rmtree(work, ignore_errors=True)
    return {
        "tool": mode,
        "n": n,
        "caller_us_per_run": (t1 - t0) / n / 1000.0,
        "caller_p50_us": lat[n // 2] / 1000.0,
        "caller_p99_us": lat[min(n - 1, int(n * 0.99))] / 1000.0,
        "flush_s": (t2 - t1) / 1e9,
        "e2e_us_per_run": (t2 - t0) / n / 1000.0,
        "cpu_us_per_run": (cpu1 - cpu0) * 1e6 / n,
        "stored": stored,
        "verify_ok": verify.returncode == 0,
        "verify_s": verify_s,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }


def _floor_writer(work: Path, prompts: list[str], completions: list[str]) -> Any:
    """One framed record per run, one write(): the bare spool the issue measured."""
    import orjson

    from raidt.sdk._spool import encode_frame

    fd = os.open(work / "floor.spool", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    pool = len(prompts)

    def run_one(i: int) -> None:
        body = orjson.dumps(
            {
                "run_id": f"run-{i}",
                "user": f"user-{i % 100}",
                "role": "analyst",
                "model": "gpt-4o-mini",
                "parameters": {"temperature": 0.2, "max_tokens": 512, "top_p": 1.0},
                "prompt": prompts[i % pool],
                "output": completions[i % pool],
                "usage": {"input_tokens": 480, "output_tokens": 470},
                "at": time.time_ns(),
            }
        )
        os.write(fd, encode_frame(body))

    return run_one


def _child(cmd: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    p = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})})
    lines = [line for line in p.stdout.splitlines() if line.startswith("{")]
    if p.returncode != 0 or not lines:
        return {"error": (p.stderr or p.stdout)[-1500:]}
    out: dict[str, Any] = json.loads(lines[-1])
    return out


def _free_port() -> int:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


def main_all(args: argparse.Namespace) -> None:
    peers_py = args.peers_python
    rows = list(RAIDT_ROWS)
    collector = None
    port = 0
    if peers_py and Path(peers_py).exists() and PEERS.exists():
        rows = [*PEER_ROWS, *rows]
        port = _free_port()
        collector = subprocess.Popen([peers_py, str(PEERS), "server", "--port", str(port)])
        time.sleep(1.5)
    else:
        print(f"peers skipped: no {peers_py} (see the peers' README)", file=sys.stderr)
    if args.only:
        rows = [r for r in rows if r in args.only.split(",")]
    results: dict[str, list[dict[str, Any]]] = {r: [] for r in rows}
    try:
        for rep in range(args.reps):
            for row in rows:
                if row in RAIDT_ROWS:
                    cmd = [
                        sys.executable,
                        __file__,
                        "measure",
                        row,
                        "--n",
                        str(args.n),
                        "--warmup",
                        "200",
                    ]
                    r = _child(cmd)
                else:
                    cmd = [
                        peers_py,
                        str(PEERS),
                        "tool",
                        row,
                        "--n",
                        str(args.n),
                        "--warmup",
                        "200",
                        "--port",
                        str(port),
                    ]
                    r = _child(cmd, {"OTEL_BSP_MAX_QUEUE_SIZE": str(max(args.n, 2048))})
                results[row].append(r)
                msg = r.get("error", "")[-300:] or (
                    f"caller {r['caller_us_per_run']:.1f} µs, e2e {r['e2e_us_per_run']:.1f} µs, "
                    f"stored {r['stored']}/{args.n}"
                )
                print(f"[rep {rep + 1}/{args.reps}] {row:16s} {msg}", file=sys.stderr, flush=True)
    finally:
        if collector is not None:
            collector.terminate()
            collector.wait()
    print(_table(results, args.n))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


def _table(results: dict[str, list[dict[str, Any]]], n: int) -> str:
    def med(row: str, key: str) -> float | None:
        vals = [r[key] for r in results.get(row, []) if "error" not in r]
        return statistics.median(vals) if vals else None

    otel = med("otel-bsp-memory", "caller_us_per_run")
    lines = [
        f"N = {n} runs back to back; median of the repetitions [min-max]",
        "",
        "| row | caller µs/run | p50 / p99 µs | end-to-end µs/run | CPU µs/run | stored / N "
        "| caller ÷ OTel BSP+mem |",
        "|---|---|---|---|---|---|---|",
    ]
    for row, rs in results.items():
        good = [r for r in rs if "error" not in r]
        if not good:
            lines.append(f"| {row} | error | | | | | |")
            continue

        def mm(key: str, rows: list[dict[str, Any]] = good) -> str:
            vals = [r[key] for r in rows]
            return f"{statistics.median(vals):.1f} [{min(vals):.1f}-{max(vals):.1f}]"

        caller = statistics.median(r["caller_us_per_run"] for r in good)
        ratio = f"{caller / otel:.2f}" if otel else ""
        verify = ""
        if row.startswith("raidt"):
            verify = " (verify ok)" if all(r["verify_ok"] for r in good) else " (VERIFY FAILED)"
        lines.append(
            f"| {row} | {mm('caller_us_per_run')} "
            f"| {statistics.median(r['caller_p50_us'] for r in good):.1f} / "
            f"{statistics.median(r['caller_p99_us'] for r in good):.1f} "
            f"| {mm('e2e_us_per_run')} "
            f"| {statistics.median(r['cpu_us_per_run'] for r in good):.0f} "
            f"| {min(r['stored'] for r in good)} / {n}{verify} | {ratio} |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd")
    m = sub.add_parser("measure")
    m.add_argument("mode", choices=RAIDT_ROWS)
    m.add_argument("--n", type=int, default=20000)
    m.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--only", default="")
    ap.add_argument("--json", default="")
    ap.add_argument(
        "--peers-python",
        default=os.environ.get("PEERS_PYTHON", "/tmp/peers-venv/bin/python"),
        help="python of a venv with the peers installed (see the peers' README)",
    )
    args = ap.parse_args()
    if args.cmd == "measure":
        print(json.dumps(measure(args.mode, args.n, args.warmup)))
    else:
        main_all(args)


if __name__ == "__main__":
    main()
