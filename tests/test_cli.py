"""The `kringkas` console script, run as a person would: a subprocess against a temporary SQLite file."""

from __future__ import annotations

import json
import os
import selectors
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from api.cli import openapi_json
from domain.migrate import alembic_config, upgrade
from domain.passwords import verify_password

KRINGKAS = Path(sys.executable).parent / "kringkas"


class Cli:
    def __init__(self, tmp_path: Path) -> None:
        self.db = tmp_path / "data" / "kringkas.sqlite3"
        self.cwd = tmp_path
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith("KRINGKAS_") and k not in {"DATABASE_URL", "HOST", "PORT"}}
        self.env.update(DATABASE_URL=f"sqlite+aiosqlite:///{self.db}", KRINGKAS_PASSWORD_PROFILE="test")

    def __call__(self, *args: str, input: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(KRINGKAS), *args], cwd=self.cwd, env={**self.env, **env}, input=input,
                              capture_output=True, text=True, timeout=120, start_new_session=True)

    def ok(self, *args: str, input: str | None = None) -> str:
        done = self(*args, input=input)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def query(self, sql: str) -> list[tuple[object, ...]]:
        with sqlite3.connect(self.db) as connection:
            return connection.execute(sql).fetchall()

    def row_counts(self) -> dict[str, int]:
        tables = [name for (name,) in self.query("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {table: self.query(f'SELECT count(*) FROM "{table}"')[0][0] for table in tables}  # type: ignore[misc]


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


@pytest.fixture
def migrated(cli: Cli) -> Cli:
    """A migrated file, made in-process to save a start-up (`kringkas migrate` itself is tested below)."""
    cli.db.parent.mkdir(parents=True)
    upgrade(cli.env["DATABASE_URL"])
    return cli


def test_migrate_builds_the_whole_schema_on_a_fresh_file(cli: Cli) -> None:
    assert not cli.db.parent.exists()
    assert "migrated" in cli.ok("migrate")
    head = ScriptDirectory.from_config(alembic_config(cli.env["DATABASE_URL"])).get_current_head()
    assert cli.query("SELECT version_num FROM alembic_version") == [(head,)]
    assert {"users", "refresh_tokens", "login_throttles", "organisations"} <= set(cli.row_counts())
    assert "migrated" in cli.ok("migrate")  # and again: nothing to do, no error


def test_create_user_makes_the_organisation_when_it_is_new_and_reuses_it_after(migrated: Cli) -> None:
    out = migrated.ok("create-user", "--role", "admin", "--email", "Fatima@Example.org", "--display-name", "Fatima",
                      "--password", "a long enough password", "--organisation", "Stichting Noord")
    assert "created admin fatima@example.org in Stichting Noord" in out
    migrated.ok("create-user", "--role", "begeleider", "--email", "ingrid@example.org", "--display-name", "Ingrid",
                "--password", "another long password", "--organisation", "Stichting Noord")
    assert migrated.query("SELECT name FROM organisations") == [("Stichting Noord",)]
    users = migrated.query("SELECT email, role, display_name, password_hash FROM users ORDER BY email")
    assert [row[:3] for row in users] == [("fatima@example.org", "admin", "Fatima"),
                                          ("ingrid@example.org", "begeleider", "Ingrid")]
    assert str(users[0][3]).startswith("$argon2id$")
    assert verify_password(str(users[0][3]), "a long enough password", "test")


def test_create_user_asks_for_the_password_when_it_is_not_given(migrated: Cli) -> None:
    done = migrated("create-user", "--role", "funder", "--email", "fonds@example.org", "--display-name", "Fonds",
                    "--organisation", "Gemeente", input="typed at the prompt\n")
    assert done.returncode == 0, done.stderr
    (password_hash,) = migrated.query("SELECT password_hash FROM users")[0]
    assert verify_password(str(password_hash), "typed at the prompt", "test")


def test_create_user_refuses_an_email_in_use_in_one_line(migrated: Cli) -> None:
    args = ("create-user", "--role", "admin", "--email", "dubbel@example.org", "--display-name", "Dubbel",
            "--password", "a long enough password", "--organisation", "Stichting Noord")
    migrated.ok(*args)
    done = migrated(*args)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "user.email_taken" in done.stderr
    assert "Traceback" not in done.stderr
    assert migrated.query("SELECT count(*) FROM users") == [(1,)]


def test_create_user_on_a_database_that_was_never_migrated_says_to_migrate(cli: Cli) -> None:
    cli.db.parent.mkdir()
    done = cli("create-user", "--role", "admin", "--email", "a@example.org", "--display-name", "A",
               "--password", "a long enough password", "--organisation", "O")
    assert done.returncode == 1
    assert "kringkas migrate" in done.stderr and done.stderr.count("\n") == 1


def test_demo_is_idempotent_the_second_run_adds_no_rows(migrated: Cli) -> None:
    first = migrated.ok("demo")
    after_first = migrated.row_counts()
    assert after_first["users"] == 5 and after_first["groups"] == 6 and after_first["members"] > 20
    second = migrated.ok("demo")
    assert migrated.row_counts() == after_first
    assert "demo data loaded" in first and "already there" in second
    assert "admin@demo.kringkas.nl" in second  # the logins are shown either way


def test_demo_if_empty_prints_the_demo_logins_that_make_run_shows(migrated: Cli) -> None:
    out = migrated.ok("demo", "--if-empty")
    for email in ("admin@demo.kringkas.nl", "ingrid@demo.kringkas.nl", "fonds@demo.kringkas.nl",
                  "amina@demo.kringkas.nl"):
        assert email in out
    assert "kringkas-demo" in out  # the password


def test_demo_if_empty_leaves_a_database_with_other_data_alone(migrated: Cli) -> None:
    migrated.ok("create-user", "--role", "admin", "--email", "echt@example.org", "--display-name", "Echt",
                "--password", "a long enough password", "--organisation", "Echte Stichting")
    before = migrated.row_counts()
    assert "no demo data loaded" in migrated.ok("demo", "--if-empty")
    assert migrated.row_counts() == before


def test_demo_is_refused_in_production(migrated: Cli) -> None:
    done = migrated("demo", KRINGKAS_ENV="production", KRINGKAS_SECRET_KEY="p" * 48,
                    KRINGKAS_PASSWORD_PROFILE="owasp")
    assert done.returncode != 0 and "production" in done.stderr
    assert migrated.query("SELECT count(*) FROM users") == [(0,)]


def test_openapi_writes_the_document_to_the_path_given(cli: Cli, tmp_path: Path) -> None:
    output = tmp_path / "out" / "openapi.json"
    assert str(output) in cli.ok("openapi", "--output", str(output))
    document = json.loads(output.read_text())
    assert {"/api/v1/auth/login", "/api/v1/auth/refresh", "/api/v1/auth/logout", "/api/v1/me",
            "/api/v1/users"} <= set(document["paths"])
    assert output.read_text() == openapi_json()
    assert not cli.db.exists()  # writing the document needs no database


@pytest.mark.parametrize("key", [None, "short"])
def test_serve_in_production_without_a_usable_key_exits_with_one_line(cli: Cli, key: str | None) -> None:
    env = {"KRINGKAS_ENV": "production"} | ({"KRINGKAS_SECRET_KEY": key} if key else {})
    done = cli("serve", "--port", "1", **env)
    assert done.returncode != 0
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("kringkas: KRINGKAS_SECRET_KEY must be set")
    assert "Traceback" not in done.stderr and done.stdout == ""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_says_where_it_listens_and_answers_there(migrated: Cli) -> None:
    port = _free_port()
    server = subprocess.Popen([str(KRINGKAS), "serve", "--port", str(port)], cwd=migrated.cwd, env=migrated.env,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        assert server.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(server.stdout, selectors.EVENT_READ)
        assert selector.select(timeout=30), "kringkas serve printed nothing"
        assert server.stdout.readline().startswith(f"kringkas: serving on http://127.0.0.1:{port}")
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                    assert response.status == 200
                    assert json.loads(response.read()) == {"status": "ok", "database": "ok"}
                    break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "kringkas serve did not answer"
                time.sleep(0.1)
        secret = migrated.db.with_name("kringkas.sqlite3.secret")
        assert secret.exists() and oct(secret.stat().st_mode & 0o777) == "0o600"
    finally:
        server.terminate()
        server.wait(timeout=15)
