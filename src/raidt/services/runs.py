"""Runs as adapters see them: list, show, record by hand, and the store's public key.

The CLI (and any other adapter) reads and records runs through here, never through the
store: reading never writes, and recording a run is one write transaction that the store
signs like every other (see :class:`raidt.services.app.App`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from raidt.core.dsse import public_key_pem
from raidt.core.events import Event, EventIn
from raidt.core.projection import RunState
from raidt.errors import ValidationError

if TYPE_CHECKING:
    from raidt.services.app import App

__all__ = ["RunService"]


class RunService:
    """Queries over runs and the hand-recording of one run, for adapters."""

    def __init__(self, app: App) -> None:
        self.app = app

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
        """Runs from the projection, newest first, filtered (``since``/``until``: UTC)."""
        return self.app.events.list_runs(
            use_case=use_case, team=team, status=status, since=since, until=until, limit=limit
        )

    def readiness_of(self, run_ids: Sequence[str]) -> dict[str, str]:
        """Readiness of the runs that have a stored score."""
        return self.app.events.readiness_of(run_ids)

    def run_events(self, run_id: str) -> list[Event]:
        """Every event of a run in ledger order.

        Raises:
            NotFoundError: no run with that id.
        """
        return self.app.events.require_run_events(run_id)

    def record(self, events: Sequence[EventIn]) -> list[Event]:
        """Store the events of one new run in one write transaction (signed on commit).

        The check that the run is new happens inside that transaction, so two people
        recording the same run id at once cannot both succeed.

        Raises:
            ValidationError: no events, events of several runs, or the run already exists.
        """
        run_ids = {e.run_id for e in events}
        if len(run_ids) != 1:
            raise ValidationError("a recorded run needs events of exactly one run")
        (rid,) = run_ids
        with self.app.db.write() as conn:
            if self.app.events.run_events(rid, conn=conn):
                raise ValidationError(f"run {rid} already exists; nothing recorded")
            return self.app.events.append_in(conn, events)

    def public_key_pem(self) -> bytes:
        """The store's signing key, public half, as PEM (for witnesses and ``--key``)."""
        return public_key_pem(self.app.signing_key.public_key())
