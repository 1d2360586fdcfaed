"""Whole-store verification: chains, ledger, checkpoints and governance documents, streamed.

Every stored event is re-hashed from its columns, linked to the previous event of its run
(:class:`raidt.core.hashing.ChainCheck`, the one chain check)
and folded into a compact Merkle range, together with the leaves of the governance
documents (each recomputed from the stored text, see ``raidt.core.documents``); at each
signed checkpoint the recomputed root must equal the signed one. The latest checkpoint
kept outside the database (``RAIDT_HOME/checkpoint.latest``) catches a log that was
truncated together with its checkpoints table, and a checkpoint a witness kept
(``raidt verify --checkpoint FILE``) is checked with an RFC 6962 consistency proof, so a
truncated or forked store fails even when the outside copy is gone. Memory grows with the
number of runs (one hash each) and documents, not with the number of events.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from raidt.core.checkpoint import Checkpoint, verify_note
from raidt.core.documents import document_leaf_hash, text_sha256
from raidt.core.hashing import ChainCheck
from raidt.core.merkle import CompactRange, perfect_root, verify_consistency
from raidt.errors import IntegrityError
from raidt.services.app import App
from raidt.store import checkpoints as cp_store
from raidt.store.schema import actors as t_actors
from raidt.store.schema import checkpoints as t_checkpoints
from raidt.store.schema import document_leaves as t_leaves
from raidt.store.schema import ledger_nodes as t_nodes
from raidt.store.schema import policies as t_policies
from raidt.store.schema import rubrics as t_rubrics
from raidt.store.schema import templates as t_templates

__all__ = ["VerifyReport", "verify_store"]


@dataclass
class VerifyReport:
    events: int = 0
    runs: int = 0
    documents: int = 0
    #: documents stored before documents became ledger leaves, sealed by migration 0006
    sealed_at_migration: int = 0
    checkpoints: int = 0
    latest_tree_size: int | None = None
    tree_size: int = 0
    #: the witness checkpoint given with ``--checkpoint`` (its size), once verified
    witness_size: int | None = None
    problems: list[str] = field(default_factory=list)
    #: loud, but not failures: a missing or stale outside copy, an unsigned tail
    warnings: list[str] = field(default_factory=list)
    first_bad_event: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_store(
    app: App,
    progress: Callable[[int, int], None] | None = None,
    stop_at_first: bool = True,
    witness: str | None = None,
) -> VerifyReport:
    """Check everything; the first problem names the event or document and why.

    Args:
        app: the open store.
        progress: called with (leaves done, leaves in all).
        stop_at_first: stop at the first broken event (documents are all checked).
        witness: the text of a signed checkpoint a witness kept; the store must be a
            consistent extension of it.
    """
    report = VerifyReport()
    public = app.signing_key.public_key()
    with app.db.read() as conn:
        total = app.ledger.size(conn)
        notes = {
            int(r.tree_size): (r.note, bytes(r.root_hash))
            for r in conn.execute(select(t_checkpoints).order_by(t_checkpoints.c.tree_size))
        }
    report.tree_size = total
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
    latest_stored = max(signed) if signed else None
    _check_outside_copy(app, public, notes, signed, latest_stored, report)
    witness_cp = _witness(app, public, witness, report) if witness is not None else None
    if witness_cp is not None:
        signed.setdefault(witness_cp.tree_size, witness_cp)
        if signed[witness_cp.tree_size].root_hash != witness_cp.root_hash:
            report.problems.append(
                f"the witness checkpoint and the store's own checkpoint for tree size "
                f"{witness_cp.tree_size} have different roots: the log was forked"
            )
    report.checkpoints = len(signed)
    report.latest_tree_size = max(signed) if signed else None

    docs = _DocumentLeaves(app)
    nodes = _NodeCheck(app)
    chain = ChainCheck()
    rng = CompactRange()
    expected_seq = 0
    done = 0

    def fold(seq: int, leaf: bytes, what: str) -> str | None:
        """Fold one leaf into the tree; a problem when a checkpoint or node disagrees."""
        rng.append(leaf)
        problem = nodes.push(4, leaf)
        if problem:
            return problem
        signed_cp = signed.get(rng.size)
        if signed_cp is not None and rng.root() != signed_cp.root_hash:
            return (
                f"ledger root at tree size {rng.size} differs from the signed checkpoint: "
                f"leaves up to {seq} (last {what}) were altered, reordered or removed"
            )
        return None

    def documents_before(limit: int | None) -> str | None:
        nonlocal expected_seq, done
        for seq, leaf, label in docs.upto(limit):
            if seq != expected_seq:
                return (
                    f"{label}: ledger index {seq} where {expected_seq} was expected "
                    f"(leaves {expected_seq}..{seq - 1} are missing)"
                )
            expected_seq = seq + 1
            done += 1
            problem = fold(seq, leaf, label)
            if problem:
                return problem
        return None

    stopped = False
    for row in app.events.iter_rows():
        problem = documents_before(int(row.seq))
        if problem:
            report.problems.append(problem)
            if stop_at_first:
                stopped = True
                break
        problem = _check_row(row, expected_seq, chain)
        if problem:
            report.problems.append(problem)
            report.first_bad_event = report.first_bad_event or str(row.id)
            if stop_at_first:
                stopped = True
                break
        seq = int(row.seq)
        expected_seq = seq + 1
        report.events += 1
        done += 1
        problem = fold(seq, bytes(row.leaf_hash), f"event {row.id}")
        if problem:
            report.problems.append(problem)
            report.first_bad_event = report.first_bad_event or str(row.id)
            if stop_at_first:
                stopped = True
                break
        if progress and done % 5000 == 0:
            progress(done, total)
    if not stopped:
        problem = documents_before(None)
        if problem:
            report.problems.append(problem)
    if progress:
        progress(done, total)
    report.runs = chain.runs
    report.problems.extend(docs.problems)
    report.documents = docs.count
    report.sealed_at_migration = docs.sealed_at_migration
    if not report.problems and nodes.stored:
        level, idx = min(nodes.stored)
        report.problems.append(
            f"ledger node (level {level}, index {idx}) does not belong to "
            f"the {rng.size}-leaf log (stored subtree hashes altered)"
        )
    if (
        not report.problems
        and report.latest_tree_size is not None
        and report.latest_tree_size > rng.size
    ):
        report.problems.append(
            f"the log holds {rng.size} leaves but a signed checkpoint covers "
            f"{report.latest_tree_size}: leaves were removed (truncated log)"
        )
    if not report.problems and witness_cp is not None:
        _check_consistency(app, witness_cp, rng, report)
    if rng.size and latest_stored is None and not report.problems:
        report.problems.append(
            f"the log holds {rng.size} leaves but no signed checkpoint: nothing vouches "
            "for it (run 'raidt checkpoint' if the store is new to you, then keep the note "
            "somewhere else)"
        )
    elif latest_stored is not None and latest_stored < rng.size and not report.problems:
        tail = rng.size - latest_stored
        if tail <= len(docs.migration_seqs) and all(
            i in docs.migration_seqs for i in range(latest_stored, rng.size)
        ):
            report.warnings.append(
                f"{tail} document leaves sealed by the upgrade after the latest signed "
                f"checkpoint (tree size {latest_stored}) are not signed yet; the next write "
                "or 'raidt checkpoint' signs them"
            )
        else:
            report.problems.append(
                f"{tail} leaves after the latest signed checkpoint (tree size "
                f"{latest_stored}) are signed by no checkpoint: every write signs its "
                "checkpoint in the same transaction, so they were appended behind the "
                "store's back (if you know where they came from, 'raidt checkpoint' signs "
                "them)"
            )
    if report.sealed_at_migration:
        report.warnings.append(
            f"{report.sealed_at_migration} governance documents stored before documents "
            "became ledger leaves were sealed when the store was upgraded: they are "
            "vouched for as they stood then"
        )
    return report


def _check_outside_copy(
    app: App,
    public: Any,
    notes: dict[int, tuple[str, bytes]],
    signed: dict[int, Checkpoint],
    latest_stored: int | None,
    report: VerifyReport,
) -> None:
    """Compare ``RAIDT_HOME/checkpoint.latest`` with the store, loudly."""
    path = app.home / cp_store.LATEST_FILE
    try:
        outside = cp_store.read_latest_file(app.home)
    except (OSError, UnicodeDecodeError) as exc:
        report.problems.append(f"{path} is unreadable: {exc}")
        return
    if not outside:
        if latest_stored is not None:
            report.warnings.append(
                f"no outside copy of the latest checkpoint ({path} is missing): a truncated "
                "log cannot be told from an intact one without it; check against a "
                "witness's copy with 'raidt verify --checkpoint FILE'"
            )
        return
    try:
        cp = verify_note(outside, public, app.origin)
    except IntegrityError as exc:
        report.problems.append(f"checkpoint.latest in RAIDT_HOME: {exc.diagnostic()}")
        return
    signed.setdefault(cp.tree_size, cp)
    if signed[cp.tree_size].root_hash != cp.root_hash:
        report.problems.append(
            f"checkpoint.latest in RAIDT_HOME and the stored checkpoint for tree size "
            f"{cp.tree_size} have different roots: the log was forked"
        )
    elif cp.tree_size not in notes:
        report.problems.append(
            f"the checkpoint kept in RAIDT_HOME (tree size {cp.tree_size}) is missing "
            "from the database's checkpoints table"
        )
    if latest_stored is not None and cp.tree_size < latest_stored:
        report.warnings.append(
            f"the outside copy {path} (tree size {cp.tree_size}) is older than the store's "
            f"latest signed checkpoint ({latest_stored}): it was not updated or was rolled "
            "back; 'raidt checkpoint' brings it up to date"
        )


def _witness(app: App, public: Any, note: str, report: VerifyReport) -> Checkpoint | None:
    """The witness's checkpoint, if it is signed by this store's key and names this log."""
    try:
        cp = verify_note(note, public, app.origin, origin=app.origin)
    except IntegrityError as exc:
        report.problems.append(f"the witness checkpoint: {exc.diagnostic()}")
        return None
    if cp.tree_size > report.tree_size:
        report.problems.append(
            f"the witness checkpoint covers {cp.tree_size} leaves but the store holds "
            f"{report.tree_size}: the store was truncated"
        )
        return None
    report.witness_size = cp.tree_size
    return cp


def _check_consistency(app: App, cp: Checkpoint, rng: CompactRange, report: VerifyReport) -> None:
    """RFC 6962 consistency proof from the witness's tree head to the recomputed one."""
    with app.db.read() as conn:
        proof = app.ledger.consistency_proof(conn, cp.tree_size, rng.size)
    if not verify_consistency(cp.tree_size, rng.size, cp.root_hash, rng.root(), proof):
        report.problems.append(
            f"the store is not an extension of the witness checkpoint (tree size "
            f"{cp.tree_size}): the log was rewritten or forked after it"
        )


#: document type -> (table, key column, content hash column or None)
_DOC_TABLES: dict[str, Any] = {
    "policy": t_policies,
    "template": t_templates,
    "rubric": t_rubrics,
}


class _DocumentLeaves:
    """The governance documents' leaves, each recomputed from the stored document.

    Loads the leaf rows and the documents they seal (documents are few next to events),
    checks every leaf against its document, and every document for a leaf (a document
    inserted behind the store's back has none). ``upto`` then hands the leaves to the
    tree walk in index order.
    """

    def __init__(self, app: App) -> None:
        self.problems: list[str] = []
        self.count = 0
        self.sealed_at_migration = 0
        self.migration_seqs: set[int] = set()
        with app.db.read() as conn:
            leaves = conn.execute(select(t_leaves).order_by(t_leaves.c.seq)).all()
            stored: dict[tuple[str, str, str], tuple[str, str | None, str]] = {}
            for doc_type, table in _DOC_TABLES.items():
                q = select(
                    table.c.id, table.c.version, table.c.body, table.c.content_hash,
                    table.c.added_at,
                )  # fmt: skip
                for r in conn.execute(q):
                    stored[(doc_type, r.id, r.version)] = (r.body, r.content_hash, r.added_at)
            q_actors = select(
                t_actors.c.row, t_actors.c.actor_id, t_actors.c.body, t_actors.c.added_at
            )
            for r in conn.execute(q_actors):
                stored[("actor", r.actor_id, str(r.row))] = (r.body, None, r.added_at)
        self._leaves: list[tuple[int, bytes, str]] = []
        for r in leaves:
            key = (str(r.type), str(r.doc_id), str(r.version))
            label = _label(*key)
            self.count += 1
            if r.sealed == "migration":
                self.sealed_at_migration += 1
                self.migration_seqs.add(int(r.seq))
            recomputed = document_leaf_hash(
                r.type, r.doc_id, r.version, r.sha256, r.content_hash, r.added_at
            )
            leaf = bytes(r.leaf_hash)
            if recomputed != leaf:
                self.problems.append(
                    f"{label}: its ledger leaf does not match the leaf's columns (altered)"
                )
            doc = stored.pop(key, None)
            if doc is None:
                self.problems.append(f"{label} is in the ledger but missing from the store")
            else:
                body, content_hash, added_at = doc
                if text_sha256(body) != r.sha256:
                    self.problems.append(
                        f"{label}: its stored text does not match the hash sealed in the "
                        "ledger (the document was altered)"
                    )
                elif (content_hash or r.sha256) != r.content_hash:
                    self.problems.append(
                        f"{label}: its stored content hash does not match the one sealed in "
                        "the ledger (altered)"
                    )
                elif added_at != r.added_at:
                    self.problems.append(
                        f"{label}: its addition time ({added_at}) is not the one sealed in the "
                        f"ledger ({r.added_at}): it was back- or forward-dated"
                    )
            self._leaves.append((int(r.seq), leaf, label))
        for key in sorted(stored):
            self.problems.append(
                f"{_label(*key)} is not in the ledger: it was added behind the store's back"
            )
        self._next = 0

    def upto(self, limit: int | None) -> Iterator[tuple[int, bytes, str]]:
        """The not yet handed out leaves with an index below ``limit`` (all when None)."""
        while self._next < len(self._leaves) and (
            limit is None or self._leaves[self._next][0] < limit
        ):
            self._next += 1
            yield self._leaves[self._next - 1]


def _label(doc_type: str, doc_id: str, version: str) -> str:
    if doc_type == "actor":
        return f"actor directory entry {version} ({doc_id})"
    return f"{doc_type} {doc_id}@{version}"


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
