"""Property: no zip, random or mutated from a genuine one, makes ``pack verify`` hold more
than a fixed amount of memory, and none verifies unless it holds exactly the genuine
files (issue 13, finding 5).

Verification runs in-process under :mod:`tracemalloc` (which sees zlib's and zipfile's
allocations too) with small caps, so that a cap that did not hold would show at once as
memory far above :data:`MEMORY_CAP`. Inputs are random bytes, genuine packs and periods
with bytes flipped, cut, inserted or deleted, and hand-made zips whose headers lie
(methods, flags, declared sizes) around real deflate bombs.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from raidt.core import packformat as pf
from raidt.services.app import App
from raidt.services.packs import PackService, check_pack
from raidt.services.packzip import ZipLimits, read_zip
from raidt.services.period_verify import check_period
from raidt.services.periodpacks import ATTESTATION, INDEX
from raidt.store.keys import public_key_pem
from tests.services._packs import files_of, open_store, run_events
from tests.services._zipcraft import Member, craft, deflated, zeros_bomb

_MiB = 1 << 20
SMALL = ZipLimits(members=64, member_bytes=_MiB, total_bytes=2 * _MiB, directory_bytes=_MiB)
#: the most one verification may hold at once under SMALL; a genuine pack takes ~0.4 MiB
MEMORY_CAP = 24 * _MiB
T = TypeVar("T")

_BOMBS = {n: zeros_bomb(n * _MiB) for n in (1, 8, 64)}


def _peak(fn: Callable[[], T]) -> tuple[T, int]:
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        out = fn()
        return out, tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    app = open_store(tmp_path_factory.mktemp("fuzz") / "home")
    app.events.append(run_events("r-1"))
    yield app
    app.close()


@pytest.fixture(scope="module")
def genuine(org: App) -> bytes:
    return PackService(org).pack_bytes("r-1")


@pytest.fixture(scope="module")
def period_zip(org: App, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    out = tmp_path_factory.mktemp("fuzz-period") / "audit.zip"
    PackService(org).build_period(
        "discharge-summary", "2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z", out
    )
    return out.read_bytes()


@st.composite
def _mutated(draw: st.DrawFn, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "delete", "overwrite"]))
        at = draw(st.integers(0, max(0, len(out) - 1)))
        if kind == "flip" and out:
            out[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "cut":
            del out[at:]
        elif kind == "insert":
            out[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif kind == "delete":
            del out[at : at + draw(st.integers(1, 64))]
        else:  # overwrite with a value a header field might hold: 0, max, a small size
            value = draw(st.sampled_from([b"\x00\x00\x00\x00", b"\xff\xff\xff\xff", b"\x0a\x00"]))
            out[at : at + len(value)] = value
    return bytes(out)


_NAMES = st.sampled_from([*pf.PACK_FILES, "extra.txt", "../up", "/abs", "dir/", ""])


@st.composite
def _member(draw: st.DrawFn) -> Member:
    name = draw(_NAMES)
    if draw(st.booleans()):
        honest = deflated(name, draw(st.binary(max_size=256)))
        data, size, crc = honest.data, honest.size, honest.crc
    else:
        n = draw(st.sampled_from(sorted(_BOMBS)))
        data, size, crc = _BOMBS[n], n * _MiB, 0
    if draw(st.booleans()):  # the header lies about the size
        size = draw(st.sampled_from([0, 10, _MiB - 1, 2 * _MiB, 2**32 - 1]))
    method = draw(st.sampled_from([0, 8, 8, 8, 12, 14]))
    flags = draw(st.sampled_from([0, 0, 0x1, 0x8, 0x20, 0x40, 0x800]))
    return Member(name, data, size, crc, method, flags)


@st.composite
def _crafted(draw: st.DrawFn) -> bytes:
    members = draw(st.lists(_member(), min_size=1, max_size=6))
    entries = draw(st.one_of(st.none(), st.integers(0, 0xFFFF)))
    cd_size = draw(st.one_of(st.none(), st.integers(0, 2**32 - 1)))
    return craft(members, entries=entries, cd_size=cd_size)


def _check_pack_input(data: bytes, genuine: bytes, key: bytes | None) -> None:
    verdict, peak = _peak(lambda: check_pack(data, key, limits=SMALL))
    assert peak < MEMORY_CAP, f"verification held {peak:,} bytes"
    if verdict.integrity:
        assert dict(read_zip(data).files) == files_of(genuine), "a forged pack verified"
    if verdict.trusted:
        assert key is not None and verdict.signer is not None
    else:
        assert verdict.to_json()["ok"] is False


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_mutated_packs_stay_within_memory_and_never_pass_unless_genuine(
    data: st.DataObject, org: App, genuine: bytes
) -> None:
    candidate = data.draw(_mutated(genuine))
    key = data.draw(st.sampled_from([None, public_key_pem(org.signing_key)]))
    _check_pack_input(candidate, genuine, key)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(candidate=st.one_of(_crafted(), st.binary(max_size=2048)))
def test_random_zips_stay_within_memory_and_never_pass(
    candidate: bytes, org: App, genuine: bytes
) -> None:
    _check_pack_input(candidate, genuine, public_key_pem(org.signing_key))
    _check_pack_input(candidate, genuine, None)


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_mutated_period_zips_stay_within_memory_and_never_pass_unless_genuine(
    data: st.DataObject, org: App, period_zip: bytes, tmp_path_factory: pytest.TempPathFactory
) -> None:
    candidate = data.draw(_mutated(period_zip))
    path: Path = tmp_path_factory.mktemp("candidate") / "audit.zip"
    path.write_bytes(candidate)
    verdict, peak = _peak(lambda: check_period(path, public_key_pem(org.signing_key)))
    assert peak < 4 * MEMORY_CAP, f"verification held {peak:,} bytes"
    if verdict.integrity:
        from raidt.services.packzip import ZipReader
        from raidt.services.period_verify import PERIOD_LIMITS

        def members(raw: bytes) -> dict[str, bytes]:
            with ZipReader(raw, limits=PERIOD_LIMITS, name_problem=lambda _: None) as r:
                return {n: r.read(n) for n in r.names}

        got, want = members(candidate), members(period_zip)
        assert got == want and INDEX in got and ATTESTATION in got, "a forged period verified"
