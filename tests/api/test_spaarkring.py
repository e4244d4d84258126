"""A spaarkring meeting through HTTP, as the boekhouder's phone records it."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import pytest
from sqlalchemy import func, select

from domain.models import LedgerEntry
from tests.kring import Kring
from tests.parallel import parallel
from tests.world import World


@pytest.fixture
async def kring(world: World) -> Kring:
    return await Kring.build(world)


def as_amina(kring: Kring, **extra: str) -> dict[str, str]:
    """Amina is the boekhouder and has an account: the phone in the room is hers."""
    return kring.world.auth("member", **extra)


async def entries(kring: Kring) -> int:
    async with kring.sessionmaker() as db:
        return (await db.execute(select(func.count()).select_from(LedgerEntry))).scalar_one()


async def post(kring: Kring, path: str, body: dict[str, Any], **headers: str) -> Any:
    return await kring.world.client.post(path, json=body, headers=as_amina(kring, **headers))


async def test_a_full_meeting_from_open_to_close_adds_up_to_the_cent(kring: Kring) -> None:
    meeting = kring.meeting_ids[1]
    base = f"/api/v1/meetings/{meeting}"
    assert (await post(kring, f"{base}/open", {"opening_cash_cents": 0})).status_code == 200
    attendance = {"entries": [{"member_id": str(m), "status": "present" if m != kring.eva else "late"}
                              for m in kring.everyone]}
    assert (await kring.world.client.put(f"{base}/attendance", json=attendance,
                                         headers=as_amina(kring))).status_code == 200
    assert (await post(kring, f"{base}/attendance/sign", {"signed_by_member_id": str(kring.bram)})).status_code == 200
    amounts = {kring.amina: 1250, kring.bram: 505, kring.chris: 3000, kring.dewi: 999, kring.eva: 4999}
    for member, amount in amounts.items():
        response = await post(kring, f"{base}/deposits", kring.deposit_body(member, amount))
        assert response.status_code == 201, response.text
    closed = await post(kring, f"{base}/close", {"closing_cash_cents": 10_753})
    assert closed.status_code == 200
    totals = closed.json()["totals"]
    assert (totals["deposits_cents"], totals["cash_expected_cents"], totals["discrepancy_cents"]) == (10_753, 10_753, 0)
    balances = (await kring.world.client.get(f"/api/v1/cycles/{kring.cycle_id}/balances",
                                             headers=kring.world.auth("admin"))).json()
    assert {UUID(m["member_id"]): m["saved_cents"] for m in balances["members"]} == amounts
    assert balances["cash_expected_cents"] == 10_753
    verify = (await kring.world.client.get(f"/api/v1/cycles/{kring.cycle_id}/ledger/verify",
                                           headers=kring.world.auth("admin"))).json()
    assert (verify["ok"], verify["entries"]) == (True, 5)


REFUSALS = {
    "unwitnessed": ({"witness_member_ids": []}, 422, "deposit.witnesses_required"),
    "self-witnessed": ({"witness_member_ids": ["{amina}", "{eva}"]}, 422, "deposit.self_witnessed"),
    "counter not a geldteller": ({"counted_by_member_id": "{eva}", "witness_member_ids": ["{bram}", "{dewi}"]},
                                 422, "deposit.counter_not_geldteller"),
    "amount over the limit": ({"amount_cents": 5001}, 422, "deposit.amount_out_of_limits"),
    "amount under the limit": ({"amount_cents": 499}, 422, "deposit.amount_out_of_limits"),
    "fractional cents": ({"amount_cents": 500.5}, 422, "request.invalid"),
    "cents as a string": ({"amount_cents": "500"}, 422, "request.invalid"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
async def test_a_deposit_that_breaks_a_rule_is_refused_with_its_code_and_nothing_is_written(
    kring: Kring, case: str
) -> None:
    meeting = await kring.open_meeting()
    overrides, status, code = REFUSALS[case]
    names = {"{amina}": str(kring.amina), "{eva}": str(kring.eva), "{bram}": str(kring.bram), "{dewi}": str(kring.dewi)}
    resolved = {k: ([names.get(x, x) for x in v] if isinstance(v, list) else names.get(v, v) if isinstance(v, str) else v)
                for k, v in overrides.items()}
    response = await post(kring, f"/api/v1/meetings/{meeting}/deposits", {**kring.deposit_body(kring.amina, 1000),
                                                                          **resolved})
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code
    assert await entries(kring) == 0


async def test_a_deposit_by_someone_absent_is_refused(kring: Kring) -> None:
    meeting = await kring.open_meeting(sign=False)
    await kring.world.client.put(f"/api/v1/meetings/{meeting}/attendance", headers=as_amina(kring), json={"entries": [
        {"member_id": str(m), "status": "absent" if m == kring.amina else "present"} for m in kring.everyone]})
    await post(kring, f"/api/v1/meetings/{meeting}/attendance/sign", {"signed_by_member_id": str(kring.bram)})
    response = await post(kring, f"/api/v1/meetings/{meeting}/deposits", kring.deposit_body(kring.amina, 1000))
    assert (response.status_code, response.json()["code"]) == (422, "deposit.member_not_present")
    assert await entries(kring) == 0


async def test_a_deposit_before_the_presentielijst_is_signed_is_refused(kring: Kring) -> None:
    meeting = await kring.open_meeting(sign=False)
    response = await post(kring, f"/api/v1/meetings/{meeting}/deposits", kring.deposit_body(kring.amina, 1000))
    assert (response.status_code, response.json()["code"]) == (409, "attendance.not_signed")


async def test_every_write_to_a_closed_meeting_answers_409_and_changes_nothing(kring: Kring) -> None:
    meeting = await kring.open_meeting()
    await kring.deposit(meeting, kring.amina, 1000)
    await kring.close(meeting, 1000)
    base = f"/api/v1/meetings/{meeting}"
    client, headers = kring.world.client, as_amina(kring)
    answers = [
        await client.post(f"{base}/deposits", json=kring.deposit_body(kring.bram, 1000), headers=headers),
        await client.put(f"{base}/attendance", json={"entries": []}, headers=headers),
        await client.post(f"{base}/attendance/sign", json={"signed_by_member_id": str(kring.bram)}, headers=headers),
        await client.post(f"{base}/open", json={"opening_cash_cents": 5}, headers=headers),
        await client.post(f"{base}/close", json={"closing_cash_cents": 5}, headers=headers),
    ]
    assert [(a.status_code, a.json()["code"]) for a in answers] == [(409, "meeting.closed")] * 5
    assert await entries(kring) == 1


async def hand_the_books_to_eva_from_meeting_2(kring: Kring, world: World) -> None:
    """Eva becomes boekhouder from meeting 2 (Amina, whose account the phone uses, held it until then),
    and meeting 1 is held and closed."""
    from domain import cycles

    async with world.sessionmaker() as db:
        await cycles.assign_roles(db, world.actor("admin"), kring.cycle_id,
                                  [cycles.Assignment(kring.eva, cycles.CycleRole.BOEKHOUDER, 2)])
        await db.commit()
    await kring.close(await kring.open_meeting(1), 0)


async def test_only_the_voorzitter_or_boekhouder_of_the_meeting_a_begeleider_or_an_admin_may_record(
    kring: Kring, world: World
) -> None:
    await hand_the_books_to_eva_from_meeting_2(kring, world)
    second = kring.meeting_ids[2]
    refused = await post(kring, f"/api/v1/meetings/{second}/open", {"opening_cash_cents": 0})
    assert (refused.status_code, refused.json()["code"]) == (403, "meeting.may_not_record")
    allowed = await world.client.post(f"/api/v1/meetings/{second}/open", json={"opening_cash_cents": 0},
                                      headers=world.auth("begeleider_a"))
    assert allowed.status_code == 200


async def test_a_member_sees_their_own_money_and_the_totals_but_not_other_members_amounts(
    kring: Kring, world: World
) -> None:
    from domain import cycles

    async with world.sessionmaker() as db:  # from meeting 2 Amina holds no role: just a member
        await cycles.assign_roles(db, world.actor("admin"), kring.cycle_id, [
            cycles.Assignment(kring.eva, cycles.CycleRole.BOEKHOUDER, 2)])
        await db.commit()
    first = await kring.open_meeting(1)
    await kring.deposit(first, kring.amina, 1000)
    await kring.deposit(first, kring.bram, 2000)
    await kring.close(first, 3000)
    await kring.open_meeting(2, opening_cash_cents=3000)
    balances = (await world.client.get(f"/api/v1/cycles/{kring.cycle_id}/balances", headers=as_amina(kring))).json()
    assert [m["member_id"] for m in balances["members"]] == [str(kring.amina)]
    assert (balances["totals"]["saved_cents"], balances["cash_expected_cents"], balances["complete"]) == (3000, 3000, False)
    ledger = (await world.client.get(f"/api/v1/cycles/{kring.cycle_id}/ledger", headers=as_amina(kring))).json()
    assert {item["member_id"] for item in ledger["items"]} == {str(kring.amina)}
    meeting = (await world.client.get(f"/api/v1/meetings/{first}", headers=as_amina(kring))).json()
    assert {e["member_id"] for e in meeting["entries"]} == {str(kring.amina)}
    assert meeting["totals"]["deposits_cents"] == 3000


async def test_a_deposit_retried_with_its_client_id_is_written_once(kring: Kring) -> None:
    meeting = await kring.open_meeting()
    body = kring.deposit_body(kring.amina, 1000, id=str(uuid4()))
    first = await post(kring, f"/api/v1/meetings/{meeting}/deposits", body)
    again = await post(kring, f"/api/v1/meetings/{meeting}/deposits", body)
    other = await post(kring, f"/api/v1/meetings/{meeting}/deposits", {**body, "amount_cents": 1500})
    assert (first.status_code, again.status_code, again.json() == first.json()) == (201, 200, True)
    assert (other.status_code, other.json()["code"]) == (409, "request.id_reused")
    assert await entries(kring) == 1


def sync_body(kring: Kring, deposits: list[tuple[UUID, int]], closing: int | None) -> dict[str, Any]:
    return {
        "opening_cash_cents": 0,
        "attendance": [{"member_id": str(m), "status": "present"} for m in kring.everyone],
        "attendance_signed_by_member_id": str(kring.bram),
        "deposits": [{**kring.deposit_body(member, amount), "id": str(uuid4())} for member, amount in deposits],
        **({"closing_cash_cents": closing} if closing is not None else {}),
    }


async def test_a_sync_that_fails_on_its_last_item_names_it_and_leaves_the_database_as_it_was(kring: Kring) -> None:
    body = sync_body(kring, [(kring.amina, 1000), (kring.bram, 1000), (kring.dewi, 1000)], closing=3000)
    body["deposits"][2]["witness_member_ids"] = [str(kring.eva)]
    meeting = kring.meeting_ids[1]
    response = await post(kring, f"/api/v1/meetings/{meeting}/sync", body)
    assert (response.status_code, response.json()["code"]) == (422, "deposit.witnesses_required")
    assert response.json()["errors"][0]["field"] == "deposits[2].witness_member_ids"
    assert await entries(kring) == 0
    view = (await kring.world.client.get(f"/api/v1/meetings/{meeting}", headers=as_amina(kring))).json()
    assert (view["status"], view["attendance"], view["signed_at"]) == ("planned", [], None)


async def test_the_same_sync_sent_twice_writes_once_and_answers_the_same(kring: Kring) -> None:
    body = sync_body(kring, [(kring.amina, 1000), (kring.bram, 2500)], closing=3500)
    meeting = kring.meeting_ids[1]
    first = await post(kring, f"/api/v1/meetings/{meeting}/sync", body)
    second = await post(kring, f"/api/v1/meetings/{meeting}/sync", body)
    assert (first.status_code, second.status_code) == (200, 200), second.text
    assert first.json()["totals"] == second.json()["totals"]
    assert first.json()["status"] == "closed" and first.json()["totals"]["discrepancy_cents"] == 0
    assert await entries(kring) == 2


async def test_twenty_parallel_deposits_to_one_meeting_all_land_and_the_chain_verifies(kring: Kring) -> None:
    meeting = await kring.open_meeting()
    members = [kring.amina, kring.bram, kring.chris, kring.dewi, kring.eva] * 4
    requests = [("POST", f"/api/v1/meetings/{meeting}/deposits", kring.deposit_body(m, 500), as_amina(kring))
                for m in members]
    responses = await parallel(kring.world, requests)
    assert [r.status_code for r in responses] == [201] * 20, [r.text for r in responses if r.status_code != 201]
    assert await entries(kring) == 20
    verify = (await kring.world.client.get(f"/api/v1/cycles/{kring.cycle_id}/ledger/verify",
                                           headers=as_amina(kring))).json()
    assert (verify["ok"], verify["entries"]) == (True, 20)
    balances = (await kring.world.client.get(f"/api/v1/cycles/{kring.cycle_id}/balances",
                                             headers=as_amina(kring))).json()
    assert balances["cash_expected_cents"] == 10_000


async def test_a_close_racing_deposits_never_leaves_the_cash_wrong(kring: Kring) -> None:
    meeting = await kring.open_meeting()
    requests = [("POST", f"/api/v1/meetings/{meeting}/deposits", kring.deposit_body(m, 700), as_amina(kring))
                for m in kring.everyone]
    requests.insert(2, ("POST", f"/api/v1/meetings/{meeting}/close", {"closing_cash_cents": 0}, as_amina(kring)))
    responses = await parallel(kring.world, requests)
    landed = sum(1 for r in responses if r.status_code == 201)
    refused = [r.json()["code"] for r in responses if r.status_code == 409]
    assert landed + len(refused) == 5 and set(refused) <= {"meeting.closed"}
    view = (await kring.world.client.get(f"/api/v1/meetings/{meeting}", headers=as_amina(kring))).json()
    assert view["totals"]["cash_expected_cents"] == landed * 700
    assert view["totals"]["discrepancy_cents"] == -landed * 700


async def test_a_reversal_is_recorded_in_an_open_meeting_with_a_reason_and_only_once(kring: Kring) -> None:
    meeting = await kring.open_meeting()
    wrong = await kring.deposit(meeting, kring.amina, 5000)
    body = {"meeting_id": str(meeting), "reason": "50 euro opgeschreven, 5 euro betaald"}
    first = await post(kring, f"/api/v1/ledger-entries/{wrong}/reversal", body)
    again = await post(kring, f"/api/v1/ledger-entries/{wrong}/reversal", {**body, "reason": "nog een keer"})
    assert first.status_code == 201 and first.json()["amount_cents"] == -5000
    assert (again.status_code, again.json()["code"]) == (409, "ledger.already_reversed")


async def test_roles_rotate_from_a_later_meeting_and_a_member_holds_one_role_at_a_meeting(kring: Kring) -> None:
    client, admin = kring.world.client, kring.world.auth("admin")
    rotated = await client.put(f"/api/v1/cycles/{kring.cycle_id}/roles", headers=admin, json={"assignments": [
        {"member_id": str(kring.eva), "role": "voorzitter", "from_meeting_no": 3}]})
    assert rotated.status_code == 200
    at_2 = (await client.get(f"/api/v1/cycles/{kring.cycle_id}/roles?meeting_no=2", headers=admin)).json()
    at_3 = (await client.get(f"/api/v1/cycles/{kring.cycle_id}/roles?meeting_no=3", headers=admin)).json()
    assert (at_2["voorzitter"], at_3["voorzitter"]) == ([str(kring.bram)], [str(kring.eva)])
    doubled = await client.put(f"/api/v1/cycles/{kring.cycle_id}/roles", headers=admin, json={"assignments": [
        {"member_id": str(kring.amina), "role": "voorzitter", "from_meeting_no": 4}]})
    assert (doubled.status_code, doubled.json()["code"]) == (422, "roles.one_role_per_member")


async def test_a_cycle_with_inconsistent_rules_is_refused_and_a_second_open_cycle_too(kring: Kring) -> None:
    client, admin = kring.world.client, kring.world.auth("admin")
    rules = {"min_deposit_cents": 6000, "max_deposit_cents": 5000, "max_loan_multiple": 0, "max_loan_term_meetings": 0,
             "default_interest_rate_bp": 0, "interest_distribution": "equal"}
    path = f"/api/v1/groups/{kring.world.groups['a']}/cycles"
    body = {"starts_on": "2027-01-04", "meeting_interval_days": 14, "planned_meetings": 10, "rules": rules}
    bad = await client.post(path, json=body, headers=admin)
    assert (bad.status_code, bad.json()["code"]) == (422, "cycle.rules_invalid")
    second = await client.post(path, json={**body, "rules": {**rules, "min_deposit_cents": 500}}, headers=admin)
    assert (second.status_code, second.json()["code"]) == (409, "cycle.already_open")


async def test_planning_creates_every_meeting_from_the_start_and_interval_in_local_time(kring: Kring) -> None:
    meetings = (await kring.world.client.get(f"/api/v1/cycles/{kring.cycle_id}/meetings",
                                             headers=kring.world.auth("admin"))).json()
    assert [m["meeting_no"] for m in meetings] == [1, 2, 3, 4, 5, 6]
    # 19:00 in Amsterdam: 18:00 UTC in winter, 17:00 UTC after the clock change of 29 March 2026
    assert meetings[0]["scheduled_for"].startswith("2026-01-05T18:00:00")
    assert meetings[-1]["scheduled_for"].startswith("2026-03-16T18:00:00")


async def test_a_discrepancy_stays_visible_until_a_note_explains_it_and_the_meeting_itself_is_unchanged(
    kring: Kring,
) -> None:
    meeting = await kring.open_meeting()
    await kring.deposit(meeting, kring.amina, 1000)
    closed = (await post(kring, f"/api/v1/meetings/{meeting}/close", {"closing_cash_cents": 500})).json()
    assert (closed["totals"]["discrepancy_cents"], closed["totals"]["discrepancy_outstanding_cents"]) == (-500, -500)
    note = await post(kring, f"/api/v1/meetings/{meeting}/discrepancy-explanations",
                      {"note": "Vijf euro zat nog in de envelop van de geldteller"})
    assert note.status_code == 201
    after = (await kring.world.client.get(f"/api/v1/meetings/{meeting}", headers=as_amina(kring))).json()
    assert (after["totals"]["discrepancy_cents"], after["totals"]["discrepancy_outstanding_cents"]) == (-500, 0)
    assert after["closed_at"] == closed["closed_at"] and len(after["explanations"]) == 1


async def test_the_closing_count_may_name_its_geldteller_and_witness_who_must_be_present(kring: Kring) -> None:
    meeting = await kring.open_meeting()
    bad = await post(kring, f"/api/v1/meetings/{meeting}/close", {
        "closing_cash_cents": 0, "counted_by_member_id": str(kring.eva), "witness_member_ids": [str(kring.bram)]})
    assert (bad.status_code, bad.json()["code"]) == (422, "cash.counter_not_geldteller")
    good = await post(kring, f"/api/v1/meetings/{meeting}/close", {
        "closing_cash_cents": 0, "counted_by_member_id": str(kring.chris), "witness_member_ids": [str(kring.bram)]})
    assert good.status_code == 200 and good.json()["closing_counted_by_member_id"] == str(kring.chris)


async def test_the_opening_count_is_compared_with_the_last_closing_count(kring: Kring) -> None:
    first = await kring.open_meeting(1)
    await kring.deposit(first, kring.amina, 1000)
    await kring.close(first, 1000)
    second = await post(kring, f"/api/v1/meetings/{kring.meeting_ids[2]}/open", {"opening_cash_cents": 950})
    assert second.json()["opening_difference_cents"] == -50


async def test_a_deposit_by_a_closed_account_or_a_logged_out_token_is_refused_401_and_writes_nothing(
    kring: Kring, world: World
) -> None:
    """A deposit reads the caller's users row in its locked read (one statement less than load_actor and
    then the meeting); a caller it does not find there is still told why, as every other endpoint does."""
    from sqlalchemy import update

    from domain.models import User

    meeting = await kring.open_meeting()
    path = f"/api/v1/meetings/{meeting}/deposits"
    coach = await world.login("begeleider_a")
    logged_out = await world.login("begeleider_a")
    bearer = {"Authorization": f"Bearer {logged_out['access_token']}"}
    assert (await world.client.post("/api/v1/auth/logout", json={"refresh_token": logged_out["refresh_token"]},
                                    headers=bearer)).status_code == 204
    revoked = await world.client.post(path, json=kring.deposit_body(kring.bram, 1000), headers=bearer)
    async with world.sessionmaker() as db:
        await db.execute(update(User).where(User.id == world.users["begeleider_a"].id).values(is_active=False))
        await db.commit()
    closed = await world.client.post(path, json=kring.deposit_body(kring.bram, 1000),
                                     headers={"Authorization": f"Bearer {coach['access_token']}"})
    elsewhere = await world.client.post(f"/api/v1/meetings/{uuid4()}/deposits",
                                        json=kring.deposit_body(kring.bram, 1000), headers=as_amina(kring))
    assert (revoked.status_code, revoked.json()["code"]) == (401, "auth.token_invalid")
    assert (closed.status_code, closed.json()["code"]) == (401, "auth.account_closed")
    assert (elsewhere.status_code, elsewhere.json()["code"]) == (404, "resource.not_found")
    assert await entries(kring) == 0


async def test_a_deposit_by_a_member_who_holds_no_role_then_is_refused_403_and_writes_nothing(
    kring: Kring, world: World
) -> None:
    """Amina's account, at a meeting where the slate gives her no role that records (roles rotate)."""
    await hand_the_books_to_eva_from_meeting_2(kring, world)
    second = await kring.open_meeting(2)
    refused = await post(kring, f"/api/v1/meetings/{second}/deposits", kring.deposit_body(kring.bram, 1000))
    assert (refused.status_code, refused.json()["code"]) == (403, "meeting.may_not_record")
    assert await entries(kring) == 0
