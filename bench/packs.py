"""Evidence-pack benchmark: packs built and verified per second, verification against raw
SHA-256 over the same bytes, and memory while an audit period streams out.

1. builds a store of N generated runs (SQLite, one core), then builds one pack per run;
2. verifies every pack from its zip bytes (no database), timing each check separately;
3. hashes the same bytes with plain SHA-256 in the same process, so the ratio
   ``verify time / sha256 time`` is free of machine speed;
4. builds an audit period of the whole store, sampling RSS as packs stream out.

Usage::

    .venv/bin/python bench/packs.py --runs 300
    .venv/bin/python bench/packs.py --runs 300 --period-runs 5000
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from raidt.core import packformat as pf
from raidt.services.app import App
from raidt.services.demo_data import DemoGenerator
from raidt.services.packs import PackService
from raidt.services.packzip import read_zip
from raidt.services.policies import install_presets
from raidt.services.scoring import install_default_rubric


def _store(home: Path, runs: int, seed: int) -> App:
    app = App.open(home=home)
    install_presets(app)
    install_default_rubric(app)
    batch: list = []
    for run in DemoGenerator(seed=seed).runs(runs):
        batch.extend(run)
        if len(batch) >= 5000:
            app.events.append(batch)
            batch = []
    if batch:
        app.events.append(batch)
    app.checkpoint()
    return app


def _run_ids(app: App) -> list[str]:
    return [rid for rid, _ in app.events.iter_runs()]


def bench_packs(app: App, limit: int) -> dict[str, float]:
    svc = PackService(app)
    ids = _run_ids(app)[:limit]
    cp = svc.covering_checkpoint(1)
    t0 = time.perf_counter()
    packs = [svc.pack_bytes(rid, checkpoint=cp) for rid in ids]
    build_s = time.perf_counter() - t0

    contents = [read_zip(p) for p in packs]
    member_bytes = sum(len(b) for c in contents for b in c.files.values())
    zip_bytes = sum(len(p) for p in packs)

    per_check: dict[str, float] = {c.name: 0.0 for c in pf.default_checks()}
    t0 = time.perf_counter()
    for p in packs:
        c = read_zip(p)
        view = pf.PackView(files=c.files, names=c.names)
        for check in pf.default_checks():
            t = time.perf_counter()
            check.run(view)
            per_check[check.name] += time.perf_counter() - t
    verify_s = time.perf_counter() - t0

    # raw SHA-256 over exactly the bytes verification reads (zip + every member), best of 5
    sha_s = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        for p, c in zip(packs, contents, strict=True):
            hashlib.sha256(p).digest()
            for b in c.files.values():
                hashlib.sha256(b).digest()
        sha_s = min(sha_s, time.perf_counter() - t)
    digest_only = per_check["files"] + per_check["statement"] + per_check["manifest"]
    return {
        "packs": len(packs),
        "build_s": build_s,
        "verify_s": verify_s,
        "sha_s": sha_s,
        "member_mb": member_bytes / 1e6,
        "zip_mb": zip_bytes / 1e6,
        "digest_checks_s": digest_only,
        **{f"check_{k}_s": v for k, v in per_check.items()},
    }


def bench_period(app: App, out: Path) -> dict[str, float]:
    proc = psutil.Process()
    samples: list[tuple[int, float]] = []

    def tick(done: int, total: int) -> None:
        if done == 1 or done % max(1, total // 10) == 0 or done == total:
            samples.append((done, proc.memory_info().rss / 1e6))

    use_case = max(
        (
            "discharge-summary",
            "credit-memo",
            "meeting-notes",
            "policy-briefing",
            "student-feedback",
            "benefits-letter",
        ),
        key=lambda uc: len(app.events.list_runs(use_case=uc)),
    )
    t0 = time.perf_counter()
    result = PackService(app).build_period(
        use_case, "2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z", out, progress=tick
    )
    build_s = time.perf_counter() - t0
    from raidt.services.period_verify import verify_period

    t0 = time.perf_counter()
    ok = all(r.ok for r in verify_period(out))
    verify_s = time.perf_counter() - t0
    return {
        "use_case": use_case,
        "runs": result.runs,
        "build_s": build_s,
        "verify_s": verify_s,
        "ok": ok,
        "rss": samples,
    }  # type: ignore[dict-item]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=300, help="packs to build and verify")
    ap.add_argument(
        "--period-runs", type=int, default=0, help="store size for the audit-period build (0: skip)"
    )
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = _store(Path(tmp) / "home", args.runs, args.seed)
        r = bench_packs(app, args.runs)
        app.close()
        ratio = r["verify_s"] / r["sha_s"]
        print(
            f"packs: {r['packs']} ({r['zip_mb']:.2f} MB zipped, {r['member_mb']:.2f} MB of files)"
        )
        print(f"build:  {r['packs'] / r['build_s']:8.1f} packs/s")
        print(
            f"verify: {r['packs'] / r['verify_s']:8.1f} packs/s "
            f"({r['member_mb'] / r['verify_s']:.2f} MB/s)"
        )
        print(
            f"sha256: {(r['member_mb'] + r['zip_mb']) / r['sha_s']:8.1f} MB/s over the same bytes"
        )
        print(f"full verification / raw SHA-256 time: {ratio:,.0f}x")
        print(
            f"digest checks only (files+statement+manifest) / raw SHA-256: "
            f"{r['digest_checks_s'] / r['sha_s']:,.1f}x"
        )
        for k, v in r.items():
            if k.startswith("check_"):
                print(
                    f"  {k[6:-2]:<10} {1000 * v / r['packs']:7.2f} ms/pack "
                    f"({100 * v / r['verify_s']:4.1f}%)"
                )
        if args.period_runs:
            app = _store(Path(tmp) / "home2", args.period_runs, args.seed + 1)
            p = bench_period(app, Path(tmp) / "period")
            app.close()
            print(
                f"period: {p['runs']} runs of {p['use_case']} in "
                f"{p['build_s']:.1f}s ({p['runs'] / p['build_s']:.1f} packs/s), "
                f"verified in {p['verify_s']:.1f}s, ok={p['ok']}"
            )
            print("  RSS (MB) by packs written: " + ", ".join(f"{d}:{m:.0f}" for d, m in p["rss"]))  # type: ignore[union-attr]


if __name__ == "__main__":
    main()
