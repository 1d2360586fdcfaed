"""The compiled build (``make test-compiled``) really runs the compiled scoring core.

``RAIDT_EXPECT_COMPILED=1`` is set by ``make test-compiled``: every module setup.py lists
must then load as a C extension, or the whole run would silently test pure Python again.
Under the plain editable install, each listed module must exist as a source file, so the
list cannot go stale.
"""

from __future__ import annotations

import ast
import importlib
import importlib.machinery
import os
from pathlib import Path

from raidt import buildinfo

ROOT = Path(__file__).resolve().parents[1]


def _compiled_modules() -> list[str]:
    """The module names of ``COMPILED_MODULES`` in setup.py (read, not imported: importing
    setup.py would run setuptools)."""
    tree = ast.parse((ROOT / "setup.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.AnnAssign | ast.Assign):
            targets = [node.target] if isinstance(node, ast.AnnAssign) else node.targets
            if any(isinstance(t, ast.Name) and t.id == "COMPILED_MODULES" for t in targets):
                paths = ast.literal_eval(node.value)  # type: ignore[arg-type]
                return [p.removeprefix("src/").removesuffix(".py").replace("/", ".") for p in paths]
    raise AssertionError("setup.py defines no COMPILED_MODULES")


def test_compiled_modules_are_core_sources() -> None:
    names = _compiled_modules()
    assert names, "setup.py compiles nothing"
    for name in names:
        assert name.startswith("raidt.core."), f"{name}: only the pure core is compiled"
        assert (ROOT / "src" / (name.replace(".", "/") + ".py")).is_file(), name


def test_build_is_what_the_run_expects() -> None:
    expect_compiled = os.environ.get("RAIDT_EXPECT_COMPILED") == "1"
    assert buildinfo.scoring_core_compiled() == expect_compiled
    assert ("compiled" in buildinfo.describe().split()[0]) == expect_compiled
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    for name in _compiled_modules():
        where = importlib.import_module(name).__file__ or ""
        assert where.endswith(suffixes) == expect_compiled, (
            f"{name} loaded from {where}; expected "
            + ("a compiled extension (make test-compiled)" if expect_compiled else "its source")
        )
