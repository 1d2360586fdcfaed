"""Sending spooled runs to a remote ``raidt serve`` (``RAIDT_URL``, ``RAIDT_TOKEN``).

The server's ``POST /api/events`` takes a JSON list of DESIGN 6.1 events, is idempotent on
event ids (a replayed spool stores nothing twice) and seals them itself, checkpoint
included. Plain ``http.client`` with one kept-alive connection: no HTTP library is imported
into the caller's process for this. The token travels in a header and is never logged.
"""

from __future__ import annotations

import http.client
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson

from raidt.errors import CaptureError, ConfigurationError

if TYPE_CHECKING:
    from raidt.core.policy import Policy

__all__ = ["RemoteSink", "wire_events"]


def _iso(at_ns: int) -> str:
    dt = datetime.fromtimestamp(at_ns // 1000 / 1_000_000, UTC)
    return dt.replace(tzinfo=None).isoformat() + "Z"


def wire_events(record: dict[str, Any]) -> list[dict[str, Any]]:
    """One spooled run as DESIGN 6.1 event objects."""
    rid = record["run_id"]
    return [
        {
            "id": eid,
            "run_id": rid,
            "type": etype,
            "at": _iso(at_ns),
            "actor": {"id": actor, "role": role},
            "payload": payload,
        }
        for eid, etype, at_ns, actor, role, payload in record["events"]
    ]


class RemoteSink:
    """``POST /api/events`` of a ``raidt serve``; policies are not fetched (see Recorder)."""

    def __init__(self, url: str, token: str, timeout: float = 30.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError(f"RAIDT_URL must be an http(s) URL, not {url!r}")
        self._parts = parts
        self._path = parts.path.rstrip("/") + "/api/events"
        self._token = token
        self._timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = (
                http.client.HTTPSConnection
                if self._parts.scheme == "https"
                else http.client.HTTPConnection
            )
            self._conn = cls(self._parts.hostname or "", self._parts.port, timeout=self._timeout)
        return self._conn

    def policy_in_force(self, use_case: str) -> Policy:
        raise ConfigurationError(
            "a remote recorder does not enforce policies in the SDK (enforce_policy=False)"
        )

    def template_hash(self, template_id: str, version: str) -> str | None:
        return None

    def seal(self, records: Sequence[dict[str, Any]]) -> int:
        events = [e for r in records for e in wire_events(r)]
        body = orjson.dumps(events)
        headers = {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {self._token}",
        }
        for attempt in (1, 2):  # one retry on a dropped kept-alive connection
            conn = self._connection()
            try:
                conn.request("POST", self._path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                if attempt == 2:
                    raise CaptureError(
                        f"cannot send runs to {self._parts.netloc}: {exc}; they stay spooled"
                    ) from exc
                continue
            if resp.status >= 300:
                raise CaptureError(
                    f"{self._parts.netloc} refused the runs (HTTP {resp.status}: "
                    f"{data[:200].decode(errors='replace')}); they stay spooled"
                )
            answer = orjson.loads(data) if data else {}
            return int(answer.get("accepted", len(events)))
        return 0  # pragma: no cover - the loop returns or raises

    def checkpoint(self) -> None:
        """The server signs its own checkpoints."""

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
