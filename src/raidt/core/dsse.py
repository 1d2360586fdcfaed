"""DSSE envelopes (Dead Simple Signing Envelope) signed with Ed25519.

A pack's attestation is a DSSE envelope so that any DSSE implementation (sigstore,
in-toto, ``securesystemslib``) can check it without RAIDT. The signature covers the
Pre-Authentication Encoding ``"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body``, never
the JSON around it, so re-serialising the envelope cannot change what was signed. The
key id is the hex SHA-256 of the raw 32-byte public key: stable, and computable by anyone
who holds ``signer.pub.pem``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from raidt.errors import IntegrityError

__all__ = [
    "IN_TOTO_PAYLOAD_TYPE",
    "Envelope",
    "Signature",
    "keyid",
    "load_public_key_pem",
    "pae",
    "public_key_pem",
    "sign_envelope",
    "verify_envelope",
]

IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 Pre-Authentication Encoding (LEN is the decimal *byte* length)."""
    t = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(t), t, len(payload), payload)


def keyid(public_key: Ed25519PublicKey) -> str:
    """Hex SHA-256 of the raw public key bytes."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def public_key_pem(public_key: Ed25519PublicKey) -> bytes:
    """SubjectPublicKeyInfo PEM, the form ``openssl`` and every library read."""
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_public_key_pem(data: bytes, *, source: str = "public key") -> Ed25519PublicKey:
    """Read an Ed25519 public key from PEM; anything else is refused by name."""
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise IntegrityError(f"{source}: not a PEM public key ({exc})") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise IntegrityError(f"{source}: not an Ed25519 key ({type(key).__name__})")
    return key


@dataclass(frozen=True)
class Signature:
    """One DSSE signature: who (key id) and the raw signature bytes."""

    keyid: str
    sig: bytes


@dataclass(frozen=True)
class Envelope:
    """A DSSE envelope with its payload already base64-decoded."""

    payload: bytes
    payload_type: str
    signatures: tuple[Signature, ...]

    def to_json(self) -> dict[str, Any]:
        """The standard JSON form (standard base64 with padding, as the spec writes it)."""
        return {
            "payload": base64.b64encode(self.payload).decode("ascii"),
            "payloadType": self.payload_type,
            "signatures": [
                {"keyid": s.keyid, "sig": base64.b64encode(s.sig).decode("ascii")}
                for s in self.signatures
            ],
        }

    @classmethod
    def from_json(cls, data: Any) -> Envelope:
        """Parse the JSON form strictly; a malformed envelope raises IntegrityError."""
        if not isinstance(data, Mapping):
            raise IntegrityError("DSSE envelope is not a JSON object")
        extra = set(data) - {"payload", "payloadType", "signatures"}
        if extra:
            raise IntegrityError(f"DSSE envelope has unknown fields: {sorted(extra)}")
        payload_type = data.get("payloadType")
        if not isinstance(payload_type, str) or not payload_type:
            raise IntegrityError("DSSE envelope: 'payloadType' missing or not a string")
        payload = _b64(data.get("payload"), "payload")
        sigs = data.get("signatures")
        if not isinstance(sigs, list) or not sigs:
            raise IntegrityError("DSSE envelope: 'signatures' must be a non-empty list")
        parsed: list[Signature] = []
        for i, s in enumerate(sigs):
            if not isinstance(s, Mapping) or set(s) - {"keyid", "sig"}:
                raise IntegrityError(f"DSSE envelope: signature {i} is malformed")
            kid = s.get("keyid", "")
            if not isinstance(kid, str):
                raise IntegrityError(f"DSSE envelope: signature {i} 'keyid' is not a string")
            parsed.append(Signature(keyid=kid, sig=_b64(s.get("sig"), f"signatures[{i}].sig")))
        return cls(payload=payload, payload_type=payload_type, signatures=tuple(parsed))


def _b64(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise IntegrityError(f"DSSE envelope: '{what}' missing or not a string")
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise IntegrityError(f"DSSE envelope: '{what}' is not valid base64") from exc
    # one text per byte string: unused low bits or missing padding would let the file
    # change without the signed bytes changing
    if base64.b64encode(raw).decode("ascii") != value:
        raise IntegrityError(f"DSSE envelope: '{what}' is not canonical base64")
    return raw


def sign_envelope(
    payload: bytes, private_key: Ed25519PrivateKey, payload_type: str = IN_TOTO_PAYLOAD_TYPE
) -> Envelope:
    """Sign ``payload`` (over its PAE) and wrap it in an envelope."""
    sig = private_key.sign(pae(payload_type, payload))
    return Envelope(
        payload=payload,
        payload_type=payload_type,
        signatures=(Signature(keyid=keyid(private_key.public_key()), sig=sig),),
    )


def verify_envelope(
    envelope: Envelope,
    public_keys: Sequence[Ed25519PublicKey],
    *,
    payload_type: str | None = IN_TOTO_PAYLOAD_TYPE,
) -> str:
    """Check that one of ``public_keys`` signed the envelope; return the key id that did.

    Signatures whose key id names a key we were not given are skipped (DSSE allows
    several signers); a signature by a trusted key id that does not verify is a failure,
    not something to skip past.

    Raises:
        IntegrityError: no trusted key produced a valid signature, or the payload type
            differs from the one expected.
    """
    if payload_type is not None and envelope.payload_type != payload_type:
        raise IntegrityError(
            f"DSSE payloadType is {envelope.payload_type!r}, expected {payload_type!r}"
        )
    if not public_keys:
        raise IntegrityError("no public key to verify the DSSE envelope against")
    trusted = {keyid(k): k for k in public_keys}
    message = pae(envelope.payload_type, envelope.payload)
    for s in envelope.signatures:
        key = trusted.get(s.keyid)
        if key is None:
            continue
        try:
            key.verify(s.sig, message)
        except InvalidSignature as exc:
            raise IntegrityError(f"DSSE signature by key {s.keyid[:16]}… does not verify") from exc
        return s.keyid
    names = ", ".join(k[:16] + "…" for k in trusted)
    raise IntegrityError(f"DSSE envelope carries no signature by the trusted key ({names})")
