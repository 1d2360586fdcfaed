"""RFC 6962 / RFC 9162 Merkle tree maths: hashes, proofs and their verifiers.

Every RAIDT event is a leaf of one append-only Merkle tree. This module is the pure half of
that ledger: hashing (leaf ``SHA-256(0x00 || d)``, node ``SHA-256(0x01 || l || r)``), the
shape of inclusion and consistency proofs, reference proof builders over a full list of leaf
hashes, the RFC 9162 verifiers, and a :class:`CompactRange` that folds leaf hashes one by one
in O(log n) memory so ``raidt verify`` can stream millions of events.

Why hand-written: ``pymerkle`` computes the same roots but has its own proof format, and no
maintained Python package verifies RFC 9162 proofs as the RFC writes them. The verifiers are a
line-by-line transcription of RFC 9162 sections 2.1.3.2 and 2.1.4.2, tested against the
published Certificate Transparency / transparency-dev vectors and a naive recursive
implementation.

The proof *shape* functions (:func:`inclusion_ranges`, :func:`consistency_ranges`,
:func:`complete_subtrees`) are shared with ``raidt.store.ledger``, which answers the same
ranges from stored subtree hashes; the store and the reference therefore cannot disagree
on which nodes a proof contains.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "CompactRange",
    "complete_subtrees",
    "consistency_proof",
    "consistency_ranges",
    "fold_subtrees",
    "inclusion_proof",
    "inclusion_ranges",
    "leaf_hash",
    "node_hash",
    "perfect_root",
    "root_from_leaf_hashes",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
#: Root of the empty tree: ``MTH({}) = SHA-256("")``.
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 leaf hash ``SHA-256(0x00 || data)``; the prefix keeps leaves and nodes apart."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash ``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (``n >= 2``): RFC 6962's ``k``."""
    return 1 << ((n - 1).bit_length() - 1)


def perfect_root(hashes: Sequence[bytes]) -> bytes:
    """Root of a complete subtree whose children (a power-of-two count) are ``hashes``."""
    level = list(hashes)
    if not level or len(level) & (len(level) - 1):
        raise ValueError(f"a complete subtree needs a power-of-two count, got {len(level)}")
    while len(level) > 1:
        level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


def complete_subtrees(start: int, end: int) -> list[tuple[int, int]]:
    """Split the leaf range ``[start, end)`` into maximal aligned complete subtrees.

    Returns ``(level, index)`` pairs left to right: the subtree at ``level`` and ``index``
    covers leaves ``[index << level, (index + 1) << level)``. For the ranges that occur in
    RFC 6962 trees (a tree's root, or a node of a proof) the sizes strictly decrease, and
    :func:`fold_subtrees` turns their hashes into the range's ``MTH``.
    """
    if not 0 <= start <= end:
        raise ValueError(f"bad leaf range [{start}, {end})")
    out: list[tuple[int, int]] = []
    while start < end:
        size = (start & -start) if start else 1 << (end.bit_length() - 1)
        while start + size > end:
            size >>= 1
        level = size.bit_length() - 1
        out.append((level, start >> level))
        start += size
    return out


def fold_subtrees(hashes: Sequence[bytes]) -> bytes:
    """``MTH`` of a range from its complete subtrees' hashes (left to right, sizes decreasing).

    RFC 6962 splits at the largest power of two, so the range's hash is the right fold
    ``node(h0, node(h1, ... node(h_{k-2}, h_{k-1})))``.
    """
    if not hashes:
        return EMPTY_ROOT
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


def _range_hash(leaf_hashes: Sequence[bytes], start: int, end: int) -> bytes:
    parts = [
        perfect_root(leaf_hashes[i << lvl : (i + 1) << lvl])
        for lvl, i in complete_subtrees(start, end)
    ]
    return fold_subtrees(parts)


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """``MTH(D[n])`` of a full list of leaf hashes (``EMPTY_ROOT`` for none)."""
    cr = CompactRange()
    for h in hashes:
        cr.append(h)
    return cr.root()


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """Leaf ranges ``[a, b)`` whose hashes form ``PATH(index, D[size])``, in proof order.

    RFC 6962 section 2.1.1: the deepest sibling first, the root's other child last.
    """
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside a tree of size {size}")
    out: list[tuple[int, int]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo += k
    out.reverse()
    return out


def consistency_ranges(m: int, n: int) -> list[tuple[int, int]]:
    """Leaf ranges whose hashes form ``PROOF(m, D[n])`` (RFC 6962 section 2.1.2), in order.

    Empty when ``m == 0`` or ``m == n``: those trees are consistent by definition.
    """
    if not 0 <= m <= n:
        raise ValueError(f"no consistency proof from size {m} to size {n}")
    if m in (0, n):
        return []
    out: list[tuple[int, int]] = []
    lo, hi, mm, whole = 0, n, m, True
    while mm != hi - lo:
        k = _split(hi - lo)
        if mm <= k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo += k
            mm -= k
            whole = False
    if not whole:
        out.append((lo, hi))
    out.reverse()
    return out


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """Reference inclusion proof of leaf ``index`` in the tree of all ``leaf_hashes``."""
    return [_range_hash(leaf_hashes, a, b) for a, b in inclusion_ranges(index, len(leaf_hashes))]


def consistency_proof(leaf_hashes: Sequence[bytes], m: int) -> list[bytes]:
    """Reference consistency proof from the first ``m`` leaves to all ``leaf_hashes``."""
    return [_range_hash(leaf_hashes, a, b) for a, b in consistency_ranges(m, len(leaf_hashes))]


def _well_formed(hashes: Iterable[bytes]) -> bool:
    return all(isinstance(h, bytes) and len(h) == HASH_SIZE for h in hashes)


def verify_inclusion(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Whether ``proof`` shows leaf ``index`` with ``leaf_hash`` in the tree with ``root``.

    RFC 9162 section 2.1.3.2, step by step. Never raises on hostile input; returns False.
    """
    if not _well_formed([leaf_hash, root, *proof]) or not 0 <= index < tree_size:
        return False
    fn, sn, r = index, tree_size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether ``proof`` shows the tree ``(size2, root2)`` extends ``(size1, root1)``.

    RFC 9162 section 2.1.4.2. Equal sizes need equal roots and an empty proof; from the
    empty tree every tree is consistent with an empty proof (as in transparency-dev/merkle).
    """
    if not _well_formed(proof) or not 0 <= size1 <= size2:
        return False
    if size1 == size2:
        return not proof and root1 == root2
    if size1 == 0:
        return not proof
    if not proof or not _well_formed([root1, root2]):
        return False
    path = list(proof)
    if (size1 & (size1 - 1)) == 0:
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == root1 and sr == root2 and sn == 0


class CompactRange:
    """The right frontier of a growing tree: fold leaves one by one, read the root any time.

    Holds one hash per set bit of the size (at most 64), largest subtree first, so memory is
    O(log n) whatever the log's length. ``raidt verify`` streams events through it and
    compares :meth:`root` with each checkpoint as the size passes it.
    """

    __slots__ = ("_size", "_stack")

    def __init__(self) -> None:
        self._size = 0
        self._stack: list[bytes] = []

    @property
    def size(self) -> int:
        """Number of leaves folded in so far."""
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        """The frontier: complete subtree hashes of ``complete_subtrees(0, size)``."""
        return tuple(self._stack)

    def append(self, leaf_hash: bytes) -> None:
        """Fold in the next leaf hash (already ``SHA-256(0x00 || d)``)."""
        if len(leaf_hash) != HASH_SIZE:
            raise ValueError(f"a leaf hash has {HASH_SIZE} bytes, got {len(leaf_hash)}")
        h, s = leaf_hash, self._size
        while s & 1:
            h = node_hash(self._stack.pop(), h)
            s >>= 1
        self._stack.append(h)
        self._size += 1

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Fold in several leaf hashes in order."""
        for h in leaf_hashes:
            self.append(h)

    def root(self) -> bytes:
        """``MTH`` of the leaves folded so far (``EMPTY_ROOT`` when none)."""
        return fold_subtrees(self._stack)
