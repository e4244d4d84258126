"""Settings, read once at start-up and passed down. Environment variables win over defaults."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_SECRET_LENGTH = 32


class SettingsError(Exception):
    """The configuration can't be used; the message is one line a person can act on."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KRINGKAS_", extra="ignore", populate_by_name=True)

    env: Literal["development", "production", "test"] = "development"
    database_url: str = Field(default="sqlite+aiosqlite:///./kringkas.sqlite3", validation_alias="DATABASE_URL")
    secret_key: str = ""
    host: str = Field(default="127.0.0.1", validation_alias="HOST")
    port: int = Field(default=8000, validation_alias="PORT")
    workers: int = 1
    jwt_issuer: str = "kringkas"
    jwt_audience: str = "kringkas-app"
    access_token_minutes: int = Field(default=15, ge=1, le=60)
    refresh_token_days: int = Field(default=30, ge=1, le=365)
    refresh_grace_seconds: int = Field(default=30, ge=0, le=300)
    login_max_failures_per_email: int = 5
    login_max_failures_per_address: int = 20
    login_lockout_seconds: int = 900
    idempotency_retention_days: int = 30
    max_body_bytes: int = 1024 * 1024
    cors_origins: list[str] = []
    password_profile: Literal["owasp", "test"] = "owasp"
    db_pool_size: int = 10


def _sqlite_path(database_url: str) -> Path | None:
    if not database_url.startswith("sqlite"):
        return None
    _, _, rest = database_url.partition(":///")
    if not rest or rest.startswith(":memory:"):
        return None
    return Path(rest.split("?")[0])


def secret_file_for(database_url: str) -> Path:
    """The file beside the database that holds a generated secret key."""
    db_path = _sqlite_path(database_url)
    if db_path is not None:
        return db_path.with_name(db_path.name + ".secret")
    return Path(".kringkas.secret")


def load_settings(**overrides: object) -> Settings:
    """Read the environment, then make sure there is a usable secret key.

    In production a missing or short key is refused. Elsewhere a random key is generated once into a
    file beside the database (mode 0600) and read back on the next start.
    """
    settings = Settings(**overrides)  # type: ignore[arg-type]
    if settings.env == "production":
        if len(settings.secret_key) < MIN_SECRET_LENGTH:
            raise SettingsError(
                f"KRINGKAS_SECRET_KEY must be set to at least {MIN_SECRET_LENGTH} characters in production."
            )
        return settings
    if settings.secret_key:
        return settings
    path = secret_file_for(settings.database_url)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return settings.model_copy(update={"secret_key": path.read_text().strip()})
