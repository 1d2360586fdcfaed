"""What the SDK acknowledged survives: kill -9, a full disk, a full spool."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import raidt
from raidt.errors import CaptureError, SpoolFullError
from raidt.sdk._spool import scan_segment, segment_paths
from tests.sdk._store import OUTPUT, PROMPT, TEMPLATE, make_store, stored_runs, verified

ROOT = Path(__file__).resolve().parents[2]

BURST = textwrap.dedent(
    """
    import sys, raidt
    rec = raidt.Recorder(sys.argv[1])
    prompt, output = "p" * 2048, "o" * 2048
    while True:
        with rec.run(use_case="meeting-notes", initiator="u-1", team="ops",
                     risk_level="low", template={"id": "meeting-notes-summary",
                     "version": "1"}) as run:
            run.model_call(provider="openai", model="gpt-4o", prompt=prompt, output=output)
        print(run.run_id, flush=True)  # acknowledged: the run's write() has returned
    """
)


def _record(rec: raidt.Recorder, n: int) -> list[str]:
    ids = []
    for _ in range(n):
        with rec.run(
            use_case="meeting-notes",
            initiator="u-1",
            team="ops",
            risk_level="low",
            template=TEMPLATE,
        ) as run:
            run.model_call(provider="openai", model="gpt-4o", prompt=PROMPT, output=OUTPUT)
        ids.append(run.run_id)
    return ids


def test_kill_9_mid_burst_loses_nothing_acknowledged(tmp_path: Path) -> None:
    home = tmp_path / "home"
    make_store(home)
    script = tmp_path / "burst.py"
    script.write_text(BURST)
    child = subprocess.Popen(
        [sys.executable, str(script), str(home)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    assert child.stdout is not None
    acked = [child.stdout.readline().strip() for _ in range(400)]
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    acked += [line.strip() for line in child.stdout if line.strip()]
    assert len(segment_paths(home / "spool")) == 1  # the dead writer's segment is left

    with raidt.Recorder(home) as rec:  # the next start
        sealed = rec.flush()
    runs = stored_runs(home)
    assert set(acked) <= set(runs)
    assert sealed == 3 * len(runs)
    assert all(t == ["run.started", "model.invoked", "model.responded"] for t in runs.values())
    assert segment_paths(home / "spool") == []
    assert verified(home)


def test_a_full_disk_is_an_error_the_caller_sees(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    home = tmp_path / "home"
    make_store(home)
    spool = tmp_path / "spool"
    spool.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(spool)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    rec = raidt.Recorder(home, spool_dir=spool)
    try:
        acked: list[str] = []
        with pytest.raises(CaptureError, match="not recorded") as info:
            for _ in range(100):  # 64 KiB holds about a dozen 4.6 KB runs
                acked += _record(rec, 1)
        assert not isinstance(info.value, SpoolFullError)
        assert "No space left" in info.value.diagnostic()
        assert 5 <= len(acked) < 100
        assert rec.flush() == 3 * len(acked)  # frees the tmpfs
        assert set(stored_runs(home)) == set(acked)  # every acknowledged run, nothing torn
        more = _record(rec, 2)  # room again
        rec.flush()
        assert set(stored_runs(home)) == {*acked, *more}
        assert verified(home)
    finally:
        rec.close()
        subprocess.run(["umount", "-l", str(spool)], check=True)


def test_block_mode_waits_for_a_drainer_and_records_everything(tmp_path: Path) -> None:
    home = tmp_path / "home"
    make_store(home)
    agent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from raidt.cli.main import main; main()",
            "agent",
            "--interval",
            "0.02",
        ],
        env={**os.environ, "RAIDT_HOME": str(home), "PYTHONPATH": str(ROOT / "src")},
        stdout=subprocess.DEVNULL,
    )
    try:
        rec = raidt.Recorder(
            home, on_full="block", max_spool_bytes=40_000, segment_bytes=10_000, block_timeout=120
        )
        ids = _record(rec, 60)  # about 280 KB through a 40 KB spool
    finally:
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(timeout=60) == 0
    rec.flush()
    assert set(stored_runs(home)) == set(ids)
    assert verified(home)


def test_block_mode_without_a_drainer_gives_up_with_an_error(tmp_path: Path) -> None:
    home = tmp_path / "home"
    make_store(home)
    rec = raidt.Recorder(home, on_full="block", max_spool_bytes=20_000, block_timeout=0.2)
    acked: list[str] = []
    with pytest.raises(SpoolFullError, match="limit 20000"):
        for _ in range(20):
            acked += _record(rec, 1)
    assert 1 <= len(acked) < 20
    rec.flush()
    assert set(stored_runs(home)) == set(acked)


def test_agent_once_seals_what_a_closed_recorder_left(tmp_path: Path) -> None:
    home = tmp_path / "home"
    make_store(home)
    rec = raidt.Recorder(home)
    ids = _record(rec, 5)
    rec.close()
    out = subprocess.run(
        [sys.executable, "-c", "from raidt.cli.main import main; main()", "agent", "--once"],
        env={**os.environ, "RAIDT_HOME": str(home), "PYTHONPATH": str(ROOT / "src")},
        capture_output=True,
        text=True,
        check=True,
    )
    assert "sealed 15 events" in out.stdout
    assert set(stored_runs(home)) == set(ids)
    assert segment_paths(home / "spool") == []


def test_an_altered_segment_is_sealed_up_to_the_damage_and_kept(tmp_path: Path) -> None:
    home = tmp_path / "home"
    make_store(home)
    rec = raidt.Recorder(home)
    ids = _record(rec, 3)
    [segment] = rec._writer.rotate()
    data = bytearray(segment.read_bytes())
    first = scan_segment(segment).frames[0]
    data[first.end + 40] ^= 0x01  # inside the second run's record
    segment.write_bytes(bytes(data))
    assert rec.flush() == 3
    assert set(stored_runs(home)) == {ids[0]}
    kept = segment.with_suffix(".damaged")
    assert kept.exists() and segment_paths(home / "spool") == []
    assert rec.flush() == 0  # kept for inspection, never read as spool again
