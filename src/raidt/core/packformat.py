"""The evidence pack format and its offline verification, over in-memory file bytes.

A pack is a zip of exactly :data:`PACK_FILES`. Trust flows in one line::

    signer.pub.pem (or a key pinned with --key)
      -> attestation.dsse.json  (DSSE over an in-toto statement: every other file's SHA-256)
        -> manifest.json        (every content file's SHA-256 and size)
          -> events.jsonl       (hash chain) -> ledger-proof.json (RFC 6962 inclusion proofs
             against a signed C2SP checkpoint) -> run.json, score.json, prov.json (recomputed)

Each verification step is a small object (as in sigstore-python's policies) that raises
:class:`~raidt.errors.PackError` naming the file and what is wrong; :func:`verify_pack`
runs all of them and reports each result, so a verifier sees every failure, not only the
first. Nothing here touches a disk, a database or the network.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any

from raidt.core.attestation import PREDICATE_TYPE, Statement, parse_statement
from raidt.core.canonical import canonical_json, from_json
from raidt.core.dsse import Envelope, keyid, load_public_key_pem, verify_envelope
from raidt.core.events import Event
from raidt.core.hashing import chain_break, leaf_bytes
from raidt.errors import IntegrityError, PackError, RaidtError

__all__ = [
    "ATTESTATION",
    "EVENTS",
    "LEDGER_PROOF",
    "MANIFEST",
    "NO_POLICY_YAML",
    "PACK_FILES",
    "PACK_FORMAT",
    "POLICY",
    "PROV",
    "REPORT",
    "RUBRIC",
    "RUN",
    "SCORE",
    "SIGNER_KEY",
    "CheckResult",
    "PackCheck",
    "PackView",
    "Verdict",
    "build_manifest",
    "content_checks",
    "default_checks",
    "file_sha256",
    "rescore_from_pack",
    "signature_checks",
    "skipped",
    "verify_pack",
]

PACK_FORMAT = "raidt-evidence-pack/1"
MANIFEST = "manifest.json"
RUN = "run.json"
EVENTS = "events.jsonl"
POLICY = "policy.yaml"
RUBRIC = "rubric.yaml"
SCORE = "score.json"
LEDGER_PROOF = "ledger-proof.json"
ATTESTATION = "attestation.dsse.json"
PROV = "prov.json"
REPORT = "report.html"
SIGNER_KEY = "signer.pub.pem"
#: every file of a pack, in the order they are written to the zip
PACK_FILES: tuple[str, ...] = (
    MANIFEST,
    RUN,
    EVENTS,
    POLICY,
    RUBRIC,
    SCORE,
    LEDGER_PROOF,
    ATTESTATION,
    PROV,
    REPORT,
    SIGNER_KEY,
)
#: the files the manifest lists (it cannot list itself, nor the signature over it)
MANIFEST_FILES: tuple[str, ...] = tuple(n for n in PACK_FILES if n not in (MANIFEST, ATTESTATION))


def file_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def build_manifest(files: Mapping[str, bytes], *, generator: str, run_id: str) -> bytes:
    """``manifest.json`` over the content files (canonical JSON, files sorted by name)."""
    missing = [n for n in MANIFEST_FILES if n not in files]
    if missing:
        raise ValueError(f"manifest needs every content file; missing {missing}")
    return canonical_json(
        {
            "format": PACK_FORMAT,
            "generator": generator,
            "run_id": run_id,
            "files": [
                {"name": n, "sha256": file_sha256(files[n]), "size": len(files[n])}
                for n in sorted(MANIFEST_FILES)
            ],
            "signed_by": ATTESTATION,
        }
    )


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one verification step, as printed by ``raidt pack verify``.

    A ``skipped`` step was not run because an earlier one it depends on failed (nothing
    a failed signature covers is read); it is never ``ok``.
    """

    name: str
    ok: bool
    detail: str
    skipped: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"check": self.name, "ok": self.ok, "skipped": self.skipped, "detail": self.detail}


def skipped(names: Sequence[str], why: str) -> list[CheckResult]:
    """Results for steps not run because of ``why``."""
    return [CheckResult(n, False, f"not checked: {why}", skipped=True) for n in names]


@dataclass(frozen=True)
class Verdict:
    """What a verification concluded: integrity of the bytes, and trust in the signer.

    Integrity (every check passed) says the files are what their signer signed. Trust
    says who that signer is: only a key the verifier pinned (``--key``), obtained apart
    from the pack, establishes it. A pack signed by whoever made it, with the key shipped
    inside, has integrity and no trust: anyone can build one.
    """

    checks: tuple[CheckResult, ...]
    pinned: bool
    #: key id (SHA-256 of the raw public key, hex) of the key the pack names as signer
    signer: str | None = None

    @property
    def integrity(self) -> bool:
        return bool(self.checks) and all(r.ok for r in self.checks)

    @property
    def trusted(self) -> bool:
        return self.integrity and self.pinned

    @property
    def status(self) -> str:
        """``ok`` (intact and signed by the pinned key), ``untrusted`` or ``failed``."""
        if self.trusted:
            return "ok"
        return "untrusted" if self.integrity else "failed"

    @property
    def first_failure(self) -> CheckResult | None:
        return next((r for r in self.checks if not r.ok and not r.skipped), None)

    def summary(self) -> str:
        """One line saying what was established (and what was not)."""
        kid = f"key id {self.signer[:16]}…" if self.signer else "an unreadable key"
        if self.trusted:
            return f"ok: integrity intact, signed by the pinned key ({kid})"
        if self.integrity:
            return (
                f"integrity ok, signer not trusted: signed by {kid} shipped inside, which "
                "nobody pinned; pass --key with the signer's public key obtained separately"
            )
        bad = self.first_failure
        return "verification failed" + (f": {bad.name}: {bad.detail}" if bad else "")

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.trusted,
            "status": self.status,
            "integrity": self.integrity,
            "trusted": self.trusted,
            "key_pinned": self.pinned,
            "signer_key_id": self.signer,
            "checks": [r.to_json() for r in self.checks],
        }


def _fail(file: str, what: str) -> PackError:
    return PackError(f"{file}: {what}", file=file)


def _json_object(view: PackView, name: str) -> dict[str, Any]:
    try:
        value = from_json(view.file(name))
    except ValueError as exc:
        raise _fail(name, f"not valid JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise _fail(name, "is not a JSON object")
    return value


@dataclass
class PackView:
    """The pack's files as bytes, with lazily parsed, cached views of them.

    ``names`` is the member list exactly as the container held it (duplicates included),
    so the file-set check can refuse a zip that carries two members of one name.
    """

    files: Mapping[str, bytes]
    names: Sequence[str]
    pinned_key_pem: bytes | None = None
    #: recomputes score.json from the pack (default :func:`rescore_from_pack`)
    rescore: Callable[[PackView], dict[str, Any]] | None = None
    notes: list[str] = field(default_factory=list)

    def file(self, name: str) -> bytes:
        try:
            return self.files[name]
        except KeyError:
            raise _fail(name, "missing from the pack") from None

    def text(self, name: str) -> str:
        try:
            return self.file(name).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _fail(name, f"not UTF-8 at byte {exc.start}") from exc

    @cached_property
    def manifest(self) -> dict[str, Any]:
        return _json_object(self, MANIFEST)

    @cached_property
    def run(self) -> dict[str, Any]:
        return _json_object(self, RUN)

    @cached_property
    def score(self) -> dict[str, Any]:
        return _json_object(self, SCORE)

    @cached_property
    def ledger_proof(self) -> dict[str, Any]:
        return _json_object(self, LEDGER_PROOF)

    @cached_property
    def prov(self) -> dict[str, Any]:
        return _json_object(self, PROV)

    @cached_property
    def signer_key(self) -> Any:
        try:
            return load_public_key_pem(self.file(SIGNER_KEY), source=SIGNER_KEY)
        except IntegrityError as exc:
            raise _fail(SIGNER_KEY, exc.message.removeprefix(f"{SIGNER_KEY}: ")) from exc

    @cached_property
    def envelope(self) -> Envelope:
        try:
            return Envelope.from_json(_json_object(self, ATTESTATION))
        except IntegrityError as exc:
            raise _fail(ATTESTATION, exc.message) from exc

    @cached_property
    def statement(self) -> Statement:
        try:
            return parse_statement(self.envelope.payload, predicate_type=PREDICATE_TYPE)
        except IntegrityError as exc:
            raise _fail(ATTESTATION, exc.message) from exc

    @cached_property
    def events(self) -> list[Event]:
        data = self.file(EVENTS)
        if not data.endswith(b"\n"):
            raise _fail(EVENTS, "does not end with a newline")
        out: list[Event] = []
        for n, line in enumerate(data[:-1].split(b"\n"), 1):
            try:
                event = Event.model_validate(from_json(line))
            except ValueError as exc:
                first = str(exc).splitlines()[0]
                raise _fail(EVENTS, f"line {n}: not a valid event ({first})") from exc
            if canonical_json(event.to_json_dict()) != line:
                raise _fail(EVENTS, f"line {n}: not in canonical form (RFC 8785)")
            out.append(event)
        if not out:
            raise _fail(EVENTS, "holds no events")
        return out


class PackCheck:
    """One verification step; :meth:`run` returns a detail line or raises PackError."""

    name = "check"

    def run(self, view: PackView) -> str:  # pragma: no cover - abstract
        raise NotImplementedError


class FileSetCheck(PackCheck):
    """Exactly the pack's files, each once: nothing missing, added or duplicated."""

    name = "files"

    def run(self, view: PackView) -> str:
        seen: set[str] = set()
        for n in view.names:
            if n in seen:
                raise _fail(n, "appears twice in the pack")
            seen.add(n)
        missing = [n for n in PACK_FILES if n not in seen]
        if missing:
            raise _fail(missing[0], "missing from the pack")
        extra = sorted(seen - set(PACK_FILES))
        if extra:
            raise _fail(extra[0], "is not part of the pack format (added file)")
        return f"{len(PACK_FILES)} files, none missing, none added"


class ManifestCheck(PackCheck):
    """Every content file matches the SHA-256 and size the manifest records."""

    name = "manifest"

    def run(self, view: PackView) -> str:
        m = view.manifest
        if m.get("format") != PACK_FORMAT:
            raise _fail(MANIFEST, f"format is {m.get('format')!r}, expected {PACK_FORMAT}")
        entries = m.get("files")
        if not isinstance(entries, list):
            raise _fail(MANIFEST, "has no 'files' list")
        listed: dict[str, dict[str, Any]] = {}
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                raise _fail(MANIFEST, f"files[{i}] has no name")
            if entry["name"] in listed:
                raise _fail(MANIFEST, f"lists {entry['name']} twice")
            listed[entry["name"]] = entry
        for name in MANIFEST_FILES:
            if name not in listed:
                raise _fail(MANIFEST, f"does not list {name}")
        extra = sorted(set(listed) - set(MANIFEST_FILES))
        if extra:
            raise _fail(MANIFEST, f"lists {extra[0]}, which is not a content file")
        for name in sorted(listed):
            data = view.file(name)
            if listed[name].get("size") != len(data):
                raise _fail(
                    name, f"size {len(data)} differs from the manifest's {listed[name].get('size')}"
                )
            if listed[name].get("sha256") != file_sha256(data):
                raise _fail(name, "SHA-256 differs from the manifest (file altered)")
        return f"{len(listed)} file digests match"


class SignatureCheck(PackCheck):
    """The DSSE envelope is signed by signer.pub.pem (and that is the pinned key, if any)."""

    name = "signature"

    def run(self, view: PackView) -> str:
        key = view.signer_key
        kid = keyid(key)
        if view.pinned_key_pem is not None:
            try:
                pinned = load_public_key_pem(view.pinned_key_pem, source="--key")
            except IntegrityError as exc:
                raise PackError(exc.message) from exc
            if keyid(pinned) != kid:
                raise _fail(
                    SIGNER_KEY,
                    f"key {kid[:16]}… is not the pinned key {keyid(pinned)[:16]}… (key replaced)",
                )
        signers = [s.keyid for s in view.envelope.signatures]
        if kid not in signers:
            raise _fail(
                SIGNER_KEY,
                f"key {kid[:16]}… did not sign {ATTESTATION} (signed by "
                f"{signers[0][:16]}…): the key or the signature was replaced",
            )
        try:
            verify_envelope(view.envelope, [key])
        except IntegrityError as exc:
            raise _fail(ATTESTATION, exc.message) from exc
        if view.pinned_key_pem is not None:
            return f"Ed25519 DSSE signature valid; key id {kid[:16]}… (the pinned key)"
        return (
            f"Ed25519 DSSE signature valid for the key shipped in the pack, key id "
            f"{kid[:16]}… (not pinned: who signed is not established)"
        )


class StatementCheck(PackCheck):
    """The signed statement names every other file with its digest, and agrees with them."""

    name = "statement"

    def run(self, view: PackView) -> str:
        st = view.statement
        expected = [n for n in PACK_FILES if n != ATTESTATION]
        for name in expected:
            if name not in st.subjects:
                raise _fail(ATTESTATION, f"statement does not cover {name}")
            if st.subjects[name] != file_sha256(view.file(name)):
                raise _fail(name, "SHA-256 differs from the signed statement (file altered)")
        extra = sorted(set(st.subjects) - set(expected))
        if extra:
            raise _fail(ATTESTATION, f"statement names {extra[0]}, not a file of the pack")
        pred = st.predicate
        run = pred.get("run")
        if not isinstance(run, dict) or run.get("id") != view.run.get("run_id"):
            raise _fail(ATTESTATION, "predicate names another run than run.json")
        if pred.get("events", {}).get("count") != len(view.events):
            raise _fail(EVENTS, "event count differs from the signed statement")
        if pred.get("events", {}).get("head_hash") != view.events[-1].hash:
            raise _fail(EVENTS, "last event differs from the signed statement")
        if pred.get("checkpoint", {}).get("note") != view.ledger_proof.get("checkpoint"):
            raise _fail(LEDGER_PROOF, "checkpoint differs from the signed statement")
        if pred.get("readiness") != view.score.get("readiness"):
            raise _fail(SCORE, "readiness differs from the signed statement")
        return f"in-toto Statement v1 covers {len(expected)} files; predicate agrees"


class EventChainCheck(PackCheck):
    """Every event hash recomputes and each event links to the one before it."""

    name = "events"

    def run(self, view: PackView) -> str:
        events = view.events
        run_id = view.run.get("run_id")
        for n, e in enumerate(events, 1):
            if e.run_id != run_id:
                raise _fail(EVENTS, f"line {n}: event {e.id} belongs to run {e.run_id}")
        broken = chain_break(events)
        if broken is not None:
            raise _fail(EVENTS, f"line {broken.index + 1}: {broken}")
        return f"{len(events)} events, hashes and links intact"


class RunCheck(PackCheck):
    """run.json is the projection of the events (the state the events imply)."""

    name = "run"

    def run(self, view: PackView) -> str:
        from raidt.core.projection import project

        state = project(str(view.run.get("run_id")), view.events).to_dict()
        recorded = view.run.get("state")
        if recorded != state:
            diff = sorted(
                k for k in state if not isinstance(recorded, dict) or recorded.get(k) != state[k]
            )
            raise _fail(RUN, f"state differs from the events' projection ({', '.join(diff)})")
        return f"projection agrees (status {state['status']})"


class LedgerProofCheck(PackCheck):
    """Each event is included (RFC 6962) in the tree a signed checkpoint commits to."""

    name = "ledger"

    def run(self, view: PackView) -> str:
        from raidt.core.checkpoint import parse_note, verify_note
        from raidt.core.merkle import leaf_hash, verify_inclusion

        lp = view.ledger_proof
        note = lp.get("checkpoint")
        if not isinstance(note, str):
            raise _fail(LEDGER_PROOF, "has no signed checkpoint")
        try:
            cp, _ = parse_note(note)
            cp = verify_note(note, view.signer_key, cp.origin)
        except IntegrityError as exc:
            raise _fail(LEDGER_PROOF, f"checkpoint: {exc.message}") from exc
        proofs = lp.get("proofs")
        if not isinstance(proofs, list) or len(proofs) != len(view.events):
            raise _fail(LEDGER_PROOF, "needs exactly one inclusion proof per event")
        for e, pr in zip(view.events, proofs, strict=True):
            if not isinstance(pr, dict) or pr.get("event_id") != e.id:
                raise _fail(LEDGER_PROOF, f"no proof for event {e.id} in its place")
            if pr.get("leaf_index") != e.seq or pr.get("tree_size") != cp.tree_size:
                raise _fail(
                    LEDGER_PROOF,
                    f"proof of event {e.id}: leaf index or tree size "
                    "disagrees with the event and checkpoint",
                )
            try:
                path = [bytes.fromhex(h) for h in pr.get("audit_path", [])]
            except (TypeError, ValueError) as exc:
                raise _fail(LEDGER_PROOF, f"proof of event {e.id}: bad hex") from exc
            leaf = leaf_hash(leaf_bytes(e.body(), e.hash))
            if pr.get("leaf_hash") != leaf.hex():
                raise _fail(LEDGER_PROOF, f"leaf hash of event {e.id} does not recompute")
            if not verify_inclusion(leaf, e.seq, cp.tree_size, path, cp.root_hash):
                raise _fail(
                    LEDGER_PROOF,
                    f"event {e.id} (leaf {e.seq}) is not proven in the tree of size {cp.tree_size}",
                )
        return f"{len(proofs)} inclusion proofs against checkpoint {cp.origin} size {cp.tree_size}"


class ScoreCheck(PackCheck):
    """score.json recomputes from events + policy.yaml + rubric.yaml + recorded inputs."""

    name = "score"

    def run(self, view: PackView) -> str:
        try:
            again = (view.rescore or rescore_from_pack)(view)
        except PackError:
            raise
        except RaidtError as exc:
            raise _fail(SCORE, f"cannot recompute: {exc.diagnostic()}") from exc
        except ValueError as exc:
            raise _fail(SCORE, f"cannot recompute: {str(exc).splitlines()[0]}") from exc
        if canonical_json(again) != canonical_json(view.score):
            diff = sorted(k for k in again if again.get(k) != view.score.get(k))
            diff += sorted(k for k in view.score if k not in again)
            raise _fail(
                SCORE,
                f"does not recompute from the events, policy and rubric "
                f"(differs in {', '.join(diff) or 'order'})",
            )
        return f"recomputes exactly (readiness {again.get('readiness')})"


class ProvCheck(PackCheck):
    """prov.json is the provenance the events imply, and every relation is well-founded."""

    name = "prov"

    def run(self, view: PackView) -> str:
        from raidt.core.prov import build_prov, dangling_references

        doc = view.prov
        problems = dangling_references(doc)
        if problems:
            raise _fail(PROV, problems[0])
        again = build_prov(view.events, builder=str(view.manifest.get("generator")))
        if canonical_json(again) != canonical_json(doc):
            raise _fail(PROV, "differs from the provenance the events imply")
        return f"W3C PROV-JSON agrees ({len(doc.get('activity', {}))} activities)"


NO_POLICY_YAML = b"# no policy version was recorded for this run\n"


@lru_cache(maxsize=32)
def _rubric(text: str) -> Any:
    from raidt.core.rubric import load_rubric

    return load_rubric(text, RUBRIC)


@lru_cache(maxsize=32)
def _policy(text: str) -> Any:
    from raidt.core.policy import load_policy

    return load_policy(text, POLICY)


def rescore_from_pack(view: PackView) -> dict[str, Any]:
    """Score the run again from the pack alone: events, policy.yaml, rubric.yaml, the actors
    in run.json and the inputs score.json records (comparables, chain state, as-of time)."""
    from raidt.core.actors import ActorDirectory
    from raidt.core.checks import Comparables
    from raidt.core.scoring import score_run

    inputs = view.score.get("inputs")
    if not isinstance(inputs, dict):
        raise _fail(SCORE, "records no 'inputs'")
    # parsed documents are cached by their text: a period's packs share one rubric, and
    # YAML parsing, not scoring, is what verification would otherwise spend its time on
    rubric = _rubric(view.text(RUBRIC))
    if view.score.get("policy") is None:
        if view.file(POLICY) != NO_POLICY_YAML:
            raise _fail(POLICY, "holds a policy but score.json says none was in force")
        policy = None
    else:
        policy = _policy(view.text(POLICY))
    try:
        actors = ActorDirectory.model_validate({"actors": view.run.get("actors") or {}})
        raw = inputs.get("comparables")
        comparables = None if raw is None else Comparables.model_validate(raw)
    except ValueError as exc:
        raise _fail(RUN, f"actors or comparables unreadable: {str(exc).splitlines()[0]}") from exc
    profile = score_run(
        view.events,
        policy=policy,
        rubric=rubric,
        actors=actors,
        comparables=comparables,
        chain_ok=bool(inputs.get("chain_ok", True)),
        as_of=inputs.get("as_of"),
        recorded_by=inputs.get("recorded_by"),
    ).to_json()
    if "actors" not in inputs:
        # packs made before profiles recorded the digest of the directory entries they
        # were judged against: compare what they do record
        profile["inputs"].pop("actors", None)
    return profile


def signature_checks() -> tuple[PackCheck, ...]:
    """The checks that need only the member names, the signer key and the envelope.

    A verifier runs these first and reads nothing else when one fails: the signature is
    what vouches for every other file, so bytes it does not vouch for are never inflated.
    """
    return (FileSetCheck(), SignatureCheck())


def content_checks() -> tuple[PackCheck, ...]:
    """The checks of what the signature covers, run once :func:`signature_checks` pass."""
    return (
        StatementCheck(),
        ManifestCheck(),
        EventChainCheck(),
        RunCheck(),
        LedgerProofCheck(),
        ScoreCheck(),
        ProvCheck(),
    )


def default_checks() -> tuple[PackCheck, ...]:
    """Every check ``raidt pack verify`` runs, in the order it prints them.

    The signed statement is checked before the manifest: it names every file with its
    digest under the signature, so an altered file (manifest included) is named exactly,
    rather than the manifest being blamed on a file it merely disagrees with.
    """
    return signature_checks() + content_checks()


def verify_pack(view: PackView, checks: Sequence[PackCheck] | None = None) -> list[CheckResult]:
    """Run every check; the pack verifies when every result is ok."""
    todo = default_checks() if checks is None else tuple(checks)
    if not todo:
        raise ValueError("refusing to verify a pack with no checks")
    results: list[CheckResult] = []
    for check in todo:
        try:
            results.append(CheckResult(check.name, True, check.run(view)))
        except RaidtError as exc:
            results.append(CheckResult(check.name, False, exc.diagnostic()))
    return results
