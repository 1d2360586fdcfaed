"""Offline verification of audit-period packs (see :mod:`raidt.services.periodpacks`).

Reads a period from a directory or one zip, a member at a time and in the order trust
flows: the signer key and the DSSE envelope first (against the pinned key, if any), then
the four files the signed statement names (each hashed before it is parsed, and parsed
from the very bytes hashed), the RFC 9162 consistency proof between the period's two
signed checkpoints, and only then every pack the signed index lists, each with all of its
own checks, pinned to the period's signer. Needs no database.

A period comes from outside, so reading it is bounded and confined:

- a zip is read through :class:`~raidt.services.packzip.ZipReader` (directory, member
  count and inflated sizes capped, members inflated in chunks);
- a directory is read through file descriptors: only regular files directly inside it or
  inside its ``packs/`` folder, opened without following symbolic links, never a device
  or a FIFO, each within a size cap;
- a name the signed index gives must be exactly the pack name of its run
  (``packs/<escaped run id>.zip``), so no path, absolute or with ``..``, is ever opened,
  and a refusal names what the index said, never what is on disk outside the period.
"""

from __future__ import annotations

import errno
import os
import re
import stat
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
from raidt.services.packs import verify_pack_view
from raidt.services.packzip import PACK_LIMITS, ZipLimits, ZipReader, read_capped
from raidt.services.periodpacks import (
    ATTESTATION,
    INDEX,
    MAX_PACKS,
    PERIOD_FILES,
    PROOF,
    REPORT,
    pack_file_name,
)

__all__ = [
    "MAX_PACKS",
    "PERIOD_LIMITS",
    "check_period",
    "is_period",
    "verify_period",
]

_MiB = 1 << 20
#: the most each signed period file may hold
_CAPS: dict[str, int] = {
    pf.SIGNER_KEY: 64 * 1024,
    ATTESTATION: _MiB,
    PROOF: _MiB,
    INDEX: 64 * _MiB,
    REPORT: 64 * _MiB,
}
#: a period zip: its own files plus one zipped pack per run
PERIOD_LIMITS = ZipLimits(
    members=len(_CAPS) + MAX_PACKS,
    member_bytes=PACK_LIMITS.total_bytes,
    total_bytes=64 * 1024 * _MiB,
    directory_bytes=128 * _MiB,
)
_TOP = frozenset(_CAPS)
#: what :func:`~raidt.services.periodpacks.pack_file_name` can produce
_PACK_NAME = re.compile(r"packs/[A-Za-z0-9._%-]{1,240}\.zip")
_CHECKS = ("period signature", "consistency", "packs")
_SYMLINK = "a symbolic link; a period holds only regular files"


def _name_problem(name: str) -> str | None:
    """Why ``name`` is not a file of an audit period (None when it is one)."""
    if name in _TOP or _PACK_NAME.fullmatch(name):
        return None
    return "not part of an audit period (added file)"


class _ZipPeriod:
    """A period inside one zip."""

    def __init__(self, path: Path) -> None:
        self.reader = ZipReader(path, limits=PERIOD_LIMITS, name_problem=_name_problem)

    def pack_names(self) -> set[str]:
        return {n for n in self.reader.names if n.startswith("packs/")}

    def read(self, name: str, cap: int) -> bytes:
        return self.reader.read(name, cap=cap)

    def close(self) -> None:
        self.reader.close()


class _DirPeriod:
    """A period in a directory, read through descriptors of it and of its ``packs/``."""

    def __init__(self, path: Path) -> None:
        try:
            self.root = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as exc:
            raise PackError(f"{path.name}: cannot open the period ({exc.strerror})") from None
        self._packs: int | None = None

    def _packs_fd(self) -> int | None:
        if self._packs is None:
            try:
                self._packs = _open_in(self.root, "packs", os.O_DIRECTORY)
            except FileNotFoundError:
                return None
        return self._packs

    def pack_names(self) -> set[str]:
        with os.scandir(self.root) as top:
            for entry in top:
                if entry.name == "packs":
                    if entry.is_symlink():
                        raise PackError(f"packs: {_SYMLINK}")
                    if not entry.is_dir(follow_symlinks=False):
                        raise PackError("packs: not a directory")
                    continue
                if entry.name not in _TOP:
                    raise PackError(f"{entry.name!r}: {_name_problem(entry.name)}")
                _regular(entry, entry.name)
        fd = self._packs_fd()
        if fd is None:
            return set()
        names = set()
        with os.scandir(fd) as packs:
            for entry in packs:
                name = f"packs/{entry.name}"
                if _name_problem(name) is not None:
                    raise PackError(f"{name!r}: {_name_problem(name)}")
                _regular(entry, name)
                names.add(name)
        return names

    def read(self, name: str, cap: int) -> bytes:
        problem = _name_problem(name)
        if problem is not None:
            raise PackError(f"{name!r}: {problem}")
        folder, _, base = name.rpartition("/")
        dir_fd = self.root if not folder else self._packs_fd()
        if dir_fd is None:
            raise PackError(f"{name}: missing from the period", file=name)
        try:
            fd = _open_in(dir_fd, base, os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
        except FileNotFoundError:
            raise PackError(f"{name}: missing from the period", file=name) from None
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise PackError(f"{name}: not a regular file", file=name)
            if st.st_size > cap:
                raise PackError(f"{name}: {st.st_size:,} bytes, more than the {cap:,} expected")
            os.set_blocking(fd, True)
            return read_capped(f, cap, name, "read")

    def close(self) -> None:
        for fd in (self._packs, self.root):
            if fd is not None:
                os.close(fd)


def _regular(entry: os.DirEntry[str], name: str) -> None:
    if entry.is_symlink():
        raise PackError(f"{name}: {_SYMLINK}", file=name)
    if not entry.is_file(follow_symlinks=False):
        raise PackError(f"{name}: not a regular file", file=name)


def _open_in(dir_fd: int, name: str, extra: int) -> int:
    """Open ``name`` inside ``dir_fd`` without following a symbolic link.

    Raises:
        FileNotFoundError: nothing of that name.
        PackError: a symbolic link, or not openable.
    """
    try:
        return os.open(name, os.O_RDONLY | os.O_NOFOLLOW | extra, dir_fd=dir_fd)
    except FileNotFoundError:
        raise
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EMLINK):  # EMLINK: what BSDs say for a link
            raise PackError(f"{name}: {_SYMLINK}") from None
        raise PackError(f"{name}: cannot open ({exc.strerror})") from None


_Source = _ZipPeriod | _DirPeriod


def is_period(path: Path) -> bool:
    """Whether ``path`` holds an audit period (rather than a single pack).

    Any directory is taken for a period (a single pack is always a zip); a zip is one
    when it holds a period's index or signature.
    """
    if path.is_dir():
        return True
    try:
        with ZipReader(path, limits=PERIOD_LIMITS, name_problem=lambda _: None) as reader:
            return INDEX in reader.names or ATTESTATION in reader.names
    except PackError:
        return False


def verify_period(
    path: Path, key: bytes | None = None, progress: Callable[[int, int], None] | None = None
) -> list[pf.CheckResult]:
    """Every check's result for an audit period (its integrity); see :func:`check_period`."""
    return list(check_period(path, key, progress).checks)


def check_period(
    path: Path, key: bytes | None = None, progress: Callable[[int, int], None] | None = None
) -> pf.Verdict:
    """Verify an audit period offline: its signature, the consistency proof, every pack.

    ``key`` is the PEM of the signer to pin; without it the verdict has integrity at
    best, never trust.
    """
    pinned = key is not None
    results: list[pf.CheckResult] = []
    state: dict[str, Any] = {}

    def step(name: str, fn: Callable[[], str]) -> bool:
        try:
            results.append(pf.CheckResult(name, True, fn()))
            return True
        except RaidtError as exc:
            results.append(pf.CheckResult(name, False, exc.diagnostic()))
            return False

    try:
        src: _Source = _DirPeriod(path) if path.is_dir() else _ZipPeriod(path)
    except PackError as exc:
        return pf.Verdict((pf.CheckResult("files", False, exc.diagnostic()),), pinned)
    try:
        if not step("period signature", lambda: _period_signature(src, key, state)):
            why = "the period signature did not verify, so nothing it covers was read"
            results += pf.skipped(_CHECKS[1:], why)
        elif not step("consistency", lambda: _period_consistency(state)):
            results += pf.skipped(_CHECKS[2:], "the consistency proof did not verify")
        else:
            step("packs", lambda: _period_packs(src, state, progress))
    finally:
        src.close()
    return pf.Verdict(tuple(results), pinned, state.get("signer_id"))


def _period_signature(src: _Source, key: bytes | None, state: dict[str, Any]) -> str:
    pem = src.read(pf.SIGNER_KEY, _CAPS[pf.SIGNER_KEY])
    try:
        signer = load_public_key_pem(pem, source=pf.SIGNER_KEY)
    except IntegrityError as exc:
        raise PackError(exc.message) from exc
    state["signer_id"] = keyid(signer)
    if key is not None:
        try:
            pinned = load_public_key_pem(key, source="--key")
        except IntegrityError as exc:
            raise PackError(exc.message) from exc
        if keyid(pinned) != keyid(signer):
            raise PackError(
                f"{pf.SIGNER_KEY}: key {keyid(signer)[:16]}… is not the pinned key "
                f"{keyid(pinned)[:16]}… (key replaced)"
            )
    try:
        env = Envelope.from_json(orjson.loads(src.read(ATTESTATION, _CAPS[ATTESTATION])))
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
    signed: dict[str, bytes] = {pf.SIGNER_KEY: pem}
    for name in PERIOD_FILES:
        data = signed.get(name)
        if data is None:
            data = src.read(name, _CAPS[name])
        if pf.file_sha256(data) != st.subjects[name]:
            raise PackError(f"{name}: SHA-256 differs from the signed statement (file altered)")
        if name in (INDEX, PROOF):
            signed[name] = data  # parsed later from exactly these bytes
    state.update(statement=st, signer=signer, pem=pem, index=signed[INDEX], proof=signed[PROOF])
    how = "the pinned key" if key is not None else "the key shipped inside, not pinned"
    return (
        f"DSSE signature valid, key id {state['signer_id'][:16]}… ({how}); "
        f"{len(PERIOD_FILES)} period files match the statement"
    )


def _period_consistency(state: dict[str, Any]) -> str:
    signer = state["signer"]
    try:
        proof = orjson.loads(state["proof"])
        first_note, last_note = proof["first"]["note"], proof["last"]["note"]
        if not isinstance(first_note, str) or not isinstance(last_note, str):
            raise TypeError("checkpoint notes must be text")
        first = _checkpoint(first_note, signer)
        last = _checkpoint(last_note, signer)
        path = [bytes.fromhex(h) for h in proof["proof"]]
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise PackError(f"{PROOF}: malformed ({str(exc).splitlines()[0]})") from None
    if not verify_consistency(
        first.tree_size, last.tree_size, first.root_hash, last.root_hash, path
    ):
        raise PackError(
            f"{PROOF}: the log at size {last.tree_size} does not extend the log "
            f"at size {first.tree_size} (history rewritten)"
        )
    state["checkpoint_note"] = last_note
    return f"tree size {first.tree_size} → {last.tree_size}: only appended to"


def _checkpoint(note: str, signer: Any) -> Checkpoint:
    try:
        cp, _ = parse_note(note)
        return verify_note(note, signer, cp.origin)
    except IntegrityError as exc:
        raise PackError(f"{PROOF}: checkpoint: {exc.message}") from exc


def _index_entries(raw: bytes, note: str) -> list[dict[str, Any]]:
    """The signed index's pack entries, each checked for shape and for a name that is
    exactly its run's pack file (so no name from the index can point anywhere else)."""
    try:
        index = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise PackError(f"{INDEX}: not valid JSON ({exc})") from None
    if not isinstance(index, dict) or not isinstance(index.get("packs"), list):
        raise PackError(f"{INDEX}: malformed (no 'packs' list)")
    if index.get("checkpoint") != note:
        raise PackError(f"{INDEX}: checkpoint differs from the consistency proof's last one")
    entries: list[dict[str, Any]] = index["packs"]
    if len(entries) > MAX_PACKS:
        raise PackError(f"{INDEX}: lists {len(entries):,} packs; at most {MAX_PACKS:,} are read")
    seen: set[str] = set()
    for i, e in enumerate(entries):
        if not (
            isinstance(e, dict)
            and isinstance(e.get("run_id"), str)
            and isinstance(e.get("file"), str)
            and isinstance(e.get("sha256"), str)
            and type(e.get("size")) is int
            and e["size"] >= 0
        ):
            raise PackError(f"{INDEX}: packs[{i}] malformed (run_id, file, sha256, size)")
        if e["file"] != pack_file_name(e["run_id"]) or _name_problem(e["file"]) is not None:
            raise PackError(
                f"{INDEX}: packs[{i}] names {e['file']!r}, not the pack file of run "
                f"{e['run_id']!r} inside the period"
            )
        if e["file"] in seen:
            raise PackError(f"{INDEX}: {e['file']} is listed twice")
        seen.add(e["file"])
    return entries


def _period_packs(
    src: _Source, state: dict[str, Any], progress: Callable[[int, int], None] | None
) -> str:
    note = state["checkpoint_note"]
    entries = _index_entries(state["index"], note)
    listed = {e["file"] for e in entries}
    added = src.pack_names() - listed
    if added:
        raise PackError(f"{sorted(added)[0]}: not listed in {INDEX} (added file)")
    for n, e in enumerate(entries, 1):
        name = e["file"]
        if e["size"] > PERIOD_LIMITS.member_bytes:
            raise PackError(f"{name}: {INDEX} says {e['size']:,} bytes; too large to read")
        data = src.read(name, e["size"])
        if len(data) != e["size"] or pf.file_sha256(data) != e["sha256"]:
            raise PackError(f"{name}: SHA-256 differs from {INDEX} (pack altered)")
        verdict, view = verify_pack_view(data, state["pem"], label=name)
        bad = verdict.first_failure
        if bad is not None or view is None:
            detail = f"{bad.name}: {bad.detail}" if bad else "unreadable"
            raise PackError(f"{name}: {detail}")
        if view.run.get("run_id") != e["run_id"]:
            raise PackError(f"{name}: holds run {view.run.get('run_id')}, index says {e['run_id']}")
        if view.ledger_proof.get("checkpoint") != note:
            raise PackError(f"{name}: proven against another checkpoint than the period")
        if progress is not None:
            progress(n, len(entries))
    return f"{len(entries)} packs verified against checkpoint size {parse_note(note)[0].tree_size}"
