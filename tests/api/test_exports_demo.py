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
from domain.exports import ALL, NOT_AVAILABLE, TOTAL, Period, collect_measures, figure
from domain.indicators import INDICATORS
from domain.models import Group, Member
from tests.api.test_exports import xlsx_text

TODAY = date(2026, 6, 15)


# Indicators a real programme may leave undefined (null with a reason, not a privacy matter), and why
# the demo leaves them so. Empty: every indicator has a value a real programme would have, and the demo
# gives each one (a kring that shared out three cycles and runs a fourth, one that stopped after its
# first, loans repaid and overdue, a member who left, RSVPs on luistergroep sessions then held).
LEGITIMATELY_UNDEFINED: dict[str, str] = {}


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


async def test_every_indicator_of_the_demo_funders_export_has_a_value_before_disclosure_and_some_are_suppressed(
    client: AsyncTestClient[Litestar], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Nothing in the demo funder's export is null for want of data: before disclosure control every
    indicator has a value (except those listed above, with their reason); after it, each is shown or,
    for a few, suppressed because it is about fewer than 5 people."""
    async with sessionmaker() as db:
        await load_demo(db, password_profile="test", today=TODAY)
        await db.commit()
    period = Period(TODAY - timedelta(days=400), TODAY)
    async with sessionmaker() as db:
        collected = await collect_measures(db, _id("programme"), period)
    available = frozenset(collected.available)
    computed = {i.key: figure(i, collected.values.get((TOTAL, ALL), {}), available) for i in INDICATORS}
    undefined = {key: f.undefined_reason for key, f in computed.items() if f.value is None}
    assert undefined == {key: computed[key].undefined_reason for key in LEGITIMATELY_UNDEFINED}, undefined

    document = (await demo_export(client, sessionmaker, "json")).json()
    headline = {i["key"]: i for i in document["indicators"]}
    assert list(headline) == [i.key for i in INDICATORS]
    null_unsuppressed = {k: v["reason"] for k, v in headline.items() if v["value"] is None and not v["suppressed"]}
    assert set(null_unsuppressed) == set(LEGITIMATELY_UNDEFINED), null_unsuppressed
    suppressed = {k for k, v in headline.items() if v["suppressed"]}
    assert suppressed, "no headline figure is suppressed"
    assert len(suppressed) <= len(INDICATORS) // 4, suppressed  # most of the export is there to be read
    for key in suppressed:  # withheld for privacy: the figure exists, about 1 to 4 people
        assert 0 < computed[key].contributors < 5, (key, computed[key])
        assert headline[key]["reason"] == "fewer_than_5"
    shown = {k: v["value"] for k, v in headline.items() if not v["suppressed"]}
    # the figures the richer demo exists for are real, not zero
    for key in ("continuity_after_1_cycle_bp", "continuity_after_2_cycles_bp", "continuity_after_3_cycles_bp",
                "luistergroep_rsvp_yes_attended_bp", "groups_started", "groups_stopped", "share_outs_completed",
                "share_out_interest_cents", "return_on_savings_bp", "loans_repaid_on_time_bp"):
        assert key in shown and shown[key] > 0, (key, headline[key])
    assert shown["continuity_after_1_cycle_bp"] < 10_000  # not every group carries on: one stopped
    assert shown["retention_bp"] < 10_000  # a member left during a cycle that was shared out


async def test_the_demo_funders_headline_count_of_share_outs_equals_the_share_outs_per_kind_of_group(
    client: AsyncTestClient[Litestar], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with sessionmaker() as db:
        await load_demo(db, password_profile="test", today=TODAY)
        await db.commit()
    document = (await demo_export(client, sessionmaker, "json")).json()
    headline = {i["key"]: i for i in document["indicators"]}
    per_kind = next(line for b in document["breakdowns"] if b["breakdown"] == "kind"
                    for line in b["indicators"] if line["key"] == "share_outs_completed")["cells"]
    assert [c["value"] for c in per_kind] == [4]  # De Vlinder's first, De Eendracht's 2nd and 3rd, De Brug's
    assert headline["share_outs_completed"]["value"] == 4
