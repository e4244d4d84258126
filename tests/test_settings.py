"""Settings: one typed place, read from the environment; a usable secret key or a one-line refusal."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from api.settings import MIN_SECRET_LENGTH, Settings, SettingsError, load_settings, secret_file_for


@pytest.fixture(autouse=True)
def bare_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """As on a bare machine: no KRINGKAS_* variables, no DATABASE_URL, and a working directory of our own."""
    for name in list(os.environ):
        if name.startswith("KRINGKAS_") or name in {"DATABASE_URL", "HOST", "PORT"}:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_settings_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://kk@db/kk")
    monkeypatch.setenv("KRINGKAS_SECRET_KEY", "s" * 40)
    monkeypatch.setenv("KRINGKAS_ACCESS_TOKEN_MINUTES", "10")
    monkeypatch.setenv("KRINGKAS_REFRESH_TOKEN_DAYS", "7")
    monkeypatch.setenv("KRINGKAS_CORS_ORIGINS", "https://app.kringkas.nl, https://beheer.kringkas.nl")
    monkeypatch.setenv("KRINGKAS_ENV", "production")
    settings = load_settings()
    assert settings.database_url == "postgresql+asyncpg://kk@db/kk"
    assert settings.secret_key == "s" * 40
    assert (settings.access_token_minutes, settings.refresh_token_days) == (10, 7)
    assert settings.cors_origins == ["https://app.kringkas.nl", "https://beheer.kringkas.nl"]
    assert settings.env == "production"


def test_the_defaults_are_a_15_minute_access_token_and_a_30_second_grace_window() -> None:
    settings = Settings()
    assert settings.access_token_minutes == 15
    assert settings.refresh_grace_seconds == 30
    assert settings.env == "development"
    assert settings.password_profile == "owasp"


def test_cors_origins_may_also_be_a_json_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KRINGKAS_CORS_ORIGINS", '["https://app.kringkas.nl"]')
    assert Settings().cors_origins == ["https://app.kringkas.nl"]


def test_on_a_bare_machine_a_secret_is_generated_once_beside_the_database_and_reused(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/data/kringkas.sqlite3"
    first = load_settings(database_url=url)
    path = tmp_path / "data" / "kringkas.sqlite3.secret"
    assert secret_file_for(url) == path
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first.secret_key) >= MIN_SECRET_LENGTH
    assert load_settings(database_url=url).secret_key == first.secret_key
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary files left behind


def test_two_databases_get_two_different_secrets(tmp_path: Path) -> None:
    one = load_settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/one.sqlite3")
    two = load_settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/two.sqlite3")
    assert one.secret_key != two.secret_key


def test_a_secret_key_from_the_environment_is_used_and_no_file_is_written(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KRINGKAS_SECRET_KEY", "from-the-environment-" + "e" * 20)
    settings = load_settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/k.sqlite3")
    assert settings.secret_key == "from-the-environment-" + "e" * 20
    assert not (tmp_path / "k.sqlite3.secret").exists()


def test_an_emptied_secret_file_is_refused_rather_than_used(tmp_path: Path) -> None:
    (tmp_path / "k.sqlite3.secret").write_text("")
    with pytest.raises(SettingsError, match="no usable key"):
        load_settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/k.sqlite3")


@pytest.mark.parametrize("key", [None, "", "too-short-" + "x" * 10])
def test_production_refuses_a_missing_or_short_secret_key_in_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, key: str | None
) -> None:
    monkeypatch.setenv("KRINGKAS_ENV", "production")
    if key is not None:
        monkeypatch.setenv("KRINGKAS_SECRET_KEY", key)
    with pytest.raises(SettingsError) as refused:
        load_settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/k.sqlite3")
    message = str(refused.value)
    assert "KRINGKAS_SECRET_KEY" in message and str(MIN_SECRET_LENGTH) in message
    assert "\n" not in message
    assert not (tmp_path / "k.sqlite3.secret").exists()  # production never makes up a key


def test_production_refuses_the_cheap_test_password_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KRINGKAS_ENV", "production")
    monkeypatch.setenv("KRINGKAS_SECRET_KEY", "p" * 48)
    monkeypatch.setenv("KRINGKAS_PASSWORD_PROFILE", "test")
    with pytest.raises(SettingsError, match="KRINGKAS_PASSWORD_PROFILE"):
        load_settings()


@pytest.mark.parametrize(("name", "value"), [("KRINGKAS_ENV", "prod"), ("PORT", "eighty"),
                                             ("KRINGKAS_ACCESS_TOKEN_MINUTES", "0")])
def test_an_unusable_value_is_named_in_one_line(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as refused:
        load_settings()
    assert str(refused.value).startswith(f"{name} is not usable")
    assert "\n" not in str(refused.value)
