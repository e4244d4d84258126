"""The demo funder's export: every indicator there, some figures suppressed, no demo person named."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

import openpyxl
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.demo import PASSWORD, _id, load_demo
from domain.exports import NOT_AVAILABLE
from domain.indicators import INDICATORS
from domain.models import Group, Member
from tests.api.test_exports import xlsx_text

TODAY = date(2026, 6, 15)


async def demo_export(client: AsyncTestClient[Litestar], sessionmaker: async_sessionmaker[AsyncSession],
                      fmt: str) -> Any:
    login = await client.post("/api/v1/auth/login", json={"email": "fonds@demo.kringkas.nl", "password": PASSWORD})
    token = login.json()["access_token"]
    query = (f"programme_id={_id('programme')}&from={(TODAY - timedelta(days=400)).isoformat()}"
             f"&to={TODAY.isoformat()}&format={fmt}")
    response = await client.get(f"/api/v1/exports/impact?{query}", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return response


async def test_the_demo_funder_sees_every_indicator_with_some_figures_suppressed_and_no_one_named(
    client: AsyncTestClient[Litestar], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with sessionmaker() as db:
        await load_demo(db, password_profile="test", today=TODAY)
        await db.commit()
        people = (await db.execute(select(Member.display_name, Member.phone, Member.id))).all()
        groups = (await db.execute(select(Group.name, Group.id))).all()
    document = (await demo_export(client, sessionmaker, "json")).json()
    headline = {i["key"]: i for i in document["indicators"]}
    assert list(headline) == [i.key for i in INDICATORS]
    assert not [k for k, v in headline.items() if v["reason"] == NOT_AVAILABLE]
    shown = [k for k, v in headline.items() if v["value"] is not None]
    assert len(shown) >= 30, sorted(set(headline) - set(shown))
    assert headline["loans_overdue_at_end"]["suppressed"]  # one borrower is late: too few to show
    cells = [c for b in document["breakdowns"] for line in b["indicators"] for c in line["cells"]]
    assert sum(c["reason"] == "fewer_than_5" for c in cells) > 5
    assert sum(c["reason"] == "protects_a_suppressed_cell" for c in cells) > 0
    assert headline["luistergroep_sessions_held"]["value"] > 0 and headline["members_active"]["value"] >= 30

    names = {str(v) for row in [*people, *groups] for v in row if v} | {str(row[-1]).replace("-", "")
                                                                          for row in [*people, *groups]}
    assert "Amina" in names
    texts = {"json": (await demo_export(client, sessionmaker, "json")).text,
             "csv": (await demo_export(client, sessionmaker, "csv")).text,
             "xlsx": xlsx_text((await demo_export(client, sessionmaker, "xlsx")).content)}
    for fmt, text in texts.items():
        # a whole display name as a cell or a word, never a substring of a word like "Gerda" in "begeleid"
        words = set(text.replace(",", " ").replace('"', " ").replace("<", " ").replace(">", " ").split())
        leaked = [n for n in names if n in words or (len(n) > 6 and n in text)]
        assert not leaked, f"{fmt}: {leaked}"
    rows = list(csv.DictReader(io.StringIO(texts["csv"])))
    assert {r["value"] for r in rows if r["status"] == "suppressed"} == {"onderdrukt"}
    book = openpyxl.load_workbook(io.BytesIO((await demo_export(client, sessionmaker, "xlsx")).content), read_only=True)
    assert "onderdrukt" in [c for row in book["Indicatoren"].iter_rows(values_only=True) for c in row]
