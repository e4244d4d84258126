"""The right to be forgotten, and the audit trail."""

from __future__ import annotations

from uuid import uuid4

from domain import groups, people
from domain.ledger import Witnessed
from domain.meetings import record_exit_payout
from domain.models import Role, utcnow
from tests.kring import Kring
from tests.world import PASSWORD, World


async def _leaver_paid_out(world: World) -> Kring:
    kring = await Kring.build(world)
    meeting = await kring.open_meeting()
    for member in kring.everyone:
        await kring.deposit(meeting, member, 1000)
    async with world.sessionmaker() as db:
        await groups.leave(db, kring.admin, world.groups["a"], kring.eva, utcnow().date(), "verhuisd naar Almere")
        await record_exit_payout(db, kring.admin, meeting, kring.eva, Witnessed(kring.eva, kring.chris,
                                                                                (kring.dewi, kring.bram)),
                                 entry_id=None, now=utcnow())
        await people.add_user(db, world.organisations["x"], people.NewUser(
            "eva@example.org", PASSWORD, Role.MEMBER, "Eva", member_id=kring.eva), password_profile="test")
        await db.commit()
    return kring


async def test_forgetting_a_member_replaces_their_name_and_closes_their_account_while_the_books_still_add_up(
    world: World,
) -> None:
    kring = await _leaver_paid_out(world)
    client, admin = world.client, world.auth("admin")
    before = (await client.get(f"/api/v1/cycles/{kring.cycle_id}/balances", headers=admin)).json()
    erased = await client.post(f"/api/v1/members/{kring.eva}/erase", headers=admin)
    assert erased.status_code == 200 and erased.json()["display_name"].startswith("Oud-lid ")
    after = (await client.get(f"/api/v1/cycles/{kring.cycle_id}/balances", headers=admin)).json()
    assert after["cash_expected_cents"] == before["cash_expected_cents"] == 4000
    assert [m["saved_cents"] for m in after["members"]] == [m["saved_cents"] for m in before["members"]]
    verify = (await client.get(f"/api/v1/cycles/{kring.cycle_id}/ledger/verify", headers=admin)).json()
    assert verify["ok"]
    member = (await client.get(f"/api/v1/groups/{world.groups['a']}/members/{kring.eva}", headers=admin)).json()
    assert (member["display_name"], member["phone"], member["leave_reason"]) == (erased.json()["display_name"], None, None)
    login = await client.post("/api/v1/auth/login", json={"email": "eva@example.org", "password": PASSWORD})
    assert login.status_code == 401
    again = await client.post(f"/api/v1/members/{kring.eva}/erase", headers=admin)
    assert again.status_code == 200 and again.json() == erased.json()


async def test_a_member_still_in_the_group_or_owed_savings_can_not_be_forgotten(world: World) -> None:
    kring = await Kring.build(world)
    meeting = await kring.open_meeting()
    await kring.deposit(meeting, kring.dewi, 1000)
    client, admin = world.client, world.auth("admin")
    staying = await client.post(f"/api/v1/members/{kring.bram}/erase", headers=admin)
    assert (staying.status_code, staying.json()["code"]) == (409, "member.not_left")
    async with world.sessionmaker() as db:
        await groups.leave(db, kring.admin, world.groups["a"], kring.dewi, utcnow().date(), None)
        await db.commit()
    owed = await client.post(f"/api/v1/members/{kring.dewi}/erase", headers=admin)
    assert (owed.status_code, owed.json()["code"]) == (409, "member.erase_money_outstanding")


async def test_the_audit_trail_shows_who_recorded_reversed_decided_and_exported_what(world: World) -> None:
    kring = await Kring.build(world)
    meeting = await kring.open_meeting()
    entry = await kring.deposit(meeting, kring.amina, 5000)
    client, admin = world.client, world.auth("admin")
    await client.post(f"/api/v1/ledger-entries/{entry}/reversal", headers=admin,
                      json={"meeting_id": str(meeting), "reason": "verkeerd bedrag", "id": str(uuid4())})
    await client.get(f"/api/v1/exports/impact?programme_id={world.programmes['a']}&from=2026-01-01&to=2026-12-31",
                     headers=world.auth("funder"))
    lines = (await client.get("/api/v1/audit?limit=500", headers=admin)).json()["items"]
    actions = [(x["action"], x["actor_user_id"]) for x in lines]
    assert ("ledger.recorded", str(world.users["admin"].id)) in actions
    assert ("ledger.reversed", str(world.users["admin"].id)) in actions
    assert ("export.made", str(world.users["funder"].id)) in actions
    other = (await client.get("/api/v1/audit", headers=world.auth("admin_y"))).json()["items"]
    assert other == []  # organisation Y sees nothing of X
