"""The `kringkas` console script: serve, migrate, create-user, demo, openapi."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from datetime import date
from pathlib import Path

from api.settings import Settings, SettingsError, load_settings


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as problem:
        print(f"kringkas: {problem}", file=sys.stderr)
        raise SystemExit(2) from None


def cmd_migrate(_: argparse.Namespace) -> None:
    from domain.migrate import upgrade

    settings = _settings()
    upgrade(settings.database_url)
    print("kringkas: database migrated to the latest version")


async def _with_session(settings: Settings, work):  # type: ignore[no-untyped-def]
    from domain.database import make_engine, make_sessionmaker

    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)() as db:
            result = await work(db)
            await db.commit()
            return result
    finally:
        await engine.dispose()


def cmd_demo(args: argparse.Namespace) -> None:
    from domain.demo import load_demo

    settings = _settings()
    demo = asyncio.run(_with_session(settings, lambda db: load_demo(
        db, password_profile=settings.password_profile, today=date.today(), only_if_empty=args.if_empty)))
    if not demo.logins:
        print("kringkas: the database holds data already; no demo data loaded")
        return
    print("kringkas: demo data loaded" if demo.created else "kringkas: demo data was already there")
    print("kringkas: demo logins (role, email, password):")
    for role, email, password in demo.logins:
        print(f"  {role:<11} {email:<28} {password}")


def cmd_create_user(args: argparse.Namespace) -> None:
    from domain import people
    from domain.errors import DomainError
    from domain.models import Role

    settings = _settings()
    password = args.password or getpass.getpass("Password: ")

    async def work(db):  # type: ignore[no-untyped-def]
        organisation = await people.get_or_create_organisation(db, args.organisation)
        new = people.NewUser(args.email, password, Role(args.role), args.display_name)
        user, _ = await people.add_user(db, organisation.id, new, password_profile=settings.password_profile)
        return user

    try:
        user = asyncio.run(_with_session(settings, work))
    except DomainError as error:
        print(f"kringkas: {error.code} {error.params or ''}", file=sys.stderr)
        raise SystemExit(1) from None
    print(f"kringkas: created {args.role} {user.email} in {args.organisation}")


def cmd_openapi(args: argparse.Namespace) -> None:
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(openapi_json())
    print(f"kringkas: wrote {args.output}")


def openapi_json() -> str:
    from api.app import create_app

    app = create_app(Settings(secret_key="openapi-only-" + "x" * 32))
    return json.dumps(app.openapi_schema.to_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    settings = _settings()
    host = args.host or settings.host
    port = args.port or settings.port
    print(f"kringkas: serving on http://{host}:{port} (docs: http://{host}:{port}/schema)", flush=True)
    uvicorn.run("api.app:app_from_env", factory=True, host=host, port=port,
                workers=args.workers or settings.workers, log_level="info", proxy_headers=False)


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
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
