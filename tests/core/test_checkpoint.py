"""Signed checkpoints: round trip, tampering, wrong keys, and Go's sumdb/note vectors."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from raidt.core.checkpoint import (
    Checkpoint,
    key_hash,
    open_note,
    parse_checkpoint,
    parse_note,
    parse_verifier_key,
    sign_note,
    sign_text,
    split_note,
    verifier_key,
    verify_note,
)
from raidt.errors import IntegrityError

ORIGIN = "raidt.local/test"
ROOT = hashlib.sha256(b"root").digest()

# golang.org/x/mod/sumdb/note note_test.go
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_PETER_SIG = (
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfq"
    "dngotpRZb6KE6RyyBwJnAM=\n"
)
GO_ENOCH_SIG = (
    "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnW"
    "Lox33WWd1RvMc+QQ=\n"
)


def _go_private_key() -> Ed25519PrivateKey:
    raw = base64.b64decode(GO_SKEY.split("+", 4)[4])
    assert raw[0] == 1 and len(raw) == 33
    return Ed25519PrivateKey.from_private_bytes(raw[1:])


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def test_round_trip(key: Ed25519PrivateKey) -> None:
    cp = Checkpoint(ORIGIN, 1042, ROOT)
    note = sign_note(cp, key, ORIGIN)
    lines = note.split("\n")
    assert lines[:4] == [ORIGIN, "1042", base64.b64encode(ROOT).decode(), ""]
    assert lines[4].startswith("— " + ORIGIN + " ")
    assert note.endswith("\n")
    assert verify_note(note, key.public_key(), ORIGIN) == cp
    assert verify_note(note.encode(), key.public_key(), ORIGIN, origin=ORIGIN) == cp
    parsed, sigs = parse_note(note)
    assert parsed == cp
    assert [(s.key_name, s.key_hash) for s in sigs] == [
        (ORIGIN, key_hash(ORIGIN, key.public_key()))
    ]
    assert len(sigs[0].signature) == 64
    assert cp.body() == note.split("\n\n")[0].encode() + b"\n"


def test_empty_tree_checkpoint(key: Ed25519PrivateKey) -> None:
    cp = Checkpoint(ORIGIN, 0, hashlib.sha256(b"").digest())
    assert verify_note(sign_note(cp, key, ORIGIN), key.public_key(), ORIGIN) == cp


def test_tampering_any_line_fails(key: Ed25519PrivateKey) -> None:
    cp = Checkpoint(ORIGIN, 1042, ROOT)
    note = sign_note(cp, key, ORIGIN)
    lines = note.split("\n")
    other_root = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    replacements = {
        0: ["raidt.local/other", ORIGIN + "x"],
        1: ["1043", "1041", "0", "01042"],
        2: [other_root, lines[2][:-2] + "A="],
        3: ["extra"],
    }
    sig_b64 = lines[4].split(" ")[2]
    raw = bytearray(base64.b64decode(sig_b64))
    flipped = []
    for pos in (0, 4, 40, len(raw) - 1):
        r = bytearray(raw)
        r[pos] ^= 1
        flipped.append(f"— {ORIGIN} {base64.b64encode(bytes(r)).decode()}")
    replacements[4] = [*flipped, f"— {ORIGIN}x {sig_b64}", f"- {ORIGIN} {sig_b64}"]
    for i, options in replacements.items():
        for new in options:
            changed = "\n".join([*lines[:i], new, *lines[i + 1 :]])
            with pytest.raises(IntegrityError):
                verify_note(changed, key.public_key(), ORIGIN)
    # An extra line inserted into the body, or the signature dropped.
    with pytest.raises(IntegrityError):
        verify_note(note.replace("\n\n", "\nextension\n\n"), key.public_key(), ORIGIN)
    with pytest.raises(IntegrityError):
        verify_note(note.split("\n\n")[0] + "\n\n", key.public_key(), ORIGIN)


def test_wrong_key_or_name_fails(key: Ed25519PrivateKey) -> None:
    note = sign_note(Checkpoint(ORIGIN, 5, ROOT), key, ORIGIN)
    with pytest.raises(IntegrityError, match="no signature"):
        verify_note(note, Ed25519PrivateKey.generate().public_key(), ORIGIN)
    with pytest.raises(IntegrityError, match="no signature"):
        verify_note(note, key.public_key(), "raidt.local/other")
    with pytest.raises(IntegrityError, match="expected"):
        verify_note(note, key.public_key(), ORIGIN, origin="raidt.local/other")


def test_witness_cosignature_is_ignored_and_own_still_found(key: Ed25519PrivateKey) -> None:
    note = sign_note(Checkpoint(ORIGIN, 5, ROOT), key, ORIGIN)
    witness = Ed25519PrivateKey.generate()
    witness_line = sign_text(Checkpoint(ORIGIN, 5, ROOT).text(), witness, "witness.example")
    cosigned = note + witness_line.split("\n\n")[1]
    assert verify_note(cosigned, key.public_key(), ORIGIN).tree_size == 5
    assert verify_note(cosigned, witness.public_key(), "witness.example").tree_size == 5


@pytest.mark.parametrize(
    "text",
    [
        "",
        f"{ORIGIN}\n5\n",
        f"\n5\n{base64.b64encode(ROOT).decode()}\n",
        f"{ORIGIN}\n05\n{base64.b64encode(ROOT).decode()}\n",
        f"{ORIGIN}\n-5\n{base64.b64encode(ROOT).decode()}\n",
        f"{ORIGIN}\n5\n{base64.b64encode(ROOT[:31]).decode()}\n",
        f"{ORIGIN}\n5\n{base64.b64encode(ROOT).decode().rstrip('=')}\n",
        f"{ORIGIN}\n5\n{base64.b64encode(ROOT).decode()}",
    ],
)
def test_malformed_checkpoint_bodies(text: str) -> None:
    with pytest.raises(IntegrityError, match="malformed checkpoint"):
        parse_checkpoint(text)


def test_checkpoint_refuses_bad_values() -> None:
    with pytest.raises(ValueError):
        Checkpoint("", 1, ROOT)
    with pytest.raises(ValueError):
        Checkpoint("a\nb", 1, ROOT)
    with pytest.raises(ValueError):
        Checkpoint(ORIGIN, -1, ROOT)
    with pytest.raises(ValueError):
        Checkpoint(ORIGIN, 1, ROOT[:16])
    with pytest.raises(ValueError):
        sign_note(Checkpoint(ORIGIN, 1, ROOT), Ed25519PrivateKey.generate(), "has space")


# --- Go vectors ------------------------------------------------------------------------


def test_go_sign_vector() -> None:
    sk = _go_private_key()
    assert verifier_key("PeterNeumann", sk.public_key()) == GO_PETER_VKEY
    assert key_hash("PeterNeumann", sk.public_key()) == 0xC74F20A3
    assert sign_text(GO_TEXT, sk, "PeterNeumann") == GO_TEXT + "\n" + GO_PETER_SIG


def test_go_open_vectors() -> None:
    peter_name, peter = parse_verifier_key(GO_PETER_VKEY)
    enoch_name, enoch = parse_verifier_key(GO_ENOCH_VKEY)
    assert (peter_name, enoch_name) == ("PeterNeumann", "EnochRoot")
    both = GO_TEXT + "\n" + GO_PETER_SIG + GO_ENOCH_SIG
    assert open_note(both, peter, "PeterNeumann") == GO_TEXT
    assert open_note(both, enoch, "EnochRoot") == GO_TEXT
    text, sigs = split_note(both)
    assert text == GO_TEXT
    assert [(s.key_name, s.key_hash) for s in sigs] == [
        ("PeterNeumann", 0xC74F20A3),
        ("EnochRoot", 0xAF0CFE78),
    ]
    # Invalid signature by a known key rejects the note.
    bad = GO_TEXT + "\n" + GO_PETER_SIG[:60] + "ABCD" + GO_PETER_SIG[60:]
    with pytest.raises(IntegrityError, match="invalid signature"):
        open_note(bad, peter, "PeterNeumann")
    # Only signatures by unknown keys.
    with pytest.raises(IntegrityError, match="no signature"):
        open_note(GO_TEXT + "\n" + GO_ENOCH_SIG, peter, "PeterNeumann")
    # Too many signatures.
    with pytest.raises(IntegrityError, match="malformed"):
        split_note(GO_TEXT + "\n" + GO_PETER_SIG * 101)


@pytest.mark.parametrize(
    "note",
    [
        GO_TEXT,
        GO_TEXT + "\n",
        GO_TEXT + "\n" + GO_PETER_SIG[:-1],
        "\x01" + GO_TEXT + "\n" + GO_PETER_SIG,
        (b"\xff" + (GO_TEXT + "\n" + GO_PETER_SIG).encode()),
        GO_TEXT
        + "\n"
        + "— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXg"
        "KvqfqdngotpRZb6KE6RyyBwJnAM=",
        GO_TEXT + "\n" + GO_PETER_SIG + "Unexpected line.\n",
    ],
)
def test_go_malformed_notes(note: str | bytes) -> None:
    with pytest.raises(IntegrityError, match="malformed"):
        split_note(note)


def test_go_verifier_key_manglings_are_refused() -> None:
    parse_verifier_key(GO_PETER_VKEY)
    b = GO_PETER_VKEY
    refused = 0
    for i in range(len(b) + 1):
        for j in range(i + 1, len(b) + 1):
            if i == 0 and j == len(b):
                continue
            with pytest.raises(ValueError):
                parse_verifier_key(b[i:j])
            refused += 1
    for i in range(len(b)):
        mangled = b[:i] + chr(ord(b[i]) + 1) + b[i + 1 :]
        with pytest.raises(ValueError):
            parse_verifier_key(mangled)
    # Wrong length key and unknown algorithm, each with an adjusted key hash (Go's cases).
    for bad in [
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ]:
        with pytest.raises(ValueError):
            parse_verifier_key(bad)
    assert refused > 1000
