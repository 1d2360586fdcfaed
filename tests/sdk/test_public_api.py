"""The SDK's public surface, and that importing it stays light."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import raidt

HEAVY = (
    "sqlalchemy",
    "pydantic",
    "pydantic_settings",
    "httpx",
    "fastapi",
    "typer",
    "rich",
    "openai",
    "alembic",
    "psycopg",
    "weasyprint",
    "cryptography",
)


def test_public_names_are_pinned() -> None:
    assert sorted(raidt.__all__) == [
        "CaptureError",
        "PolicyViolation",
        "RaidtError",
        "Recorder",
        "Run",
        "SpoolFullError",
        "__version__",
        "current_run",
        "governed",
        "wrap_openai",
    ]
    for name in raidt.__all__:
        assert getattr(raidt, name) is not None


def test_unknown_attribute_is_an_attribute_error() -> None:
    try:
        raidt.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_import_and_construct_stay_light(tmp_path: Path) -> None:
    """A fresh interpreter: importing raidt and making a recorder loads no framework."""
    code = (
        "import sys, raidt\n"
        f"rec = raidt.Recorder(home={str(tmp_path)!r})\n"
        "_ = raidt.governed, raidt.current_run, raidt.Run\n"
        f"heavy = {HEAVY!r}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & set(heavy)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
