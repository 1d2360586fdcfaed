"""Packs and periods handed over by someone hostile: zip bombs, lying headers, paths out of
a period directory, devices and FIFOs, other signers (issue 13, findings 5 and 8).

Memory is measured with :mod:`tracemalloc` around each verification: it sees what zlib
and zipfile allocate too, so a bomb that got inflated would show as hundreds of MiB.
"""

from __future__ import annotations

import base64
import os
import shutil
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from raidt.core import packformat as pf
from raidt.core.attestation import PERIOD_PREDICATE_TYPE, build_statement
from raidt.core.dsse import keyid, sign_envelope
from raidt.services.app import App
from raidt.services.packs import PackService, check_pack
from raidt.services.packzip import ZipLimits
from raidt.services.period_verify import check_period
from raidt.services.periodpacks import ATTESTATION, INDEX, PERIOD_FILES
from raidt.store.keys import public_key_pem
from tests.services._packs import files_of, open_store, raw_zip, run_events
from tests.services._zipcraft import Member, craft, deflated, zeros_bomb

SINCE, UNTIL = "2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z"
_MiB = 1 << 20
#: what any refusal below may cost; a bomb read whole costs 100 to 4096 times this
_BUDGET = 8 * _MiB
T = TypeVar("T")


def _peak(fn: Callable[[], T]) -> tuple[T, int]:
    """``fn()`` and the most memory it held at once (bytes, as tracemalloc sees it)."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        out = fn()
        return out, tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    app = open_store(tmp_path_factory.mktemp("org") / "home")
    app.events.append(run_events("r-1"))
    app.events.append(run_events("r-2", 5))
    yield app
    app.close()


@pytest.fixture(scope="module")
def org_pem(org: App) -> bytes:
    return public_key_pem(org.signing_key)


@pytest.fixture(scope="module")
def pack(org: App) -> bytes:
    return PackService(org).pack_bytes("r-1")


@pytest.fixture(scope="module")
def period(org: App, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("period") / "audit"
    PackService(org).build_period("discharge-summary", SINCE, UNTIL, out)
    return out


def _members_of(pack: bytes, swap: Member) -> list[Member]:
    """The pack's members as honest deflated members, the one named as ``swap`` swapped."""
    return [swap if n == swap.name else deflated(n, d) for n, d in files_of(pack).items()]


def _one_line(text: str) -> None:
    assert text and "\n" not in text and "Traceback" not in text


# --- finding 5: bombs and lying headers -------------------------------------------------


def test_a_real_zip_bomb_is_refused_without_inflating_it(pack: bytes, org_pem: bytes) -> None:
    """4 GiB of zeros in 4 MB, as events.jsonl of a pack whose signature is genuine (so the
    reader gets past the signature), declaring its true size: refused from the header."""
    bomb = zeros_bomb(4096 * _MiB)
    assert len(bomb) < 5 * _MiB
    data = craft(_members_of(pack, Member(pf.EVENTS, bomb, 0xFFFFFFFF)))
    verdict, peak = _peak(lambda: check_pack(data, org_pem))
    assert verdict.status == "failed" and not verdict.trusted
    bad = verdict.first_failure
    assert bad is not None and "declares 4,294,967,295 bytes" in bad.detail
    _one_line(bad.detail)
    assert peak < _BUDGET


def test_a_member_whose_declared_size_lies_reads_no_more_than_it_declares(
    pack: bytes, org_pem: bytes
) -> None:
    """Ten bytes declared, 1 GiB inside: inflation stops at the declaration."""
    data = craft(_members_of(pack, Member(pf.EVENTS, zeros_bomb(1024 * _MiB), 10)))
    verdict, peak = _peak(lambda: check_pack(data, org_pem))
    bad = verdict.first_failure
    assert bad is not None and bad.name == "read" and pf.EVENTS in bad.detail
    _one_line(bad.detail)
    assert peak < _BUDGET
    assert [r.name for r in verdict.checks if r.skipped] == [c.name for c in pf.content_checks()]


def test_caps_hold_on_bytes_actually_inflated(pack: bytes) -> None:
    """A 64 MiB member, honestly declared, against a 1 MiB cap: refused having read at
    most the cap, whatever the header says; and a total over many members is capped too."""
    small = ZipLimits(members=64, member_bytes=_MiB, total_bytes=2 * _MiB, directory_bytes=_MiB)
    zeros = Member(pf.EVENTS, zeros_bomb(64 * _MiB), 64 * _MiB)
    verdict, peak = _peak(lambda: check_pack(craft(_members_of(pack, zeros)), None, limits=small))
    assert (
        verdict.first_failure is not None and "declares 67,108,864" in verdict.first_failure.detail
    )
    assert peak < _BUDGET
    many = [Member(f"f{i}", zeros_bomb(_MiB), _MiB) for i in range(3)]
    verdict = check_pack(craft(many), None, limits=small)
    assert verdict.first_failure is not None
    assert "members declare 3,145,728 bytes in all" in verdict.first_failure.detail


def test_the_signature_members_are_capped_before_they_are_read(pack: bytes) -> None:
    data = craft(_members_of(pack, Member(pf.ATTESTATION, zeros_bomb(200 * _MiB), 200 * _MiB)))
    verdict, peak = _peak(lambda: check_pack(data))
    bad = verdict.first_failure
    assert bad is not None and bad.name == "files" and pf.ATTESTATION in bad.detail
    assert "more than 1,048,576 bytes" in bad.detail
    assert peak < _BUDGET


@pytest.mark.parametrize(
    ("members", "kwargs", "expected"),
    [
        ([deflated(f"m{i}", b"x") for i in range(65)], {}, "65 members; at most 64"),
        ([deflated("a", b"x")], {"entries": 60000}, "60000 members; at most 64"),
        ([deflated("a", b"x")], {"cd_size": 1 << 31}, "central directory of 2,147,483,648"),
        ([Member("a", b"x", 1, method=12)], {}, "compression method 12"),
        ([Member("a", b"x", 1, method=14)], {}, "compression method 14"),
        ([Member("a", b"x", 1, method=0, flags=1)], {}, "encrypted"),
        ([Member("a", b"x", 1, method=0, flags=0x20)], {}, "patched"),
        ([Member("a", b"x", 1, method=0, flags=0x40)], {}, "encrypted"),
        ([deflated("../../etc/passwd", b"x")], {}, "not a plain file name"),
        ([deflated("/etc/passwd", b"x")], {}, "not a plain file name"),
    ],
)
def test_what_a_pack_never_holds_is_refused_before_reading(
    members: list[Member], kwargs: dict[str, int], expected: str
) -> None:
    verdict = check_pack(craft(members, **kwargs))
    assert verdict.status == "failed"
    assert [r.name for r in verdict.checks] == ["files"]
    assert expected in verdict.checks[0].detail
    _one_line(verdict.checks[0].detail)


def test_duplicated_member_is_refused_before_the_signature(pack: bytes) -> None:
    files = files_of(pack)
    dup = raw_zip([*files.items(), (pf.SCORE, b"{}")])
    verdict = check_pack(dup)
    assert verdict.first_failure is not None and "appears twice" in verdict.first_failure.detail
    assert all(r.skipped for r in verdict.checks[2:])


def test_a_device_or_fifo_given_as_the_pack_is_refused_unread(tmp_path: Path) -> None:
    verdict, peak = _peak(lambda: check_pack(Path("/dev/zero")))
    assert verdict.checks[0].detail == "zero: not a regular file" and peak < _BUDGET
    fifo = tmp_path / "pack.zip"
    os.mkfifo(fifo)
    assert check_pack(fifo).checks[0].detail == "pack.zip: not a regular file"


# --- finding 5: periods ----------------------------------------------------------------


def _resign_period(
    folder: Path, key: Ed25519PrivateKey, edit: Callable[[dict[str, Any]], None]
) -> None:
    """Rewrite the period's index with ``edit`` and sign it, as whoever holds ``key``."""
    index = orjson.loads((folder / INDEX).read_bytes())
    edit(index)
    (folder / INDEX).write_bytes(orjson.dumps(index))
    (folder / pf.SIGNER_KEY).write_bytes(public_key_pem(key))
    old = orjson.loads(
        base64.b64decode(orjson.loads((folder / ATTESTATION).read_bytes())["payload"])
    )
    subjects = {n: pf.file_sha256((folder / n).read_bytes()) for n in PERIOD_FILES}
    st = build_statement(subjects, old["predicate"], predicate_type=PERIOD_PREDICATE_TYPE)
    (folder / ATTESTATION).write_bytes(orjson.dumps(sign_envelope(st.to_bytes(), key).to_json()))


@pytest.fixture
def copy(period: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(period, tmp_path / "copy"))


@pytest.mark.parametrize(
    "name",
    ["../../../etc/shadow", "/dev/zero", "packs/../../../../etc/passwd", "packs/x/../r-1.zip"],
)
def test_a_signed_index_naming_files_outside_the_period_is_refused_unread(
    copy: Path, org: App, name: str
) -> None:
    """Signed by the organisation's own key (an insider): still refused, by the name alone."""

    def point(index: dict[str, Any]) -> None:
        index["packs"][0]["file"] = name

    _resign_period(copy, org.signing_key, point)
    verdict, peak = _peak(lambda: check_period(copy, public_key_pem(org.signing_key)))
    assert verdict.status == "failed" and peak < _BUDGET
    bad = verdict.first_failure
    assert bad is not None and bad.name == "packs"
    assert f"names {name!r}, not the pack file of run" in bad.detail
    _one_line(bad.detail)


@pytest.mark.parametrize(
    ("packs", "expected"),
    [
        ("x", "malformed (no 'packs' list)"),
        ([1], "packs[0] malformed"),
        ([{"run_id": "r-1", "file": 3, "sha256": "", "size": 1}], "packs[0] malformed"),
        ([{"run_id": "r-1", "file": "packs/r-1.zip", "sha256": "", "size": True}], "malformed"),
        ([{"run_id": "r-2", "file": "packs/r-1.zip", "sha256": "", "size": 1}], "not the pack"),
    ],
)
def test_a_malformed_signed_index_is_one_line(
    copy: Path, org: App, packs: object, expected: str
) -> None:
    def swap(index: dict[str, Any]) -> None:
        index["packs"] = packs

    _resign_period(copy, org.signing_key, swap)
    bad = check_period(copy, public_key_pem(org.signing_key)).first_failure
    assert bad is not None and bad.name == "packs" and expected in bad.detail
    _one_line(bad.detail)


def test_refusals_are_no_oracle_for_files_outside(copy: Path, tmp_path: Path) -> None:
    """Whether the target exists, and what it holds, changes nothing in the message."""
    seen = set()
    for target in ("/etc/passwd", "/nonexistent/file", "/dev/zero", str(tmp_path)):
        entry_file = "packs/r-1.zip"
        link = copy / entry_file
        link.unlink()
        link.symlink_to(target)
        verdict = check_period(copy)
        bad = verdict.first_failure
        assert bad is not None
        seen.add(bad.detail)
    assert seen == {"packs/r-1.zip: a symbolic link; a period holds only regular files"}


def test_a_fifo_or_symlinked_folder_in_a_period_is_refused_without_blocking(copy: Path) -> None:
    (copy / "packs" / "r-1.zip").unlink()
    os.mkfifo(copy / "packs" / "r-1.zip")
    bad = check_period(copy).first_failure
    assert bad is not None and bad.detail == "packs/r-1.zip: not a regular file"
    shutil.rmtree(copy / "packs")
    (copy / "packs").symlink_to("/etc")
    bad = check_period(copy).first_failure
    assert (
        bad is not None
        and bad.detail == "packs: a symbolic link; a period holds only regular files"
    )


def test_a_device_node_in_a_period_is_refused(copy: Path) -> None:
    target = copy / "packs" / "r-1.zip"
    target.unlink()
    try:
        os.mknod(target, 0o644 | 0o020000, os.makedev(1, 5))  # what /dev/zero is
    except PermissionError:
        pytest.skip("creating a device node needs CAP_MKNOD")
    verdict, peak = _peak(lambda: check_period(copy))
    assert verdict.first_failure is not None
    assert verdict.first_failure.detail == "packs/r-1.zip: not a regular file" and peak < _BUDGET


def test_an_added_file_anywhere_in_a_period_is_named(copy: Path) -> None:
    (copy / "notes.txt").write_text("all fine, trust us")
    bad = check_period(copy).first_failure
    assert bad is not None and "'notes.txt': not part of an audit period" in bad.detail


def test_period_zip_signed_by_another_key_is_refused_before_its_packs_are_read(
    org: App, tmp_path: Path
) -> None:
    """With --key, a period zip from another signer holding a 256 MiB pack member (a bomb
    of zeros, honestly declared) is refused at its signature: the pack is never inflated."""
    other = open_store(tmp_path / "other")
    try:
        other.events.append(run_events("r-1"))
        out = tmp_path / "theirs"
        PackService(other).build_period("discharge-summary", SINCE, UNTIL, out)
    finally:
        other.close()
    members = [deflated(n, (out / n).read_bytes()) for n in (*PERIOD_FILES, ATTESTATION)]
    members.append(Member("packs/r-1.zip", zeros_bomb(256 * _MiB), 256 * _MiB))
    zipped = tmp_path / "theirs.zip"
    zipped.write_bytes(craft(members))
    verdict, peak = _peak(lambda: check_period(zipped, public_key_pem(org.signing_key)))
    assert verdict.status == "failed" and peak < _BUDGET
    assert [(r.name, r.ok, r.skipped) for r in verdict.checks] == [
        ("period signature", False, False),
        ("consistency", False, True),
        ("packs", False, True),
    ]
    assert "is not the pinned key" in verdict.checks[0].detail
    # unpinned, its own signature verifies; the bomb is then refused within its cap
    verdict, peak = _peak(lambda: check_period(zipped))
    assert verdict.status == "failed" and peak < _BUDGET
    bad = verdict.first_failure
    assert bad is not None and bad.name == "packs" and "packs/r-1.zip" in bad.detail


# --- finding 8: integrity is not trust --------------------------------------------------


def test_a_pack_from_another_store_with_the_disposition_changed_is_never_trusted(
    org: App, org_pem: bytes, tmp_path: Path
) -> None:
    forger = open_store(tmp_path / "forger")
    try:
        events = run_events("r-1")
        events[-1] = events[-1].model_copy(update={"payload": {"disposition": "rejected"}})
        forger.events.append(events)
        forged = PackService(forger).pack_bytes("r-1")
    finally:
        forger.close()
    assert b'"rejected"' in files_of(forged)[pf.RUN]
    unpinned = check_pack(forged)
    assert unpinned.integrity and not unpinned.trusted and unpinned.status == "untrusted"
    assert unpinned.to_json()["ok"] is False and unpinned.to_json()["trusted"] is False
    assert "signer not trusted" in unpinned.summary()
    pinned = check_pack(forged, org_pem)
    assert pinned.status == "failed"
    assert pinned.first_failure is not None and "not the pinned key" in pinned.first_failure.detail
    assert all(r.skipped for r in pinned.checks[2:])
    genuine = check_pack(PackService(org).pack_bytes("r-1"), org_pem)
    assert genuine.status == "ok" and genuine.to_json()["trusted"] is True
    assert genuine.signer == keyid(org.signing_key.public_key())


def test_periods_report_trust_the_same_way(period: Path, org_pem: bytes) -> None:
    assert check_period(period).status == "untrusted"
    assert check_period(period, org_pem).status == "ok"
    other = public_key_pem(Ed25519PrivateKey.generate())
    assert check_period(period, other).status == "failed"


def test_a_period_longer_than_a_verifier_reads_is_refused_at_build(
    org: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from raidt.errors import ValidationError
    from raidt.services import periodpacks

    monkeypatch.setattr(periodpacks, "MAX_PACKS", 1)
    with pytest.raises(ValidationError, match="2 runs in the period, more than the 1"):
        PackService(org).build_period("discharge-summary", SINCE, UNTIL, tmp_path / "p.zip")
    assert list(tmp_path.iterdir()) == []
