"""Which build is running: the plain Python sources, or the scoring core compiled by mypyc.

Both builds behave the same (CI runs the whole test suite on each); the compiled one scores
a large store faster. ``setup.py`` lists the compiled modules; ``make compiled`` builds them.
"""

from __future__ import annotations

import importlib.machinery

from raidt.core import scoring

__all__ = ["describe", "scoring_core_compiled"]


def scoring_core_compiled() -> bool:
    """True when the scoring core was loaded as a C extension (a ``RAIDT_COMPILE=1`` build)."""
    return (scoring.__file__ or "").endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))


def describe() -> str:
    """A few words for progress lines and benchmark output."""
    return "compiled scoring core" if scoring_core_compiled() else "pure-Python scoring core"
