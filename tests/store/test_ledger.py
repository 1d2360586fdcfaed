"""The stored ledger against the reference maths, on real SQLite and PostgreSQL.

Also covers the checkpoint table and file (``store/checkpoints.py``) and the signing key
(``store/keys.py``), which exist only to serve the ledger.
"""

from __future__ import annotations

import os
import random
import stat
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from sqlalchemy import Connection, Engine, create_engine, delete, event, insert, select

from raidt.core import merkle
from raidt.core.checkpoint import Checkpoint, sign_note, verify_note
from raidt.errors import ConfigurationError, IntegrityError
from raidt.store import checkpoints as cps
from raidt.store import keys, schema
from raidt.store.ledger import Ledger
from raidt.store.schema import events, ledger_nodes, metadata

LEAVES = [merkle.leaf_hash(f"event-{i}".encode()) for i in range(5000)]


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = create_engine(db_url)
    metadata.create_all(eng)
    yield eng
    eng.dispose()


def _insert_events(conn: Connection, start: int, hashes: list[bytes]) -> None:
    conn.execute(
        insert(events),
        [
            {
                "seq": start + i,
                "id": f"e-{start + i}",
                "run_id": "r-1",
                "type": "run.started",
                "at": "2026-03-01T09:00:00Z",
                "actor_id": "u-1",
                "actor_role": "initiator",
                "payload": "{}",
                "prev_hash": None,
                "hash": "0" * 64,
                "leaf_hash": h,
            }
            for i, h in enumerate(hashes)
        ],
    )


def _append(engine: Engine, ledger: Ledger, batches: list[int]) -> int:
    n = 0
    for size in batches:
        with engine.begin() as conn:
            _insert_events(conn, n, LEAVES[n : n + size])
            ledger.add_leaves(conn, n, LEAVES[n : n + size])
        n += size
    return n


def _expected_nodes(n: int) -> dict[tuple[int, int], bytes]:
    out = {}
    level = 4
    while (n >> level) > 0:
        for i in range(n >> level):
            out[(level, i)] = merkle.perfect_root(LEAVES[i << level : (i + 1) << level])
        level += 4
    return out


def _stored_nodes(engine: Engine) -> dict[tuple[int, int], bytes]:
    with engine.connect() as conn:
        q = select(ledger_nodes.c.level, ledger_nodes.c.idx, ledger_nodes.c.hash)
        return {(int(r.level), int(r.idx)): bytes(r.hash) for r in conn.execute(q)}


SPLITS = {
    "one_by_one": [1] * 300,
    "irregular": [3, 13, 1, 16, 17, 31, 2, 64, 5, 100, 48],
    "aligned": [16, 16, 32, 256],
    "single": [300],
}


@pytest.mark.parametrize("split", SPLITS.keys())
def test_stored_tree_matches_reference(engine: Engine, split: str) -> None:
    ledger = Ledger()
    n = _append(engine, ledger, SPLITS[split])
    leaves = LEAVES[:n]
    assert _stored_nodes(engine) == _expected_nodes(n)
    with engine.connect() as conn:
        assert ledger.size(conn) == n
        assert ledger.root(conn, 0) == merkle.EMPTY_ROOT
        for size in range(1, n + 1):
            assert ledger.root(conn, size) == merkle.root_from_leaf_hashes(leaves[:size]), size
        for size in [1, 2, 15, 16, 17, 100, 255, 256, 257, n]:
            if size > n:
                continue
            for i in sorted({0, 1, size // 2, size - 2, size - 1} & set(range(size))):
                assert ledger.inclusion_proof(conn, i, size) == merkle.inclusion_proof(
                    leaves[:size], i
                ), (i, size)
            for m in sorted(
                {1, 2, 15, 16, 17, size // 3, size - 1, size} & set(range(1, size + 1))
            ):
                assert ledger.consistency_proof(conn, m, size) == merkle.consistency_proof(
                    leaves[:size], m
                ), (m, size)


def test_all_proofs_small_tree(engine: Engine) -> None:
    ledger = Ledger()
    n = _append(engine, ledger, [7, 9, 20, 12])
    with engine.connect() as conn:
        for size in range(1, n + 1):
            root = merkle.root_from_leaf_hashes(LEAVES[:size])
            for i in range(size):
                proof = ledger.inclusion_proof(conn, i, size)
                assert proof == merkle.inclusion_proof(LEAVES[:size], i)
                assert merkle.verify_inclusion(LEAVES[i], i, size, proof, root)
            for m in range(0, size + 1):
                proof = ledger.consistency_proof(conn, m, size)
                assert proof == merkle.consistency_proof(LEAVES[:size], m)


def test_large_tree_in_import_batches(engine: Engine) -> None:
    rng = random.Random(7)
    batches = [1000, 1000, 1]
    while sum(batches) < 5000:
        batches.append(min(rng.randint(1, 900), 5000 - sum(batches)))
    ledger = Ledger()
    n = _append(engine, ledger, batches)
    assert n == 5000
    nodes = _stored_nodes(engine)
    assert nodes == _expected_nodes(n)
    assert len(nodes) == 5000 // 16 + 5000 // 256 + 5000 // 4096
    with engine.connect() as conn:
        for size in [4095, 4096, 4097, 4351, 4352, 5000]:
            root = ledger.root(conn, size)
            assert root == merkle.root_from_leaf_hashes(LEAVES[:size])
            for i in sorted({0, 1234, 4095, size - 1} & set(range(size))):
                proof = ledger.inclusion_proof(conn, i, size)
                assert proof == merkle.inclusion_proof(LEAVES[:size], i)
                assert merkle.verify_inclusion(LEAVES[i], i, size, proof, root)
            for m in sorted({1, 17, 4095, 4096, size - 1} & set(range(1, size + 1))):
                proof = ledger.consistency_proof(conn, m, size)
                assert proof == merkle.consistency_proof(LEAVES[:size], m)


class _CountingLedger(Ledger):
    """A real ledger that also records how many rows each read returned."""

    def __init__(self) -> None:
        self.rows_read: list[int] = []

    def _fetch(self, conn: Connection, spans: Iterable[tuple[int, int, int]]) -> dict[Any, bytes]:
        out = super()._fetch(conn, spans)
        self.rows_read.append(len(out))
        return out


def test_proofs_read_a_bounded_number_of_rows(engine: Engine) -> None:
    ledger = _CountingLedger()
    n = _append(engine, ledger, [5000])
    statements: list[str] = []

    def before(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    # O(log n): at most 8 rows per complete subtree, at most 2 log2(n) subtrees per proof.
    bound = 8 * 2 * n.bit_length()
    with engine.connect() as conn:
        event.listen(engine, "before_cursor_execute", before)
        try:
            for i in [0, 2500, 4999]:
                statements.clear()
                ledger.rows_read.clear()
                assert ledger.inclusion_proof(conn, i, n)
                assert len(statements) <= 3  # size check, leaves, nodes
                assert sum(ledger.rows_read) <= bound
            for m in [1, 1234, 4097]:
                statements.clear()
                ledger.rows_read.clear()
                assert ledger.consistency_proof(conn, m, n)
                assert len(statements) <= 3
                assert sum(ledger.rows_read) <= bound
            ledger.rows_read.clear()
            ledger.root(conn, n)
            assert sum(ledger.rows_read) <= bound
        finally:
            event.remove(engine, "before_cursor_execute", before)


def test_missing_node_or_leaf_is_an_integrity_error(engine: Engine) -> None:
    ledger = Ledger()
    _append(engine, ledger, [300])
    with engine.begin() as conn:
        conn.execute(delete(ledger_nodes).where(ledger_nodes.c.level == 8))
    with engine.connect() as conn:
        with pytest.raises(IntegrityError, match="level 8"):
            ledger.root(conn, 300)
        assert ledger.root(conn, 255) == merkle.root_from_leaf_hashes(LEAVES[:255])
    with engine.begin() as conn:
        conn.execute(delete(events).where(events.c.seq == 299))
        conn.execute(delete(events).where(events.c.seq == 3))
    with engine.connect() as conn:
        assert ledger.size(conn) == 299
        with pytest.raises(IntegrityError, match="leaf 3"):
            ledger.inclusion_proof(conn, 2, 10)  # needs its sibling, leaf 3


def test_bad_arguments(engine: Engine) -> None:
    ledger = Ledger()
    _append(engine, ledger, [10])
    with engine.connect() as conn:
        with pytest.raises(ValueError):
            ledger.root(conn, 11)
        with pytest.raises(ValueError):
            ledger.inclusion_proof(conn, 10, 10)
        with pytest.raises(ValueError):
            ledger.consistency_proof(conn, 5, 11)
        with pytest.raises(ValueError):
            ledger.add_leaves(conn, 10, [b"short"])
        ledger.add_leaves(conn, 10, [])


# --- checkpoints table and file ------------------------------------------------------------

ORIGIN = "raidt.local/test"


def _signed(key: Ed25519PrivateKey, size: int) -> tuple[Checkpoint, str]:
    cp = Checkpoint(ORIGIN, size, merkle.root_from_leaf_hashes(LEAVES[:size]))
    return cp, sign_note(cp, key, ORIGIN)


def test_checkpoint_rows(engine: Engine) -> None:
    key = Ed25519PrivateKey.generate()
    when = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    with engine.begin() as conn:
        assert cps.latest(conn) is None
        for size in [10, 3, 42]:
            cp, note = _signed(key, size)
            assert cps.save(conn, note, cp, now=when)
        cp, note = _signed(key, 10)
        assert not cps.save(conn, note, cp)  # same size again: nothing to do
    with engine.connect() as conn:
        assert cps.all_sizes(conn) == [3, 10, 42]
        got = cps.latest(conn)
        assert got is not None and got[0].tree_size == 42
        assert verify_note(got[1], key.public_key(), ORIGIN) == got[0]
        after = cps.at_or_after(conn, 4)
        assert after is not None and after[0].tree_size == 10
        assert cps.at_or_after(conn, 43) is None
        assert [c.tree_size for c, _ in cps.iter_all(conn)] == [3, 10, 42]
        created = conn.execute(select(schema.checkpoints.c.created_at)).scalars().first()
        assert created == "2026-03-01T09:00:00Z"


def test_checkpoint_fork_and_mismatch_are_refused(engine: Engine) -> None:
    key = Ed25519PrivateKey.generate()
    cp, note = _signed(key, 10)
    forged = Checkpoint(ORIGIN, 10, merkle.leaf_hash(b"other"))
    with engine.begin() as conn:
        cps.save(conn, note, cp)
        with pytest.raises(IntegrityError, match="different checkpoint"):
            cps.save(conn, sign_note(forged, key, ORIGIN), forged)
        with pytest.raises(IntegrityError, match="does not carry"):
            cps.save(conn, note, forged)


def test_checkpoint_file_only_moves_forward(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    home = tmp_path / "home"
    assert cps.read_latest_file(home) is None
    _, n10 = _signed(key, 10)
    _, n20 = _signed(key, 20)
    assert cps.write_latest_file(home, n10)
    assert cps.write_latest_file(home, n20)
    assert not cps.write_latest_file(home, n10)
    assert cps.read_latest_file(home) == n20
    assert cps.write_latest_file(home, n20)
    forged = Checkpoint(ORIGIN, 20, merkle.leaf_hash(b"other"))
    with pytest.raises(IntegrityError, match="another root"):
        cps.write_latest_file(home, sign_note(forged, key, ORIGIN))
    assert cps.read_latest_file(home) == n20
    assert not [p for p in home.iterdir() if p.name.startswith(".")]  # no temp files left
    (home / cps.LATEST_FILE).write_text("garbage")
    with pytest.raises(IntegrityError, match="unreadable"):
        cps.write_latest_file(home, n20)


# --- signing key ---------------------------------------------------------------------------


def test_signing_key_created_once_owner_only(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with pytest.raises(ConfigurationError, match="raidt init"):
        keys.key_name(home)
    key = keys.load_or_create_signing_key(home)
    path = home / keys.KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    again = keys.load_or_create_signing_key(home)
    assert keys.public_key_pem(again) == keys.public_key_pem(key)
    pub = load_pem_public_key(keys.public_key_pem(key))
    assert keys.public_key_pem(pub) == keys.public_key_pem(key)  # type: ignore[arg-type]
    name = keys.key_name(home)
    assert name.startswith("raidt.local/") and " " not in name and "+" not in name
    assert name == keys.key_name_for(key.public_key())
    assert [p.name for p in home.iterdir()] == [keys.KEY_FILE]


def test_signing_key_with_loose_permissions_is_refused(tmp_path: Path) -> None:
    keys.load_or_create_signing_key(tmp_path)
    os.chmod(tmp_path / keys.KEY_FILE, 0o640)
    with pytest.raises(ConfigurationError, match="chmod 600") as info:
        keys.load_or_create_signing_key(tmp_path)
    assert "PRIVATE KEY" not in str(info.value)
    os.chmod(tmp_path / keys.KEY_FILE, 0o600)
    (tmp_path / keys.KEY_FILE).write_bytes(b"not a key")
    with pytest.raises(ConfigurationError, match="not an unencrypted PEM"):
        keys.load_signing_key(tmp_path)
