"""Audit-period packs: every run of a use case over a period, proven against one checkpoint.

Layout (a directory, or the same tree inside one zip)::

    index.json          every run's pack: file name, SHA-256, size, readiness, pillars
    period-proof.json   RFC 9162 consistency proof from the period's first checkpoint to the
                        checkpoint every pack is proven against (history only appended to)
    period.html         the period report (profile over the period, weak points)
    signer.pub.pem
    period.dsse.json    DSSE over an in-toto statement naming the four files above
    packs/<run>.zip     one evidence pack per run

The build streams: runs are read a page at a time, each pack is written as soon as it is
built, the index goes to a temporary file, and aggregates are running sums, so memory
stays flat whether the period holds ten runs or a hundred thousand. Verification lives in
:mod:`raidt.services.period_verify`.
"""

from __future__ import annotations

import base64
import heapq
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson
from sqlalchemy import func, select

from raidt.core import packformat as pf
from raidt.core.attestation import PERIOD_PREDICATE_TYPE, build_statement
from raidt.core.checkpoint import Checkpoint, parse_note
from raidt.core.dsse import keyid, sign_envelope
from raidt.core.rubric import PILLARS
from raidt.core.weakpoints import detect
from raidt.errors import ValidationError
from raidt.services.packzip import _info, write_member, zip_bytes
from raidt.services.reports import PeriodReport, render_period_report
from raidt.store.instants import at_or_after, before
from raidt.store.schema import runs as t_runs

if TYPE_CHECKING:
    from raidt.core.weakpoints import RunFacts
    from raidt.services.packs import PackService, RunBundle
    from raidt.services.scoring import ScoreInputs

__all__ = [
    "MAX_PACKS",
    "PERIOD_FILES",
    "PeriodResult",
    "build_period",
    "pack_file_name",
    "period_report_html",
]

INDEX = "index.json"
PROOF = "period-proof.json"
REPORT = "period.html"
ATTESTATION = "period.dsse.json"
PERIOD_FORMAT = "raidt-audit-period/1"
#: the signed files of a period (besides the packs, which the index lists)
PERIOD_FILES = (INDEX, PROOF, REPORT, pf.SIGNER_KEY)
#: runs in one period: what a verifier reads (its index is then at most about 40 MiB);
#: a longer period is split into several
MAX_PACKS = 100_000
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_PAGE = 500


def pack_file_name(run_id: str) -> str:
    """A file name for a run's pack that any file system accepts, and that stays unique."""
    safe = _UNSAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), run_id)
    return f"packs/{safe}.zip"


@dataclass(frozen=True)
class PeriodResult:
    """What a period build wrote."""

    out: Path
    runs: int
    readiness: dict[str, int]
    pillars: dict[str, float]
    checkpoint_size: int


@dataclass
class _Aggregate:
    """Running sums over the period's runs (constant memory)."""

    runs: int = 0
    pillar_sums: dict[str, float] = field(default_factory=lambda: {p.value: 0.0 for p in PILLARS})
    readiness: dict[str, int] = field(default_factory=dict)
    criteria: dict[str, dict[str, Any]] = field(default_factory=dict)
    worst: list[tuple[float, str, str]] = field(default_factory=list)
    min_seq: int | None = None

    def add(self, score: dict[str, Any], first_seq: int) -> None:
        self.runs += 1
        pillars = score.get("pillars") or {}
        for p in self.pillar_sums:
            self.pillar_sums[p] += float(pillars.get(p, 0))
        lvl = str(score.get("readiness"))
        self.readiness[lvl] = self.readiness.get(lvl, 0) + 1
        for c in score.get("criteria") or []:
            entry = self.criteria.setdefault(
                c["id"],
                {
                    "id": c["id"],
                    "pillar": c.get("pillar"),
                    "critical": c.get("critical", False),
                    "unmet": 0,
                    "partial": 0,
                    "applicable": 0,
                    "examples": [],
                },
            )
            if c.get("result") == "not_applicable":
                continue
            entry["applicable"] += 1
            if c.get("result") in ("unmet", "partial"):
                entry[c["result"]] += 1
                if len(entry["examples"]) < 5:
                    entry["examples"].append(score.get("run_id"))
        mean = sum(float(v) for v in pillars.values()) / max(1, len(pillars))
        item = (-mean, str(score.get("run_id")), lvl)
        if len(self.worst) < 20:
            heapq.heappush(self.worst, item)
        else:
            heapq.heappushpop(self.worst, item)
        self.min_seq = first_seq if self.min_seq is None else min(self.min_seq, first_seq)

    def pillars(self) -> dict[str, float]:
        return {
            p: round(v / self.runs, 1) if self.runs else 0.0 for p, v in self.pillar_sums.items()
        }

    def weak_points(self, top: int = 10) -> list[dict[str, Any]]:
        rows = []
        for c in self.criteria.values():
            if not c["applicable"] or not (c["unmet"] or c["partial"]):
                continue
            rate = (c["unmet"] + 0.5 * c["partial"]) / c["applicable"]
            rows.append({**c, "rate": round(100 * rate, 1)})
        rows.sort(key=lambda r: (-r["critical"], -r["rate"], r["id"]))
        return rows[:top]

    def worst_runs(self) -> list[dict[str, Any]]:
        return [
            {"run_id": rid, "mean": round(-neg, 1), "readiness": lvl}
            for neg, rid, lvl in sorted(self.worst, reverse=True)
        ]


class _Sink:
    """Where period files go: a directory, or members of one zip."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.zip: zipfile.ZipFile | None = None
        if out.suffix.lower() == ".zip":
            if out.exists():
                raise ValidationError(f"{out}: already exists; choose a new file")
            self.zip = zipfile.ZipFile(out.with_name(out.name + ".part"), "w", allowZip64=True)
        else:
            if out.exists() and (not out.is_dir() or any(out.iterdir())):
                raise ValidationError(f"{out}: exists and is not an empty directory")
            (out / "packs").mkdir(parents=True, exist_ok=True)

    def add(self, name: str, data: bytes) -> None:
        if self.zip is not None:
            write_member(self.zip, name, data)
        else:
            (self.out / name).write_bytes(data)

    def add_file(self, name: str, src: IO[bytes]) -> None:
        if self.zip is not None:
            with self.zip.open(_info(name), "w", force_zip64=True) as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        else:
            with (self.out / name).open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)

    def close(self, ok: bool) -> None:
        if self.zip is None:
            return
        self.zip.close()
        part = self.out.with_name(self.out.name + ".part")
        if ok:
            part.replace(self.out)
        else:
            part.unlink(missing_ok=True)


def _run_pages(svc: PackService, use_case: str, since: str, until: str) -> Iterator[list[str]]:
    """Run ids of the period, a page at a time (keyset pagination: memory stays flat)."""
    last = ""
    while True:
        with svc.app.db.read() as conn:
            page: list[str] = list(
                conn.execute(
                    select(t_runs.c.run_id)
                    .where(
                        t_runs.c.use_case == use_case,
                        at_or_after(t_runs.c.started_at, since),
                        before(t_runs.c.started_at, until),
                        t_runs.c.run_id > last,
                    )
                    .order_by(t_runs.c.run_id)
                    .limit(_PAGE)
                ).scalars()
            )
        if not page:
            return
        yield page
        last = page[-1]


def _count_runs(svc: PackService, use_case: str, since: str, until: str) -> int:
    with svc.app.db.read() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(t_runs)
                .where(
                    t_runs.c.use_case == use_case,
                    at_or_after(t_runs.c.started_at, since),
                    before(t_runs.c.started_at, until),
                )
            ).scalar_one()
        )


def _scan(
    svc: PackService,
    use_case: str,
    since: str,
    until: str,
    agg: _Aggregate,
    each: Callable[[str, ScoreInputs, RunBundle], None],
    progress: Callable[[int, int], None] | None,
) -> Iterator[RunFacts]:
    """Score (and hand to ``each``) every run of the period; yield weak-point facts."""
    from raidt.core.weakpoints import run_facts

    total = _count_runs(svc, use_case, since, until)
    for page in _run_pages(svc, use_case, since, until):
        for run_id, events in svc.app.events.iter_runs(page):
            inputs = svc.scoring.inputs_for(run_id, events)
            bundle = svc.bundle_from(inputs)
            each(run_id, inputs, bundle)
            agg.add(bundle.score, bundle.events[0].seq)
            if progress is not None:
                progress(agg.runs, total)
            yield run_facts(
                bundle.events,
                policy=inputs.policy,
                comparables=inputs.comparables,
                as_of=inputs.as_of,
            )


def _consistency(
    svc: PackService, agg: _Aggregate, cp: Checkpoint, note: str
) -> tuple[dict[str, Any], Checkpoint, list[bytes]]:
    """The consistency proof from the first checkpoint covering the period's first event
    to ``cp`` (the one every pack is proven against)."""
    from raidt.store import checkpoints as cp_store

    with svc.app.db.read() as conn:
        start = cp_store.at_or_after(conn, (agg.min_seq or 0) + 1) if agg.runs else None
        first_cp, first_note = start if start is not None else (cp, note)
        if first_cp.tree_size > cp.tree_size:  # pragma: no cover - cp is the latest
            first_cp, first_note = cp, note
        path = (
            svc.app.ledger.consistency_proof(conn, first_cp.tree_size, cp.tree_size)
            if 0 < first_cp.tree_size < cp.tree_size
            else []
        )
    proof: dict[str, Any] = {
        "format": "RFC 9162 consistency proof, SHA-256",
        "first": {
            "tree_size": first_cp.tree_size,
            "note": first_note,
            "root_hash": base64.b64encode(first_cp.root_hash).decode("ascii"),
        },
        "last": {
            "tree_size": cp.tree_size,
            "note": note,
            "root_hash": base64.b64encode(cp.root_hash).decode("ascii"),
        },
        "proof": [h.hex() for h in path],
    }
    return proof, first_cp, path


def _report(
    svc: PackService,
    use_case: str,
    since: str,
    until: str,
    agg: _Aggregate,
    weak: list[dict[str, Any]],
    proof: dict[str, Any],
    cp: Checkpoint,
    path: list[bytes],
) -> str:
    from raidt.services.packs import GENERATOR

    return render_period_report(
        PeriodReport(
            use_case=use_case,
            since=since,
            until=until,
            runs=agg.runs,
            pillars=agg.pillars(),
            readiness=agg.readiness,
            weak_points=agg.weak_points(),
            patterns=weak,
            worst_runs=agg.worst_runs(),
            consistency={
                "first": proof["first"]["tree_size"],
                "last": cp.tree_size,
                "proof_length": len(path),
                "origin": cp.origin,
                "root": proof["last"]["root_hash"],
            },
            key_id=keyid(svc.app.signing_key.public_key()),
            generator=GENERATOR,
        )
    )


def period_report_html(
    svc: PackService,
    use_case: str,
    since: str,
    until: str,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> str:
    """The period report alone (``raidt report --use-case``): scores, no packs written."""
    _check_period(since, until)
    note = svc.app.checkpoint()
    cp, _ = parse_note(note)
    agg = _Aggregate()
    weak = detect(_scan(svc, use_case, since, until, agg, lambda *_: None, progress))
    proof, _first, path = _consistency(svc, agg, cp, note)
    return _report(svc, use_case, since, until, agg, weak, proof, cp, path)


def _check_period(since: str, until: str) -> None:
    if since >= until:
        raise ValidationError(f"the period is empty: since {since} is not before until {until}")


def build_period(
    svc: PackService,
    use_case: str,
    since: str,
    until: str,
    out: Path,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> PeriodResult:
    """Build the audit-period packs of ``use_case`` for runs started in ``[since, until)``."""
    from raidt.services.packs import pretty_json
    from raidt.store.keys import public_key_pem

    _check_period(since, until)
    runs = _count_runs(svc, use_case, since, until)
    if runs > MAX_PACKS:
        raise ValidationError(
            f"{use_case}: {runs:,} runs in the period, more than the {MAX_PACKS:,} one "
            "audit period may hold; split it into shorter periods"
        )
    app = svc.app
    note = app.checkpoint()
    cp, _ = parse_note(note)
    agg = _Aggregate()
    sink = _Sink(out)
    ok = False
    try:
        with tempfile.TemporaryFile() as index:
            index.write(
                orjson.dumps(
                    {
                        "format": PERIOD_FORMAT,
                        "use_case": use_case,
                        "since": since,
                        "until": until,
                        "checkpoint": note,
                    }
                )[:-1]
                + b',"packs":[\n'
            )

            def write_pack(run_id: str, inputs: ScoreInputs, bundle: RunBundle) -> None:
                files = svc.build_files(bundle, cp, note)
                data = zip_bytes((n, files[n]) for n in pf.PACK_FILES)
                name = pack_file_name(run_id)
                sink.add(name, data)
                entry = {
                    "run_id": run_id,
                    "file": name,
                    "sha256": pf.file_sha256(data),
                    "size": len(data),
                    "readiness": bundle.score.get("readiness"),
                    "pillars": bundle.score.get("pillars"),
                }
                index.write((b",\n" if agg.runs else b"") + orjson.dumps(entry))

            weak = detect(_scan(svc, use_case, since, until, agg, write_pack, progress))
            index.write(b"\n]}\n")
            proof, first_cp, path = _consistency(svc, agg, cp, note)
            key = app.signing_key
            files: dict[str, bytes] = {
                PROOF: pretty_json(proof),
                pf.SIGNER_KEY: public_key_pem(key),
            }
            files[REPORT] = _report(svc, use_case, since, until, agg, weak, proof, cp, path).encode(
                "utf-8"
            )
            index.seek(0)
            digest = _sha256_stream(index)
            index.seek(0)
            sink.add_file(INDEX, index)
        subjects = {INDEX: digest, **{n: pf.file_sha256(d) for n, d in files.items()}}
        statement = build_statement(
            subjects,
            {
                "format": PERIOD_FORMAT,
                "use_case": use_case,
                "since": since,
                "until": until,
                "runs": agg.runs,
                "readiness": agg.readiness,
                "pillars": agg.pillars(),
                "checkpoint": {
                    "origin": cp.origin,
                    "tree_size": cp.tree_size,
                    "root_hash": proof["last"]["root_hash"],
                },
                "first_checkpoint": {
                    "tree_size": first_cp.tree_size,
                    "root_hash": proof["first"]["root_hash"],
                },
                "weak_points": [
                    {"kind": w.get("kind"), "runs": len(w.get("run_ids") or [])} for w in weak
                ],
            },
            predicate_type=PERIOD_PREDICATE_TYPE,
        )
        files[ATTESTATION] = pretty_json(sign_envelope(statement.to_bytes(), key).to_json())
        for name in (PROOF, REPORT, pf.SIGNER_KEY, ATTESTATION):
            sink.add(name, files[name])
        ok = True
    finally:
        sink.close(ok)
    return PeriodResult(
        out=out,
        runs=agg.runs,
        readiness=agg.readiness,
        pillars=agg.pillars(),
        checkpoint_size=cp.tree_size,
    )


def _sha256_stream(f: IO[bytes]) -> str:
    import hashlib

    h = hashlib.sha256()
    for chunk in iter(lambda: f.read(1 << 20), b""):
        h.update(chunk)
    return h.hexdigest()
