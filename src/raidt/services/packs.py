"""Build and verify evidence packs: one signed zip per run that an outsider checks offline.

Building gathers the run's events, the policy and rubric versions that judged it, the
score, RFC 6962 inclusion proofs against a signed checkpoint (a fresh one when the latest
does not yet cover the run), the PROV document and the report, then signs an in-toto
statement over every file. Verifying needs nothing but the zip (and, ideally, the
organisation's public key handed over separately): no database, no RAIDT_HOME.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from raidt import __version__
from raidt.core import packformat as pf
from raidt.core.actors import ActorDirectory, directory_view, named_actor_ids
from raidt.core.attestation import build_statement
from raidt.core.canonical import canonical_json
from raidt.core.checkpoint import Checkpoint, parse_note
from raidt.core.dsse import keyid, public_key_pem, sign_envelope
from raidt.core.events import Event
from raidt.core.hashing import leaf_bytes
from raidt.core.merkle import leaf_hash
from raidt.core.policy import Policy
from raidt.core.projection import project
from raidt.core.prov import build_prov
from raidt.core.rubric import Rubric
from raidt.errors import PackError
from raidt.services.packzip import (
    PACK_LIMITS,
    ZipLimits,
    ZipReader,
    open_regular,
    read_capped,
    zip_bytes,
)
from raidt.services.reports import RunReport, render_run_report

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

    from raidt.services.app import App
    from raidt.services.scoring import ScoreInputs, ScoringService

__all__ = [
    "GENERATOR",
    "PackService",
    "RunBundle",
    "assemble_files",
    "bundle_state",
    "check_pack",
    "content_files",
    "ledger_proof_json",
    "pretty_json",
    "read_key_file",
    "verify_pack_file",
    "verify_pack_view",
]

GENERATOR = f"raidt {__version__}"


def pretty_json(value: Any) -> bytes:
    """Readable, deterministic JSON for pack files a person may open (sorted, indented)."""
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


@dataclass(frozen=True)
class RunBundle:
    """What a pack of one run is made from (everything already read from the store)."""

    run_id: str
    events: Sequence[Event]
    policy: Policy | None
    policy_text: str | None
    rubric: Rubric
    rubric_text: str
    actors: ActorDirectory
    score: dict[str, Any]


def ledger_proof_json(
    events: Sequence[Event], cp: Checkpoint, note: str, audit_paths: Sequence[Sequence[bytes]]
) -> dict[str, Any]:
    """``ledger-proof.json``: the signed checkpoint and one inclusion proof per event."""
    proofs = []
    for e, path in zip(events, audit_paths, strict=True):
        proofs.append(
            {
                "event_id": e.id,
                "leaf_index": e.seq,
                "tree_size": cp.tree_size,
                "leaf_hash": leaf_hash(leaf_bytes(e.body(), e.hash)).hex(),
                "audit_path": [h.hex() for h in path],
            }
        )
    return {
        "format": "RFC 6962 / RFC 9162 inclusion proofs, SHA-256",
        "leaf": "SHA-256(0x00 || RFC 8785 canonical JSON of the event without 'seq')",
        "checkpoint": note,
        "origin": cp.origin,
        "tree_size": cp.tree_size,
        "root_hash": base64.b64encode(cp.root_hash).decode("ascii"),
        "proofs": proofs,
    }


def _predicate(
    bundle: RunBundle, state: dict[str, Any], cp: Checkpoint, note: str
) -> dict[str, Any]:
    events = bundle.events
    return {
        "format": pf.PACK_FORMAT,
        "builder": {"id": "https://raidt.dev/raidt", "version": __version__},
        "run": {
            k if k != "run_id" else "id": state.get(k)
            for k in (
                "run_id",
                "use_case",
                "team",
                "status",
                "risk_level",
                "disposition",
                "initiator",
                "started_at",
                "closed_at",
            )
        },
        "readiness": bundle.score.get("readiness"),
        "pillars": bundle.score.get("pillars"),
        "policy": bundle.score.get("policy"),
        "rubric": bundle.score.get("rubric"),
        "events": {
            "count": len(events),
            "first_seq": events[0].seq,
            "last_seq": events[-1].seq,
            "head_hash": events[-1].hash,
        },
        "checkpoint": {
            "origin": cp.origin,
            "tree_size": cp.tree_size,
            "root_hash": base64.b64encode(cp.root_hash).decode("ascii"),
            "note": note,
        },
    }


def assemble_files(
    bundle: RunBundle,
    cp: Checkpoint,
    note: str,
    audit_paths: Sequence[Sequence[bytes]],
    key: Ed25519PrivateKey,
) -> dict[str, bytes]:
    """Every file of a pack, in memory, signed (pure: the store was read beforehand).

    Raises:
        PackError: the evidence would not verify (a pack that fails its own checks is
            never written).
    """
    files = content_files(bundle, cp, note, audit_paths, key.public_key())
    files[pf.MANIFEST] = pf.build_manifest(files, generator=GENERATOR, run_id=bundle.run_id)
    statement = build_statement(
        {n: pf.file_sha256(files[n]) for n in pf.PACK_FILES if n != pf.ATTESTATION},
        _predicate(bundle, bundle_state(bundle), cp, note),
    )
    files[pf.ATTESTATION] = pretty_json(sign_envelope(statement.to_bytes(), key).to_json())
    return files


def bundle_state(bundle: RunBundle) -> dict[str, Any]:
    """The run's projected state, as ``run.json`` and the attestation carry it."""
    return project(bundle.run_id, bundle.events).to_dict()


def content_files(
    bundle: RunBundle,
    cp: Checkpoint,
    note: str,
    audit_paths: Sequence[Sequence[bytes]],
    public_key: Ed25519PublicKey,
) -> dict[str, bytes]:
    """Every file of a pack but the manifest and the signed attestation, report included.

    Needs only the public key: ``raidt report`` renders the page from here without
    signing anything.

    Raises:
        PackError: the evidence would not verify.
    """
    events = bundle.events
    state = bundle_state(bundle)
    files: dict[str, bytes] = {}
    files[pf.RUN] = pretty_json(
        {
            "run_id": bundle.run_id,
            "state": state,
            "actors": directory_view(bundle.actors, named_actor_ids(events)),
            "policy": bundle.score.get("policy"),
            "rubric": bundle.score.get("rubric"),
        }
    )
    files[pf.EVENTS] = b"".join(canonical_json(e.to_json_dict()) + b"\n" for e in events)
    files[pf.POLICY] = (
        bundle.policy_text.encode("utf-8") if bundle.policy_text is not None else pf.NO_POLICY_YAML
    )
    files[pf.RUBRIC] = bundle.rubric_text.encode("utf-8")
    files[pf.SCORE] = pretty_json(bundle.score)
    files[pf.LEDGER_PROOF] = pretty_json(ledger_proof_json(events, cp, note, audit_paths))
    files[pf.PROV] = pretty_json(build_prov(events, builder=GENERATOR))
    files[pf.SIGNER_KEY] = public_key_pem(public_key)
    # the checks that need no signature run now, so the report states real results;
    # the manifest here is provisional (only its ``generator`` is read)
    provisional = pf.build_manifest(
        {**files, pf.REPORT: b""}, generator=GENERATOR, run_id=bundle.run_id
    )
    view = pf.PackView(files={**files, pf.MANIFEST: provisional}, names=())
    results = pf.verify_pack(
        view,
        [
            pf.EventChainCheck(),
            pf.RunCheck(),
            pf.LedgerProofCheck(),
            pf.ScoreCheck(),
            pf.ProvCheck(),
        ],
    )
    bad = [r for r in results if not r.ok]
    if bad:
        raise PackError(f"refusing to build a pack that does not verify: {bad[0].detail}")
    files[pf.REPORT] = render_run_report(
        RunReport(
            run={"run_id": bundle.run_id, "state": state},
            events=events,
            score=bundle.score,
            policy=bundle.score.get("policy") or {"id": "none", "version": "—", "sha256": "—"},
            rubric=bundle.score["rubric"],
            checkpoint={
                "origin": cp.origin,
                "tree_size": cp.tree_size,
                "root_hash": base64.b64encode(cp.root_hash).decode("ascii"),
            },
            checks=[(r.name, r.ok, r.detail) for r in results],
            key_id=keyid(public_key),
            generator=GENERATOR,
            titles={c.id: c.title for c in bundle.rubric.criteria},
        )
    ).encode("utf-8")
    return files


class PackService:
    """Build evidence packs from the store; verify packs from bytes alone."""

    def __init__(self, app: App) -> None:
        self.app = app
        self._scoring: ScoringService | None = None

    # --- gathering ---------------------------------------------------------------------

    def gather(self, run_id: str, events: Sequence[Event] | None = None) -> RunBundle:
        """Read everything a pack of ``run_id`` holds and score the run.

        Raises:
            NotFoundError: no run with that id.
        """
        return self.bundle_from(self.scoring.inputs_for(run_id, events))

    @staticmethod
    def bundle_from(inputs: ScoreInputs) -> RunBundle:
        """A bundle from recorded scoring inputs (scores the run)."""
        events = sorted(inputs.events, key=lambda e: e.seq)
        return RunBundle(
            run_id=inputs.run_id,
            events=events,
            policy=inputs.policy,
            policy_text=inputs.policy_text if inputs.policy is not None else None,
            rubric=inputs.rubric,
            rubric_text=inputs.rubric_text,
            actors=inputs.actors,
            score=inputs.score().to_json(),
        )

    @property
    def scoring(self) -> ScoringService:
        """One scoring service per pack service (it caches rubric, policies and actors)."""
        if self._scoring is None:
            from raidt.services.scoring import ScoringService

            self._scoring = ScoringService(self.app)
        return self._scoring

    def covering_checkpoint(self, min_size: int) -> tuple[Checkpoint, str]:
        """The latest checkpoint, signing a fresh one when it covers fewer leaves."""
        from raidt.store import checkpoints as cp_store

        with self.app.db.read() as conn:
            found = cp_store.latest(conn)
        if found is None or found[0].tree_size < min_size:
            note = self.app.checkpoint()
            cp, _ = parse_note(note)
            return cp, note
        return found

    # --- building ----------------------------------------------------------------------

    def build_files(self, bundle: RunBundle, cp: Checkpoint, note: str) -> dict[str, bytes]:
        """Every file of the pack, with inclusion proofs read from the ledger."""
        with self.app.db.read() as conn:
            paths = [
                self.app.ledger.inclusion_proof(conn, e.seq, cp.tree_size) for e in bundle.events
            ]
        return assemble_files(bundle, cp, note, paths, self.app.signing_key)

    def pack_bytes(
        self,
        run_id: str,
        events: Sequence[Event] | None = None,
        checkpoint: tuple[Checkpoint, str] | None = None,
    ) -> bytes:
        """The pack of ``run_id`` as zip bytes (deterministic for a given checkpoint)."""
        return self.build_pack(run_id, events, checkpoint)[0]

    def build_pack(
        self,
        run_id: str,
        events: Sequence[Event] | None = None,
        checkpoint: tuple[Checkpoint, str] | None = None,
    ) -> tuple[bytes, RunBundle]:
        """The pack's zip bytes and the bundle it was made from."""
        bundle = self.gather(run_id, events)
        cp, note = checkpoint or self.covering_checkpoint(bundle.events[-1].seq + 1)
        if cp.tree_size <= bundle.events[-1].seq:
            raise PackError(f"checkpoint of size {cp.tree_size} does not cover run {run_id}")
        files = self.build_files(bundle, cp, note)
        return zip_bytes((n, files[n]) for n in pf.PACK_FILES), bundle

    def build(self, run_id: str, out: Path) -> Path:
        """Write the pack of ``run_id`` to ``out`` (a .zip); returns the path written."""
        data = self.pack_bytes(run_id)
        tmp = out.with_name(out.name + ".part")
        tmp.write_bytes(data)
        tmp.replace(out)
        return out

    def report_html(self, run_id: str) -> str:
        """The run's report page, as a pack built now would carry it; writes nothing.

        Reading a run never writes: no checkpoint is signed and no pack is built. The
        page is proven against the latest stored checkpoint; every write signs one, so
        only a store from before that rule can lack one covering the run.

        Raises:
            NotFoundError: no run with that id.
            PackError: no signed checkpoint covers the run yet (run 'raidt checkpoint').
        """
        from raidt.store import checkpoints as cp_store

        bundle = self.gather(run_id)
        with self.app.db.read() as conn:
            found = cp_store.latest(conn)
            if found is None or found[0].tree_size <= bundle.events[-1].seq:
                raise PackError(
                    f"no signed checkpoint covers run {run_id} yet; run 'raidt checkpoint' first"
                )
            cp, note = found
            paths = [
                self.app.ledger.inclusion_proof(conn, e.seq, cp.tree_size) for e in bundle.events
            ]
        files = content_files(bundle, cp, note, paths, self.app.signing_key.public_key())
        return files[pf.REPORT].decode("utf-8")

    # --- verifying ---------------------------------------------------------------------

    @staticmethod
    def verify(path: Path | bytes, key: bytes | None = None) -> pf.Verdict:
        """Verify a pack offline (no database). ``key``: PEM of the key to pin."""
        return check_pack(path, key)

    # --- audit periods -----------------------------------------------------------------

    def build_period(
        self,
        use_case: str,
        since: str,
        until: str,
        out: Path,
        progress: Callable[[int, int], None] | None = None,
    ) -> Any:
        """One pack per run of ``use_case`` started in ``[since, until)``, plus index,
        period report and consistency proof; see :mod:`raidt.services.periodpacks`."""
        from raidt.services.periodpacks import build_period

        return build_period(self, use_case, since, until, out, progress=progress)


#: caps for the two members read before the signature is checked (both are a few KB)
_HEAD_BYTES = 1 << 20
#: a PEM public key is a few hundred bytes
_KEY_BYTES = 64 * 1024


def verify_pack_view(
    source: Path | bytes,
    key: bytes | None = None,
    *,
    limits: ZipLimits = PACK_LIMITS,
    label: str | None = None,
) -> tuple[pf.Verdict, pf.PackView | None]:
    """Verify a pack zip; the verdict, and the view of its files when they were read.

    Reading follows the trust line: the zip's directory (caps on members and sizes), then
    only ``signer.pub.pem`` and ``attestation.dsse.json``; the file-set and signature
    checks run on those, and only when they pass is anything else inflated (streamed,
    within ``limits``). With ``key`` a pack signed by any other key is refused having
    read nothing it names.
    """
    pinned = key is not None
    try:
        with ZipReader(source, limits=limits, label=label) as reader:
            head = {
                n: reader.read(n, cap=_HEAD_BYTES)
                for n in (pf.SIGNER_KEY, pf.ATTESTATION)
                if reader.size_of(n) is not None
            }
            gate_view = pf.PackView(files=head, names=reader.names, pinned_key_pem=key)
            gate = pf.verify_pack(gate_view, pf.signature_checks())
            signer = _signer_id(gate_view)
            rest = [c.name for c in pf.content_checks()]
            if not all(r.ok for r in gate):
                why = "the signature did not verify, so nothing it covers was read"
                return pf.Verdict((*gate, *pf.skipped(rest, why)), pinned, signer), None
            try:
                files = dict(head)
                for name in dict.fromkeys(reader.names):
                    if name not in files:
                        files[name] = reader.read(name)
            except PackError as exc:
                failed = pf.CheckResult("read", False, exc.diagnostic())
                why = "the pack could not be read within its limits"
                return pf.Verdict((*gate, failed, *pf.skipped(rest, why)), pinned, signer), None
    except PackError as exc:
        return pf.Verdict((pf.CheckResult("files", False, exc.diagnostic()),), pinned), None
    view = pf.PackView(files=files, names=reader.names, pinned_key_pem=key)
    return pf.Verdict((*gate, *pf.verify_pack(view, pf.content_checks())), pinned, signer), view


def check_pack(
    source: Path | bytes,
    key: bytes | None = None,
    *,
    limits: ZipLimits = PACK_LIMITS,
    label: str | None = None,
) -> pf.Verdict:
    """Verify a pack zip offline: integrity of every file, and whether the signer is the
    pinned ``key`` (PEM). See :func:`verify_pack_view`."""
    return verify_pack_view(source, key, limits=limits, label=label)[0]


def verify_pack_file(
    path: Path | bytes, key: bytes | None = None, *, limits: ZipLimits = PACK_LIMITS
) -> list[pf.CheckResult]:
    """Every check's result (the pack's integrity); unreadable zips fail ``files``.

    Integrity is not trust: see :func:`check_pack` for whether the signer was pinned.
    """
    return list(check_pack(path, key, limits=limits).checks)


def read_key_file(path: Path) -> bytes:
    """The PEM a verifier pins with ``--key``: a regular file of at most 64 KiB.

    Raises:
        PackError: unreadable, not a regular file, or too large to be a public key.
    """
    with open_regular(path, f"--key {path}") as f:
        return read_capped(f, _KEY_BYTES, f"--key {path}", "(not a public key)")


def _signer_id(view: pf.PackView) -> str | None:
    try:
        return keyid(view.signer_key)
    except PackError:
        return None
