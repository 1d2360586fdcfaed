"""Shared builders for pack tests: a store with real runs, and pack re-signing."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from raidt.core import packformat as pf
from raidt.core.attestation import build_statement
from raidt.core.canonical import from_json
from raidt.core.dsse import sign_envelope
from raidt.core.events import ActorRef, EventIn, EventType, Role
from raidt.services.app import App
from raidt.services.packs import GENERATOR, pretty_json
from raidt.services.packzip import read_zip, zip_bytes
from raidt.services.policies import install_presets
from raidt.services.scoring import install_default_rubric
from tests.core._chain import STEPS, T0


def run_events(run_id: str, start_minutes: float = 0, **started: Any) -> list[EventIn]:
    """A reviewed, edited, signed-off discharge-summary run as submitted events."""
    out = []
    for i, (etype, actor, role, payload) in enumerate(STEPS):
        p = dict(payload)
        if etype == "run.started":
            p.update(started)
        out.append(
            EventIn(
                run_id=run_id,
                type=EventType(etype),
                at=T0 + timedelta(minutes=start_minutes + 3 * i),
                actor=ActorRef(id=actor, role=Role(role)),
                payload=p,
            )
        )
    return out


def open_store(home: Path, db_url: str | None = None) -> App:
    app = App.open(home=home, database_url=db_url)
    install_presets(app)
    install_default_rubric(app)
    return app


def files_of(pack: bytes) -> dict[str, bytes]:
    return dict(read_zip(pack).files)


def rezip(files: dict[str, bytes], order: list[str] | None = None) -> bytes:
    names = order or [n for n in pf.PACK_FILES if n in files] + sorted(
        n for n in files if n not in pf.PACK_FILES
    )
    return zip_bytes((n, files[n]) for n in names)


def raw_zip(members: list[tuple[str, bytes]]) -> bytes:
    """A zip that may hold duplicate names (zipfile warns; the warning is expected)."""
    import warnings

    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with zipfile.ZipFile(buf, "w") as zf:
            for name, data in members:
                zf.writestr(name, data)
    return buf.getvalue()


def resign(files: dict[str, bytes], key: Ed25519PrivateKey) -> dict[str, bytes]:
    """Re-issue manifest and attestation over altered files, as an insider holding the
    signing key could: what is left to catch tampering are the recomputation checks."""
    out = dict(files)
    run_id = from_json(out[pf.RUN])["run_id"]
    out[pf.MANIFEST] = pf.build_manifest(out, generator=GENERATOR, run_id=run_id)
    old = from_json(sign_envelope_payload(out[pf.ATTESTATION]))
    statement = build_statement(
        {n: pf.file_sha256(out[n]) for n in pf.PACK_FILES if n != pf.ATTESTATION}, old["predicate"]
    )
    out[pf.ATTESTATION] = pretty_json(sign_envelope(statement.to_bytes(), key).to_json())
    return out


def sign_envelope_payload(attestation: bytes) -> bytes:
    import base64

    return base64.b64decode(from_json(attestation)["payload"])
