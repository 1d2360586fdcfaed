"""Packaging hook: ``RAIDT_COMPILE=1`` compiles the scoring core with mypyc.

All of RAIDT is plain, typed Python and runs as such; the editable install that ``make
test`` and ``make demo`` use is never compiled, so an edited module takes effect at once.
A bulk rescore spends nearly all its CPU in the pure modules listed below (evidence, the
26 checks, the profile, weak-point facts, the rollup, chain hashing). mypyc, the compiler
mypy and black ship with, turns exactly those modules into C extensions with the same
behaviour; it executes about 1.4x fewer instructions per run, and a million-run rescore
on one core took 9 % less time (bench/RESULTS.md, sixth round). ``make compiled`` builds
such an install into ``.venv-compiled``, and ``make test-compiled`` runs the whole test
suite against it, which CI does too.
"""

from __future__ import annotations

import os

from setuptools import setup

#: the modules compiled with RAIDT_COMPILE=1: pure core code (no I/O, no pydantic models)
COMPILED_MODULES = [
    "src/raidt/core/checks/_base.py",
    "src/raidt/core/checks/auditability.py",
    "src/raidt/core/checks/dependability.py",
    "src/raidt/core/checks/interpretability.py",
    "src/raidt/core/checks/responsibility.py",
    "src/raidt/core/checks/traceability.py",
    "src/raidt/core/scoring.py",
    "src/raidt/core/weakpoints.py",
    "src/raidt/core/aggregate.py",
    "src/raidt/core/hashing.py",
    "src/raidt/core/timefmt.py",
]


def _ext_modules() -> list[object]:
    if os.environ.get("RAIDT_COMPILE") != "1":
        return []
    # imported only when asked: a plain install needs no compiler and no mypy
    from mypyc.build import mypycify

    return list(mypycify(COMPILED_MODULES, opt_level="3"))


setup(ext_modules=_ext_modules())
