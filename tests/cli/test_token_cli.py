"""``raidt token create|list|revoke`` as a user runs them."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from raidt.cli.main import app

runner = CliRunner()


def test_create_list_revoke(raidt_home: Path) -> None:
    made = runner.invoke(app, ["token", "create", "--role", "system", "--name", "otel", "--json"])
    assert made.exit_code == 0, made.output
    created = json.loads(made.stdout)
    token = created["token"]
    assert token.startswith("raidt_") and len(token) > 40
    assert created["role"] == "system" and created["name"] == "otel"

    listed = runner.invoke(app, ["token", "list", "--json"])
    assert token not in listed.stdout
    rows = json.loads(listed.stdout)
    assert [(r["id"], r["revoked_at"]) for r in rows] == [(created["id"], None)]
    with sqlite3.connect(raidt_home / "raidt.db") as db:
        dump = "\n".join(db.iterdump())
    assert token not in dump  # only the digest is stored

    gone = runner.invoke(app, ["token", "revoke", created["id"], "--json"])
    assert gone.exit_code == 0, gone.output
    assert json.loads(gone.stdout)["revoked_at"]
    assert json.loads(runner.invoke(app, ["token", "list", "--json"]).stdout)[0]["revoked_at"]


def test_refusals_are_one_line(raidt_home: Path) -> None:
    bad = runner.invoke(app, ["token", "create", "--role", "overlord"])
    assert bad.exit_code == 1
    assert "unknown role 'overlord'" in bad.output
    missing = runner.invoke(app, ["token", "revoke", "nope"])
    assert missing.exit_code == 1
    assert "no token with id 'nope'" in missing.output


def test_serve_refuses_workers_on_sqlite(raidt_home: Path) -> None:
    r = runner.invoke(app, ["serve", "--workers", "2"])
    assert r.exit_code == 1
    assert "one writer process" in r.output
