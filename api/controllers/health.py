from __future__ import annotations

from litestar import get
from litestar.datastructures import State
from sqlalchemy import text


@get("/health", summary="The app and its database answer", tags=["health"], exclude_from_auth=True)
async def health(state: State) -> dict[str, str]:
    async with state.sessionmaker() as db:
        await db.execute(text("SELECT 1"))
    return {"status": "ok", "database": "ok"}
