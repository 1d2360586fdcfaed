"""Spool frames: what a reader accepts, and the torn tails it must never misread."""

from __future__ import annotations

from pathlib import Path

import pytest

from raidt.errors import SpoolFullError
from raidt.sdk._spool import HEADER_SIZE, SpoolWriter, encode_frame, scan_segment, segment_paths


def _write(path: Path, *bodies: bytes) -> bytes:
    data = b"".join(encode_frame(b) for b in bodies)
    path.write_bytes(data)
    return data


def test_frames_round_trip(tmp_path: Path) -> None:
    seg = tmp_path / "a.spool"
    _write(seg, b'{"a":1}', b'{"b":2}', b"")
    scan = scan_segment(seg)
    assert [f.body for f in scan.frames] == [b'{"a":1}', b'{"b":2}', b""]
    assert scan.tail == 0 and not scan.damaged
    assert scan.end == seg.stat().st_size
    again = scan_segment(seg, scan.frames[1].offset)
    assert [f.body for f in again.frames] == [b'{"b":2}', b""]


@pytest.mark.parametrize("cut", [1, HEADER_SIZE - 1, HEADER_SIZE, HEADER_SIZE + 3])
def test_a_torn_tail_is_ignored_never_misread(tmp_path: Path, cut: int) -> None:
    seg = tmp_path / "a.spool"
    data = _write(seg, b'{"run":1}', b'{"run":2,"pad":"' + b"x" * 40 + b'"}')
    last = encode_frame(b'{"run":2,"pad":"' + b"x" * 40 + b'"}')
    seg.write_bytes(data[: len(data) - len(last) + cut])
    scan = scan_segment(seg)
    assert [f.body for f in scan.frames] == [b'{"run":1}']
    assert scan.tail == cut and not scan.damaged


def test_a_flipped_byte_is_damage_and_nothing_after_it_is_read(tmp_path: Path) -> None:
    seg = tmp_path / "a.spool"
    data = bytearray(_write(seg, b'{"run":1}', b'{"run":2}', b'{"run":3}'))
    data[HEADER_SIZE + 9 + HEADER_SIZE + 2] ^= 0x01  # inside the second body
    seg.write_bytes(bytes(data))
    scan = scan_segment(seg)
    assert [f.body for f in scan.frames] == [b'{"run":1}']
    assert scan.damaged and scan.tail == 2 * (HEADER_SIZE + 9)


def test_a_frame_hidden_in_a_torn_frame_is_never_read(tmp_path: Path) -> None:
    """Prompt text that spells a whole frame stays text, even when its own frame is torn."""
    seg = tmp_path / "a.spool"
    hidden = encode_frame(b'{"run":"forged"}')
    outer = encode_frame(b'{"prompt":"' + hidden + b'"}')
    seg.write_bytes(encode_frame(b'{"run":1}') + outer[:-3])  # the outer write was cut short
    scan = scan_segment(seg)
    assert [f.body for f in scan.frames] == [b'{"run":1}']
    assert not scan.damaged and scan.tail == len(outer) - 3


def test_writer_appends_one_frame_per_record_and_rotates(tmp_path: Path) -> None:
    w = SpoolWriter(tmp_path, max_bytes=1 << 20, segment_bytes=50, on_full="fail", block_timeout=0)
    for i in range(5):
        w.append(b'{"i":%d,"pad":"%s"}' % (i, b"y" * 30))
    closed = w.rotate()
    segs = segment_paths(tmp_path)
    assert set(closed) == set(segs) and len(segs) == 5  # each frame filled a segment
    bodies = [f.body for s in segs for f in scan_segment(s).frames]
    assert [b[:6] for b in bodies] == [b'{"i":%d' % i for i in range(5)]


def test_fail_mode_refuses_past_the_limit(tmp_path: Path) -> None:
    w = SpoolWriter(tmp_path, max_bytes=300, segment_bytes=1 << 20, on_full="fail", block_timeout=0)
    accepted = 0
    with pytest.raises(SpoolFullError) as info:
        for _ in range(100):
            w.append(b"z" * 50)
            accepted += 1
    assert accepted == 300 // (50 + HEADER_SIZE)
    assert "not recorded" in info.value.diagnostic()
    on_disk = sum(len(scan_segment(s).frames) for s in segment_paths(tmp_path))
    assert on_disk == accepted  # every acknowledged frame is there, nothing more
    for s in segment_paths(tmp_path):  # a drainer removes sealed segments: room again
        s.unlink()
    w.append(b"z" * 50)
