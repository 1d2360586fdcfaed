"""``raidt pack verify`` on hostile files, as a user runs it: one line, the right status."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from raidt.cli.main import app
from raidt.services.packs import PackService
from raidt.services.periodpacks import ATTESTATION, PERIOD_FILES
from raidt.store.keys import public_key_pem
from tests.services._packs import open_store, run_events
from tests.services._zipcraft import Member, craft, deflated, zeros_bomb

runner = CliRunner()
_MiB = 1 << 20


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_a_zip_bomb_is_one_line_and_exit_1(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.zip"
    bomb.write_bytes(craft([Member("events.jsonl", zeros_bomb(1 << 30), 0xFFFFFFFF)]))
    r = runner.invoke(app, ["pack", "verify", str(bomb)])
    assert r.exit_code == 1
    assert isinstance(r.exception, SystemExit) and "Traceback" not in r.output
    errors = [line for line in _lines(r.output) if line.startswith("error:")]
    assert len(errors) == 1 and "declares 4,294,967,295 bytes" in errors[0]


def test_a_device_and_a_fifo_are_refused_without_blocking(tmp_path: Path) -> None:
    r = runner.invoke(app, ["pack", "verify", "/dev/zero"])
    assert r.exit_code == 1 and "not a regular file" in r.output
    fifo = tmp_path / "p.zip"
    os.mkfifo(fifo)
    r = runner.invoke(app, ["pack", "verify", str(fifo)])
    assert r.exit_code == 1 and "p.zip: not a regular file" in r.output


def test_markup_and_escapes_from_a_pack_reach_the_terminal_as_text(tmp_path: Path) -> None:
    name = "[link=file:///etc/passwd]x[/link]\x1b]0;owned\x07\x1b[2J"
    bad = tmp_path / "bad.zip"
    bad.write_bytes(craft([deflated(name, b"x")]))
    r = runner.invoke(app, ["pack", "verify", str(bad)])
    assert r.exit_code == 1
    assert "\x1b" not in r.output and "\x07" not in r.output
    assert "[link=file:///etc/passwd]" in r.output.replace("\n", "")


def test_a_key_that_is_a_device_or_missing_is_one_line(tmp_path: Path) -> None:
    pack = tmp_path / "p.zip"
    pack.write_bytes(craft([deflated("a", b"x")]))
    r = runner.invoke(app, ["pack", "verify", str(pack), "--key", "/dev/zero"])
    assert r.exit_code == 1 and "--key /dev/zero: not a regular file" in r.output
    r = runner.invoke(app, ["pack", "verify", str(pack), "--key", str(tmp_path / "none.pem")])
    assert r.exit_code == 1 and "cannot open (No such file or directory)" in r.output


#: ``raidt`` that writes its own peak resident memory (VmHWM, KiB) to $PEAK_FILE at exit
_CHILD = """
import atexit, os

def _peak():
    line = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
    with open(os.environ["PEAK_FILE"], "w") as f:
        f.write(line.split()[1])

atexit.register(_peak)
from raidt.cli.main import main
main()
"""


def _verify_in_process_of_its_own(tmp: Path, *args: str) -> tuple[int, int, str]:
    """Exit status, peak resident memory (bytes) and stderr of ``raidt pack verify ARGS``
    run as a separate process. The peak is the child's own ``VmHWM`` (fresh since exec);
    ``ru_maxrss`` would count the parent's pages as well, which a vfork child inherits."""
    peak = tmp / "peak.kib"
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, "pack", "verify", *args],
        env={**os.environ, "PEAK_FILE": str(peak)},
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.returncode, int(peak.read_text()) * 1024, proc.stderr


#: a verifying process's own footprint is about 70 MiB; the bombs below inflate to 0.5-1 GiB
_RSS_CAP = 200 * _MiB


def test_bombs_never_grow_a_verifying_process(tmp_path: Path) -> None:
    lying = tmp_path / "lying.zip"
    lying.write_bytes(craft([Member("events.jsonl", zeros_bomb(1 << 30), 10)]))
    code, rss, err = _verify_in_process_of_its_own(tmp_path, str(lying))
    assert code == 1 and rss < _RSS_CAP and err.count("\n") == 1, (code, rss, err)

    theirs = open_store(tmp_path / "theirs")
    try:
        theirs.events.append(run_events("r-1"))
        out = tmp_path / "period"
        PackService(theirs).build_period(
            "discharge-summary", "2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z", out
        )
    finally:
        theirs.close()
    members = [deflated(n, (out / n).read_bytes()) for n in (*PERIOD_FILES, ATTESTATION)]
    members.append(Member("packs/r-1.zip", zeros_bomb(512 * _MiB), 512 * _MiB))
    period = tmp_path / "period.zip"
    period.write_bytes(craft(members))
    key = tmp_path / "org.pub.pem"
    key.write_bytes(public_key_pem(Ed25519PrivateKey.generate()))
    code, rss, err = _verify_in_process_of_its_own(tmp_path, str(period), "--key", str(key))
    assert code == 1 and rss < _RSS_CAP and "not the pinned key" in err, (code, rss, err)
