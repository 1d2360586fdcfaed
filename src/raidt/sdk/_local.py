"""The SDK's link to a local store: policies to enforce, and sealing spooled runs.

The only SDK module that reaches the services (and through them SQLAlchemy); the recorder
imports it on first use, so ``import raidt`` and recording into the spool stay light.
Sealing goes through :func:`raidt.services.importing.append_runs`, the same service and the
same event encoding as ``raidt import``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from raidt.core.events import EventIn
from raidt.core.policy import Policy
from raidt.errors import NotFoundError, ValidationError
from raidt.services.app import App
from raidt.services.importing import append_runs
from raidt.services.policies import PolicyService

__all__ = ["LocalSink", "record_events"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def record_events(record: dict[str, Any]) -> list[EventIn]:
    """The validated events of one spooled run (DESIGN 6.1), or ValidationError."""
    run_id = record["run_id"]
    out: list[EventIn] = []
    for eid, etype, at_ns, actor_id, role, payload in record["events"]:
        try:
            out.append(
                EventIn.model_validate(
                    {
                        "id": eid,
                        "run_id": run_id,
                        "type": etype,
                        "at": _EPOCH + timedelta(microseconds=at_ns // 1000),
                        "actor": {"id": actor_id, "role": role},
                        "payload": payload,
                    }
                )
            )
        except PydanticValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(x) for x in err["loc"])
            raise ValidationError(
                f"spooled run {run_id}: event {eid} ({etype}): {where}: {err['msg']}"
            ) from None
    return out


class LocalSink:
    """The store named by a RAIDT_HOME (and database URL), opened on first use."""

    def __init__(
        self, home: Path, database_url: str | None = None, *, app: App | None = None
    ) -> None:
        self.home = home
        self.database_url = database_url
        self._app = app
        self._owned = app is None

    @property
    def app(self) -> App:
        if self._app is None:
            self._app = App.open(self.home, self.database_url)
        return self._app

    def policy_in_force(self, use_case: str) -> Policy:
        return PolicyService(self.app).policy_in_force(use_case, datetime.now(UTC))

    def template_hash(self, template_id: str, version: str) -> str | None:
        try:
            return PolicyService(self.app).get_template(template_id, version).content_hash
        except NotFoundError:
            return None

    def seal(self, records: Sequence[dict[str, Any]]) -> int:
        return append_runs(self.app, [record_events(r) for r in records])

    def checkpoint(self) -> None:
        self.app.checkpoint()

    def close(self) -> None:
        if self._app is not None and self._owned:
            self._app.close()
            self._app = None
