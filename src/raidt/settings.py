"""Every RAIDT_* environment variable, in one place.

- ``RAIDT_HOME``: folder holding the default SQLite database, the signing key and the
  latest checkpoint (default ``./.raidt``).
- ``RAIDT_DATABASE_URL``: an SQLAlchemy URL for another store, e.g.
  ``postgresql+psycopg://user@host/db`` (default: SQLite at ``$RAIDT_HOME/raidt.db``).
- ``RAIDT_ORIGIN``: the checkpoint origin line, naming this log to witnesses; read when
  the store fixes its origin (``raidt init``, or its first write), which is then kept in
  ``RAIDT_HOME/origin`` beside the key (default ``raidt.local/<16 hex of the key's hash>``).

Server (``raidt serve``: gateway, OTLP ingest, capture API):

- ``RAIDT_UPSTREAM_URL``: the model provider the gateway forwards to, a base URL ending in
  ``/v1`` (e.g. ``https://api.openai.com/v1``); unset, the gateway answers 503.
- ``RAIDT_UPSTREAM_PROVIDER``: its provider name for the policy's approved
  ``(provider, model)`` pairs (default ``openai``).
- ``RAIDT_UPSTREAM_TIMEOUT``: seconds the gateway waits for the upstream (default 120).
- ``RAIDT_GATEWAY_USE_CASE``: the use case of gateway calls that send no
  ``X-Raidt-Use-Case`` header (default: none, such calls are refused with 400).
- ``RAIDT_GATEWAY_FAIL_MODE``: ``auto`` (default: refuse calls of high-risk runs while the
  store cannot record, let others through and count the loss), ``closed`` or ``open``.
- ``RAIDT_GATEWAY_QUEUE``: calls waiting to be recorded before the store counts as unable
  to record (default 20,000).
- ``RAIDT_CAPTURE_USE_CASE``: the use case of OTLP traces that carry no
  ``raidt.use_case`` attribute (default ``otel``).
- ``RAIDT_OTLP_JOIN_SECONDS``: how long a GenAI span without content waits for its
  prompt/reply log records before it is sealed alone (default 5).
- ``RAIDT_MAX_BODY_BYTES``: the largest request body accepted, after gzip decompression
  too (default 16 MiB).
- ``RAIDT_TOKEN_CACHE_SECONDS``: how long a verified token is remembered (default 2; a
  revocation takes effect within this time).

SDK (``raidt.Recorder`` reads these from the environment itself, without this class, so
that ``import raidt`` stays light):

- ``RAIDT_SPOOL_DIR``: where the SDK keeps acknowledged runs until they are sealed (default
  ``$RAIDT_HOME/spool``); ``raidt agent`` drains it.
- ``RAIDT_URL`` and ``RAIDT_TOKEN``: the SDK sends runs to this remote ``raidt serve``
  instead of the local store.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RAIDT_", extra="ignore")

    home: Path = Field(default=Path(".raidt"))
    database_url_override: str | None = Field(default=None, alias="RAIDT_DATABASE_URL")
    origin_override: str | None = Field(default=None, alias="RAIDT_ORIGIN")

    # --- server (raidt serve) ---
    upstream_url: str | None = None
    upstream_provider: str = "openai"
    upstream_timeout: float = Field(default=120.0, gt=0)
    gateway_use_case: str | None = None
    gateway_fail_mode: Literal["auto", "closed", "open"] = "auto"
    gateway_queue: int = Field(default=20_000, gt=0)
    capture_use_case: str = "otel"
    otlp_join_seconds: float = Field(default=5.0, ge=0)
    max_body_bytes: int = Field(default=16 * 1024 * 1024, gt=0)
    token_cache_seconds: float = Field(default=2.0, ge=0)

    @property
    def database_url(self) -> str:
        if self.database_url_override:
            return self.database_url_override
        return f"sqlite:///{self.home.resolve() / 'raidt.db'}"
