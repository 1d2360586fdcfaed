"""DSSE envelopes: our code against the spec's PAE and an independent implementation."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from securesystemslib.dsse import Envelope as SslEnvelope
from securesystemslib.exceptions import VerificationError
from securesystemslib.signer import CryptoSigner, SSlibKey

from raidt.core.dsse import (
    IN_TOTO_PAYLOAD_TYPE,
    Envelope,
    keyid,
    load_public_key_pem,
    pae,
    public_key_pem,
    sign_envelope,
    verify_envelope,
)
from raidt.errors import IntegrityError

PAYLOAD = b'{"_type":"https://in-toto.io/Statement/v1","x":"\xc3\xa9"}'


def test_pae_matches_the_specification_example() -> None:
    # the worked example of the DSSE protocol document
    assert pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_pae_counts_bytes_not_characters() -> None:
    assert pae("t/é", b"\xc3\xa9") == b"DSSEv1 4 t/\xc3\xa9 2 \xc3\xa9"


def test_round_trip_through_json() -> None:
    key = Ed25519PrivateKey.generate()
    env = sign_envelope(PAYLOAD, key)
    again = Envelope.from_json(json.loads(json.dumps(env.to_json())))
    assert again == env
    assert verify_envelope(again, [key.public_key()]) == keyid(key.public_key())


def test_securesystemslib_verifies_our_envelope() -> None:
    key = Ed25519PrivateKey.generate()
    env = sign_envelope(PAYLOAD, key)
    theirs = SslEnvelope.from_dict(env.to_json())
    ssl_key = SSlibKey.from_crypto(key.public_key(), keyid=keyid(key.public_key()))
    verified = theirs.verify([ssl_key], 1)
    assert set(verified) == {keyid(key.public_key())}
    assert theirs.payload == PAYLOAD


def test_securesystemslib_rejects_our_envelope_when_payload_changes() -> None:
    key = Ed25519PrivateKey.generate()
    data = sign_envelope(PAYLOAD, key).to_json()
    data["payload"] = base64.b64encode(PAYLOAD + b" ").decode()
    ssl_key = SSlibKey.from_crypto(key.public_key(), keyid=keyid(key.public_key()))
    with pytest.raises(VerificationError):
        SslEnvelope.from_dict(data).verify([ssl_key], 1)


def test_we_verify_an_envelope_signed_by_securesystemslib() -> None:
    key = Ed25519PrivateKey.generate()
    signer = CryptoSigner(
        key, SSlibKey.from_crypto(key.public_key(), keyid=keyid(key.public_key()))
    )
    theirs = SslEnvelope(PAYLOAD, IN_TOTO_PAYLOAD_TYPE, {})
    theirs.sign(signer)
    ours = Envelope.from_json(theirs.to_dict())
    assert verify_envelope(ours, [key.public_key()]) == keyid(key.public_key())


@pytest.mark.parametrize("field", ["payload", "payloadType", "sig"])
def test_any_change_breaks_the_signature(field: str) -> None:
    key = Ed25519PrivateKey.generate()
    data = sign_envelope(PAYLOAD, key).to_json()
    if field == "payload":
        data["payload"] = base64.b64encode(PAYLOAD.replace(b"x", b"y")).decode()
    elif field == "payloadType":
        data["payloadType"] = "application/json"
    else:
        raw = bytearray(base64.b64decode(data["signatures"][0]["sig"]))
        raw[0] ^= 1
        data["signatures"][0]["sig"] = base64.b64encode(bytes(raw)).decode()
    with pytest.raises(IntegrityError):
        verify_envelope(Envelope.from_json(data), [key.public_key()], payload_type=None)


def test_another_key_is_refused_with_its_reason() -> None:
    env = sign_envelope(PAYLOAD, Ed25519PrivateKey.generate())
    with pytest.raises(IntegrityError, match="no signature by the trusted key"):
        verify_envelope(env, [Ed25519PrivateKey.generate().public_key()])


def test_a_forged_signature_under_the_trusted_keyid_fails() -> None:
    real, forger = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    forged = sign_envelope(PAYLOAD, forger)
    data = forged.to_json()
    data["signatures"][0]["keyid"] = keyid(real.public_key())
    with pytest.raises(IntegrityError, match="does not verify"):
        verify_envelope(Envelope.from_json(data), [real.public_key()])


def test_unexpected_payload_type_is_refused() -> None:
    key = Ed25519PrivateKey.generate()
    env = sign_envelope(PAYLOAD, key, payload_type="text/plain")
    with pytest.raises(IntegrityError, match="payloadType"):
        verify_envelope(env, [key.public_key()])


@pytest.mark.parametrize(
    "data",
    [
        [],
        {"payload": "!!", "payloadType": "t", "signatures": [{"keyid": "", "sig": ""}]},
        {"payload": "", "payloadType": "t", "signatures": []},
        {"payload": "", "payloadType": "", "signatures": [{"keyid": "", "sig": ""}]},
        {"payload": "", "payloadType": "t", "signatures": [{"sig": 1}]},
        {"payload": "", "payloadType": "t", "signatures": [{"keyid": "", "sig": ""}], "x": 1},
    ],
)
def test_malformed_envelopes_are_refused(data: object) -> None:
    with pytest.raises(IntegrityError):
        Envelope.from_json(data)


def test_keyid_is_sha256_of_the_raw_key_and_pem_round_trips() -> None:
    import hashlib

    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    pub = Ed25519PrivateKey.generate().public_key()
    raw = pub.public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert keyid(pub) == hashlib.sha256(raw).hexdigest()
    assert keyid(load_public_key_pem(public_key_pem(pub))) == keyid(pub)


def test_a_non_ed25519_key_is_refused_by_name() -> None:
    from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    pem = (
        generate_private_key(SECP256R1())
        .public_key()
        .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(IntegrityError, match="not an Ed25519 key"):
        load_public_key_pem(pem, source="k.pem")
    with pytest.raises(IntegrityError, match="not a PEM public key"):
        load_public_key_pem(b"garbage", source="k.pem")


def test_non_canonical_base64_is_refused() -> None:
    # "QQ==" and "QR==" both decode to b"A": only the canonical text is accepted
    key = Ed25519PrivateKey.generate()
    data = sign_envelope(b"A", key).to_json()
    assert data["payload"] == "QQ=="
    data["payload"] = "QR=="
    with pytest.raises(IntegrityError, match="canonical base64"):
        Envelope.from_json(data)
