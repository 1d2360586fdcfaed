"""``raidt pack verify`` on hostile files, as a user runs it: one line, the right status."""

from __future__ import annotations

import os
from pathlib import Path

from typer.testing import CliRunner

from raidt.cli.main import app
from tests.services._zipcraft import Member, craft, deflated, zeros_bomb

runner = CliRunner()


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
