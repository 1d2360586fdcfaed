"""Gateway benchmark: what the recording gateway adds to a chat completion, beside the floors.

Drives, in one run and interleaved, the same targets as the peers' gateway baseline
(``../shared/bench/peers/gateway``: its stub upstream, its bare aiohttp floor ``B1a``, its
wrk and raw streaming load clients, its CPU sampling) plus ``raidt``: ``raidt serve`` with a
fresh SQLite store, recording every call. LiteLLM (``A1``) joins when the peers' venv has
it (``/tmp/gw-venv/bin/litellm``; see that README for the install).

For ``raidt`` each cell also reports recording: the calls sealed in the store by the end
of the cell, how long the recorder then took to drain its queue, and the sustained rate
(requests / (cell + drain)) — a gateway that answers fast but records slower than it
serves would otherwise look better than it is.

    .venv/bin/python bench/capture_gateway.py run --reps 3 --duration 10
    .venv/bin/python bench/capture_gateway.py run --targets direct,B1a,raidt --reps 1 --duration 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PEERS = Path(os.environ.get("RAIDT_PEERS_GATEWAY", ROOT.parent / "shared/bench/peers/gateway"))
os.environ.setdefault("GW_VENV_PY", sys.executable)  # stub, floors and load clients: our venv
os.environ.setdefault("GW_HTTPTOOLS_DIR", "")
os.environ.setdefault("GW_BENCH_TMP", "/tmp/raidt-gw-bench")
sys.path.insert(0, str(PEERS))

import gateway_bench as gb  # noqa: E402  (the peers' driver)

RAIDT_PORT = 18110
gb.PORTS["raidt"] = RAIDT_PORT
RAIDT_BIN = str(Path(sys.executable).parent / "raidt")
LITELLM_AVAILABLE = Path(gb.LITELLM_BIN).exists()

_LUA = r"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(key)s"
wrk.headers["X-Raidt-Token"] = "%(token)s"
wrk.headers["X-Raidt-Use-Case"] = "meeting-notes"
wrk.body = [==[%(body)s]==]
"""


def _lua(key: str, token: str) -> str:
    path = f"{gb.WORK}/post-raidt.lua"
    done = gb.LUA_TMPL[gb.LUA_TMPL.index("done = function") :]
    with open(path, "w") as f:
        f.write(_LUA % {"key": key, "token": token, "body": gb.BODY.decode()} + done % {})
    return path


def _http_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def _raidt_server(home: Path, token_env: dict[str, str]) -> gb.Server:
    env = dict(os.environ, **token_env)
    env.pop("PYTHONPATH", None)
    return gb.Server(
        "raidt",
        [RAIDT_BIN, "serve", "--host", gb.HOST, "--port", str(RAIDT_PORT)],
        env,
        f"{gb.WORK}/raidt.log",
        f"http://{gb.HOST}:{RAIDT_PORT}/healthz",
    )


def _prepare_store(home: Path) -> tuple[str, dict[str, str]]:
    env = dict(os.environ, RAIDT_HOME=str(home))
    env.pop("RAIDT_DATABASE_URL", None)
    subprocess.run([RAIDT_BIN, "init"], env=env, check=True, capture_output=True)
    out = subprocess.run(
        [RAIDT_BIN, "token", "create", "--role", "system", "--name", "bench", "--json"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    token = json.loads(out.stdout)["token"]
    env_server = {
        "RAIDT_HOME": str(home),
        "RAIDT_UPSTREAM_URL": f"http://{gb.HOST}:{gb.STUB_PORT}/v1",
        "RAIDT_GATEWAY_USE_CASE": "meeting-notes",
    }
    return token, env_server


def _validate(token: str) -> None:
    """One call through the raidt gateway before timing: it must answer the stub's reply."""
    req = urllib.request.Request(
        f"http://{gb.HOST}:{RAIDT_PORT}/openai{gb.PATH}",
        data=gb.BODY,
        headers={
            "Content-Type": "application/json",
            "Authorization": "Bearer sk-bench",
            "X-Raidt-Token": token,
            "X-Raidt-Use-Case": "meeting-notes",
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            reply = json.loads(r.read())["choices"][0]["message"]["content"]
    except urllib.error.HTTPError as exc:
        sys.exit(f"the raidt gateway refused the benchmark call: {exc.code} {exc.read()[:300]!r}")
    import stub_upstream

    if reply != stub_upstream.REPLY:
        sys.exit("the raidt gateway did not return the stub's reply")


def _drain(started: float, timeout: float = 300) -> tuple[float, dict[str, Any]]:
    """Wait until the raidt recorder has sealed everything; returns (seconds waited, health)."""
    while True:
        h = _http_json(f"http://{gb.HOST}:{RAIDT_PORT}/healthz")["gateway"]
        if (h["queued"] == 0 and h.get("sealing", 0) == 0) or time.monotonic() - started > timeout:
            return time.monotonic() - started, h
        time.sleep(0.02)


def _load_stream(
    url: str,
    conc: int,
    dur: float,
    warmup: float,
    key: str,
    token: str,
    gw_pids: list[int],
    stub_pids: list[int],
) -> dict[str, Any]:
    cmd = [
        sys.executable,
        os.path.abspath(__file__),
        "load",
        "--url",
        url,
        "--concurrency",
        str(conc),
        "--duration",
        str(dur),
        "--warmup",
        str(warmup),
        "--key",
        key,
        "--token",
        token,
        "--gw-pids",
        ",".join(map(str, gw_pids)),
        "--stub-pids",
        ",".join(map(str, stub_pids)),
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=dur + warmup + 120)
    for line in r.stdout.splitlines():
        if line.startswith("{"):
            return dict(json.loads(line))
    raise RuntimeError(f"load gave no result: {r.stdout[-500:]} {r.stderr[-800:]}")


def cmd_load(a: argparse.Namespace) -> None:
    """Streaming load with the peers' raw client, plus the raidt headers."""
    import uvloop

    base = gb.RawHTTP11

    class WithRaidtHeaders(base):  # type: ignore[misc,valid-type]
        def __init__(self, url: str, key: str, body: bytes) -> None:
            super().__init__(url, key, body)
            extra = f"X-Raidt-Token: {a.token}\r\nX-Raidt-Use-Case: meeting-notes\r\n".encode()
            head, sep, rest = self.req.partition(b"\r\n")
            self.req = head + sep + extra + rest

    gb.RawHTTP11 = WithRaidtHeaders
    uvloop.install()
    gw = [int(x) for x in a.gw_pids.split(",") if x]
    stub = [int(x) for x in a.stub_pids.split(",") if x]
    out = asyncio.run(
        gb._load(a.url, a.concurrency, a.duration, a.warmup, True, a.key, None, gw, stub, "raw")
    )
    print(json.dumps(out))


def measure(
    kind: str,
    target: str,
    servers: dict[str, gb.Server],
    conc: int,
    dur: float,
    warmup: float,
    key: str,
    token: str,
    lua: str,
) -> dict[str, Any]:
    path = "/openai" + gb.PATH if target == "raidt" else gb.PATH
    url = f"http://{gb.HOST}:{gb.PORTS[target]}{path}"
    gw_pids = servers[target].pids() if target != "direct" else []
    stub_pids = servers["direct"].pids()
    before = (
        _http_json(f"http://{gb.HOST}:{RAIDT_PORT}/healthz")["gateway"]
        if target == "raidt"
        else None
    )
    if kind == "wrk":
        if warmup > 0:
            gb.run_wrk(url, conc, warmup, lua)
        if target == "raidt":
            _drain(time.monotonic())
            before = _http_json(f"http://{gb.HOST}:{RAIDT_PORT}/healthz")["gateway"]
        import resource

        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        s0 = gb.snapshot(gw_pids, stub_pids)
        res = gb.run_wrk(url, conc, dur, lua)
        s1 = gb.snapshot(gw_pids, stub_pids)
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        res.update(
            gb.window_cpu(
                s0,
                s1,
                res["requests"],
                bool(gw_pids),
                (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime),
            )
        )
    else:
        res = _load_stream(url, conc, dur, warmup, key, token, gw_pids, stub_pids)
    if target == "raidt":
        t0 = time.monotonic()
        at_end = _http_json(f"http://{gb.HOST}:{RAIDT_PORT}/healthz")["gateway"]
        drain_s, after = _drain(t0)
        # every call the load sent (warm-up included) must be recorded, none lost
        res["recorded_calls"] = after["recorded_calls"] - before["recorded_calls"]
        res["queued_at_end"] = at_end["queued"]
        res["lost_calls"] = after["lost_calls"]
        res["drain_s"] = drain_s
        window = res.get("window_s") or res["duration_us"] / 1e6
        res["sustained_rps"] = res["requests"] / (window + drain_s)
    res.update({"target": target, "kind": kind, "concurrency": conc})
    return res


def cmd_run(a: argparse.Namespace) -> None:
    targets = [t for t in a.targets.split(",") if t]
    if "A1" in targets and not LITELLM_AVAILABLE:
        print(f"note: LiteLLM not found at {gb.LITELLM_BIN}; measuring without it", file=sys.stderr)
        targets.remove("A1")
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed (apt-get install wrk)")
    os.makedirs(gb.WORK, exist_ok=True)
    key = os.urandom(16).hex()
    home = Path(tempfile.mkdtemp(prefix="raidt-gw-"))
    token, raidt_env = _prepare_store(home)
    servers = gb.make_servers([t for t in targets if t != "raidt"], key, a.stub_workers)
    if "raidt" in targets:
        servers["raidt"] = _raidt_server(home, raidt_env)
    try:
        for s in servers.values():
            s.start()
        for s in servers.values():
            s.wait_ready()
        if "raidt" in targets:
            _validate(token)
        lua_plain = gb.write_lua(key)
        lua = _lua(key, token) if "raidt" in targets else lua_plain
        cells: list[dict[str, Any]] = []
        concs = [int(c) for c in a.concurrency.split(",")]
        for rep in range(a.reps):
            order = targets[rep % len(targets) :] + targets[: rep % len(targets)]
            for kind, conc in [("wrk", c) for c in concs] + [("stream", a.stream_concurrency)]:
                for target in order:
                    r = measure(kind, target, servers, conc, a.duration, a.warmup, key, token, lua)
                    r["rep"] = rep
                    cells.append(r)
                    print(
                        json.dumps(
                            {
                                k: r.get(k)
                                for k in (
                                    "rep",
                                    "kind",
                                    "concurrency",
                                    "target",
                                    "p50_us",
                                    "p99_us",
                                    "throughput",
                                    "gw_cpu_ms_per_req",
                                    "sustained_rps",
                                    "lost_calls",
                                )
                            }
                        ),
                        flush=True,
                    )
        verify = subprocess.run(
            [RAIDT_BIN, "verify", "--json"],
            env=dict(os.environ, RAIDT_HOME=str(home)),
            capture_output=True,
            text=True,
        )
        out = {
            "cells": cells,
            "targets": targets,
            "verify": json.loads(verify.stdout) if verify.stdout else verify.stderr,
            "args": vars(a),
            "litellm": LITELLM_AVAILABLE,
        }
    finally:
        for s in servers.values():
            s.stop()
        shutil.rmtree(home, ignore_errors=True)
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    Path(a.json).write_text(json.dumps(out, indent=1))
    print(summarize(out))


def _med(cells: list[dict[str, Any]], key: str) -> float | None:
    vals = [c[key] for c in cells if c.get(key) is not None]
    return statistics.median(vals) if vals else None


def summarize(out: dict[str, Any]) -> str:
    """Markdown table: medians over repetitions; added latency from the same repetition."""
    cells = out["cells"]
    rows = [
        "| load | c | target | p50 ms | p99 ms | added p50 ms | req/s | gateway CPU ms/req "
        "| recorded calls / sustained req/s | lost |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    keys = sorted({(c["kind"], c["concurrency"]) for c in cells}, key=lambda k: (k[0], k[1]))
    for kind, conc in keys:
        same = [c for c in cells if c["kind"] == kind and c["concurrency"] == conc]
        for target in out["targets"]:
            cs = [c for c in same if c["target"] == target]
            if not cs:
                continue
            added = []
            for c in cs:
                d = [x for x in same if x["target"] == "direct" and x["rep"] == c["rep"]]
                if d and target != "direct":
                    added.append((c["p50_us"] - d[0]["p50_us"]) / 1000)
            p50, p99 = _med(cs, "p50_us") or 0.0, _med(cs, "p99_us") or 0.0
            cpu = _med(cs, "gw_cpu_ms_per_req")
            rec, lost = "", ""
            if target == "raidt":
                recorded = sum(c["recorded_calls"] for c in cs)
                rec = f"{recorded} / {_med(cs, 'sustained_rps') or 0:.0f}"
                lost = str(max(c.get("lost_calls") or 0 for c in cs))
            rows.append(
                "| "
                + " | ".join(
                    [
                        "stream" if kind == "stream" else "json",
                        str(conc),
                        target,
                        f"{p50 / 1000:.3f}",
                        f"{p99 / 1000:.3f}",
                        f"{statistics.median(added):.3f}" if added else "—",
                        f"{_med(cs, 'throughput') or 0:.0f}",
                        "" if cpu is None or target == "direct" else f"{cpu:.3f}",
                        rec,
                        lost,
                    ]
                )
                + " |"
            )
    return "\n".join(rows)


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--targets", default="direct,B1a,raidt,A1")
    r.add_argument("--concurrency", default="1,16,64")
    r.add_argument("--stream-concurrency", type=int, default=16)
    r.add_argument("--reps", type=int, default=3)
    r.add_argument("--duration", type=int, default=10)
    r.add_argument("--warmup", type=int, default=2)
    r.add_argument("--stub-workers", type=int, default=2)
    r.add_argument("--json", default=str(ROOT / "bench/results/capture_gateway.json"))
    ld = sub.add_parser("load")
    for name in ("--url", "--key", "--token", "--gw-pids", "--stub-pids"):
        ld.add_argument(name, required=True)
    ld.add_argument("--concurrency", type=int, required=True)
    ld.add_argument("--duration", type=float, required=True)
    ld.add_argument("--warmup", type=float, default=1)
    s = sub.add_parser("summarize")
    s.add_argument("json")
    a = p.parse_args()
    if a.cmd == "run":
        cmd_run(a)
    elif a.cmd == "load":
        cmd_load(a)
    else:
        print(summarize(json.loads(Path(a.json).read_text())))


if __name__ == "__main__":
    main()
