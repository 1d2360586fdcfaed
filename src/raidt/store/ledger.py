"""The Merkle ledger in the database: roots and proofs in O(log n) reads, never a rehash.

Leaf hashes are ``events.leaf_hash`` (leaf index = ``events.seq``) and, for governance
documents, ``document_leaves.leaf_hash`` (same index space: each index is in exactly one
of the two tables; see ``raidt.core.documents``). Interior nodes are kept
only at *stored levels*, every fourth level (4, 8, 12, ...): the node at level ``L`` and
index ``i`` is the hash of the complete subtree over leaves ``[i << L, (i + 1) << L)``. That
costs about one row per 15 events, yet any complete subtree is at most one short range
query away: a node at a level between stored levels is rebuilt from at most 8 children at
the stored level below (or from leaf hashes below level 4).

Every root and proof is first reduced to a list of complete subtrees by the same shape
functions the reference implementation uses (``raidt.core.merkle``), then all the rows those
subtrees need are read in two queries (one on ``events``, one on ``ledger_nodes``). A proof
for a tree of a million events thus reads a few dozen rows.

The caller owns the transaction: no method here commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, and_, insert, or_, select, union_all

from raidt.core.documents import document_leaf_hash, text_sha256
from raidt.core.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    complete_subtrees,
    consistency_ranges,
    fold_subtrees,
    inclusion_ranges,
    perfect_root,
)
from raidt.errors import IntegrityError
from raidt.store.schema import document_leaves, events, ledger_nodes

__all__ = ["NEXT_INDEX_SQL", "STRIDE", "DocumentEntry", "Ledger"]

#: The next free leaf index (= the tree size), over both kinds of leaf; driver-level SQL
#: because the event append path runs it once per batch.
NEXT_INDEX_SQL = (
    "SELECT COALESCE(MAX(s) + 1, 0) FROM (SELECT MAX(seq) AS s FROM events "
    "UNION ALL SELECT MAX(seq) AS s FROM document_leaves) AS leaves"
)

#: Stored levels are the multiples of this (a node every ``2**STRIDE`` children).
STRIDE = 4
_FANOUT = 1 << STRIDE

# A subtree is named (level, index); a range of nodes is (level, first, end) where
# level 0 means leaf hashes in ``events``.
_Node = tuple[int, int]
_Span = tuple[int, int, int]


def _merge(spans: Iterable[_Span]) -> list[_Span]:
    """Coalesce overlapping or adjacent spans of the same level, to keep the queries short."""
    out: list[_Span] = []
    for level, a, b in sorted(spans):
        if out and out[-1][0] == level and a <= out[-1][2]:
            out[-1] = (level, out[-1][1], max(out[-1][2], b))
        else:
            out.append((level, a, b))
    return out


def _source(level: int, idx: int) -> _Span:
    """The stored rows a complete subtree is made of: itself, or its children at a stored level."""
    base = level - level % STRIDE
    shift = level - base
    return (base, idx << shift, (idx + 1) << shift)


@dataclass(frozen=True, slots=True)
class DocumentEntry:
    """One stored governance document version, as it is sealed into the ledger."""

    type: str
    id: str
    version: str
    body: str
    content_hash: str | None
    added_at: str


class Ledger:
    """Reads and extends the Merkle tree kept in ``events.leaf_hash`` and ``ledger_nodes``.

    Stateless: one instance may be shared by threads; each call uses the connection given.
    """

    # -- writing ---------------------------------------------------------------------

    def add_leaves(self, conn: Connection, start_index: int, leaf_hashes: Sequence[bytes]) -> None:
        """Record the stored-level nodes completed by the leaves ``start_index, ...``.

        Call right after inserting those events, in the same transaction. Reads at most 15
        earlier siblings per stored level (the unfinished subtrees left by earlier batches),
        hashes the batch in memory and inserts the new nodes in one batch.

        Raises:
            ValueError: A negative start or a leaf hash that is not 32 bytes.
            IntegrityError: Nodes of earlier batches are missing from the database.
        """
        if start_index < 0:
            raise ValueError("start_index cannot be negative")
        if not leaf_hashes:
            return
        if any(len(h) != HASH_SIZE for h in leaf_hashes):
            raise ValueError(f"leaf hashes must be {HASH_SIZE} bytes")
        start, end = start_index, start_index + len(leaf_hashes)

        # Earlier complete siblings of the subtrees this batch finishes, per level below.
        prefix: list[_Span] = []
        level = STRIDE
        while (end >> level) > (start >> level):
            child = level - STRIDE
            first = (start >> level) << STRIDE
            if first < start >> child:
                prefix.append((child, first, start >> child))
            level += STRIDE
        known = self._fetch(conn, prefix)

        rows: list[dict[str, object]] = []
        # ``below`` holds consecutive hashes of the level under ``level``, from ``first``.
        below = list(leaf_hashes)
        below_first = start
        level = STRIDE
        while (end >> level) > (start >> level):
            child = level - STRIDE
            first = (start >> level) << STRIDE
            earlier = [known[(child, i)] for i in range(first, start >> child)]
            children = earlier + below[: (end >> child) - below_first]
            new_first = start >> level
            new = [
                perfect_root(children[j : j + _FANOUT])
                for j in range(0, len(children) - _FANOUT + 1, _FANOUT)
            ]
            rows.extend(
                {"level": level, "idx": new_first + j, "hash": h} for j, h in enumerate(new)
            )
            below, below_first = new, new_first
            level += STRIDE
        if rows:
            conn.execute(insert(ledger_nodes), rows)

    def add_documents(self, conn: Connection, docs: Sequence[DocumentEntry]) -> None:
        """Append one leaf per stored document version, after everything in the tree.

        Call in the write transaction that stores the documents themselves.
        """
        if not docs:
            return
        start = self.size(conn)
        rows: list[dict[str, object]] = []
        leaves: list[bytes] = []
        for seq, d in enumerate(docs, start):
            sha = text_sha256(d.body)
            content = d.content_hash or sha
            leaf = document_leaf_hash(d.type, d.id, d.version, sha, content, d.added_at)
            leaves.append(leaf)
            rows.append(
                {
                    "seq": seq,
                    "type": d.type,
                    "doc_id": d.id,
                    "version": d.version,
                    "sha256": sha,
                    "content_hash": content,
                    "added_at": d.added_at,
                    "leaf_hash": leaf,
                    "sealed": "added",
                }
            )
        conn.execute(insert(document_leaves), rows)
        self.add_leaves(conn, start, leaves)

    # -- reading ---------------------------------------------------------------------

    def size(self, conn: Connection) -> int:
        """Number of leaves: one past the highest leaf index (event or document)."""
        return int(conn.exec_driver_sql(NEXT_INDEX_SQL).scalar_one())

    def root(self, conn: Connection, size: int) -> bytes:
        """The tree hash at ``size`` (any size up to the current one)."""
        self._check_size(conn, size)
        parts = complete_subtrees(0, size)
        hashes = self._subtrees(conn, parts)
        return fold_subtrees([hashes[p] for p in parts]) if parts else EMPTY_ROOT

    def inclusion_proof(self, conn: Connection, index: int, size: int) -> list[bytes]:
        """RFC 6962 ``PATH(index, D[size])``, identical to ``merkle.inclusion_proof``."""
        self._check_size(conn, size)
        return self._ranges(conn, inclusion_ranges(index, size))

    def consistency_proof(self, conn: Connection, m: int, n: int) -> list[bytes]:
        """RFC 6962 ``PROOF(m, D[n])``, identical to ``merkle.consistency_proof``."""
        self._check_size(conn, n)
        return self._ranges(conn, consistency_ranges(m, n))

    # -- internals -------------------------------------------------------------------

    def _check_size(self, conn: Connection, size: int) -> None:
        if size < 0:
            raise ValueError("tree size cannot be negative")
        if size and size > self.size(conn):
            raise ValueError(f"tree size {size} is beyond the ledger ({self.size(conn)} events)")

    def _ranges(self, conn: Connection, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        parts = [complete_subtrees(a, b) for a, b in ranges]
        hashes = self._subtrees(conn, [n for p in parts for n in p])
        return [fold_subtrees([hashes[n] for n in p]) for p in parts]

    def _subtrees(self, conn: Connection, nodes: Sequence[_Node]) -> dict[_Node, bytes]:
        """Hashes of complete subtrees, all read in at most two queries."""
        known = self._fetch(conn, [_source(lvl, i) for lvl, i in nodes])
        out: dict[_Node, bytes] = {}
        for lvl, i in nodes:
            base, a, b = _source(lvl, i)
            out[(lvl, i)] = perfect_root([known[(base, j)] for j in range(a, b)])
        return out

    def _fetch(self, conn: Connection, spans: Iterable[_Span]) -> dict[_Node, bytes]:
        """Read every leaf or stored node in ``spans``; missing rows are an integrity error."""
        merged = _merge(spans)
        leaf_spans = [(a, b) for lvl, a, b in merged if lvl == 0]
        node_spans = [s for s in merged if s[0] != 0]
        out: dict[_Node, bytes] = {}
        if leaf_spans:
            leaf_q = union_all(
                select(events.c.seq, events.c.leaf_hash).where(
                    or_(*(events.c.seq.between(a, b - 1) for a, b in leaf_spans))
                ),
                select(document_leaves.c.seq, document_leaves.c.leaf_hash).where(
                    or_(*(document_leaves.c.seq.between(a, b - 1) for a, b in leaf_spans))
                ),
            )
            for leaf_row in conn.execute(leaf_q):
                out[(0, int(leaf_row[0]))] = bytes(leaf_row[1])
        if node_spans:
            node_q = select(ledger_nodes.c.level, ledger_nodes.c.idx, ledger_nodes.c.hash).where(
                or_(
                    *(
                        and_(ledger_nodes.c.level == lvl, ledger_nodes.c.idx.between(a, b - 1))
                        for lvl, a, b in node_spans
                    )
                )
            )
            for row in conn.execute(node_q):
                out[(int(row.level), int(row.idx))] = bytes(row.hash)
        for lvl, a, b in merged:
            for i in range(a, b):
                if (lvl, i) not in out:
                    what = f"leaf {i}" if lvl == 0 else f"ledger node at level {lvl}, index {i}"
                    raise IntegrityError(f"the ledger is missing {what}")
                if len(out[(lvl, i)]) != HASH_SIZE:
                    raise IntegrityError(f"the ledger hash at level {lvl}, index {i} is malformed")
        return out
