from __future__ import annotations

import asyncio
from typing import Any

from litestar import Request, Response, get
from litestar.datastructures import State
from sqlalchemy import text

from api.problems import database_unavailable, on_database_unavailable

DATABASE_TIMEOUT_SECONDS = 3.0  # a database that does not answer within this counts as unavailable


@get("/health", summary="The app and its database answer", tags=["health"], exclude_from_auth=True,
     description="200 `{\"status\": \"ok\", \"database\": \"ok\"}` when the database answers a `SELECT 1` within "
                 f"{DATABASE_TIMEOUT_SECONDS:g} s; otherwise 503 application/problem+json with the code "
                 "`database.unavailable` and `\"database\": \"unavailable\"`.")
async def health(request: Request[Any, Any, Any], state: State) -> Response[dict[str, str]]:
    try:
        async with asyncio.timeout(DATABASE_TIMEOUT_SECONDS):
            async with state.sessionmaker() as db:
                await db.execute(text("SELECT 1"))
    except Exception as exc:
        if not database_unavailable(exc):  # TimeoutError counts: it is an OSError
            raise  # to the one problem mapping (api/problems.py), like any other error
        return on_database_unavailable(request, exc, database="unavailable")  # type: ignore[return-value]
    return Response({"status": "ok", "database": "ok"})
