"""Governance documents as ledger leaves: the judge's inputs are evidence too.

A run's score is only worth something if the policy, rubric, prompt templates and actor
directory it was judged against are exactly what was stored when it was judged. Each
stored version (and each actor directory entry) therefore becomes a leaf of the same
Merkle tree as the events, of a distinct kind so it can never be mistaken for an event:

    leaf bytes = RFC 8785 canonical JSON of
        {"kind": "document", "type": TYPE, "id": ID, "version": VERSION,
         "sha256": SHA-256 of the stored text (hex), "content_hash": the stored content
         hash (hex), "added_at": the stored addition time}
    leaf hash  = SHA-256(0x00 || leaf bytes)            (RFC 6962, as for events)

``raidt verify`` recomputes ``sha256`` from the stored text and the leaf hash from the
stored row, so lowering a rubric threshold in the database, or back-dating a policy
version, is caught and named. An event leaf never has a ``kind`` key, so the two kinds of
leaf bytes cannot collide.
"""

from __future__ import annotations

import hashlib

from raidt.core.canonical import canonical_json
from raidt.core.merkle import leaf_hash

__all__ = ["DOCUMENT_TYPES", "document_leaf_bytes", "document_leaf_hash", "text_sha256"]

#: The kinds of governance document RAIDT keeps in the ledger (``type`` of a leaf).
DOCUMENT_TYPES = ("policy", "template", "rubric", "actor")


def text_sha256(text: str) -> str:
    """SHA-256 (hex) of a stored document's text, as UTF-8 bytes."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def document_leaf_bytes(
    doc_type: str, doc_id: str, version: str, sha256: str, content_hash: str, added_at: str
) -> bytes:
    """The canonical leaf bytes of one stored document version (see module docstring).

    Raises:
        ValueError: ``doc_type`` is empty.
    """
    if not doc_type:
        raise ValueError("a document leaf needs a type")
    return canonical_json(
        {
            "kind": "document",
            "type": doc_type,
            "id": doc_id,
            "version": version,
            "sha256": sha256,
            "content_hash": content_hash,
            "added_at": added_at,
        }
    )


def document_leaf_hash(
    doc_type: str, doc_id: str, version: str, sha256: str, content_hash: str, added_at: str
) -> bytes:
    """RFC 6962 leaf hash of :func:`document_leaf_bytes`."""
    return leaf_hash(document_leaf_bytes(doc_type, doc_id, version, sha256, content_hash, added_at))
