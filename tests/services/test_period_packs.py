"""Audit-period packs: one pack per run, an index, a period report and a consistency proof
between the period's first checkpoint and the one every pack is proven against."""

from __future__ import annotations

import json
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from raidt.core.merkle import verify_consistency
from raidt.errors import ValidationError
from raidt.services.app import App
from raidt.services.packs import PackService
from raidt.services.period_verify import is_period, verify_period
from raidt.services.periodpacks import pack_file_name
from raidt.store.keys import public_key_pem
from tests.services._packs import open_store, run_events

SINCE, UNTIL = "2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    app = open_store(tmp_path_factory.mktemp("period") / "home")
    app.events.append(run_events("r-1"))
    app.events.append(run_events("r/2", 5))  # a run id that is not a safe file name
    app.checkpoint()  # the period's first checkpoint: the log grows after it
    app.events.append(run_events("r-3", 10))
    app.events.append(run_events("other", 12, use_case="meeting-notes", team="product"))
    app.events.append(run_events("late", 60 * 24 * 3))  # started after the period
    yield app
    app.close()


@pytest.fixture(scope="module")
def period_dir(store: App, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("out") / "audit"
    seen: list[tuple[int, int]] = []
    result = PackService(store).build_period(
        "discharge-summary", SINCE, UNTIL, out, progress=lambda d, t: seen.append((d, t))
    )
    assert result.runs == 3 and seen[-1] == (3, 3)
    return out


def _ok(path: Path, key: bytes | None = None) -> bool:
    return all(r.ok for r in verify_period(path, key))


def _first_failure(path: Path, key: bytes | None = None) -> str:
    bad = [r for r in verify_period(path, key) if not r.ok]
    assert bad, "tampered period verified"
    return f"{bad[0].name}: {bad[0].detail}"


def test_period_holds_one_pack_per_run_of_the_use_case_in_the_period(period_dir: Path) -> None:
    index = json.loads((period_dir / "index.json").read_bytes())
    assert sorted(e["run_id"] for e in index["packs"]) == ["r-1", "r-3", "r/2"]
    assert pack_file_name("r/2") == "packs/r%2F2.zip"
    assert sorted(p.name for p in (period_dir / "packs").iterdir()) == [
        "r%2F2.zip",
        "r-1.zip",
        "r-3.zip",
    ]
    html = (period_dir / "period.html").read_text()
    assert "discharge-summary" in html and "<svg" in html and "Weak points" in html


def test_period_verifies_with_a_real_consistency_proof(store: App, period_dir: Path) -> None:
    import base64

    assert is_period(period_dir)
    assert _ok(period_dir, public_key_pem(store.signing_key))
    proof = json.loads((period_dir / "period-proof.json").read_bytes())
    first, last = proof["first"]["tree_size"], proof["last"]["tree_size"]
    assert 0 < first < last and proof["proof"]
    assert verify_consistency(
        first,
        last,
        base64.b64decode(proof["first"]["root_hash"]),
        base64.b64decode(proof["last"]["root_hash"]),
        [bytes.fromhex(h) for h in proof["proof"]],
    )


def test_period_as_one_zip_verifies(store: App, tmp_path: Path) -> None:
    out = tmp_path / "audit.zip"
    PackService(store).build_period("discharge-summary", SINCE, UNTIL, out)
    assert is_period(out)
    assert _ok(out, public_key_pem(store.signing_key))
    with zipfile.ZipFile(out) as zf:
        assert {"index.json", "period.dsse.json", "packs/r-1.zip"} <= set(zf.namelist())


@pytest.fixture
def copy(period_dir: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(period_dir, tmp_path / "copy"))


def test_altered_pack_is_named(copy: Path) -> None:
    p = copy / "packs" / "r-3.zip"
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 1
    p.write_bytes(bytes(data))
    assert "packs/r-3.zip" in _first_failure(copy)


def test_removed_and_added_packs_are_named(copy: Path) -> None:
    shutil.copy(copy / "packs" / "r-1.zip", copy / "packs" / "extra.zip")
    assert "packs/extra.zip: not listed" in _first_failure(copy)
    (copy / "packs" / "extra.zip").unlink()
    (copy / "packs" / "r-1.zip").unlink()
    assert "packs/r-1.zip: missing" in _first_failure(copy)


@pytest.mark.parametrize(
    "name", ["index.json", "period-proof.json", "period.html", "signer.pub.pem", "period.dsse.json"]
)
def test_altered_period_file_is_named(copy: Path, name: str) -> None:
    p = copy / name
    data = bytearray(p.read_bytes())
    data[len(data) // 3] ^= 1
    p.write_bytes(bytes(data))
    assert name in _first_failure(copy) or "period.dsse.json" in _first_failure(copy)


def test_replaced_key_fails_against_the_pinned_one(copy: Path) -> None:
    other = public_key_pem(Ed25519PrivateKey.generate())
    assert "not the pinned key" in _first_failure(copy, other)


def test_bad_period_bounds_and_busy_output_are_refused(store: App, tmp_path: Path) -> None:
    svc = PackService(store)
    with pytest.raises(ValidationError, match="period is empty"):
        svc.build_period("discharge-summary", UNTIL, SINCE, tmp_path / "x")
    assert not (tmp_path / "x").exists()
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    with pytest.raises(ValidationError, match="not an empty directory"):
        svc.build_period("discharge-summary", SINCE, UNTIL, busy)
    assert [p.name for p in busy.iterdir()] == ["keep.txt"]


def test_empty_period_still_signs_an_index(store: App, tmp_path: Path) -> None:
    out = tmp_path / "empty"
    result = PackService(store).build_period("credit-memo", SINCE, UNTIL, out)
    assert result.runs == 0
    assert _ok(out)
