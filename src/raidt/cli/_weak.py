"""How the CLI shows weak points: counts per kind first, then the top entries of each kind.

A governance lead reads the overview before the detail: a table cut after its first ten
rows hid every kind but the first. Text from the store is shown as data (never markup,
no control characters).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from raidt.cli._text import cell

__all__ = ["print_weakpoints"]


def print_weakpoints(console: Console, found: list[dict[str, Any]], *, top: int = 3) -> None:
    """Print ``found`` (summary entries with ``runs``, or drill-down ones with ``run_ids``)."""
    by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for w in found:
        by_kind[w["kind"]].append(w)

    def runs(w: dict[str, Any]) -> int:
        return int(w["runs"]) if "runs" in w else len(w.get("run_ids", []))

    overview = Table(title="weak points by kind", header_style="bold")
    for col in ("kind", "weak points", "runs"):
        overview.add_column(col, justify="left" if col == "kind" else "right")
    for kind, items in by_kind.items():
        overview.add_row(cell(kind), str(len(items)), str(sum(runs(w) for w in items)))
    console.print(overview)
    detail = Table(title=f"the top {top} of each kind", header_style="bold")
    with_ids = any("run_ids" in w for w in found)
    for col in ("kind", "runs", "detail", *(("run ids",) if with_ids else ())):
        detail.add_column(col, overflow="fold")
    for kind, items in by_kind.items():
        for w in sorted(items, key=lambda w: -runs(w))[:top]:
            ids = list(w.get("run_ids", []))
            cells: list[Text | str] = [cell(kind), str(runs(w)), cell(w["detail"])]
            if with_ids:
                cells.append(
                    cell(", ".join(ids[:3]) + (f" (+{len(ids) - 3})" if len(ids) > 3 else ""))
                )
            detail.add_row(*cells)
    console.print(detail)
