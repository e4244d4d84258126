"""The funder's impact export, through HTTP: who may get it, what it says, and what it never says."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import date
from typing import Any
from uuid import UUID

import openpyxl
import pytest
from sqlalchemy import event, select

from domain import cycles, groups, loans
from domain.indicators import DEFINITIONS_VERSION, INDICATORS
from domain.ledger import cash_expected
from domain.models import Group, GroupKind, InterestDistribution, Member, User, utcnow
from tests.kring import RULES, Kring
from tests.world import World

PERIOD = {"from": "2026-01-01", "to": "2026-12-31"}
SAVING_ONLY = cycles.CycleRules(min_deposit_cents=500, max_deposit_cents=5000, max_loan_multiple=0,
                                max_loan_term_meetings=4, default_interest_rate_bp=0,
                                interest_distribution=InterestDistribution.PRO_RATA)


def url(world: World, programme: str = "a", **params: str) -> str:
    query = {"programme_id": str(world.programmes[programme]), **PERIOD, **params}
    return "/api/v1/exports/impact?" + "&".join(f"{k}={v}" for k, v in query.items())


async def close(kring: Kring, meeting_id: UUID) -> None:
    async with kring.sessionmaker() as db:
        expected = await cash_expected(db, kring.cycle_id)
    await kring.close(meeting_id, expected)


async def lend(kring: Kring, meeting_id: UUID, borrower: UUID, amount_cents: int, term: int) -> UUID:
    async with kring.sessionmaker() as db:
        now = utcnow()
        loan, _ = await loans.request_loan(db, kring.admin, kring.cycle_id, loans.LoanRequest(borrower, amount_cents, term),
                                           loan_id=None, now=now)
        await loans.decide_loan(db, kring.admin, loan.id, meeting_id,
                                {m: "for" for m in kring.everyone if m != borrower}, None, now)
        await loans.disburse(db, kring.admin, loan.id, meeting_id,
                             loans.CashMove(kring.counter_for(borrower), kring.witnesses_for(borrower)),
                             entry_id=None, now=now)
        await db.commit()
    return loan.id


async def repay(kring: Kring, meeting_id: UUID, loan_id: UUID, borrower: UUID, amount_cents: int) -> None:
    async with kring.sessionmaker() as db:
        await loans.repay(db, kring.admin, loan_id, meeting_id, amount_cents,
                          loans.CashMove(kring.counter_for(borrower), kring.witnesses_for(borrower)),
                          entry_id=None, now=utcnow())
        await db.commit()


async def kring_with_loans(world: World) -> Kring:
    """Group A (programme a): three held meetings; everyone borrows 500 at meeting 1, due at meeting 3;
    four repay 525 by then, Eva never does."""
    kring = await Kring.build(world, rules=RULES)
    first = await kring.open_meeting(1)
    for member, cents in zip(kring.everyone, [1000, 2000, 500, 1500, 1000], strict=True):
        await kring.deposit(first, member, cents)
    lent = {member: await lend(kring, first, member, 500, 2) for member in kring.everyone}
    await close(kring, first)
    second = await kring.open_meeting(2)
    for member in kring.everyone:
        await kring.deposit(second, member, 500)
    for member in (kring.amina, kring.bram, kring.chris):
        await repay(kring, second, lent[member], member, 525)
    await close(kring, second)
    third = await kring.open_meeting(3)
    await repay(kring, third, lent[kring.dewi], kring.dewi, 525)
    await close(kring, third)
    return kring


async def luistergroep_of_four(world: World) -> UUID:
    """A luistergroep in programme a whose four members joined in the period: figures about 4 people."""
    async with world.sessionmaker() as db:
        admin = world.actor("admin")
        group, _ = await groups.create_group(db, admin, groups.NewGroup(
            "Luistergroep Vier", GroupKind.LUISTERGROEP, world.programmes["a"], frozenset({world.users["begeleider_b"].id})))
        for name in ("Fenna", "Gijs", "Hanna", "Ivo"):
            await groups.add_member(db, admin, group.id, groups.NewMember(f"{name} Vier", "0698765432", date(2026, 2, 2)))
        await db.commit()
    return group.id


async def export(world: World, fmt: str, user: str = "funder", lang: str = "nl", **params: str) -> Any:
    response = await world.client.get(url(world, format=fmt, **params), headers=world.auth(user, **{"Accept-Language": lang}))
    assert response.status_code == 200, response.text
    return response


def indicators(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {i["key"]: i for i in document["indicators"]}


def cells(document: dict[str, Any], breakdown: str, key: str) -> dict[str, dict[str, Any]]:
    part = next(b for b in document["breakdowns"] if b["breakdown"] == breakdown)
    line = next(i for i in part["indicators"] if i["key"] == key)
    return {c["label"]: c for c in line["cells"]}


def xlsx_text(content: bytes) -> str:
    """Every string inside the workbook's XML parts."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return "\n".join(archive.read(name).decode("utf-8", "replace") for name in archive.namelist())


async def secrets_in_the_database(world: World) -> list[str]:
    async with world.sessionmaker() as db:
        members = (await db.execute(select(Member.display_name, Member.phone, Member.id))).all()
        users = (await db.execute(select(User.display_name, User.email, User.id))).all()
        named = (await db.execute(select(Group.name, Group.id))).all()
    found = [str(value) for row in [*members, *users, *named] for value in row if value]
    found += [str(row[-1]).replace("-", "") for row in [*members, *users, *named]]  # ids without dashes too
    return sorted(set(found))


# --- access ------------------------------------------------------------------------------------------
async def test_a_funder_gets_404_for_a_programme_that_is_not_theirs_and_admins_of_another_organisation_too(
    world: World
) -> None:
    other = await world.client.get(url(world, "b"), headers=world.auth("funder"))
    elsewhere = await world.client.get(url(world, "a"), headers=world.auth("admin_y"))
    absent = await world.client.get(url(world, "a").replace(str(world.programmes["a"]), "00000000-0000-4000-8000-000000000000"),
                                    headers=world.auth("funder"))
    assert [other.status_code, elsewhere.status_code, absent.status_code] == [404, 404, 404]
    assert other.json()["code"] == "resource.not_found"
    own = await world.client.get(url(world, "b"), headers=world.auth("funder_2"))
    assert own.status_code == 200


async def test_begeleiders_and_members_are_refused_the_export_with_403(world: World) -> None:
    for user in ("begeleider_a", "member"):
        response = await world.client.get(url(world), headers=world.auth(user))
        assert (response.status_code, response.json()["code"]) == (403, "access.role_not_allowed")


@pytest.mark.parametrize(("period", "code"), [
    ({"from": "2026-03-01", "to": "2026-02-28"}, "export.period_reversed"),
    ({"from": "2021-01-01", "to": "2026-01-31"}, "export.period_too_long"),
])
async def test_a_reversed_or_longer_than_five_year_period_is_refused_with_422_and_its_code(
    world: World, period: dict[str, str], code: str
) -> None:
    response = await world.client.get(url(world, **period), headers=world.auth("funder", **{"Accept-Language": "en"}))
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code
    assert "months" in response.json()["detail"] or "after" in response.json()["detail"]


async def test_an_unknown_format_or_a_malformed_date_is_a_422_listing_the_field(world: World) -> None:
    bad_format = await world.client.get(url(world, format="pdf"), headers=world.auth("funder"))
    bad_date = await world.client.get(url(world).replace("2026-12-31", "2026-13-01"), headers=world.auth("funder"))
    assert [bad_format.status_code, bad_date.status_code] == [422, 422]
    assert bad_format.json()["code"] == bad_date.json()["code"] == "request.invalid"


# --- privacy -----------------------------------------------------------------------------------------
async def test_no_name_phone_or_id_of_a_member_user_or_group_appears_in_any_format(world: World) -> None:
    await kring_with_loans(world)
    await luistergroep_of_four(world)
    secrets = await secrets_in_the_database(world)
    assert "Amina A" in secrets and "0612345678" in secrets and "Groep A" in secrets  # the search is real
    for lang in ("nl", "en"):
        as_json = (await export(world, "json", lang=lang)).text
        as_csv = (await export(world, "csv", lang=lang)).text
        as_xlsx = xlsx_text((await export(world, "xlsx", lang=lang)).content)
        for text, fmt in ((as_json, "json"), (as_csv, "csv"), (as_xlsx, "xlsx")):
            leaked = [s for s in secrets if s.lower() in text.lower()]
            assert not leaked, f"{fmt} ({lang}) shows {leaked}"


async def test_a_figure_about_four_people_is_suppressed_and_cannot_be_worked_out_from_the_total(world: World) -> None:
    await kring_with_loans(world)  # group A: 5 members joined 2026-01-05
    await luistergroep_of_four(world)  # 4 members joined 2026-02-02
    document = (await export(world, "json")).json()
    joined = indicators(document)["members_joined"]
    assert joined["value"] == 9 and not joined["suppressed"]
    by_kind = cells(document, "kind", "members_joined")
    assert by_kind["luistergroep"] == {"label": "luistergroep", "value": None, "suppressed": True, "reason": "fewer_than_5"}
    assert by_kind["spaarkring"]["suppressed"]  # 9 − 5 would give the 4 back
    visible = sum(c["value"] for c in by_kind.values() if not c["suppressed"])
    assert joined["value"] - visible != 4
    by_month = cells(document, "month", "members_joined")
    assert by_month["2026-02"]["suppressed"] and by_month["2026-02"]["reason"] == "fewer_than_5"
    assert by_month["2026-01"]["suppressed"] and by_month["2026-01"]["reason"] == "protects_a_suppressed_cell"
    assert all(c["value"] == 0 for label, c in by_month.items() if label not in ("2026-01", "2026-02"))

    rows = list(csv.DictReader(io.StringIO((await export(world, "csv")).text)))
    hidden = next(r for r in rows if r["breakdown"] == "kind" and r["label"] == "luistergroep"
                  and r["indicator"] == "members_joined")
    assert (hidden["value"], hidden["status"], hidden["reason"]) == ("onderdrukt", "suppressed", "fewer_than_5")
    english = list(csv.DictReader(io.StringIO((await export(world, "csv", lang="en")).text)))
    assert {r["value"] for r in english if r["status"] == "suppressed"} == {"suppressed"}

    book = openpyxl.load_workbook(io.BytesIO((await export(world, "xlsx")).content), read_only=True)
    sheet = list(book["Per soort groep"].iter_rows(values_only=True))
    header, line = sheet[0], next(r for r in sheet if r[0] == "members_joined")
    assert dict(zip(header, line, strict=True))["luistergroep"] == "onderdrukt"
    assert dict(zip(header, line, strict=True))["totaal"] == 9


# --- what it says ------------------------------------------------------------------------------------
async def test_the_figures_of_a_known_kring_follow_from_its_books(world: World) -> None:
    await kring_with_loans(world)
    got = {k: (v["value"], v["suppressed"], v["reason"]) for k, v in indicators((await export(world, "json")).json()).items()}
    assert got["meetings_held"] == (3, False, None)
    assert got["groups_active"] == (1, False, None)
    assert got["attendance_rate_bp"] == (10_000, False, None)
    assert got["members_active"] == (5, False, None)
    assert got["savings_cents"] == (8500, False, None)  # 6000 + 2500
    assert got["savers"] == (5, False, None)
    assert got["savings_per_saver_mean_cents"] == (1700, False, None)
    assert got["savings_per_saver_median_cents"] == (1500, False, None)  # 1000 1500 [1500] 2000 2500
    assert got["savings_per_meeting_cents"] == (2833, False, None)  # 8500 / 3, half up
    assert got["loans_issued"] == (5, False, None)
    assert got["loans_issued_cents"] == (2500, False, None)
    assert got["loans_due"] == (5, False, None)
    assert got["loans_repaid_on_time_bp"] == (8000, False, None)
    # only Eva's loan is late: about one person, so suppressed, and PAR with it
    assert got["loans_overdue_at_end"] == (None, True, "fewer_than_5")
    assert got["portfolio_at_risk_bp"] == (None, True, "fewer_than_5")
    assert got["members_at_end"] == (5, False, None)


async def test_an_undefined_ratio_is_null_with_a_reason_and_never_zero(world: World) -> None:
    kring = await Kring.build(world, rules=SAVING_ONLY)
    meeting = await kring.open_meeting(1)
    for member in kring.everyone:
        await kring.deposit(meeting, member, 1000)
    await close(kring, meeting)
    document = (await export(world, "json")).json()
    got = indicators(document)
    for key, reason in [("portfolio_at_risk_bp", "no_loans_outstanding"), ("loan_fund_utilisation_bp", "no_loan_fund"),
                        ("loans_repaid_on_time_bp", "no_loans_due"), ("return_on_savings_bp", "no_share_out"),
                        ("retention_bp", "no_share_out")]:
        assert (got[key]["value"], got[key]["suppressed"], got[key]["reason"]) == (None, False, reason), key
    assert got["loans_issued"]["value"] == 0  # a count about nobody is 0
    rows = list(csv.DictReader(io.StringIO((await export(world, "csv")).text)))
    par = next(r for r in rows if r["breakdown"] == "total" and r["indicator"] == "portfolio_at_risk_bp")
    assert (par["value"], par["status"], par["reason"]) == ("", "undefined", "no_loans_outstanding")


async def test_every_format_carries_the_definitions_and_their_version(world: World) -> None:
    document = (await export(world, "json")).json()
    assert document["definitions_version"] == DEFINITIONS_VERSION
    assert [d["key"] for d in document["definitions"]] == [i.key for i in INDICATORS]
    assert all(d["formula"] and d["name_nl"] and d["name_en"] for d in document["definitions"])

    response = await export(world, "csv")
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'filename="kringkas-impact-2026-01-01-2026-12-31.csv"' in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8"))))
    assert {r["definitions_version"] for r in rows} == {DEFINITIONS_VERSION}
    formulas = {i.key: i.formula for i in INDICATORS}
    assert all(r["definition"] == formulas[r["indicator"]] for r in rows)
    assert {r["indicator"] for r in rows} == set(formulas)

    book = openpyxl.load_workbook(io.BytesIO((await export(world, "xlsx")).content), read_only=True)
    assert book.sheetnames == ["Indicatoren", "Per soort groep", "Per status", "Per maand", "Definities"]
    definitions = list(book["Definities"].iter_rows(values_only=True))
    assert definitions[0][:2] == ("versie definities", DEFINITIONS_VERSION)
    assert [r[0] for r in definitions[3:]] == [i.key for i in INDICATORS]
    summary = list(book["Indicatoren"].iter_rows(values_only=True))
    assert ("versie definities", DEFINITIONS_VERSION) in [r[:2] for r in summary]


def display(unit: str, cell: dict[str, Any]) -> object:
    """What the workbook should show for a JSON figure."""
    if cell["suppressed"]:
        return "onderdrukt"
    if cell["value"] is None:
        return "n.v.t."
    return {"cents": cell["value"] / 100, "ratio_bp": cell["value"] / 10_000}.get(unit, cell["value"])


async def test_the_xlsx_opens_in_a_real_reader_and_every_number_equals_the_jsons(world: World) -> None:
    await kring_with_loans(world)
    await luistergroep_of_four(world)
    document = (await export(world, "json")).json()
    content = (await export(world, "xlsx")).content
    book = openpyxl.load_workbook(io.BytesIO(content))  # the full reader, not only read-only mode
    units = {i["key"]: i["unit"] for i in document["indicators"]}

    rows = list(book["Indicatoren"].iter_rows(values_only=True))
    start = next(n for n, r in enumerate(rows) if r[0] == "indicator")
    shown = {r[0]: r[3] for r in rows[start + 1:]}
    assert shown == {k: pytest.approx(display(units[k], v)) for k, v in indicators(document).items()}
    euro = next(c for c in book["Indicatoren"]["D"] if c.value == 85)  # savings: 8500 cents
    assert "€" in euro.number_format

    compared = 0
    for breakdown, title in (("kind", "Per soort groep"), ("status", "Per status"), ("month", "Per maand")):
        sheet = list(book[title].iter_rows(values_only=True))
        header = sheet[0]
        for line in sheet[1:]:
            key, row = line[0], dict(zip(header, line, strict=True))
            assert row["totaal"] == pytest.approx(display(units[key], indicators(document)[key]))
            for label, cell in cells(document, breakdown, key).items():
                assert row[label] == pytest.approx(display(units[key], cell)), (breakdown, key, label)
                compared += 1
    assert compared > 300


async def test_the_csv_is_utf8_with_one_header_row_and_every_figure_once(world: World) -> None:
    await kring_with_loans(world)
    text = (await export(world, "csv")).content.decode("utf-8")
    lines = text.splitlines()
    assert lines[0] == "definitions_version,breakdown,label,indicator,name,unit,value,status,reason,definition"
    rows = list(csv.DictReader(io.StringIO(text)))
    keys = [(r["breakdown"], r["label"], r["indicator"]) for r in rows]
    assert len(keys) == len(set(keys))
    assert all(re.fullmatch(r"-?\d+|onderdrukt|", r["value"]) for r in rows)
    assert sum(1 for r in rows if r["breakdown"] == "total") == len(INDICATORS)


async def test_the_export_costs_the_same_number_of_statements_for_one_group_or_three(world: World) -> None:
    """No per-group loop of queries: the statements are counted on the app's own engine."""
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    async def measure() -> int:
        engine = world.client.app.state.engine.sync_engine
        statements.clear()
        event.listen(engine, "before_cursor_execute", count)
        try:
            await export(world, "json")
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len([s for s in statements if s.lstrip().upper().startswith(("SELECT", "WITH"))])

    await kring_with_loans(world)
    one = await measure()
    await luistergroep_of_four(world)
    async with world.sessionmaker() as db:
        await groups.change_group(db, world.actor("admin"), world.groups["b"],
                                  groups.GroupChange(programme_id=world.programmes["a"]), (), date(2026, 6, 1))
        await db.commit()
    three = await measure()
    assert one == three
    assert one <= 12


async def test_luistergroep_sessions_count_when_held_or_cancelled_and_rsvps_against_who_came(world: World) -> None:
    """Group B (a luistergroep) joins programme a; six Thursday sessions: one cancelled, four with attendance,
    the last never recorded. Everyone said yes to the first, and came."""
    async with world.sessionmaker() as db:
        await groups.change_group(db, world.actor("admin"), world.groups["b"],
                                  groups.GroupChange(programme_id=world.programmes["a"]), (), date(2026, 8, 1))
        await db.commit()
    admin = world.auth("admin")
    members = [str(world.members[f"b.{name}"]) for name in ("amina", "bram", "chris", "dewi", "eva")]
    series = await world.client.post(f"/api/v1/groups/{world.groups['b']}/series", headers=admin, json={
        "rrule": "FREQ=WEEKLY;BYDAY=TH;COUNT=6", "starts_at": "2026-09-03T19:30:00+02:00", "duration_minutes": 90,
        "location": "Buurthuis", "facilitator_user_id": str(world.users["begeleider_b"].id)})
    assert series.status_code == 201, series.text
    listed = await world.client.get(f"/api/v1/groups/{world.groups['b']}/sessions?from=2026-09-01T00:00:00%2B02:00"
                                    f"&to=2026-10-31T00:00:00%2B01:00", headers=admin)
    sessions = [s["id"] for s in listed.json()["items"]]
    assert len(sessions) == 6
    cancelled = await world.client.patch(f"/api/v1/sessions/{sessions[2]}", headers=admin,
                                         json={"status": "cancelled", "reason": "zaal niet beschikbaar"})
    assert cancelled.status_code == 200, cancelled.text
    for member in members:
        for session in (sessions[0], sessions[5]):
            answer = await world.client.put(f"/api/v1/sessions/{session}/rsvp", headers=admin,
                                            json={"member_id": member, "answer": "yes"})
            assert answer.status_code == 200, answer.text
    for session, present in ((sessions[0], members), (sessions[1], members), (sessions[3], members[:4]),
                             (sessions[4], members[:4])):
        recorded = await world.client.put(f"/api/v1/sessions/{session}/attendance", headers=admin,
                                          json={"present_member_ids": present})
        assert recorded.status_code == 200, recorded.text

    document = (await export(world, "json")).json()
    got = {k: (v["value"], v["reason"]) for k, v in indicators(document).items()}
    assert got["luistergroep_sessions_held"] == (4, None)
    assert got["luistergroep_sessions_cancelled"] == (1, None)
    assert got["luistergroep_participants"] == (5, None)
    assert got["luistergroep_attendance_per_session_bp"] == (45_000, None)  # (5 + 5 + 4 + 4) / 4 people
    assert got["luistergroep_rsvp_yes_attended_bp"] == (10_000, None)  # the last session's yeses don't count
    assert cells(document, "kind", "groups_active")["luistergroep"]["value"] == 1
    by_month = cells(document, "month", "luistergroep_sessions_held")
    # October's one session had 4 people: suppressed, and September (4 − 1 = 3 sessions) with it
    assert (by_month["2026-10"]["value"], by_month["2026-10"]["reason"]) == (None, "fewer_than_5")
    assert (by_month["2026-09"]["value"], by_month["2026-09"]["reason"]) == (None, "protects_a_suppressed_cell")
