"""RFC 6962 Merkle maths against a naive transcription of the RFC and published vectors."""

from __future__ import annotations

import hashlib
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raidt.core import merkle
from raidt.core.merkle import (
    EMPTY_ROOT,
    CompactRange,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

MAX = 300
DATA = [f"event-{i}".encode() for i in range(MAX)]
LEAVES = [leaf_hash(d) for d in DATA]


# --- A naive implementation written straight from RFC 6962 section 2.1 -------------------


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


@cache
def naive_mth(start: int, end: int) -> bytes:
    """MTH(D[start:end]) over DATA, by the recursive definition."""
    n = end - start
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + DATA[start]).digest()
    k = _k(n)
    return hashlib.sha256(
        b"\x01" + naive_mth(start, start + k) + naive_mth(start + k, end)
    ).digest()


def naive_path(m: int, start: int, end: int) -> list[bytes]:
    """PATH(m, D[start:end]), m relative to start."""
    n = end - start
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return [*naive_path(m, start, start + k), naive_mth(start + k, end)]
    return [*naive_path(m - k, start + k, end), naive_mth(start, start + k)]


def naive_subproof(m: int, start: int, end: int, b: bool) -> list[bytes]:
    """SUBPROOF(m, D[start:end], b), m relative to start."""
    n = end - start
    if m == n:
        return [] if b else [naive_mth(start, end)]
    k = _k(n)
    if m <= k:
        return [*naive_subproof(m, start, start + k, b), naive_mth(start + k, end)]
    return [*naive_subproof(m - k, start + k, end, False), naive_mth(start, start + k)]


def naive_consistency(m: int, n: int) -> list[bytes]:
    return naive_subproof(m, 0, n, True)


def _flip(h: bytes, bit: int = 3) -> bytes:
    return bytes([h[0] ^ (1 << bit)]) + h[1:]


def _indices(n: int) -> list[int]:
    if n <= 64:
        return list(range(n))
    return sorted({0, 1, n // 3, n // 2, n - 2, n - 1})


# --- Roots ---------------------------------------------------------------------------------


def test_hash_prefixes() -> None:
    assert leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    assert (
        node_hash(b"a" * 32, b"b" * 32) == hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()
    )
    assert hashlib.sha256(b"").digest() == EMPTY_ROOT


def test_roots_of_every_size_match_the_rfc_definition() -> None:
    cr = CompactRange()
    assert cr.root() == EMPTY_ROOT == root_from_leaf_hashes([])
    for n in range(1, MAX + 1):
        cr.append(LEAVES[n - 1])
        assert cr.size == n
        assert cr.root() == naive_mth(0, n), n
        assert root_from_leaf_hashes(LEAVES[:n]) == naive_mth(0, n), n
        assert len(cr.hashes) == bin(n).count("1")


def test_compact_range_refuses_a_short_hash() -> None:
    with pytest.raises(ValueError):
        CompactRange().append(b"short")


# --- Inclusion -----------------------------------------------------------------------------


@pytest.mark.parametrize("n", range(1, MAX + 1))
def test_inclusion_proofs_match_naive_and_verify(n: int) -> None:
    leaves = LEAVES[:n]
    root = naive_mth(0, n)
    for i in _indices(n):
        proof = inclusion_proof(leaves, i)
        assert proof == naive_path(i, 0, n), (i, n)
        assert verify_inclusion(leaves[i], i, n, proof, root)
        # Wrong root, wrong leaf, every corrupted element, truncated, extended.
        assert not verify_inclusion(leaves[i], i, n, proof, _flip(root))
        assert not verify_inclusion(_flip(leaves[i]), i, n, proof, root)
        for j in range(len(proof)):
            bad = [*proof[:j], _flip(proof[j]), *proof[j + 1 :]]
            assert not verify_inclusion(leaves[i], i, n, bad, root)
        if proof:
            assert not verify_inclusion(leaves[i], i, n, proof[:-1], root)
            assert not verify_inclusion(leaves[i], i, n, proof[1:], root)
        assert not verify_inclusion(leaves[i], i, n, [*proof, root], root)
        assert not verify_inclusion(leaves[i], i, n, [root, *proof], root)
        assert not verify_inclusion(leaves[i], i, n, [*proof, b""], root)
        # Out of range index or size.
        assert not verify_inclusion(leaves[i], n, n, proof, root)
        assert not verify_inclusion(leaves[i], i, i, proof, root)
        assert not verify_inclusion(leaves[i], -1, n, proof, root)


@pytest.mark.parametrize("n", range(1, 40))
def test_inclusion_proof_binds_the_index(n: int) -> None:
    root = naive_mth(0, n)
    for i in range(n):
        proof = inclusion_proof(LEAVES[:n], i)
        for other in range(n):
            if other != i:
                assert not verify_inclusion(LEAVES[i], other, n, proof, root), (i, other, n)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_inclusion_random(data: st.DataObject) -> None:
    n = data.draw(st.integers(1, MAX))
    i = data.draw(st.integers(0, n - 1))
    proof = inclusion_proof(LEAVES[:n], i)
    assert proof == naive_path(i, 0, n)
    assert verify_inclusion(LEAVES[i], i, n, proof, naive_mth(0, n))
    j = data.draw(st.integers(0, n - 1).filter(lambda j: j != i))
    assert not verify_inclusion(LEAVES[j], i, n, proof, naive_mth(0, n))


def test_inclusion_proof_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError):
        inclusion_proof(LEAVES[:3], 3)
    with pytest.raises(ValueError):
        inclusion_proof([], 0)


# --- Consistency ---------------------------------------------------------------------------


@pytest.mark.parametrize("n", range(1, MAX + 1))
def test_consistency_proofs_match_naive_and_verify(n: int) -> None:
    leaves = LEAVES[:n]
    root2 = naive_mth(0, n)
    ms = (
        range(1, n + 1)
        if n <= 64
        else sorted({1, 2, 3, n // 3, n // 2, n - 1, n} | ({64, 128} & set(range(n))))
    )
    for m in ms:
        proof = consistency_proof(leaves, m)
        root1 = naive_mth(0, m)
        expected = naive_consistency(m, n) if m < n else []
        assert proof == expected, (m, n)
        assert verify_consistency(m, n, root1, root2, proof), (m, n)
        if m == n:
            assert not verify_consistency(m, n, root1, _flip(root2), proof)
            assert not verify_consistency(m, n, root1, root2, [root1])
            continue
        assert proof
        assert not verify_consistency(m, n, _flip(root1), root2, proof)
        assert not verify_consistency(m, n, root1, _flip(root2), proof)
        assert not verify_consistency(m, n, root2, root1, proof)
        assert not verify_consistency(m, n, root1, root2, [])
        assert not verify_consistency(m, n, root1, root2, proof[:-1])
        assert not verify_consistency(m, n, root1, root2, [*proof, root1])
        assert not verify_consistency(m, n, root1, root2, [*proof, b""])
        assert not verify_consistency(m, n, root1, root2, [proof[0], *proof])
        assert not verify_consistency(n, m, root2, root1, proof)
        for j in range(len(proof)):
            bad = [*proof[:j], _flip(proof[j], 4), *proof[j + 1 :]]
            assert not verify_consistency(m, n, root1, root2, bad), (m, n, j)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_consistency_random(data: st.DataObject) -> None:
    n = data.draw(st.integers(2, MAX))
    m = data.draw(st.integers(1, n - 1))
    proof = consistency_proof(LEAVES[:n], m)
    assert proof == naive_consistency(m, n)
    assert verify_consistency(m, n, naive_mth(0, m), naive_mth(0, n), proof)
    other = data.draw(st.integers(1, n - 1).filter(lambda o: naive_mth(0, o) != naive_mth(0, m)))
    assert not verify_consistency(m, n, naive_mth(0, other), naive_mth(0, n), proof)


def test_consistency_edge_cases() -> None:
    r1, r2 = naive_mth(0, 1), naive_mth(0, 2)
    assert consistency_proof(LEAVES[:5], 0) == []
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert verify_consistency(0, 5, EMPTY_ROOT, naive_mth(0, 5), [])
    assert not verify_consistency(0, 5, EMPTY_ROOT, naive_mth(0, 5), [EMPTY_ROOT])
    assert not verify_consistency(1, 1, r1, r2, [])
    assert not verify_consistency(2, 1, r2, r1, [])
    assert not verify_consistency(1, 2, r1, r2, [])
    with pytest.raises(ValueError):
        consistency_proof(LEAVES[:3], 4)


# --- Published vectors: transparency-dev/merkle (from Certificate Transparency) -----------
# testonly/constants.go and proof/verify_test.go.

VEC_INPUTS = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
VEC_ROOTS = [
    bytes.fromhex(h)
    for h in [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]
]
VEC_NODES = {
    (0, 7): "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    (1, 1): "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    (1, 2): "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
    (1, 3): "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    (2, 1): "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
}
H = {
    name: bytes.fromhex(h)
    for name, h in {
        "l1": "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "l0": "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "l4": "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "l6": "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "n1_1": VEC_NODES[(1, 1)],
        "n1_2": VEC_NODES[(1, 2)],
        "n1_3": VEC_NODES[(1, 3)],
        "n2_0": "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "n2_1": VEC_NODES[(2, 1)],
        "root2": VEC_ROOTS[2].hex(),
    }.items()
}
# (leaf index 0-based, tree size, proof)
VEC_INCLUSION = [
    (0, 8, ["l1", "n1_1", "n2_1"]),
    (5, 8, ["l4", "n1_3", "n2_0"]),
    (2, 3, ["root2"]),
    (1, 5, ["l0", "n1_1", "l4"]),
]
VEC_CONSISTENCY = [
    (1, 8, ["l1", "n1_1", "n2_1"]),
    (6, 8, ["n1_2", "n1_3", "n2_0"]),
    (2, 5, ["n1_1", "l4"]),
    (6, 7, ["n1_2", "l6", "n2_0"]),
]


def test_vector_roots_and_nodes() -> None:
    hashes = [leaf_hash(d) for d in VEC_INPUTS]
    for n, want in enumerate(VEC_ROOTS):
        assert root_from_leaf_hashes(hashes[:n]) == want
    for (level, idx), node_hex in VEC_NODES.items():
        assert merkle.perfect_root(hashes[idx << level : (idx + 1) << level]).hex() == node_hex


@pytest.mark.parametrize(("index", "size", "names"), VEC_INCLUSION)
def test_vector_inclusion(index: int, size: int, names: list[str]) -> None:
    hashes = [leaf_hash(d) for d in VEC_INPUTS[:size]]
    proof = [H[n] for n in names]
    root = VEC_ROOTS[size]
    assert inclusion_proof(hashes, index) == proof
    assert verify_inclusion(hashes[index], index, size, proof, root)
    for i, s in [
        (index - 1, size),
        (index + 1, size),
        (index ^ 2, size),
        (index, size * 2),
        (index, size // 2),
    ]:
        assert not verify_inclusion(hashes[index], i, s, proof, root), (i, s)


@pytest.mark.parametrize(("m", "n", "names"), VEC_CONSISTENCY)
def test_vector_consistency(m: int, n: int, names: list[str]) -> None:
    hashes = [leaf_hash(d) for d in VEC_INPUTS[:n]]
    proof = [H[x] for x in names]
    r1, r2 = VEC_ROOTS[m], VEC_ROOTS[n]
    assert consistency_proof(hashes, m) == proof
    assert verify_consistency(m, n, r1, r2, proof)
    for s1, s2 in [(m - 1, n), (m + 1, n), (m ^ 2, n), (m, n * 2), (m, n // 2)]:
        assert not verify_consistency(s1, s2, r1, r2, proof), (s1, s2)


def test_vector_single_entry() -> None:
    h = leaf_hash(b"data")
    assert verify_inclusion(h, 0, 1, [], h)
    assert not verify_inclusion(b"", 0, 1, [], h)
    assert not verify_inclusion(h, 0, 1, [], b"")
    for index, size in [(0, 0), (1, 0), (2, 1)]:
        assert not verify_inclusion(h, index, size, [], EMPTY_ROOT)


def test_complete_subtrees_shapes() -> None:
    assert merkle.complete_subtrees(0, 0) == []
    assert merkle.complete_subtrees(0, 7) == [(2, 0), (1, 2), (0, 6)]
    assert merkle.complete_subtrees(8, 13) == [(2, 2), (0, 12)]
    assert merkle.complete_subtrees(16, 32) == [(4, 1)]
    with pytest.raises(ValueError):
        merkle.perfect_root(LEAVES[:3])
