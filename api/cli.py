"""The `kringkas` console script: serve, migrate, create-user, demo, openapi, dump, restore.

Every command reads the settings the way the server does (`load_settings`); a setting that can't be
used ends the command with one line on stderr and exit status 2. Other failures are one line and exit 1.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from api.settings import Settings, SettingsError, load_settings, sqlite_path

T = TypeVar("T")


def _fail(message: str, status: int = 1) -> NoReturn:
    print(f"kringkas: {message}", file=sys.stderr)
    raise SystemExit(status)


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as problem:
        _fail(str(problem), 2)


def _run(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    """Run `work(db)` in one transaction; database trouble becomes one line, not a traceback."""
    from sqlalchemy.exc import DBAPIError

    from domain.database import make_engine, make_sessionmaker
    from domain.errors import DomainError

    async def run() -> T:
        engine = make_engine(settings.database_url)
        try:
            async with make_sessionmaker(engine)() as db:
                result = await work(db)
                await db.commit()
                return result
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except DomainError as error:
        from api.messages import render_message

        title, detail = render_message(error.code, "en", error.params)
        _fail(f"{title}: {detail} ({error.code})")
    except DBAPIError as error:
        text = str(error.orig).splitlines()[0] if error.orig is not None else type(error).__name__
        if "no such table" in text or "does not exist" in text:
            _fail(f"the database has no tables yet ({text}); run `kringkas migrate` first")
        _fail(f"database error: {text}")
    except OSError as error:
        _fail(f"can't reach the database: {error}")


def cmd_migrate(_: argparse.Namespace) -> None:
    from domain.migrate import upgrade

    settings = _settings()
    path = sqlite_path(settings.database_url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        upgrade(settings.database_url)
    except OSError as error:
        _fail(f"can't reach the database: {error}")
    print("kringkas: database migrated to the latest version")


def cmd_demo(args: argparse.Namespace) -> None:
    from domain.demo import load_demo

    settings = _settings()
    if settings.env == "production":
        _fail("demo data has well-known passwords; it is not loaded with KRINGKAS_ENV=production", 2)
    demo = _run(settings, lambda db: load_demo(
        db, password_profile=settings.password_profile, today=date.today(), only_if_empty=args.if_empty))
    if not demo.logins:
        print("kringkas: the database holds data already; no demo data loaded")
        return
    print("kringkas: demo data loaded" if demo.created else "kringkas: demo data was already there")
    print("kringkas: demo logins (role, email, password):")
    for role, email, password in demo.logins:
        print(f"  {role:<11} {email:<28} {password}")


def _ask_password() -> str:
    password = getpass.getpass("Password: ")
    if sys.stdin.isatty() and getpass.getpass("Password (again): ") != password:
        _fail("the two passwords differ; nothing was created")
    return password


def cmd_create_user(args: argparse.Namespace) -> None:
    from domain import people
    from domain.models import Role

    settings = _settings()
    password = args.password if args.password is not None else _ask_password()

    async def work(db: Any) -> Any:
        organisation = await people.get_or_create_organisation(db, args.organisation)
        new = people.NewUser(args.email, password, Role(args.role), args.display_name)
        user, _ = await people.add_user(db, organisation.id, new, password_profile=settings.password_profile)
        return user

    user = _run(settings, work)
    print(f"kringkas: created {args.role} {user.email} in {args.organisation}")


def cmd_openapi(args: argparse.Namespace) -> None:
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(openapi_json())
    print(f"kringkas: wrote {args.output}")


def openapi_json() -> str:
    from api.app import create_app

    app = create_app(Settings(secret_key="openapi-only-" + "x" * 32))
    return json.dumps(app.openapi_schema.to_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def cmd_dump(args: argparse.Namespace) -> None:
    """One organisation to a file (domain/dump.py describes the format). Written beside the target
    and renamed into place, so a dump that fails leaves no half file behind."""
    from datetime import UTC, datetime

    from domain.dump import EXCLUDED, DumpRefused, dump_organisation

    settings = _settings()
    out = Path(args.out)
    partial = out.with_name(out.name + ".partial")
    try:
        with partial.open("wb") as sink:
            summary = _run(settings, lambda db: dump_organisation(db, sink, args.organisation,
                                                                  now=datetime.now(UTC)))
        partial.replace(out)
    except DumpRefused as refused:
        _fail(str(refused))
    except OSError as error:
        _fail(f"can't write {out}: {error}")
    finally:
        partial.unlink(missing_ok=True)
    print(f"kringkas: dumped {summary.organisation_name!r} ({sum(summary.rows.values())} rows in "
          f"{len(summary.rows)} tables) to {out}; not moved: {', '.join(EXCLUDED)}")


def cmd_restore(args: argparse.Namespace) -> None:
    """A dump into this database, in one transaction: all of it or, when anything is refused, nothing."""
    from domain.dump import DumpRefused, restore_organisation

    settings = _settings()
    try:
        with Path(args.file).open("rb") as source:
            summary = _run(settings, lambda db: restore_organisation(db, source))
    except DumpRefused as refused:
        _fail(str(refused))
    except OSError as error:
        _fail(f"can't read {args.file}: {error}")
    print(f"kringkas: restored {summary.organisation_name!r} ({sum(summary.rows.values())} rows); "
          f"not moved: {', '.join(summary.excluded)} (everyone logs in again)")


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    settings = _settings()  # refuses a bad configuration here, before uvicorn starts, in one line
    host = args.host or settings.host
    port = args.port or settings.port
    print(f"kringkas: serving on http://{host}:{port} (docs: http://{host}:{port}/schema)", flush=True)
    uvicorn.run("api.app:app_from_env", factory=True, host=host, port=port,
                workers=args.workers or settings.workers, log_level="info", proxy_headers=False,
                access_log=False)  # our own request log (api/observability.py) keeps query strings and secrets out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="kringkas", description="Kringkas: spaarkringen and luistergroepen")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the API (HOST, PORT, DATABASE_URL)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int)
    serve.set_defaults(func=cmd_serve)
    sub.add_parser("migrate", help="migrate the database to the latest version").set_defaults(func=cmd_migrate)
    create = sub.add_parser("create-user", help="create a user (and the organisation when new)")
    create.add_argument("--role", required=True, choices=["admin", "begeleider", "funder"])
    create.add_argument("--email", required=True)
    create.add_argument("--display-name", required=True)
    create.add_argument("--password", help="prompted for when left out")
    create.add_argument("--organisation", required=True, help="its name; made when it does not exist yet")
    create.set_defaults(func=cmd_create_user)
    demo = sub.add_parser("demo", help="load demo data (idempotent)")
    demo.add_argument("--if-empty", action="store_true", help="only when the database holds no organisation yet")
    demo.set_defaults(func=cmd_demo)
    openapi = sub.add_parser("openapi", help="write the OpenAPI document")
    openapi.add_argument("--output", default="openapi/openapi.json")
    openapi.set_defaults(func=cmd_openapi)
    dump = sub.add_parser("dump", help="write one organisation to a file, to restore elsewhere (DATABASE_URL)")
    dump.add_argument("--organisation", help="its name or id; may be left out when the database holds one")
    dump.add_argument("--out", required=True, help="the file to write")
    dump.set_defaults(func=cmd_dump)
    restore = sub.add_parser("restore", help="load a dump into this database (migrated; without the organisation)")
    restore.add_argument("file", help="a file written by `kringkas dump`")
    restore.set_defaults(func=cmd_restore)
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
