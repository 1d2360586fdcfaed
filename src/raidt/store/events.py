"""Appending and reading sealed events.

``append`` is the single path by which evidence enters the store. Inside one write
transaction it assigns each event the next ledger index, links it to the previous event of
its run (``prev_hash``), hashes it, inserts it, folds it into the run projection and adds
its leaf to the Merkle ledger. Either the whole batch lands or none of it does.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, func, select
from sqlalchemy.exc import IntegrityError as SAIntegrityError

from raidt.core.canonical import canonical_json
from raidt.core.events import ActorRef, Event, EventIn, EventType, Role
from raidt.core.hashing import seal
from raidt.core.ids import new_id
from raidt.core.projection import RunState, apply_dict, new_state_dict
from raidt.core.timefmt import format_ts, parse_ts
from raidt.errors import NotFoundError, ValidationError
from raidt.store.db import Database
from raidt.store.instants import at_or_after, before
from raidt.store.ledger import Ledger
from raidt.store.schema import events as t_events
from raidt.store.schema import runs as t_runs
from raidt.store.schema import scores as t_scores

__all__ = ["EventStore", "row_to_event"]

_CHUNK = 500  # rows per IN (...) lookup; well under SQLite's variable limit


def row_to_event(row: Any) -> Event:
    """Rebuild an :class:`Event` from an ``events`` row without re-validating the payload."""
    return Event.model_construct(
        id=row.id,
        run_id=row.run_id,
        type=EventType(row.type),
        at=parse_ts(row.at),
        actor=ActorRef.model_construct(id=row.actor_id, role=Role(row.actor_role)),
        payload=orjson.loads(row.payload),
        prev_hash=row.prev_hash,
        hash=row.hash,
        seq=int(row.seq),
    )


class EventStore:
    """The append-only event log of one database."""

    def __init__(self, db: Database, ledger: Ledger | None = None) -> None:
        self.db = db
        self.ledger = ledger or Ledger()

    # --- writing ------------------------------------------------------------------------

    def append(self, events: Sequence[EventIn]) -> list[Event]:
        """Seal and store ``events`` atomically; returns them as stored."""
        if not events:
            return []
        with self.db.write() as conn:
            return self.append_in(conn, events)

    def append_in(
        self, conn: Connection, events: Sequence[EventIn], *, returning: bool = True
    ) -> list[Event]:
        """Like :meth:`append`, inside a write transaction the caller opened.

        With ``returning=False`` the sealed events are not built as models and an empty
        list is returned: bulk capture paths have no use for them, and building one cost
        about a tenth of an append.
        """
        if not events:
            return []
        next_seq = self.ledger.size(conn)  # events and document leaves share the index
        states = self._load_states(conn, {e.run_id for e in events})
        existing = set(states)
        rows: list[tuple[Any, ...]] = []
        leaves: list[bytes] = []
        sealed: list[Event] = []
        seen_ids: set[str] = set()
        for offset, ev in enumerate(events):
            seq = next_seq + offset
            eid = ev.id or new_id()
            if eid in seen_ids:
                raise ValidationError(f"event id {eid!r} appears twice in one batch")
            seen_ids.add(eid)
            state = states.get(ev.run_id)
            if state is None:
                state = states[ev.run_id] = new_state_dict(ev.run_id)
            prev = state["extra"].get("last_hash")
            at_text = format_ts(ev.at)
            try:
                payload_json = canonical_json(ev.payload)
            except ValueError as exc:
                raise ValidationError(f"event {eid}: payload: {exc}") from exc
            etype, actor_id, role = ev.type.value, ev.actor.id, ev.actor.role.value
            digest, leaf = seal(
                event_id=eid,
                run_id=ev.run_id,
                event_type=etype,
                at=at_text,
                actor_id=actor_id,
                actor_role=role,
                payload_json=payload_json,
                prev_hash=prev,
            )
            if returning:
                sealed.append(
                    Event.model_construct(
                        id=eid,
                        run_id=ev.run_id,
                        type=ev.type,
                        at=ev.at,
                        actor=ev.actor,
                        payload=ev.payload,
                        prev_hash=prev,
                        hash=digest,
                        seq=seq,
                    )
                )
            leaves.append(leaf)
            # in the order of _EVENT_COLUMNS
            rows.append(
                (
                    seq,
                    eid,
                    ev.run_id,
                    etype,
                    at_text,
                    actor_id,
                    role,
                    payload_json.decode(),
                    prev,
                    digest,
                    leaf,
                )
            )
            apply_dict(state, ev, at_text)
            state["extra"] = {"last_hash": digest, "last_seq": seq}
        try:
            _insert_events(conn, rows)
        except SAIntegrityError as exc:
            raise ValidationError(
                "an event id in this batch is already stored (event ids are unique); "
                "nothing from the batch was stored"
            ) from exc
        self._save_states(conn, existing, states)
        self.ledger.add_leaves(conn, next_seq, leaves)
        return sealed

    def stored_ids(self, conn: Connection, event_ids: Sequence[str]) -> set[str]:
        """Which of ``event_ids`` are already stored (read inside the caller's transaction)."""
        out: set[str] = set()
        mark = _mark(conn)
        for i in range(0, len(event_ids), _CHUNK):
            chunk = tuple(event_ids[i : i + _CHUNK])
            sql = f"SELECT id FROM events WHERE id IN ({', '.join([mark] * len(chunk))})"
            out.update(str(r[0]) for r in conn.exec_driver_sql(sql, chunk))
        return out

    def _load_states(self, conn: Connection, run_ids: set[str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        ids = sorted(run_ids)
        mark = _mark(conn)
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            marks = ", ".join([mark] * len(chunk))
            sql = f"SELECT run_id, state FROM runs WHERE run_id IN ({marks})"
            for row in conn.exec_driver_sql(sql, tuple(chunk)):
                out[str(row[0])] = orjson.loads(row[1])
        return out

    def _save_states(
        self, conn: Connection, existing: set[str], states: dict[str, dict[str, Any]]
    ) -> None:
        # driver-level SQL: building SQLAlchemy statements per call cost more than running
        # them on the single-event path (one append per reviewer action)
        updates: list[tuple[Any, ...]] = []
        inserts: list[tuple[Any, ...]] = []
        for run_id, st in states.items():
            values = _run_row(st)
            row = tuple(values[c] for c in _RUN_ROW_COLUMNS)
            if run_id in existing:
                updates.append((*row, run_id))
            else:
                inserts.append((run_id, *row))
        mark = _mark(conn)
        if updates:
            sets = ", ".join(f"{c} = {mark}" for c in _RUN_ROW_COLUMNS)
            conn.exec_driver_sql(f"UPDATE runs SET {sets} WHERE run_id = {mark}", updates)
        if inserts:
            cols = ", ".join(("run_id", *_RUN_ROW_COLUMNS))
            marks = ", ".join([mark] * (len(_RUN_ROW_COLUMNS) + 1))
            conn.exec_driver_sql(f"INSERT INTO runs ({cols}) VALUES ({marks})", inserts)

    # --- reading ------------------------------------------------------------------------

    def run_events(self, run_id: str, conn: Connection | None = None) -> list[Event]:
        """Every event of ``run_id`` in ledger order."""
        q = select(t_events).where(t_events.c.run_id == run_id).order_by(t_events.c.seq)
        if conn is not None:
            return [row_to_event(r) for r in conn.execute(q)]
        with self.db.read() as c:
            return [row_to_event(r) for r in c.execute(q)]

    def require_run_events(self, run_id: str, conn: Connection | None = None) -> list[Event]:
        evs = self.run_events(run_id, conn)
        if not evs:
            raise NotFoundError(f"no run with id {run_id!r}")
        return evs

    def iter_rows(self, start_seq: int = 0, batch_size: int = 5000) -> Iterator[Any]:
        """Raw ``events`` rows in seq order, streamed in keyset pages (memory flat)."""
        last = start_seq - 1
        while True:
            with self.db.read() as conn:
                rows = conn.execute(
                    select(t_events)
                    .where(t_events.c.seq > last)
                    .order_by(t_events.c.seq)
                    .limit(batch_size)
                ).all()
            if not rows:
                return
            yield from rows
            last = int(rows[-1].seq)

    def iter_events(self, start_seq: int = 0, batch_size: int = 5000) -> Iterator[Event]:
        """Events in seq order, streamed."""
        for row in self.iter_rows(start_seq, batch_size):
            yield row_to_event(row)

    def iter_runs(
        self, run_ids: Sequence[str] | None = None, batch_runs: int = 500
    ) -> Iterator[tuple[str, list[Event]]]:
        """Runs with their events, in run-id order, a page of runs at a time."""
        if run_ids is not None:
            ids = sorted(run_ids)
            for i in range(0, len(ids), batch_runs):
                yield from self._runs_page(ids[i : i + batch_runs])
            return
        last = ""
        while True:
            with self.db.read() as conn:
                page = _next_run_page(conn, last, batch_runs)
            if not page:
                return
            yield from self._runs_page(page)
            last = page[-1]

    def iter_run_rows(
        self, batch_runs: int = 1000, *, after: str = "", upto: str | None = None
    ) -> Iterator[tuple[str, list[tuple[Any, ...]]]]:
        """Raw event rows per run, in run-id order, a page of runs at a time (read-only).

        Each row is the plain driver tuple ``(seq, id, run_id, type, at, actor_id,
        actor_role, payload, prev_hash, hash)`` in ledger order, with the payload still as
        its stored canonical JSON text: the bulk path of scoring, which reads ten million
        events and cannot afford a model per event. Yields the same runs as
        :meth:`iter_runs`; ``after``/``upto`` keep to run ids in ``(after, upto]`` (the
        share of one scoring worker).
        """
        mark = "?" if self.db.engine.dialect.paramstyle == "qmark" else "%s"
        sql = (
            f"SELECT {', '.join(_RAW_COLUMNS)} FROM events "
            f"WHERE run_id >= {mark} AND run_id <= {mark} ORDER BY run_id, seq"
        )
        last = after
        while True:
            with self.db.read() as conn:
                page = _next_run_page(conn, last, batch_runs, upto)
                if not page:
                    return
                cur = conn.connection.cursor()
                try:
                    cur.execute(sql, (page[0], page[-1]))
                    rows = cur.fetchall()
                finally:
                    cur.close()
            grouped: dict[str, list[tuple[Any, ...]]] = {i: [] for i in page}
            for row in rows:
                group = grouped.get(row[2])
                if group is not None:
                    group.append(tuple(row))
            for rid in page:
                if grouped[rid]:
                    yield rid, grouped[rid]
            last = page[-1]

    def _runs_page(self, ids: list[str]) -> Iterator[tuple[str, list[Event]]]:
        grouped: dict[str, list[Event]] = {i: [] for i in ids}
        with self.db.read() as conn:
            for row in conn.execute(
                select(t_events)
                .where(t_events.c.run_id.in_(ids))
                .order_by(t_events.c.run_id, t_events.c.seq)
            ):
                grouped[row.run_id].append(row_to_event(row))
        for rid in ids:
            if grouped[rid]:
                yield rid, grouped[rid]

    def get_run(self, run_id: str) -> RunState | None:
        with self.db.read() as conn:
            row = conn.execute(select(t_runs.c.state).where(t_runs.c.run_id == run_id)).first()
        return RunState.from_dict(orjson.loads(row.state)) if row else None

    def list_runs(
        self,
        *,
        use_case: str | None = None,
        team: str | None = None,
        status: str | None = None,
        since: str | None = None,
        until: str | None = None,
        limit: int | None = None,
    ) -> list[RunState]:
        """Runs from the projection, newest first, filtered."""
        q = select(t_runs.c.state)
        if use_case:
            q = q.where(t_runs.c.use_case == use_case)
        if team:
            q = q.where(t_runs.c.team == team)
        if status:
            q = q.where(t_runs.c.status == status)
        if since:
            q = q.where(at_or_after(t_runs.c.started_at, since))
        if until:
            q = q.where(before(t_runs.c.started_at, until))
        q = q.order_by(t_runs.c.started_at.desc(), t_runs.c.run_id)
        if limit is not None:
            q = q.limit(limit)
        with self.db.read() as conn:
            return [RunState.from_dict(orjson.loads(r.state)) for r in conn.execute(q)]

    def readiness_of(self, run_ids: Sequence[str]) -> dict[str, str]:
        """Readiness of the runs that have a stored score (``runs`` lists it once scored)."""
        out: dict[str, str] = {}
        with self.db.read() as conn:
            for i in range(0, len(run_ids), _CHUNK):
                chunk = list(run_ids[i : i + _CHUNK])
                q = select(t_scores.c.run_id, t_scores.c.readiness).where(
                    t_scores.c.run_id.in_(chunk)
                )
                out.update({r.run_id: r.readiness for r in conn.execute(q)})
        return out

    def count_events(self) -> int:
        with self.db.read() as conn:
            return int(conn.execute(select(func.count()).select_from(t_events)).scalar_one())

    def run_cuts(self, parts: int) -> list[str]:
        """Run ids that cut the runs into ``parts`` about equal shares (see
        :func:`split_runs`)."""
        with self.db.read() as conn:
            return split_runs(conn, parts)

    def count_runs(self) -> int:
        with self.db.read() as conn:
            return int(conn.execute(select(func.count()).select_from(t_runs)).scalar_one())


_RUN_COLUMNS = (
    "use_case",
    "team",
    "status",
    "risk_level",
    "initiator",
    "started_at",
    "closed_at",
    "disposition",
    "policy_id",
    "policy_version",
    "event_count",
)


def _run_row(st: dict[str, Any]) -> dict[str, Any]:
    row = {c: st.get(c) for c in _RUN_COLUMNS}
    row["last_seq"] = int(st["extra"]["last_seq"])
    row["last_hash"] = str(st["extra"]["last_hash"])
    row["state"] = orjson.dumps(st, option=orjson.OPT_SORT_KEYS).decode()
    return row


_RAW_COLUMNS = (
    "seq",
    "id",
    "run_id",
    "type",
    "at",
    "actor_id",
    "actor_role",
    "payload",
    "prev_hash",
    "hash",
)

_RUN_ROW_COLUMNS = (*_RUN_COLUMNS, "last_seq", "last_hash", "state")


def _next_run_page(conn: Connection, after: str, size: int, upto: str | None = None) -> list[str]:
    """The next ``size`` run ids after ``after`` (and not past ``upto``), in order (keyset
    paging over runs)."""
    q = select(t_runs.c.run_id).where(t_runs.c.run_id > after)
    if upto is not None:
        q = q.where(t_runs.c.run_id <= upto)
    return list(conn.execute(q.order_by(t_runs.c.run_id).limit(size)).scalars())


def split_runs(conn: Connection, parts: int) -> list[str]:
    """``parts - 1`` run ids that cut the runs, in run-id order, into ``parts`` shares of
    about equal size (fewer when there are fewer runs than parts)."""
    total = int(conn.execute(select(func.count()).select_from(t_runs)).scalar_one())
    cuts: list[str] = []
    for k in range(1, parts):
        offset = total * k // parts - 1
        if offset < 0:
            continue
        q = select(t_runs.c.run_id).order_by(t_runs.c.run_id).offset(offset).limit(1)
        rid = conn.execute(q).scalar_one_or_none()
        if rid is not None and (not cuts or rid > cuts[-1]):
            cuts.append(rid)
    return cuts


def _mark(conn: Connection) -> str:
    """The driver's positional parameter marker (sqlite3: ?, psycopg: %s)."""
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


#: every stored column: the raw read columns plus the leaf hash
_EVENT_COLUMNS = (*_RAW_COLUMNS, "leaf_hash")


def _insert_events(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    """Bulk insert through the driver: SQLAlchemy's per-row parameter processing costs more
    than the insert itself on this hot path."""
    mark = _mark(conn)
    sql = (
        f"INSERT INTO events ({', '.join(_EVENT_COLUMNS)}) "
        f"VALUES ({', '.join([mark] * len(_EVENT_COLUMNS))})"
    )
    conn.exec_driver_sql(sql, rows)
