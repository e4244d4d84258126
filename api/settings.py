"""Settings, read once at start-up and passed down. Environment variables win over defaults.

`load_settings()` is the way in for the server and the CLI: it reads the environment, refuses what
can't be used (one line a person can act on, as a `SettingsError`) and makes sure there is a secret key.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

MIN_SECRET_LENGTH = 32


class SettingsError(Exception):
    """The configuration can't be used; the message is one line a person can act on."""


ORIGIN = re.compile(r"https?://[a-z0-9.-]+(:[0-9]{1,5})?")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KRINGKAS_", extra="ignore", populate_by_name=True)

    env: Literal["development", "production", "test"] = "development"
    database_url: str = Field(default="sqlite+aiosqlite:///./kringkas.sqlite3", validation_alias="DATABASE_URL")
    secret_key: str = ""
    host: str = Field(default="127.0.0.1", validation_alias="HOST")
    port: int = Field(default=8000, ge=1, le=65535, validation_alias="PORT")
    workers: int = Field(default=1, ge=1)
    jwt_issuer: str = "kringkas"
    jwt_audience: str = "kringkas-app"
    access_token_minutes: int = Field(default=15, ge=1, le=60)
    refresh_token_days: int = Field(default=30, ge=1, le=365)
    refresh_grace_seconds: int = Field(default=30, ge=0, le=300)
    login_max_failures_per_email: int = Field(default=5, ge=1)
    login_max_failures_per_address: int = Field(default=20, ge=1)
    login_lockout_seconds: int = Field(default=900, ge=1)
    idempotency_retention_days: int = 30
    max_body_bytes: int = 1024 * 1024
    # KRINGKAS_CORS_ORIGINS: a JSON list or comma-separated origins ("https://a.nl,https://b.nl")
    cors_origins: Annotated[list[str], NoDecode] = []
    password_profile: Literal["owasp", "test"] = "owasp"
    db_pool_size: int = Field(default=10, ge=1)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [origin.strip() for origin in text.split(",") if origin.strip()]
        return value

    @field_validator("cors_origins")
    @classmethod
    def _exact_origins(cls, origins: list[str]) -> list[str]:
        """Strict CORS: each origin named exactly (scheme, host, optional port), never a wildcard."""
        for origin in origins:
            if not ORIGIN.fullmatch(origin):
                raise ValueError(f"{origin!r} is not an exact origin such as https://app.kringkas.nl (no '*', "
                                 "no path)")
        return origins


def sqlite_path(database_url: str) -> Path | None:
    if not database_url.startswith("sqlite"):
        return None
    _, _, rest = database_url.partition(":///")
    if not rest or rest.startswith(":memory:"):
        return None
    return Path(rest.split("?")[0])


def secret_file_for(database_url: str) -> Path:
    """The file beside the database that holds a generated secret key."""
    db_path = sqlite_path(database_url)
    if db_path is not None:
        return db_path.with_name(db_path.name + ".secret")
    return Path(".kringkas.secret")


def _one_line(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first.get("loc", ())) or "settings"
    env_name = where if where.isupper() else f"KRINGKAS_{where.upper()}"  # aliased fields have no prefix
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{env_name} is not usable: {first.get('msg', 'invalid')}{more}."


def _generated_secret(path: Path) -> str:
    """Read the generated key, or make it: written whole to a temporary file, then linked into place, so
    two processes starting at once agree on one key and neither ever reads a half-written file."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48) + "\n")
            try:
                os.link(temporary, path)
            except FileExistsError:
                pass  # another process was first: use its key
        finally:
            temporary.unlink(missing_ok=True)
    key = path.read_text().strip()
    if len(key) < MIN_SECRET_LENGTH:
        raise SettingsError(f"The secret key file {path} holds no usable key; delete it to have a new one made.")
    return key


def load_settings(**overrides: object) -> Settings:
    """Read the environment, then make sure there is a usable secret key.

    In production a missing or short key is refused, and so is the cheap test password profile.
    Elsewhere a random key is generated once into a file beside the database (mode 0600) and read back
    on the next start.
    """
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        raise SettingsError(_one_line(error)) from None
    if settings.env == "production":
        if len(settings.secret_key.strip()) < MIN_SECRET_LENGTH:
            raise SettingsError(
                f"KRINGKAS_SECRET_KEY must be set to at least {MIN_SECRET_LENGTH} characters in production "
                "(for example: python -c 'import secrets; print(secrets.token_urlsafe(48))')."
            )
        if settings.password_profile != "owasp":
            raise SettingsError("KRINGKAS_PASSWORD_PROFILE=test makes cheap password hashes; it is refused in production.")
        return settings
    if settings.secret_key:
        return settings
    return settings.model_copy(update={"secret_key": _generated_secret(secret_file_for(settings.database_url))})
