"""Offline verification of audit-period packs (see :mod:`raidt.services.periodpacks`).

Reads a period from a directory or one zip, a member at a time: the period's DSSE
signature and statement, the RFC 9162 consistency proof between its two signed
checkpoints, then every pack listed in the index with all of its own checks, pinned to the
period's signer. Needs no database.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from raidt.core import packformat as pf
from raidt.core.attestation import PERIOD_PREDICATE_TYPE, parse_statement
from raidt.core.checkpoint import Checkpoint, parse_note, verify_note
from raidt.core.dsse import Envelope, keyid, load_public_key_pem, verify_envelope
from raidt.core.merkle import verify_consistency
from raidt.errors import IntegrityError, PackError, RaidtError
from raidt.services.packzip import read_zip
from raidt.services.periodpacks import ATTESTATION, INDEX, PERIOD_FILES, PROOF

__all__ = ["is_period", "verify_period"]


class _Source:
    """Read a period from a directory or a zip, one member at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.zip = None if path.is_dir() else zipfile.ZipFile(path)

    def names(self) -> list[str]:
        if self.zip is not None:
            return [i.filename for i in self.zip.infolist() if not i.is_dir()]
        return sorted(
            str(p.relative_to(self.path)).replace(os.sep, "/")
            for p in self.path.rglob("*")
            if p.is_file()
        )

    def read(self, name: str) -> bytes:
        try:
            if self.zip is not None:
                return self.zip.read(name)
            return (self.path / name).read_bytes()
        except (KeyError, FileNotFoundError):
            raise PackError(f"{name}: missing from the period", file=name) from None
        except (zipfile.BadZipFile, OSError) as exc:
            raise PackError(f"{name}: unreadable ({exc})", file=name) from exc

    def close(self) -> None:
        if self.zip is not None:
            self.zip.close()


def is_period(path: Path) -> bool:
    """Whether ``path`` holds an audit period (rather than a single pack)."""
    if path.is_dir():
        return (path / INDEX).is_file()
    try:
        with zipfile.ZipFile(path) as zf:
            return INDEX in zf.namelist()
    except (zipfile.BadZipFile, OSError):
        return False


def verify_period(
    path: Path, key: bytes | None = None, progress: Callable[[int, int], None] | None = None
) -> list[pf.CheckResult]:
    """Verify an audit period offline: its signature, the consistency proof, every pack."""
    results: list[pf.CheckResult] = []

    def step(name: str, fn: Callable[[], str]) -> bool:
        try:
            results.append(pf.CheckResult(name, True, fn()))
            return True
        except RaidtError as exc:
            results.append(pf.CheckResult(name, False, exc.diagnostic()))
            return False

    try:
        src = _Source(path)
    except (zipfile.BadZipFile, OSError) as exc:
        return [pf.CheckResult("files", False, f"{path.name}: not a readable zip ({exc})")]
    try:
        state: dict[str, Any] = {}
        step("period signature", lambda: _period_signature(src, key, state))
        if "statement" not in state:
            return results
        step("consistency", lambda: _period_consistency(src, state))
        step("packs", lambda: _period_packs(src, state, progress))
    finally:
        src.close()
    return results


def _period_signature(src: _Source, key: bytes | None, state: dict[str, Any]) -> str:
    try:
        signer = load_public_key_pem(src.read(pf.SIGNER_KEY), source=pf.SIGNER_KEY)
        if key is not None:
            pinned = load_public_key_pem(key, source="--key")
            if keyid(pinned) != keyid(signer):
                raise PackError(f"{pf.SIGNER_KEY}: not the pinned key (key replaced)")
        env = Envelope.from_json(orjson.loads(src.read(ATTESTATION)))
        verify_envelope(env, [signer])
        st = parse_statement(env.payload, predicate_type=PERIOD_PREDICATE_TYPE)
    except orjson.JSONDecodeError as exc:
        raise PackError(f"{ATTESTATION}: not valid JSON") from exc
    except IntegrityError as exc:
        raise PackError(f"{ATTESTATION}: {exc.message}") from exc
    if set(st.subjects) != set(PERIOD_FILES):
        raise PackError(
            f"{ATTESTATION}: statement names {sorted(st.subjects)}, expected {sorted(PERIOD_FILES)}"
        )
    for name in PERIOD_FILES:
        if pf.file_sha256(src.read(name)) != st.subjects[name]:
            raise PackError(f"{name}: SHA-256 differs from the signed statement (file altered)")
    state.update(statement=st, signer=signer)
    return f"DSSE signature valid; {len(PERIOD_FILES)} period files match the statement"


def _period_consistency(src: _Source, state: dict[str, Any]) -> str:
    signer = state["signer"]
    try:
        proof = orjson.loads(src.read(PROOF))
        first = _checkpoint(proof["first"]["note"], signer)
        last = _checkpoint(proof["last"]["note"], signer)
        path = [bytes.fromhex(h) for h in proof["proof"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise PackError(f"{PROOF}: malformed ({exc})") from exc
    if not verify_consistency(
        first.tree_size, last.tree_size, first.root_hash, last.root_hash, path
    ):
        raise PackError(
            f"{PROOF}: the log at size {last.tree_size} does not extend the log "
            f"at size {first.tree_size} (history rewritten)"
        )
    state["checkpoint_note"] = proof["last"]["note"]
    return f"tree size {first.tree_size} → {last.tree_size}: only appended to"


def _checkpoint(note: str, signer: Any) -> Checkpoint:
    cp, _ = parse_note(note)
    try:
        return verify_note(note, signer, cp.origin)
    except IntegrityError as exc:
        raise PackError(f"{PROOF}: checkpoint: {exc.message}") from exc


def _period_packs(
    src: _Source, state: dict[str, Any], progress: Callable[[int, int], None] | None
) -> str:
    from raidt.core.packformat import PackView, verify_pack

    try:
        index = orjson.loads(src.read(INDEX))
        entries = index["packs"]
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise PackError(f"{INDEX}: malformed ({exc})") from exc
    if index.get("checkpoint") != state.get("checkpoint_note"):
        raise PackError(f"{INDEX}: checkpoint differs from the consistency proof's last one")
    listed = {e["file"] for e in entries}
    if len(listed) != len(entries):
        raise PackError(f"{INDEX}: a pack is listed twice")
    on_disk = {n for n in src.names() if n.startswith("packs/")}
    if on_disk - listed:
        raise PackError(f"{sorted(on_disk - listed)[0]}: not listed in {INDEX} (added file)")
    pem = src.read(pf.SIGNER_KEY)
    for n, e in enumerate(entries, 1):
        data = src.read(e["file"])
        if pf.file_sha256(data) != e["sha256"]:
            raise PackError(f"{e['file']}: SHA-256 differs from {INDEX} (pack altered)")
        contents = read_zip(data, label=e["file"])
        view = PackView(files=contents.files, names=contents.names, pinned_key_pem=pem)
        bad = [r for r in verify_pack(view) if not r.ok]
        if bad:
            raise PackError(f"{e['file']}: {bad[0].name}: {bad[0].detail}")
        if view.run.get("run_id") != e["run_id"]:
            raise PackError(
                f"{e['file']}: holds run {view.run.get('run_id')}, index says {e['run_id']}"
            )
        if view.ledger_proof.get("checkpoint") != index["checkpoint"]:
            raise PackError(f"{e['file']}: proven against another checkpoint than the period")
        if progress is not None:
            progress(n, len(entries))
    return (
        f"{len(entries)} packs verified against checkpoint size "
        f"{parse_note(index['checkpoint'])[0].tree_size}"
    )
