"""Evidence packs: built from a real store, verified from bytes alone, and every kind of
tampering named (byte flips in every file, removed/added/duplicated files, swapped events,
replaced keys, re-signed forgeries)."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf import json_format
from in_toto_attestation.v1 import statement_pb2
from in_toto_attestation.v1.statement import Statement as ItStatement
from prov.model import ProvDocument
from securesystemslib.dsse import Envelope as SslEnvelope
from securesystemslib.signer import SSlibKey

from raidt.core import packformat as pf
from raidt.core.canonical import canonical_json, from_json
from raidt.core.dsse import keyid, load_public_key_pem
from raidt.errors import NotFoundError
from raidt.services.app import App
from raidt.services.packs import PackService, verify_pack_file
from raidt.services.policies import PolicyService
from tests.services._packs import (
    files_of,
    open_store,
    raw_zip,
    resign,
    rezip,
    run_events,
)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    app = open_store(tmp_path_factory.mktemp("packs") / "home")
    app.events.append(run_events("r-1", purpose="résumé de séjour – ward 7"))
    app.events.append(run_events("r-2", 1, use_case="meeting-notes", team="product"))
    yield app
    app.close()


@pytest.fixture(scope="module")
def pack(store: App) -> bytes:
    return PackService(store).pack_bytes("r-1")


def _failures(data: bytes, key: bytes | None = None) -> list[pf.CheckResult]:
    return [r for r in verify_pack_file(data, key) if not r.ok]


def _first_failure(data: bytes, key: bytes | None = None) -> str:
    bad = _failures(data, key)
    assert bad, "tampered pack verified"
    return f"{bad[0].name}: {bad[0].detail}"


# --- a good pack ------------------------------------------------------------------------


def test_pack_holds_exactly_the_design_files_and_verifies(pack: bytes) -> None:
    contents = files_of(pack)
    assert list(contents) == list(pf.PACK_FILES)
    results = verify_pack_file(pack)
    assert [r.name for r in results] == [c.name for c in pf.default_checks()]
    assert all(r.ok for r in results), [r for r in results if not r.ok]


def test_pinned_key_verifies(store: App, pack: bytes) -> None:
    from raidt.store.keys import public_key_pem

    assert not _failures(pack, public_key_pem(store.signing_key))


def test_build_is_deterministic_for_one_checkpoint(store: App) -> None:
    svc = PackService(store)
    cp = svc.covering_checkpoint(1)
    assert svc.pack_bytes("r-2", checkpoint=cp) == svc.pack_bytes("r-2", checkpoint=cp)


def test_build_signs_a_fresh_checkpoint_when_the_latest_does_not_cover_the_run(
    store: App, tmp_path: Path
) -> None:
    store.events.append(run_events("r-late", 30))
    out = PackService(store).build("r-late", tmp_path / "late.zip")
    proof = from_json(files_of(out.read_bytes())[pf.LEDGER_PROOF])
    assert proof["tree_size"] >= max(p["leaf_index"] for p in proof["proofs"]) + 1
    assert not _failures(out.read_bytes())
    assert not (tmp_path / "late.zip.part").exists()


def test_unknown_run_is_named(store: App, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="nope"):
        PackService(store).build("nope", tmp_path / "x.zip")
    assert not (tmp_path / "x.zip").exists()


def test_builds_and_verifies_on_each_engine(db_url: str, tmp_path: Path) -> None:
    app = open_store(tmp_path / "home", db_url)
    try:
        app.events.append(run_events("r-db"))
        out = PackService(app).build("r-db", tmp_path / "p.zip")
    finally:
        app.close()
    assert not _failures(out.read_bytes())


# --- independent implementations -------------------------------------------------------


def test_attestation_verifies_with_securesystemslib(pack: bytes) -> None:
    files = files_of(pack)
    pub = load_public_key_pem(files[pf.SIGNER_KEY])
    env = SslEnvelope.from_dict(json.loads(files[pf.ATTESTATION]))
    verified = env.verify([SSlibKey.from_crypto(pub, keyid=keyid(pub))], 1)
    assert list(verified) == [keyid(pub)]
    assert env.payload_type == "application/vnd.in-toto+json"


def test_statement_validates_with_in_toto_and_lists_every_other_file(pack: bytes) -> None:
    files = files_of(pack)
    payload = base64.b64decode(json.loads(files[pf.ATTESTATION])["payload"])
    pb = json_format.Parse(payload.decode(), statement_pb2.Statement())  # type: ignore[attr-defined]
    ItStatement.copy_from_pb(pb).validate()
    st = json.loads(payload)
    subjects = {s["name"]: s["digest"]["sha256"] for s in st["subject"]}
    assert subjects == {n: pf.file_sha256(files[n]) for n in pf.PACK_FILES if n != pf.ATTESTATION}
    pred = st["predicate"]
    assert pred["run"]["id"] == "r-1"
    assert pred["readiness"] == json.loads(files[pf.SCORE])["readiness"]
    assert pred["checkpoint"]["note"] == json.loads(files[pf.LEDGER_PROOF])["checkpoint"]


def test_prov_loads_in_the_prov_package(pack: bytes) -> None:
    doc = ProvDocument.deserialize(content=files_of(pack)[pf.PROV].decode(), format="json")
    kinds = {type(r).__name__ for r in doc.get_records()}
    assert {
        "ProvEntity",
        "ProvActivity",
        "ProvAgent",
        "ProvGeneration",
        "ProvUsage",
        "ProvAssociation",
        "ProvDerivation",
        "ProvDelegation",
    } <= kinds


def test_inclusion_proofs_follow_rfc6962(pack: bytes) -> None:
    """Recompute each root from leaf and audit path with a direct RFC 6962 walk."""
    import hashlib

    files = files_of(pack)
    lp = json.loads(files[pf.LEDGER_PROOF])
    root = base64.b64decode(lp["root_hash"])
    events = [json.loads(line) for line in files[pf.EVENTS].splitlines()]
    for ev, pr in zip(events, lp["proofs"], strict=True):
        ev.pop("seq")
        leaf = hashlib.sha256(b"\x00" + canonical_json(ev)).digest()
        assert leaf.hex() == pr["leaf_hash"]
        idx, size, h = pr["leaf_index"], pr["tree_size"], leaf
        last = size - 1
        for sib in map(bytes.fromhex, pr["audit_path"]):  # RFC 9162 2.1.3.2
            if idx % 2 == 1 or idx == last:
                h = hashlib.sha256(b"\x01" + sib + h).digest()
                while idx % 2 == 0 and idx != 0:
                    idx, last = idx >> 1, last >> 1
            else:
                h = hashlib.sha256(b"\x01" + h + sib).digest()
            idx, last = idx >> 1, last >> 1
        assert h == root


def test_report_is_self_contained(pack: bytes) -> None:
    html = files_of(pack)[pf.REPORT].decode()
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html)
    assert "@import" not in html and "url(" not in html and "<script" not in html
    assert "<svg" in html and "What this pack does not prove" in html
    assert "u-2" in html and "+admitted on 1 March" in html  # who, and the edit diff


# --- tampering --------------------------------------------------------------------------


def _positions(data: bytes) -> dict[str, int]:
    """One position per byte class present in ``data``."""
    classes = {
        "first": lambda i, b: i == 0,
        "last": lambda i, b: i == len(data) - 1,
        "middle": lambda i, b: i == len(data) // 2,
        "digit": lambda i, b: chr(b).isdigit(),
        "letter": lambda i, b: chr(b).isalpha(),
        "structure": lambda i, b: chr(b) in '{}[]":,=-',
        "space": lambda i, b: chr(b) in " \n",
        "non-ascii": lambda i, b: b >= 0x80,
    }
    found: dict[str, int] = {}
    for name, test in classes.items():
        for i, b in enumerate(data):
            if test(i, b):
                found[name] = i
                break
    return found


_ASCII_ONLY = {
    "manifest.json",
    "policy.yaml",
    "rubric.yaml",
    "attestation.dsse.json",
    "prov.json",
    "signer.pub.pem",
}


def _flip_cases() -> list[tuple[str, str]]:
    return [
        (name, cls)
        for name in pf.PACK_FILES
        for cls in ("first", "last", "middle", "digit", "letter", "structure", "space", "non-ascii")
    ]


@pytest.mark.parametrize(("name", "cls"), _flip_cases())
def test_flipping_any_byte_class_of_any_file_fails_naming_it(
    pack: bytes, name: str, cls: str
) -> None:
    files = files_of(pack)
    pos = _positions(files[name]).get(cls)
    if pos is None:
        # only the machine-written JSON/PEM files may lack a byte class, and only non-ASCII
        assert cls == "non-ascii" and name in _ASCII_ONLY, f"{name} has no {cls} byte"
        assert files[name].isascii()
        return
    for bit in (0x01, 0x80):
        data = bytearray(files[name])
        data[pos] ^= bit
        altered = rezip({**files, name: bytes(data)})
        assert name in _first_failure(altered)


def test_removed_file_is_named(pack: bytes) -> None:
    for name in pf.PACK_FILES:
        files = files_of(pack)
        del files[name]
        assert f"{name}: missing" in _first_failure(rezip(files))


def test_added_file_is_named(pack: bytes) -> None:
    files = {**files_of(pack), "notes.txt": b"trust me"}
    assert "notes.txt" in _first_failure(rezip(files))


def test_duplicated_member_is_named(pack: bytes) -> None:
    files = files_of(pack)
    members = [(n, files[n]) for n in pf.PACK_FILES]
    members.append((pf.SCORE, files[pf.SCORE]))
    assert "score.json: appears twice" in _first_failure(raw_zip(members))


def test_directory_members_and_garbage_are_refused(pack: bytes) -> None:
    files = files_of(pack)
    evil = raw_zip([(f"sub/{n}", files[n]) for n in pf.PACK_FILES])
    assert "not a plain file name" in _first_failure(evil)
    assert "not a readable zip" in _first_failure(b"PK\x03\x04 nothing")


def test_swapped_events_are_named_even_when_resigned(store: App, pack: bytes) -> None:
    files = files_of(pack)
    lines = files[pf.EVENTS].splitlines(keepends=True)
    lines[2], lines[3] = lines[3], lines[2]
    swapped = {**files, pf.EVENTS: b"".join(lines)}
    assert "events.jsonl" in _first_failure(rezip(swapped))
    forged = resign(swapped, store.signing_key)
    assert _first_failure(rezip(forged)).startswith("events: events.jsonl: line 3")


def test_altered_event_with_recomputed_hash_fails_the_ledger(store: App, pack: bytes) -> None:
    """An insider who rewrites the last event and its hash keeps the chain, not the proof."""
    from raidt.core.events import Event
    from raidt.core.hashing import event_hash

    files = files_of(pack)
    lines = files[pf.EVENTS].splitlines()
    last = Event.model_validate(from_json(lines[-1]))
    changed = last.model_copy(update={"payload": {"disposition": "accepted"}})
    changed = changed.model_copy(update={"hash": event_hash(changed.body())})
    lines[-1] = canonical_json(changed.to_json_dict())
    forged = resign({**files, pf.EVENTS: b"\n".join(lines) + b"\n"}, store.signing_key)
    failed = {r.name for r in _failures(rezip(forged))}
    assert "ledger" in failed and "statement" in failed


@pytest.mark.parametrize(
    ("name", "edit", "check"),
    [
        (pf.SCORE, lambda d: d.update(readiness="audit_ready"), "statement"),
        (pf.SCORE, lambda d: d["pillars"].update(responsibility=100), "score"),
        (pf.RUN, lambda d: d["state"].update(status="approved"), "run"),
        (pf.PROV, lambda d: d["agent"].popitem(), "prov"),
    ],
)
def test_resigned_derived_files_must_recompute(
    store: App, pack: bytes, name: str, edit: Any, check: str
) -> None:
    files = files_of(pack)
    data = json.loads(files[name])
    edit(data)
    forged = resign({**files, name: json.dumps(data).encode()}, store.signing_key)
    bad = _failures(rezip(forged))
    assert check in {r.name for r in bad}
    assert all(name in r.detail or r.name == "statement" for r in bad)


def test_altered_rubric_does_not_recompute_even_when_resigned(store: App, pack: bytes) -> None:
    files = files_of(pack)
    rubric = files[pf.RUBRIC].replace(b"weight: 2", b"weight: 3", 1)
    if rubric == files[pf.RUBRIC]:
        rubric = files[pf.RUBRIC] + b"\n# edited\ndescription: changed\n"
    forged = resign({**files, pf.RUBRIC: rubric}, store.signing_key)
    assert "score" in {r.name for r in _failures(rezip(forged))}


def test_replaced_key_is_caught(store: App, pack: bytes) -> None:
    from raidt.store.keys import public_key_pem

    other = Ed25519PrivateKey.generate()
    files = files_of(pack)
    # swapping only the key file: digests and the signature no longer match
    swapped = {**files, pf.SIGNER_KEY: public_key_pem(other)}
    assert pf.SIGNER_KEY in _first_failure(rezip(swapped))
    # re-signing everything with the new key: the checkpoint still names the old one
    forged = resign(swapped, other)
    failed = {r.name: r.detail for r in _failures(rezip(forged))}
    assert set(failed) == {"ledger"}
    # and against the pinned organisation key the signature check names the swap
    pinned = _first_failure(rezip(forged), public_key_pem(store.signing_key))
    assert pinned.startswith("signature: signer.pub.pem") and "key replaced" in pinned


def test_bad_pinned_key_file_is_named(pack: bytes) -> None:
    assert "--key" in _first_failure(pack, b"not a key")


def test_verification_reads_nothing_but_the_bytes(
    pack: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAIDT_HOME", str(tmp_path / "absent"))
    monkeypatch.setenv("RAIDT_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert PackService.verify(pack).integrity
    assert not (tmp_path / "absent").exists()


def _json_of(files: dict[str, bytes], name: str) -> dict[str, Any]:
    return dict(json.loads(files[name]))


def test_run_without_a_known_policy_packs_and_verifies(store: App) -> None:
    store.events.append(run_events("r-nopolicy", 40, use_case="no-such-use-case"))
    pack = PackService(store).pack_bytes("r-nopolicy")
    files = files_of(pack)
    assert files[pf.POLICY] == pf.NO_POLICY_YAML
    assert json.loads(files[pf.SCORE])["policy"] is None
    assert not _failures(pack)
    forged = resign(
        {**files, pf.POLICY: files_of(PackService(store).pack_bytes("r-1"))[pf.POLICY]},
        store.signing_key,
    )
    assert "policy.yaml: holds a policy" in _first_failure(rezip(forged))


_ACTORS = """\
actors:
  - {id: u-1, display_name: Dr One, roles: [initiator], team: ward-7}
"""


def test_resigned_actor_entries_must_match_the_digest_the_score_records(
    tmp_path: Path,
) -> None:
    app = open_store(tmp_path / "home")
    try:
        PolicyService(app).import_actors(_ACTORS, "actors.yaml")
        app.events.append(run_events("r-a"))
        files = files_of(PackService(app).pack_bytes("r-a"))
        key = app.signing_key
    finally:
        app.close()
    assert _failures(rezip(files)) == []
    run = json.loads(files[pf.RUN])
    assert run["actors"]["u-1"]["display_name"] is None  # withheld, as before
    assert len(json.loads(files[pf.SCORE])["inputs"]["actors"]["sha256"]) == 64
    # a field no check reads: the verdicts stay the same, the recorded digest does not
    run["actors"]["u-1"]["team"] = "another-team"
    forged = resign({**files, pf.RUN: json.dumps(run).encode()}, key)
    bad = {r.name: r.detail for r in _failures(rezip(forged))}
    assert "score" in bad and "inputs" in bad["score"], bad


def test_packs_made_before_the_actor_digest_still_verify(store: App, pack: bytes) -> None:
    files = files_of(pack)
    score = json.loads(files[pf.SCORE])
    del score["inputs"]["actors"]
    older = resign({**files, pf.SCORE: json.dumps(score).encode()}, store.signing_key)
    assert _failures(rezip(older)) == []
