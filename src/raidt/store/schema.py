"""Database tables.

Evidence tables (``EVIDENCE_TABLES``) are append-only: the migrations install triggers
that make the database itself refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL).
Projection tables (``runs``, ``scores``) are derived and may be rebuilt from evidence.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = [
    "EVIDENCE_TABLES",
    "actors",
    "api_tokens",
    "capture_pending",
    "checkpoints",
    "document_leaves",
    "events",
    "ledger_nodes",
    "metadata",
    "policies",
    "rubrics",
    "runs",
    "score_rollup",
    "score_weakpoints",
    "scores",
    "templates",
]

metadata = MetaData()

#: One row per sealed event. ``seq`` is the 0-based leaf index in the ledger.
events = Table(
    "events",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("id", String(200), nullable=False, unique=True),
    Column("run_id", String(200), nullable=False),
    Column("type", String(40), nullable=False),
    Column("at", String(32), nullable=False),
    Column("actor_id", String(200), nullable=False),
    Column("actor_role", String(40), nullable=False),
    Column("payload", Text, nullable=False),
    Column("prev_hash", String(64), nullable=True),
    Column("hash", String(64), nullable=False),
    Column("leaf_hash", LargeBinary(32), nullable=False),
    Index("ix_events_run_seq", "run_id", "seq"),
)

#: Complete-subtree hashes of the Merkle tree at stored levels (see store/ledger.py).
ledger_nodes = Table(
    "ledger_nodes",
    metadata,
    Column("level", Integer, primary_key=True, autoincrement=False),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
)

#: Signed tree heads in C2SP tlog-checkpoint signed-note form.
checkpoints = Table(
    "checkpoints",
    metadata,
    Column("tree_size", BigInteger, primary_key=True, autoincrement=False),
    Column("root_hash", LargeBinary(32), nullable=False),
    Column("note", Text, nullable=False),
    Column("created_at", String(32), nullable=False),
)

#: Governance documents as ledger leaves (``raidt.core.documents``): one row per stored
#: policy, template or rubric version and per actor directory entry. ``seq`` is the leaf
#: index, in the same index space as ``events.seq`` (each index is used by exactly one of
#: the two tables). ``sealed`` says how the leaf came: ``added`` with the document, or
#: ``migration`` for documents stored before documents became leaves (revision 0006).
document_leaves = Table(
    "document_leaves",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("type", String(20), nullable=False),
    Column("doc_id", String(200), nullable=False),
    Column("version", String(50), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("added_at", String(32), nullable=False),
    Column("leaf_hash", LargeBinary(32), nullable=False),
    Column("sealed", String(20), nullable=False),
    UniqueConstraint("type", "doc_id", "version", name="uq_document_leaves_doc"),
)

#: Versioned workflow policies (YAML text kept verbatim, plus its content hash).
policies = Table(
    "policies",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("version", String(50), primary_key=True),
    Column("content_hash", String(64), nullable=False),
    Column("body", Text, nullable=False),
    Column("added_at", String(32), nullable=False),
)

#: Versioned prompt templates.
templates = Table(
    "templates",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("version", String(50), primary_key=True),
    Column("content_hash", String(64), nullable=False),
    Column("body", Text, nullable=False),
    Column("added_at", String(32), nullable=False),
)

#: Actor directory, append-only: a later row for the same actor supersedes earlier ones.
actors = Table(
    "actors",
    metadata,
    Column("row", BigInteger, primary_key=True, autoincrement=True),
    Column("actor_id", String(200), nullable=False, index=True),
    Column("body", Text, nullable=False),
    Column("added_at", String(32), nullable=False),
)

#: Versioned rubrics.
rubrics = Table(
    "rubrics",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("version", String(50), primary_key=True),
    Column("content_hash", String(64), nullable=False),
    Column("body", Text, nullable=False),
    Column("added_at", String(32), nullable=False),
)

#: Run projection (derived from events; rebuilt by replay if ever in doubt).
runs = Table(
    "runs",
    metadata,
    Column("run_id", String(200), primary_key=True),
    Column("use_case", String(200), nullable=True, index=True),
    Column("team", String(200), nullable=True, index=True),
    Column("status", String(40), nullable=False),
    Column("risk_level", String(20), nullable=True),
    Column("initiator", String(200), nullable=True),
    Column("started_at", String(32), nullable=True, index=True),
    Column("closed_at", String(32), nullable=True),
    Column("disposition", String(40), nullable=True),
    Column("policy_id", String(200), nullable=True),
    Column("policy_version", String(50), nullable=True),
    Column("event_count", Integer, nullable=False),
    Column("last_seq", BigInteger, nullable=False),
    Column("last_hash", String(64), nullable=False),
    Column("state", Text, nullable=False),
)

#: Latest score profile per run (derived; recomputable from events + policy + rubric).
scores = Table(
    "scores",
    metadata,
    Column("run_id", String(200), primary_key=True),
    Column("rubric_id", String(200), nullable=False),
    Column("rubric_version", String(50), nullable=False),
    Column("readiness", String(30), nullable=False, index=True),
    Column("pillars", Text, nullable=False),
    Column("profile", Text, nullable=False),
    Column("scored_at", String(32), nullable=False),
    Column("last_seq", BigInteger, nullable=False),
    # added by migration 0003_scoring (nullable so the upgrade needs no backfill)
    Column("use_case", String(200), nullable=True),
    Column("team", String(200), nullable=True),
    Column("policy_version", String(50), nullable=True),
    Column("started_at", String(32), nullable=True),
    Column("flagged", Integer, nullable=True),
    Column("facts", Text, nullable=True),
    Index("ix_scores_group", "use_case", "policy_version"),
    Index("ix_scores_flagged_started", "flagged", "started_at"),
)

#: Dashboard rollup of scores, maintained on write: additive counters per
#: (dimension, key, month, bucket); see raidt.core.aggregate.
score_rollup = Table(
    "score_rollup",
    metadata,
    Column("dim", String(20), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("month", String(7), primary_key=True),
    Column("bucket", String(30), primary_key=True),
    Column("runs", BigInteger, nullable=False),
    Column("s_responsibility", BigInteger, nullable=False),
    Column("s_auditability", BigInteger, nullable=False),
    Column("s_interpretability", BigInteger, nullable=False),
    Column("s_dependability", BigInteger, nullable=False),
    Column("s_traceability", BigInteger, nullable=False),
)

#: Weak-point counters, maintained on write like the rollup: runs per (kind, scope, extra,
#: start day) from ``raidt.core.weakpoints.weak_keys``; the dashboard summary sums them.
score_weakpoints = Table(
    "score_weakpoints",
    metadata,
    Column("kind", String(40), primary_key=True),
    Column("scope", Text, primary_key=True),
    Column("extra", Text, primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("runs", BigInteger, nullable=False),
)

#: API tokens (not evidence: a token's revocation sets ``revoked_at`` on its row). Only
#: the SHA-256 of the token is kept; the token itself is shown once, when it is created.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("role", String(40), nullable=False),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("created_at", String(32), nullable=False),
    Column("revoked_at", String(32), nullable=True),
)

#: OTLP records waiting for their partner (a span for its content log records, or the
#: other way round) before they are sealed as one run's events. A staging area, not
#: evidence: rows are deleted in the transaction that seals them.
capture_pending = Table(
    "capture_pending",
    metadata,
    Column("row", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("kind", String(10), nullable=False),
    Column("trace_id", String(32), nullable=False),
    Column("span_id", String(16), nullable=False),
    Column("received_at", String(32), nullable=False, index=True),
    Column("body", Text, nullable=False),
    Index("ix_capture_pending_span", "trace_id", "span_id"),
)

EVIDENCE_TABLES = (
    "events",
    "ledger_nodes",
    "checkpoints",
    "policies",
    "templates",
    "actors",
    "rubrics",
    "document_leaves",
)
