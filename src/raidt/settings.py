"""Every RAIDT_* environment variable, in one place.

- ``RAIDT_HOME``: folder holding the default SQLite database, the signing key and the
  latest checkpoint (default ``./.raidt``).
- ``RAIDT_DATABASE_URL``: an SQLAlchemy URL for another store, e.g.
  ``postgresql+psycopg://user@host/db`` (default: SQLite at ``$RAIDT_HOME/raidt.db``).
- ``RAIDT_ORIGIN``: the checkpoint origin line, naming this log to witnesses
  (default ``raidt.local/<folder name of RAIDT_HOME>``).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RAIDT_", extra="ignore")

    home: Path = Field(default=Path(".raidt"))
    database_url_override: str | None = Field(default=None, alias="RAIDT_DATABASE_URL")
    origin_override: str | None = Field(default=None, alias="RAIDT_ORIGIN")

    @property
    def database_url(self) -> str:
        if self.database_url_override:
            return self.database_url_override
        return f"sqlite:///{self.home.resolve() / 'raidt.db'}"

    @property
    def origin(self) -> str:
        return self.origin_override or f"raidt.local/{self.home.resolve().name or 'raidt'}"
