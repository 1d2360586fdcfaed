"""Whole-store verification: chains, ledger and checkpoints, streamed.

Every stored event is re-hashed from its columns and linked to the previous event of its
run (:class:`raidt.core.hashing.ChainCheck`, the one chain check), and folded into a compact
Merkle range; at each signed checkpoint the recomputed root must
equal the signed one. The latest checkpoint kept outside the database (RAIDT_HOME) catches a
log that was truncated together with its checkpoints table. Memory grows with the number of
runs (one hash each), not with the number of events.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from raidt.core.checkpoint import Checkpoint, verify_note
from raidt.core.hashing import ChainCheck
from raidt.core.merkle import CompactRange, perfect_root
from raidt.errors import IntegrityError
from raidt.services.app import App
from raidt.store import checkpoints as cp_store
from raidt.store.schema import checkpoints as t_checkpoints
from raidt.store.schema import events as t_events
from raidt.store.schema import ledger_nodes as t_nodes

__all__ = ["VerifyReport", "verify_store"]


@dataclass
class VerifyReport:
    events: int = 0
    runs: int = 0
    checkpoints: int = 0
    latest_tree_size: int | None = None
    problems: list[str] = field(default_factory=list)
    first_bad_event: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_store(
    app: App, progress: Callable[[int, int], None] | None = None, stop_at_first: bool = True
) -> VerifyReport:
    """Check everything; the first problem names the event and why."""
    report = VerifyReport()
    public = app.signing_key.public_key()
    with app.db.read() as conn:
        total = int(conn.execute(select(func.count()).select_from(t_events)).scalar_one())
        notes = {
            int(r.tree_size): (r.note, bytes(r.root_hash))
            for r in conn.execute(select(t_checkpoints).order_by(t_checkpoints.c.tree_size))
        }
    signed: dict[int, Checkpoint] = {}
    for size, (note, root) in notes.items():
        try:
            cp = verify_note(note, public, app.origin)
        except IntegrityError as exc:
            report.problems.append(f"checkpoint at tree size {size}: {exc.diagnostic()}")
            continue
        if cp.tree_size != size or cp.root_hash != root:
            report.problems.append(
                f"checkpoint at tree size {size}: stored columns do not match its signed note"
            )
            continue
        signed[size] = cp
    outside = cp_store.read_latest_file(app.home)
    if outside:
        try:
            cp = verify_note(outside, public, app.origin)
            signed.setdefault(cp.tree_size, cp)
            if cp.tree_size not in notes:
                report.problems.append(
                    f"the checkpoint kept in RAIDT_HOME (tree size {cp.tree_size}) is missing "
                    "from the database's checkpoints table"
                )
        except IntegrityError as exc:
            report.problems.append(f"checkpoint.latest in RAIDT_HOME: {exc.diagnostic()}")
    report.checkpoints = len(signed)
    report.latest_tree_size = max(signed) if signed else None

    nodes = _NodeCheck(app)
    chain = ChainCheck()
    rng = CompactRange()
    expected_seq = 0
    for row in app.events.iter_rows():
        problem = _check_row(row, expected_seq, chain)
        if problem:
            report.problems.append(problem)
            report.first_bad_event = report.first_bad_event or str(row.id)
            if stop_at_first:
                break
        seq = int(row.seq)
        expected_seq = seq + 1
        rng.append(bytes(row.leaf_hash))
        node_problem = nodes.push(4, bytes(row.leaf_hash))
        if node_problem:
            report.problems.append(node_problem)
            report.first_bad_event = report.first_bad_event or str(row.id)
            if stop_at_first:
                break
        report.events += 1
        signed_cp = signed.get(rng.size)
        if signed_cp is not None and rng.root() != signed_cp.root_hash:
            report.problems.append(
                f"ledger root at tree size {rng.size} differs from the signed checkpoint: "
                f"events up to seq {seq} (last {row.id}) were altered, reordered or removed"
            )
            report.first_bad_event = report.first_bad_event or str(row.id)
            if stop_at_first:
                break
        if progress and report.events % 5000 == 0:
            progress(report.events, total)
    if progress:
        progress(report.events, total)
    report.runs = chain.runs
    if not report.problems and nodes.stored:
        level, idx = min(nodes.stored)
        report.problems.append(
            f"ledger node (level {level}, index {idx}) does not belong to "
            f"the {report.events}-event log (stored subtree hashes altered)"
        )
    if (
        not report.problems
        and report.latest_tree_size is not None
        and report.latest_tree_size > report.events
    ):
        report.problems.append(
            f"the log holds {report.events} events but a signed checkpoint covers "
            f"{report.latest_tree_size}: events were removed (truncated log)"
        )
    return report


class _NodeCheck:
    """Recompute the stored subtree hashes (every 4th level) from the leaves, streaming.

    Proofs are served from these rows, so a forged row would make proofs wrong without
    touching any event; this catches that in the same pass.
    """

    def __init__(self, app: App) -> None:
        with app.db.read() as conn:
            self.stored = {
                (int(r.level), int(r.idx)): bytes(r.hash) for r in conn.execute(select(t_nodes))
            }
        self.pending: dict[int, list[bytes]] = {}
        self.count: dict[int, int] = {}

    def push(self, level: int, child: bytes) -> str | None:
        buf = self.pending.setdefault(level, [])
        buf.append(child)
        if len(buf) < 16:
            return None
        node = perfect_root(buf)
        buf.clear()
        idx = self.count.get(level, 0)
        self.count[level] = idx + 1
        stored = self.stored.pop((level, idx), None)
        if stored is None:
            return f"ledger node (level {level}, index {idx}) is missing from ledger_nodes"
        if stored != node:
            return (
                f"ledger node (level {level}, index {idx}) does not match the events "
                "it covers (stored subtree hash altered)"
            )
        return self.push(level + 4, node)


def _check_row(r: Any, expected_seq: int, chain: ChainCheck) -> str | None:
    """The row's place in the ledger, then its hash, link and leaf (core.hashing)."""
    seq = int(r.seq)
    broken = chain.row(r)  # always: the check carries on past a problem
    if seq != expected_seq:
        return (
            f"event {r.id}: ledger index {seq} where {expected_seq} was expected "
            f"(events {expected_seq}..{seq - 1} are missing)"
        )
    return None if broken is None else str(broken)
