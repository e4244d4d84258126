"""Who may call what: every route the app registers, for every role, as data.

ACCESS holds one row per route (method, path template), giving the status each role gets when it
acts on its own group (group A: begeleider_a guides it, the member user is Amina A). A route that is
registered without a row fails `test_every_registered_route_has_a_row_in_the_access_matrix`, so a new
endpoint can't ship unchecked: add one line to ACCESS (and, for a new path parameter, one to
PATH_VALUES; for a body, a function in the BODIES section).

The statuses: 401 without a token; 403 when the caller sees the resource but the role may not act;
404 when the resource lies outside everything the caller may see (the same answer as "absent").
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute

from api.app import create_app
from api.settings import Settings
from tests.world import PASSWORD, World

ROLES = ("admin", "begeleider", "funder", "member", "anonymous")
USER_OF_ROLE = {"admin": "admin", "begeleider": "begeleider_a", "funder": "funder", "member": "member"}

Body = Callable[[World, str], "dict[str, Any] | Awaitable[dict[str, Any]]"]


# --- BODIES: a valid body per route; `user` is the world's user key of the caller ---------------------
def login_body(world: World, user: str) -> dict[str, Any]:
    return {"email": world.users[user].email, "password": PASSWORD}


async def refresh_body(world: World, user: str) -> dict[str, Any]:
    return {"refresh_token": (await world.login(user))["refresh_token"]}


def user_body(world: World, user: str) -> dict[str, Any]:
    return {"email": f"new-{uuid4().hex[:8]}@example.org", "password": PASSWORD, "role": "begeleider",
            "display_name": "Nieuwe Begeleider"}


def programme_body(world: World, user: str) -> dict[str, Any]:
    return {"name": "West 2027", "funder_user_ids": [str(world.users["funder"].id)]}


def group_body(world: World, user: str) -> dict[str, Any]:
    return {"name": "Nieuwe groep", "kind": "spaarkring"}


def group_patch_body(world: World, user: str) -> dict[str, Any]:
    return {"name": "Groep A, hernoemd"}


def member_body(world: World, user: str) -> dict[str, Any]:
    return {"display_name": "Nieuw Lid", "joined_on": "2026-02-02"}


def member_patch_body(world: World, user: str) -> dict[str, Any]:
    return {"display_name": "Bram A, hernoemd"}


def leave_body(world: World, user: str) -> dict[str, Any]:
    return {"left_on": "2026-03-01", "reason": "verhuisd"}


# --- spaarkring bodies: group A runs a kring (tests.kring.Kring) whose meeting 1 is open and signed, with
# a deposit by Amina (the entry in the path), savings for Eva and Dewi, and Bram's loan approved (the loan
# in the path). Where a write can't be repeated, the body carries a fixed client id, so the first caller
# creates (201) and the next ones are answered the existing resource (200): access passed either way.
FIXED = {name: uuid4() for name in ("cycle", "loan", "disbursement", "repayment", "reversal", "exit", "meeting",
                                   "series")}


def _kring(world: World) -> Any:
    return world.kringen["a"]


def cycle_body(world: World, user: str) -> dict[str, Any]:
    rules = {"min_deposit_cents": 500, "max_deposit_cents": 5000, "max_loan_multiple": 3,
             "max_loan_term_meetings": 4, "default_interest_rate_bp": 500, "interest_distribution": "pro_rata"}
    return {"id": str(_kring(world).cycle_id), "starts_on": "2026-01-05", "meeting_interval_days": 14,
            "planned_meetings": 6, "rules": rules}


def roles_body(world: World, user: str) -> dict[str, Any]:
    k = _kring(world)
    return {"assignments": [{"member_id": str(k.bram), "role": "voorzitter", "from_meeting_no": 1},
                            {"member_id": str(k.amina), "role": "boekhouder", "from_meeting_no": 1}]}


async def meeting_body(world: World, user: str) -> dict[str, Any]:
    from domain.models import Meeting

    k = _kring(world)
    async with world.sessionmaker() as db:
        second = await db.get(Meeting, k.meeting_ids[2])
        assert second is not None
    return {"id": str(second.id), "meeting_no": 2, "scheduled_for": second.scheduled_for.isoformat()}


def no_body(world: World, user: str) -> dict[str, Any]:
    return {}


def open_body(world: World, user: str) -> dict[str, Any]:
    return {"opening_cash_cents": 0}


def attendance_body(world: World, user: str) -> dict[str, Any]:
    return {"entries": [{"member_id": str(m), "status": "present"} for m in _kring(world).everyone]}


def sign_body(world: World, user: str) -> dict[str, Any]:
    return {"signed_by_member_id": str(_kring(world).bram)}


def deposit_body(world: World, user: str) -> dict[str, Any]:
    return _kring(world).deposit_body(_kring(world).eva, 500)


def close_body(world: World, user: str) -> dict[str, Any]:
    return {"closing_cash_cents": 4000}


def explanation_body(world: World, user: str) -> dict[str, Any]:
    return {"note": "Vijf euro teruggevonden in de envelop"}


async def exit_body(world: World, user: str) -> dict[str, Any]:
    from domain import groups
    from domain.models import utcnow

    k = _kring(world)
    async with world.sessionmaker() as db:
        await groups.leave(db, k.admin, world.groups["a"], k.eva, utcnow().date(), "verhuisd")
        await db.commit()
    return {"id": str(FIXED["exit"]), "member_id": str(k.eva), "counted_by_member_id": str(k.chris),
            "witness_member_ids": [str(k.dewi), str(k.bram)]}


def sync_body(world: World, user: str) -> dict[str, Any]:
    k = _kring(world)
    return {"opening_cash_cents": 0, "attendance": attendance_body(world, user)["entries"],
            "attendance_signed_by_member_id": str(k.bram), "deposits": []}


def reversal_body(world: World, user: str) -> dict[str, Any]:
    return {"id": str(FIXED["reversal"]), "meeting_id": str(_kring(world).meeting_ids[1]), "reason": "dubbel"}


def loan_body(world: World, user: str) -> dict[str, Any]:
    return {"id": str(FIXED["loan"]), "member_id": str(_kring(world).dewi), "amount_cents": 500, "term_meetings": 2}


def decision_body(world: World, user: str) -> dict[str, Any]:
    k = _kring(world)
    return {"meeting_id": str(k.meeting_ids[1]), "votes": [
        {"member_id": str(m), "vote": "for"} for m in k.everyone if m != k.bram]}


def disbursement_body(world: World, user: str) -> dict[str, Any]:
    k = _kring(world)
    return {"id": str(FIXED["disbursement"]), "meeting_id": str(k.meeting_ids[1]),
            "counted_by_member_id": str(k.chris), "witness_member_ids": [str(k.dewi), str(k.eva)]}


async def repayment_body(world: World, user: str) -> dict[str, Any]:
    from domain import loans
    from domain.models import utcnow

    k = _kring(world)
    async with world.sessionmaker() as db:
        await loans.disburse(db, k.admin, world.kringen["a.loan"], k.meeting_ids[1],
                             loans.CashMove(k.chris, (k.dewi, k.eva)), entry_id=FIXED["disbursement"], now=utcnow())
        await db.commit()
    return {**disbursement_body(world, user), "id": str(FIXED["repayment"]), "amount_cents": 100}


def share_out_body(world: World, user: str) -> dict[str, Any]:
    return {"meeting_id": str(_kring(world).meeting_ids[1])}


# --- luistergroep bodies: group B (a luistergroep of X, guided by begeleider_b) has a weekly series from
# 8 January 2026; the series and its session of 5 February 2026 (begun, so attendance can be taken) are
# the ones in the paths. Group A, the callers' own group, is a spaarkring.
def agreements_body(world: World, user: str) -> dict[str, Any]:
    return {"items": ["Niks is verplicht, alleen luisteren", "Zeg eerst je naam"]}


def series_body(world: World, user: str) -> dict[str, Any]:
    return {"rrule": "FREQ=WEEKLY;BYDAY=TH;COUNT=10", "starts_at": "2030-01-03T19:00:00+01:00",
            "duration_minutes": 120, "location": "De Kapel", "facilitator_user_id": str(world.users["begeleider_a"].id)}


def series_end_body(world: World, user: str) -> dict[str, Any]:
    return {"from_on": "2033-01-01"}


def series_split_body(world: World, user: str) -> dict[str, Any]:
    return {"id": str(FIXED["series"]), "from_on": "2032-01-01", "location": "Buurthuis De Meeuw"}


def session_patch_body(world: World, user: str) -> dict[str, Any]:
    return {"location": "Buurthuis De Meeuw"}


def rsvp_body(world: World, user: str) -> dict[str, Any]:
    return {"member_id": str(world.members["b.amina"]), "answer": "yes"}


def session_attendance_body(world: World, user: str) -> dict[str, Any]:
    return {"present_member_ids": [str(world.members["b.amina"]), str(world.members["b.bram"])]}


def impact_query(world: World) -> str:
    return f"?programme_id={world.programmes['a']}&from=2026-01-01&to=2026-12-31"


@dataclass(frozen=True)
class Row:
    """The status each role gets; `body` builds a valid request body."""

    admin: int
    begeleider: int
    funder: int
    member: int
    anonymous: int = 401
    body: Body | None = None
    query: Callable[[World], str] | None = None  # a query string the route needs, e.g. "?programme_id=…"

    def status(self, role: str) -> int:
        return int(getattr(self, role))


# One line per route: (method, path template): Row(admin, begeleider, funder, member, anonymous=401, body=…)
ACCESS: dict[tuple[str, str], Row] = {
    ("GET", "/health"):                                                   Row(200, 200, 200, 200, anonymous=200),
    ("POST", "/api/v1/auth/login"):                                       Row(200, 200, 200, 200, anonymous=200, body=login_body),
    ("POST", "/api/v1/auth/refresh"):                                     Row(200, 200, 200, 200, anonymous=200, body=refresh_body),
    ("POST", "/api/v1/auth/logout"):                                      Row(204, 204, 204, 204, body=refresh_body),
    ("GET", "/api/v1/me"):                                                Row(200, 200, 200, 200),
    ("POST", "/api/v1/users"):                                            Row(201, 403, 403, 403, body=user_body),
    ("GET", "/api/v1/programmes"):                                        Row(200, 403, 200, 403),
    ("POST", "/api/v1/programmes"):                                       Row(201, 403, 403, 403, body=programme_body),
    ("GET", "/api/v1/groups"):                                            Row(200, 200, 403, 200),
    ("POST", "/api/v1/groups"):                                           Row(201, 201, 403, 403, body=group_body),
    ("GET", "/api/v1/groups/{group_id}"):                                 Row(200, 200, 404, 200),
    ("PATCH", "/api/v1/groups/{group_id}"):                               Row(200, 200, 404, 403, body=group_patch_body),
    ("GET", "/api/v1/groups/{group_id}/members"):                         Row(200, 200, 404, 200),
    ("POST", "/api/v1/groups/{group_id}/members"):                        Row(201, 201, 404, 403, body=member_body),
    ("GET", "/api/v1/groups/{group_id}/members/{member_id}"):             Row(200, 200, 404, 200),
    ("PATCH", "/api/v1/groups/{group_id}/members/{member_id}"):           Row(200, 200, 404, 403, body=member_patch_body),
    ("POST", "/api/v1/groups/{group_id}/members/{member_id}/leave"):      Row(200, 200, 404, 403, body=leave_body),
    # spaarkring: Amina, the member with an account, is the boekhouder, so she records like a begeleider
    ("GET", "/api/v1/groups/{group_id}/cycles"):                          Row(200, 200, 404, 200),
    ("POST", "/api/v1/groups/{group_id}/cycles"):                         Row(200, 200, 404, 403, body=cycle_body),
    ("GET", "/api/v1/cycles/{cycle_id}"):                                 Row(200, 200, 404, 200),
    ("PUT", "/api/v1/cycles/{cycle_id}/roles"):                           Row(200, 200, 404, 403, body=roles_body),
    ("GET", "/api/v1/cycles/{cycle_id}/roles"):                           Row(200, 200, 404, 200),
    ("POST", "/api/v1/cycles/{cycle_id}/meetings"):                       Row(200, 200, 404, 403, body=meeting_body),
    ("POST", "/api/v1/cycles/{cycle_id}/meetings/plan"):                  Row(200, 200, 404, 403, body=no_body),
    ("GET", "/api/v1/cycles/{cycle_id}/meetings"):                        Row(200, 200, 404, 200),
    ("GET", "/api/v1/meetings/{meeting_id}"):                             Row(200, 200, 404, 200),
    ("POST", "/api/v1/meetings/{meeting_id}/open"):                       Row(200, 200, 404, 200, body=open_body),
    ("PUT", "/api/v1/meetings/{meeting_id}/attendance"):                  Row(200, 200, 404, 200, body=attendance_body),
    ("POST", "/api/v1/meetings/{meeting_id}/attendance/sign"):            Row(200, 200, 404, 200, body=sign_body),
    ("POST", "/api/v1/meetings/{meeting_id}/deposits"):                   Row(201, 201, 404, 201, body=deposit_body),
    ("POST", "/api/v1/meetings/{meeting_id}/close"):                      Row(200, 200, 404, 200, body=close_body),
    # an open meeting has no discrepancy to explain: 409 shows access was granted
    ("POST", "/api/v1/meetings/{meeting_id}/discrepancy-explanations"):   Row(409, 409, 404, 409, body=explanation_body),
    ("POST", "/api/v1/meetings/{meeting_id}/exit-payouts"):               Row(201, 200, 404, 200, body=exit_body),
    ("POST", "/api/v1/meetings/{meeting_id}/sync"):                       Row(200, 200, 404, 200, body=sync_body),
    ("GET", "/api/v1/cycles/{cycle_id}/ledger"):                          Row(200, 200, 404, 200),
    ("GET", "/api/v1/cycles/{cycle_id}/ledger/verify"):                   Row(200, 200, 404, 200),
    ("GET", "/api/v1/cycles/{cycle_id}/balances"):                        Row(200, 200, 404, 200),
    ("POST", "/api/v1/ledger-entries/{entry_id}/reversal"):               Row(201, 200, 404, 200, body=reversal_body),
    ("GET", "/api/v1/cycles/{cycle_id}/loans"):                           Row(200, 200, 404, 200),
    ("POST", "/api/v1/cycles/{cycle_id}/loans"):                          Row(201, 200, 404, 200, body=loan_body),
    ("GET", "/api/v1/loans/{loan_id}"):                                   Row(200, 200, 404, 200),
    ("POST", "/api/v1/loans/{loan_id}/decision"):                         Row(200, 200, 404, 200, body=decision_body),
    ("POST", "/api/v1/loans/{loan_id}/disbursement"):                     Row(201, 200, 404, 200, body=disbursement_body),
    ("POST", "/api/v1/loans/{loan_id}/repayments"):                       Row(201, 200, 404, 200, body=repayment_body),
    ("GET", "/api/v1/cycles/{cycle_id}/share-out"):                       Row(200, 200, 404, 200),
    # meeting 1 is not the last meeting: 409 shows access was granted
    ("POST", "/api/v1/cycles/{cycle_id}/share-out"):                      Row(409, 409, 404, 409, body=share_out_body),
    ("GET", "/api/v1/cycles/{cycle_id}/share-out/sheet"):                 Row(404, 404, 404, 404),
    # luistergroepen. Group A is a spaarkring: afspraken and series are refused there (422 shows access was
    # granted). Series and sessions in the paths are group B's: of these callers only the admin of X reaches
    # them; what B's own begeleider and members may do is in tests/api/test_luistergroepen_access.py.
    ("GET", "/api/v1/groups/{group_id}/agreements"):                      Row(200, 200, 404, 200),
    ("PUT", "/api/v1/groups/{group_id}/agreements"):                      Row(422, 422, 404, 403, body=agreements_body),
    ("GET", "/api/v1/groups/{group_id}/agreements/history"):              Row(200, 200, 404, 200),
    ("POST", "/api/v1/groups/{group_id}/series"):                         Row(422, 422, 404, 403, body=series_body),
    ("GET", "/api/v1/groups/{group_id}/series"):                          Row(200, 200, 404, 200),
    ("GET", "/api/v1/groups/{group_id}/sessions"):                        Row(200, 200, 404, 200),
    ("GET", "/api/v1/series/{series_id}"):                                Row(200, 404, 404, 404),
    ("POST", "/api/v1/series/{series_id}/end"):                           Row(200, 404, 404, 404, body=series_end_body),
    ("POST", "/api/v1/series/{series_id}/split"):                         Row(201, 404, 404, 404, body=series_split_body),
    ("GET", "/api/v1/sessions/{session_id}"):                             Row(200, 404, 404, 404),
    ("PATCH", "/api/v1/sessions/{session_id}"):                           Row(200, 404, 404, 404, body=session_patch_body),
    ("PUT", "/api/v1/sessions/{session_id}/rsvp"):                        Row(200, 404, 404, 404, body=rsvp_body),
    ("PUT", "/api/v1/sessions/{session_id}/attendance"):                  Row(200, 404, 404, 404, body=session_attendance_body),
    # calendars: a spaarkring's feed holds its planned meetings; the secret URL needs no bearer at all
    ("GET", "/api/v1/groups/{group_id}/calendar.ics"):                    Row(200, 200, 404, 200),
    ("POST", "/api/v1/groups/{group_id}/calendar-token"):                 Row(200, 200, 404, 403),
    ("GET", "/api/v1/coach/calendar.ics"):                                Row(200, 200, 403, 403),
    ("POST", "/api/v1/coach/calendar-token"):                             Row(200, 200, 403, 403),
    ("GET", "/api/v1/feeds/{feed_file}"):                                 Row(200, 200, 200, 200, anonymous=200),
    # begeleiders and funders
    ("GET", "/api/v1/coach/groups"):                                      Row(200, 200, 403, 403),
    # admin: the audit trail; forgetting a member (Bram has not left: 409 shows access was granted)
    ("GET", "/api/v1/audit"):                                             Row(200, 403, 403, 403),
    ("POST", "/api/v1/members/{member_id}/erase"):                        Row(409, 403, 404, 403),
    ("GET", "/api/v1/exports/impact"):                                    Row(200, 403, 200, 403, query=impact_query),
}

# How each path parameter is filled: something inside group A, the callers' own group.
PATH_VALUES: dict[str, Callable[[World], UUID]] = {
    "group_id": lambda world: world.groups["a"],
    "member_id": lambda world: world.members["a.bram"],
    "cycle_id": lambda world: world.kringen["a"].cycle_id,
    "meeting_id": lambda world: world.kringen["a"].meeting_ids[1],
    "loan_id": lambda world: world.kringen["a.loan"],
    "entry_id": lambda world: world.kringen["a.entry"],
    "series_id": lambda world: world.kringen["b.series"],
    "session_id": lambda world: world.kringen["b.session"],
    "feed_file": lambda world: world.kringen["a.feed"],  # "<token>.ics", group A's secret feed URL
}
# The same things in organisation Y's kring: out of reach for everyone in X (and the other way round).
ELSEWHERE: dict[str, Callable[[World], UUID]] = {
    "cycle_id": lambda world: world.kringen["y"].cycle_id,
    "meeting_id": lambda world: world.kringen["y"].meeting_ids[1],
    "loan_id": lambda world: world.kringen["y.loan"],
    "entry_id": lambda world: world.kringen["y.entry"],
    "series_id": lambda world: world.kringen["y.series"],
    "session_id": lambda world: world.kringen["y.session"],
}

# The same route aimed outside the caller's reach: (who calls, where the path points). Always 404.
OUTSIDE: dict[str, tuple[str, dict[str, Callable[[World], UUID]]]] = {
    "begeleider of A at group B": ("begeleider_a", {"group_id": lambda w: w.groups["b"],
                                                    "member_id": lambda w: w.members["b.bram"]}),
    "member of A at group B": ("member", {"group_id": lambda w: w.groups["b"],
                                          "member_id": lambda w: w.members["b.bram"]}),
    "admin of X at Y's group": ("admin", {"group_id": lambda w: w.groups["y"],
                                          "member_id": lambda w: w.members["y.bram"]}),
    "admin of Y at X's group": ("admin_y", {"group_id": lambda w: w.groups["a"],
                                            "member_id": lambda w: w.members["a.bram"]}),
}
# Only where a member is in the path: a member of another group, reached through one's own group.
OUTSIDE_MEMBER: dict[str, tuple[str, dict[str, Callable[[World], UUID]]]] = {
    "admin at group A with a member of B": ("admin", {"group_id": lambda w: w.groups["a"],
                                                      "member_id": lambda w: w.members["b.bram"]}),
}


async def _kring_with_a_meeting(world: World, group: str) -> None:
    from domain import loans
    from domain.models import utcnow
    from tests.kring import Kring

    kring = await Kring.build(world, group=group)
    meeting_id = await kring.open_meeting(1)
    entry_id = await kring.deposit(meeting_id, kring.amina, 1000)
    for member in (kring.bram, kring.dewi, kring.eva):
        await kring.deposit(meeting_id, member, 1000)
    async with world.sessionmaker() as db:
        loan, _ = await loans.request_loan(db, kring.admin, kring.cycle_id, loans.LoanRequest(kring.bram, 1000, 2),
                                           loan_id=None, now=utcnow())
        await loans.decide_loan(db, kring.admin, loan.id, meeting_id,
                                {m: "for" for m in kring.everyone if m != kring.bram}, None, utcnow())
        await db.commit()
    world.kringen.update({group: kring, f"{group}.loan": loan.id, f"{group}.entry": entry_id})


async def _luistergroepen_with_a_series(world: World) -> None:
    """Group B and a luistergroep of Y each get a weekly series from Thursday 8 January 2026; group A gets a
    secret feed URL."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from domain import feeds, groups, luistergroepen, scheduling
    from domain.models import GroupKind, utcnow

    first = datetime(2026, 1, 8, 19, 0, tzinfo=ZoneInfo("Europe/Amsterdam"))
    async with world.sessionmaker() as db:
        luistergroep_y, _ = await groups.create_group(db, world.actor("admin_y"), groups.NewGroup(
            "Luistergroep Y", GroupKind.LUISTERGROEP, None, frozenset({world.users["begeleider_y"].id})))
        world.groups["y.luistergroep"] = luistergroep_y.id
        for key, admin, group_id in (("b", "admin", world.groups["b"]), ("y", "admin_y", luistergroep_y.id)):
            series, _ = await luistergroepen.create_series(
                db, world.actor(admin), group_id, luistergroepen.NewSeries(
                    "FREQ=WEEKLY;BYDAY=TH;COUNT=400", first, 120, "De Kapel", world.actor(admin).user_id, 8),
                series_id=None, now=utcnow())
            world.kringen[f"{key}.series"] = series.id
            world.kringen[f"{key}.session"] = scheduling.session_id(
                series.lineage_key, datetime(2026, 2, 5, 18, 0, tzinfo=UTC))
        token = await feeds.rotate_group_token(db, world.actor("admin"), world.groups["a"], utcnow())
        world.kringen["a.feed"] = f"{token}.ics"
        await db.commit()


@pytest.fixture
async def world(client: Any, sessionmaker: Any) -> World:
    built = await World.build(client, sessionmaker)
    for group in ("a", "y"):
        await _kring_with_a_meeting(built, group)
    await _luistergroepen_with_a_series(built)
    return built


def _template(path: str) -> str:
    return re.sub(r"\{(\w+):[^}]+\}", r"{\1}", path)


def _is_documentation(path: str) -> bool:
    return path == "/schema" or path.startswith("/schema/")


def _is_framework_options(handler: Any) -> bool:
    """Litestar adds an OPTIONS handler (CORS preflight, 204 with Allow) to every path on its own."""
    return set(handler.http_methods) == {"OPTIONS"} and handler.fn.__qualname__.startswith(
        "HTTPRoute.create_options_handler")


def registered_routes(app: Litestar) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for route in app.routes:
        if _is_documentation(route.path):
            continue
        if not isinstance(route, HTTPRoute):
            found.add(("WEBSOCKET", _template(route.path)))
            continue
        for handler in route.route_handlers:
            if _is_framework_options(handler):
                continue
            found.update((method, _template(route.path)) for method in handler.http_methods)
    return found


def _bare_app() -> Litestar:
    return create_app(Settings(secret_key="matrix-only-" + "m" * 40))


def test_every_registered_route_has_a_row_in_the_access_matrix() -> None:
    routes = registered_routes(_bare_app())
    missing = sorted(routes - ACCESS.keys())
    assert not missing, f"routes without a row in ACCESS (add one line each): {missing}"


def test_every_row_of_the_access_matrix_is_a_registered_route() -> None:
    stale = sorted(ACCESS.keys() - registered_routes(_bare_app()))
    assert not stale, f"rows in ACCESS for routes the app does not register: {stale}"


def test_every_path_parameter_of_a_route_knows_how_to_be_filled() -> None:
    params = {name for _, path in ACCESS for name in re.findall(r"\{(\w+)\}", path)}
    assert params <= PATH_VALUES.keys(), f"add these to PATH_VALUES: {sorted(params - PATH_VALUES.keys())}"


def _fill(path: str, world: World, values: dict[str, Callable[[World], UUID]]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: str(values.get(m.group(1), PATH_VALUES[m.group(1)])(world)), path)


async def _call(world: World, method: str, path: str, row: Row, user: str | None) -> int:
    body: Any = None
    if row.body is not None:
        body = row.body(world, user or "admin")
        if inspect.isawaitable(body):
            body = await body
    headers = world.auth(user) if user else {}
    if row.query is not None:
        path += row.query(world)
    response = await world.client.request(method, path, headers=headers, json=body)
    return response.status_code


ROWS = sorted(ACCESS.items())


@pytest.mark.parametrize(("route", "row"), ROWS, ids=[f"{m} {p}" for (m, p), _ in ROWS])
async def test_each_role_gets_the_status_the_matrix_gives_it_on_its_own_group(
    world: World, route: tuple[str, str], row: Row
) -> None:
    method, template = route
    path = _fill(template, world, {})
    got = {}
    for role in ROLES:
        got[role] = await _call(world, method, path, row, USER_OF_ROLE.get(role))
    expected = {role: row.status(role) for role in ROLES}
    assert got == expected, f"{method} {template}"


SCOPED = [(route, row) for route, row in ROWS if "{group_id}" in route[1]]
ELSEWHERE_ROUTES = [(route, row) for route, row in ROWS if any(f"{{{p}}}" in route[1] for p in ELSEWHERE)]


@pytest.mark.parametrize(("route", "row"), ELSEWHERE_ROUTES, ids=[f"{m} {p}" for (m, p), _ in ELSEWHERE_ROUTES])
async def test_a_cycle_meeting_loan_or_entry_of_another_organisation_answers_404(
    world: World, route: tuple[str, str], row: Row
) -> None:
    method, template = route
    got = {}
    for user in ("admin", "begeleider_a", "member"):
        got[user] = await _call(world, method, _fill(template, world, ELSEWHERE), row, user)
    back = {**ELSEWHERE, **{k: PATH_VALUES[k] for k in ELSEWHERE}}
    got["admin_y"] = await _call(world, method, _fill(template, world, back), row, "admin_y")
    assert got == dict.fromkeys(got, 404)


@pytest.mark.parametrize(("route", "row"), SCOPED, ids=[f"{m} {p}" for (m, p), _ in SCOPED])
async def test_a_group_outside_the_callers_groups_or_organisation_answers_404_as_if_it_did_not_exist(
    world: World, route: tuple[str, str], row: Row
) -> None:
    method, template = route
    cases = OUTSIDE | (OUTSIDE_MEMBER if "{member_id}" in template else {})
    got = {}
    for label, (user, values) in cases.items():
        got[label] = await _call(world, method, _fill(template, world, values), row, user)
    assert got == dict.fromkeys(cases, 404)


async def test_a_member_sees_only_their_own_group_and_a_begeleider_only_the_groups_they_guide(world: World) -> None:
    seen = {}
    for user in ("member", "begeleider_a", "begeleider_b", "admin", "admin_y"):
        response = await world.client.get("/api/v1/groups", headers=world.auth(user))
        assert response.status_code == 200
        seen[user] = {item["id"] for item in response.json()["items"]}
    groups = {key: str(group_id) for key, group_id in world.groups.items()}
    assert seen == {
        "member": {groups["a"]},
        "begeleider_a": {groups["a"]},
        "begeleider_b": {groups["b"]},
        "admin": {groups["a"], groups["b"]},
        "admin_y": {groups["y"], groups["y.luistergroep"]},
    }


async def test_a_funder_is_refused_the_group_list_and_finds_no_group(world: World) -> None:
    listed = await world.client.get("/api/v1/groups", headers=world.auth("funder"))
    one = await world.client.get(f"/api/v1/groups/{world.groups['a']}", headers=world.auth("funder"))
    assert (listed.status_code, listed.json()["code"]) == (403, "access.role_not_allowed")
    assert (one.status_code, one.json()["code"]) == (404, "resource.not_found")


async def test_the_404_for_a_group_elsewhere_is_the_same_answer_as_for_a_group_that_does_not_exist(
    world: World
) -> None:
    elsewhere = await world.client.get(f"/api/v1/groups/{world.groups['y']}", headers=world.auth("admin"))
    absent = await world.client.get(f"/api/v1/groups/{uuid4()}", headers=world.auth("admin"))
    assert elsewhere.status_code == absent.status_code == 404

    def without_instance(body: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in body.items() if k != "instance"}

    assert without_instance(elsewhere.json()) == without_instance(absent.json())
