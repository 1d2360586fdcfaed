"""in-toto Statement v1: what a pack's signature vouches for.

The statement lists every other file of the pack as a subject with its SHA-256, so the one
DSSE signature over it covers every byte of the pack; the predicate summarises the run, its
readiness and the checkpoint its events are proven against, so a reader of the attestation
alone learns what was signed without opening the other files. Serialised as RFC 8785
canonical JSON, which makes the signed bytes reproducible.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from raidt.core.canonical import canonical_json, from_json
from raidt.errors import IntegrityError

__all__ = [
    "PERIOD_PREDICATE_TYPE",
    "PREDICATE_TYPE",
    "STATEMENT_TYPE",
    "Statement",
    "build_statement",
    "parse_statement",
]

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://raidt.dev/evidence-pack/v1"
PERIOD_PREDICATE_TYPE = "https://raidt.dev/audit-period/v1"

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Statement:
    """A parsed statement: subjects as ``name -> sha256 hex`` plus the predicate."""

    subjects: dict[str, str]
    predicate_type: str
    predicate: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "_type": STATEMENT_TYPE,
            "subject": [
                {"name": name, "digest": {"sha256": digest}}
                for name, digest in sorted(self.subjects.items())
            ],
            "predicateType": self.predicate_type,
            "predicate": self.predicate,
        }

    def to_bytes(self) -> bytes:
        """The canonical bytes that go into the DSSE payload."""
        return canonical_json(self.to_json())


def build_statement(
    subjects: Mapping[str, str],
    predicate: Mapping[str, Any],
    predicate_type: str = PREDICATE_TYPE,
) -> Statement:
    """Make a statement; refuses empty subjects/predicate and non-hex digests early."""
    if not subjects:
        raise ValueError("an in-toto statement needs at least one subject")
    if not predicate:
        raise ValueError("an in-toto statement needs a non-empty predicate")
    for name, digest in subjects.items():
        if not _HEX64.match(digest):
            raise ValueError(f"subject {name!r}: sha256 digest must be 64 lower-case hex")
    return Statement(dict(subjects), predicate_type, dict(predicate))


def parse_statement(payload: bytes, *, predicate_type: str | None = None) -> Statement:
    """Read a statement from a DSSE payload, checking the v1 shape.

    Raises:
        IntegrityError: not JSON, wrong ``_type``, duplicated or digest-less subjects,
            missing predicate, or (when given) another predicate type.
    """
    try:
        data = from_json(payload)
    except ValueError as exc:
        raise IntegrityError(f"statement is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise IntegrityError("statement is not a JSON object")
    if data.get("_type") != STATEMENT_TYPE:
        raise IntegrityError(f"statement _type is {data.get('_type')!r}, not {STATEMENT_TYPE}")
    ptype = data.get("predicateType")
    if not isinstance(ptype, str) or not ptype:
        raise IntegrityError("statement has no predicateType")
    if predicate_type is not None and ptype != predicate_type:
        raise IntegrityError(f"statement predicateType is {ptype!r}, expected {predicate_type}")
    predicate = data.get("predicate")
    if not isinstance(predicate, dict) or not predicate:
        raise IntegrityError("statement has no predicate object")
    raw = data.get("subject")
    if not isinstance(raw, list) or not raw:
        raise IntegrityError("statement has no subjects")
    subjects: dict[str, str] = {}
    for i, s in enumerate(raw):
        if not isinstance(s, dict) or not isinstance(s.get("name"), str):
            raise IntegrityError(f"statement subject {i} has no name")
        digest = s.get("digest")
        sha = digest.get("sha256") if isinstance(digest, dict) else None
        if not isinstance(sha, str) or not _HEX64.match(sha):
            raise IntegrityError(f"statement subject {s['name']!r} has no sha256 digest")
        if s["name"] in subjects:
            raise IntegrityError(f"statement lists subject {s['name']!r} twice")
        subjects[s["name"]] = sha
    return Statement(subjects, ptype, predicate)
