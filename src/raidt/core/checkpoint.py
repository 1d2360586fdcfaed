"""Signed tree heads as C2SP ``tlog-checkpoint`` signed notes, signed with Ed25519.

A checkpoint commits to the ledger at one size: ``origin``, tree size and root hash. It is
written in the signed-note format (c2sp.org/signed-note, Go's ``golang.org/x/mod/sumdb/note``)
so that witnesses and other transparency-log tools read RAIDT's tree heads as they are::

    raidt.local/3f2a9c01d4e5b6a7
    1042
    CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=

    — raidt.local/3f2a9c01d4e5b6a7 Az3grlgt...base64(key ID || Ed25519 signature)...

The key ID is ``SHA-256(key name || 0x0A || 0x01 || public key)[:4]``. Parsing is strict
(one reading per byte string, as in Go's implementation) because a lax parser is how two
tools come to disagree about what was signed. Signatures come from the ``cryptography``
package; nothing here implements cryptography itself.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from typing import NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from raidt.errors import IntegrityError

__all__ = [
    "ALG_ED25519",
    "MAX_SIGNATURES",
    "Checkpoint",
    "NoteSignature",
    "key_hash",
    "open_note",
    "parse_checkpoint",
    "parse_note",
    "parse_verifier_key",
    "sign_note",
    "sign_text",
    "split_note",
    "verifier_key",
    "verify_note",
]

#: Signature type byte of Ed25519 in signed notes.
ALG_ED25519 = 0x01
#: Go's limit; C2SP requires accepting at least 16.
MAX_SIGNATURES = 100
_DASH = "\u2014 "
_HASH_SIZE = 32
_SIZE_RE = re.compile(r"0|[1-9][0-9]*")


def _b64decode_strict(text: str) -> bytes:
    """Standard base64 with padding; refuses anything that would not re-encode identically."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise ValueError(f"not base64: {text[:40]!r}") from exc
    if base64.b64encode(raw).decode("ascii") != text:
        raise ValueError(f"non-canonical base64: {text[:40]!r}")
    return raw


def _check_key_name(name: str) -> None:
    if not name or any(c.isspace() or c == "+" for c in name):
        raise ValueError(f"key name {name!r} is empty or contains a space or '+'")


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_hash(key_name: str, public_key: Ed25519PublicKey) -> int:
    """The signed-note key ID: first 4 bytes (big-endian) of SHA-256(name, LF, 0x01, key)."""
    digest = hashlib.sha256(
        key_name.encode() + b"\n" + bytes([ALG_ED25519]) + _raw_public(public_key)
    ).digest()
    return int.from_bytes(digest[:4], "big")


@dataclass(frozen=True)
class Checkpoint:
    """A tree head: which log, how many leaves, and the RFC 6962 root at that size.

    Attributes:
        origin: The log's identity (first line); RAIDT uses its signing key name.
        tree_size: Number of leaves.
        root_hash: The 32-byte Merkle tree hash at ``tree_size``.
        extensions: Optional extra lines (C2SP allows them; RAIDT writes none).
    """

    origin: str
    tree_size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin:
            raise ValueError("checkpoint origin must be one non-empty line")
        if self.tree_size < 0:
            raise ValueError("checkpoint tree size cannot be negative")
        if len(self.root_hash) != _HASH_SIZE:
            raise ValueError(f"checkpoint root hash must be {_HASH_SIZE} bytes")
        if any(not x or "\n" in x for x in self.extensions):
            raise ValueError("checkpoint extension lines must be non-empty single lines")

    def text(self) -> str:
        """The note text that is signed (three lines, each ending in a newline)."""
        root = base64.b64encode(self.root_hash).decode("ascii")
        lines = [self.origin, str(self.tree_size), root, *self.extensions]
        return "".join(f"{line}\n" for line in lines)

    def body(self) -> bytes:
        """The signed bytes: :meth:`text` in UTF-8."""
        return self.text().encode("utf-8")


class NoteSignature(NamedTuple):
    """One signature line of a note, not yet verified."""

    key_name: str
    key_hash: int
    signature: bytes


def _malformed(why: str) -> IntegrityError:
    return IntegrityError(f"malformed signed note: {why}")


def split_note(note: str | bytes) -> tuple[str, list[NoteSignature]]:
    """Split a signed note into its text and signature lines, checking the syntax only.

    Raises:
        IntegrityError: The note breaks the signed-note grammar.
    """
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _malformed("not UTF-8") from exc
    if any(c < " " and c != "\n" for c in note):
        raise _malformed("contains a control character")
    split = note.rfind("\n\n")
    if split < 0:
        raise _malformed("no blank line before the signatures")
    text, sig_block = note[: split + 1], note[split + 2 :]
    if not sig_block.endswith("\n"):
        raise _malformed("no signature lines, or the last one lacks its newline")
    lines = sig_block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise _malformed(f"more than {MAX_SIGNATURES} signatures")
    sigs: list[NoteSignature] = []
    for n, line in enumerate(lines, 1):
        if not line.startswith(_DASH):
            raise _malformed(f"signature line {n} does not start with an em dash and a space")
        name, sep, b64 = line[len(_DASH) :].partition(" ")
        try:
            _check_key_name(name)
            if not sep:
                raise ValueError("no signature after the key name")
            raw = _b64decode_strict(b64)
        except ValueError as exc:
            raise _malformed(f"signature line {n}: {exc}") from exc
        if len(raw) < 5:
            raise _malformed(f"signature line {n} is too short")
        sigs.append(NoteSignature(name, int.from_bytes(raw[:4], "big"), raw[4:]))
    return text, sigs


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse note text as a ``tlog-checkpoint`` body.

    Raises:
        IntegrityError: Fewer than three lines, a bad size or root hash, or an empty line.
    """
    if not text.endswith("\n"):
        raise IntegrityError("malformed checkpoint: the text must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise IntegrityError("malformed checkpoint: needs origin, tree size and root hash")
    origin, size, root, *ext = lines
    if not origin:
        raise IntegrityError("malformed checkpoint: empty origin")
    if not _SIZE_RE.fullmatch(size):
        raise IntegrityError(f"malformed checkpoint: tree size {size[:40]!r} is not decimal")
    try:
        root_hash = _b64decode_strict(root)
    except ValueError as exc:
        raise IntegrityError(f"malformed checkpoint: root hash: {exc}") from exc
    if len(root_hash) != _HASH_SIZE:
        raise IntegrityError(f"malformed checkpoint: root hash is not {_HASH_SIZE} bytes")
    if any(not x for x in ext):
        raise IntegrityError("malformed checkpoint: empty extension line")
    return Checkpoint(origin, int(size), root_hash, tuple(ext))


def parse_note(note: str | bytes) -> tuple[Checkpoint, list[NoteSignature]]:
    """Parse a signed checkpoint without verifying it (to show it, or to pick a key).

    Raises:
        IntegrityError: The note or its checkpoint body is malformed.
    """
    text, sigs = split_note(note)
    return parse_checkpoint(text), sigs


def sign_text(text: str, private_key: Ed25519PrivateKey, key_name: str) -> str:
    """Sign arbitrary note text (must end in a newline) and return the signed note."""
    _check_key_name(key_name)
    if not text.endswith("\n") or "\n\n" in text or any(c < " " and c != "\n" for c in text):
        raise ValueError("note text must be non-empty lines, each ending in a newline")
    kh = key_hash(key_name, private_key.public_key())
    sig = private_key.sign(text.encode("utf-8"))
    b64 = base64.b64encode(kh.to_bytes(4, "big") + sig).decode("ascii")
    return f"{text}\n{_DASH}{key_name} {b64}\n"


def sign_note(checkpoint: Checkpoint, private_key: Ed25519PrivateKey, key_name: str) -> str:
    """Sign a checkpoint; the result is the text RAIDT stores and hands to witnesses."""
    return sign_text(checkpoint.text(), private_key, key_name)


def open_note(note: str | bytes, public_key: Ed25519PublicKey, key_name: str) -> str:
    """Return the text of a note after checking its signature by ``(key_name, public_key)``.

    Signatures by other keys are ignored, as the signed-note specification requires; a
    signature that claims to be by this key but does not verify rejects the whole note.

    Raises:
        IntegrityError: Malformed note, a bad signature by this key, or none at all.
    """
    text, sigs = split_note(note)
    want = key_hash(key_name, public_key)
    found = False
    for sig in sigs:
        if sig.key_name != key_name or sig.key_hash != want:
            continue
        try:
            public_key.verify(sig.signature, text.encode("utf-8"))
        except InvalidSignature as exc:
            raise IntegrityError(
                f"invalid signature for key {key_name}+{want:08x}: the note was altered "
                "or signed by another key"
            ) from exc
        found = True
    if not found:
        raise IntegrityError(f"note has no signature by key {key_name}+{want:08x}")
    return text


def verify_note(
    note: str | bytes,
    public_key: Ed25519PublicKey,
    key_name: str,
    *,
    origin: str | None = None,
) -> Checkpoint:
    """Verify a signed checkpoint and return it.

    Args:
        note: The signed note.
        public_key: The log's Ed25519 public key.
        key_name: The key name in the signature line (RAIDT: the origin).
        origin: When given, the checkpoint must name this log.

    Raises:
        IntegrityError: Malformed, unsigned by that key, badly signed, or another origin.
    """
    checkpoint = parse_checkpoint(open_note(note, public_key, key_name))
    if origin is not None and checkpoint.origin != origin:
        raise IntegrityError(f"checkpoint is for log {checkpoint.origin!r}, expected {origin!r}")
    return checkpoint


def verifier_key(key_name: str, public_key: Ed25519PublicKey) -> str:
    """The ``name+hexkeyhash+base64(0x01||key)`` string a witness configures to trust us."""
    _check_key_name(key_name)
    raw = bytes([ALG_ED25519]) + _raw_public(public_key)
    return f"{key_name}+{key_hash(key_name, public_key):08x}+{base64.b64encode(raw).decode()}"


def parse_verifier_key(vkey: str) -> tuple[str, Ed25519PublicKey]:
    """Parse a verifier key string into its name and Ed25519 public key.

    Raises:
        ValueError: Wrong shape, unknown algorithm, wrong key length or key hash.
    """
    name, sep1, rest = vkey.partition("+")
    hash_hex, sep2, b64 = rest.partition("+")
    if not (sep1 and sep2) or not re.fullmatch(r"[0-9a-f]{8}", hash_hex):
        raise ValueError("verifier key must be name+hexkeyhash+base64key")
    _check_key_name(name)
    raw = _b64decode_strict(b64)
    if len(raw) != 33 or raw[0] != ALG_ED25519:
        raise ValueError("verifier key is not a 32-byte Ed25519 key")
    public_key = Ed25519PublicKey.from_public_bytes(raw[1:])
    if key_hash(name, public_key) != int(hash_hex, 16):
        raise ValueError("verifier key hash does not match its name and key")
    return name, public_key
