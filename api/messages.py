"""Plain words for every error code, in Dutch (the default) and English.

Dutch first: short sentences that say what to do, not which rule number was broken.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

LANGUAGES = ("nl", "en")

# code: ((nl title, nl detail), (en title, en detail)); details may use {params}
MESSAGES: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    # the contract
    "request.invalid": (
        ("Niet alle gegevens kloppen", "Kijk naar de velden in de lijst en probeer het opnieuw."),
        ("Some fields are not right", "Check the fields listed in errors and try again."),
    ),
    "request.malformed": (
        ("Het verzoek is niet te lezen", "De inhoud is geen geldige JSON."),
        ("The request can't be read", "The body is not valid JSON."),
    ),
    "request.too_large": (
        ("Het verzoek is te groot", "Stuur minder gegevens tegelijk."),
        ("The request is too large", "Send less data at once."),
    ),
    "request.unsupported_media_type": (
        ("Verkeerd soort inhoud", "Stuur de gegevens als JSON."),
        ("Unsupported content type", "Send the data as JSON."),
    ),
    "request.method_not_allowed": (
        ("Dat kan hier niet", "Deze methode is op dit adres niet toegestaan."),
        ("Method not allowed", "This method is not allowed on this path."),
    ),
    "request.id_reused": (
        ("Deze id is al gebruikt", "Er bestaat al iets met id {id}, met andere gegevens. Gebruik een nieuwe id."),
        ("This id is already used", "Something with id {id} already exists with other data. Use a new id."),
    ),
    "request.conflict": (
        ("Dit botst met wat er al is", "Deze gegevens bestaan al of spreken iets tegen dat al is vastgelegd."),
        ("This conflicts with what exists", "This data already exists or contradicts what is recorded."),
    ),
    "request.stale_version": (
        ("Iemand anders was u voor", "Dit is intussen gewijzigd (nu versie {current_version}). Haal het opnieuw op."),
        ("Someone else was first", "This was changed meanwhile (now version {current_version}). Fetch it again."),
    ),
    "request.bad_if_match": (
        ("If-Match is niet te lezen", "Stuur in If-Match het versienummer, bijvoorbeeld 3."),
        ("If-Match can't be read", "Send the version number in If-Match, for example 3."),
    ),
    "request.bad_cursor": (
        ("Ongeldige cursor", "Begin opnieuw bij de eerste pagina."),
        ("Invalid cursor", "Start again from the first page."),
    ),
    "idempotency.key_reused": (
        ("Idempotency-Key al gebruikt", "Deze sleutel hoort bij een ander verzoek. Gebruik een nieuwe sleutel."),
        ("Idempotency-Key already used", "This key belongs to another request. Use a new key."),
    ),
    "idempotency.in_progress": (
        ("Nog bezig", "Het eerste verzoek met deze sleutel loopt nog. Probeer het zo opnieuw."),
        ("Still running", "The first request with this key is still running. Try again shortly."),
    ),
    "idempotency.outcome_unknown": (
        ("Uitkomst onbekend", "Het eerste verzoek met deze sleutel is opgeslagen, maar het antwoord niet. "
                              "Haal de gegevens op om te zien wat er staat."),
        ("Outcome unknown", "The first request with this key was saved, but its answer was not. "
                            "Fetch the data to see what is there."),
    ),
    "idempotency.key_invalid": (
        ("Ongeldige Idempotency-Key", "Een sleutel heeft 1 tot 255 zichtbare tekens."),
        ("Invalid Idempotency-Key", "A key has 1 to 255 visible characters."),
    ),
    "resource.not_found": (
        ("Niet gevonden", "Dit bestaat niet, of u heeft er geen toegang toe."),
        ("Not found", "This does not exist, or you have no access to it."),
    ),
    "server.unavailable": (
        ("Even niet bereikbaar", "De database is even niet bereikbaar. Er is niets opgeslagen; probeer het zo opnieuw."),
        ("Temporarily unavailable", "The database can't be reached. Nothing was saved; try again shortly."),
    ),
    "server.error": (
        ("Er ging iets mis", "Er is niets opgeslagen. Probeer het later opnieuw."),
        ("Something went wrong", "Nothing was saved. Try again later."),
    ),
    # auth
    "auth.invalid_credentials": (
        ("Inloggen mislukt", "Het e-mailadres of wachtwoord klopt niet."),
        ("Login failed", "The email address or password is not right."),
    ),
    "auth.token_missing": (
        ("Niet ingelogd", "Log eerst in."),
        ("Not logged in", "Log in first."),
    ),
    "auth.token_invalid": (
        ("Ongeldige sessie", "Log opnieuw in."),
        ("Invalid session", "Log in again."),
    ),
    "auth.token_expired": (
        ("Sessie verlopen", "Vraag een nieuw token aan met het vernieuwingstoken, of log opnieuw in."),
        ("Session expired", "Get a new token with your refresh token, or log in again."),
    ),
    "auth.refresh_token_invalid": (
        ("Ongeldig vernieuwingstoken", "Log opnieuw in."),
        ("Invalid refresh token", "Log in again."),
    ),
    "auth.refresh_token_reused": (
        ("Sessie ingetrokken", "Dit vernieuwingstoken was al gebruikt. Voor de veiligheid is de sessie beëindigd; "
                               "log opnieuw in."),
        ("Session revoked", "This refresh token was already used. For safety the session was ended; log in again."),
    ),
    "auth.account_closed": (
        ("Account gesloten", "Dit account is niet meer actief."),
        ("Account closed", "This account is no longer active."),
    ),
    "auth.too_many_attempts": (
        ("Te veel pogingen", "Wacht {retry_after} seconden en probeer het dan opnieuw."),
        ("Too many attempts", "Wait {retry_after} seconds, then try again."),
    ),
    # access
    "access.role_not_allowed": (
        ("Niet toegestaan", "Uw rol ({role}) mag dit niet doen."),
        ("Not allowed", "Your role ({role}) may not do this."),
    ),
    "access.not_your_group": (
        ("Niet toegestaan", "U mag dit niet doen in deze groep."),
        ("Not allowed", "You may not do this in this group."),
    ),
    # users, programmes, groups, members
    "user.email_taken": (
        ("E-mailadres al in gebruik", "Er is al een account met dit e-mailadres."),
        ("Email already in use", "There is already an account with this email address."),
    ),
    "user.member_required": (
        ("Lid ontbreekt", "Een account met rol member hoort bij een lid: geef member_id mee."),
        ("Member missing", "An account with role member belongs to a member: send member_id."),
    ),
    "user.member_not_allowed": (
        ("Geen lid bij deze rol", "Alleen een account met rol member hoort bij een lid."),
        ("No member for this role", "Only an account with role member belongs to a member."),
    ),
    "user.member_already_linked": (
        ("Lid heeft al een account", "Dit lid heeft al een account."),
        ("Member already has an account", "This member already has an account."),
    ),
    "user.password_too_short": (
        ("Wachtwoord te kort", "Kies een wachtwoord van minstens {min_length} tekens."),
        ("Password too short", "Choose a password of at least {min_length} characters."),
    ),
    "programme.not_a_funder": (
        ("Geen financier", "Niet elk gekozen account is een financier van deze organisatie."),
        ("Not a funder", "Not every chosen account is a funder of this organisation."),
    ),
    "group.not_a_begeleider": (
        ("Geen begeleider", "Niet elk gekozen account is een begeleider van deze organisatie."),
        ("Not a begeleider", "Not every chosen account is a begeleider of this organisation."),
    ),
    "group.unknown_timezone": (
        ("Onbekende tijdzone", "Gebruik een tijdzone als Europe/Amsterdam."),
        ("Unknown time zone", "Use a time zone such as Europe/Amsterdam."),
    ),
    "group.stopped": (
        ("Groep is gestopt", "Deze groep is gestopt; er kan niets meer bij."),
        ("Group has stopped", "This group has stopped; nothing can be added."),
    ),
    "group.status_change_not_allowed": (
        ("Status kan zo niet veranderen", "Van {current} naar {requested} kan niet."),
        ("Status can't change like this", "From {current} to {requested} is not possible."),
    ),
    "member.already_left": (
        ("Lid is al vertrokken", "Dit lid is al vertrokken op {left_on}."),
        ("Member already left", "This member already left on {left_on}."),
    ),
    "member.left_before_joined": (
        ("Datum klopt niet", "Een lid kan niet vertrekken voor de dag van aansluiten ({joined_on})."),
        ("Date is not right", "A member can't leave before the day they joined ({joined_on})."),
    ),
}


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "?"


def pick_language(accept_language: str | None) -> str:
    """'nl' unless English is preferred over Dutch."""
    if not accept_language:
        return "nl"
    ranked: list[tuple[int, int, str]] = []
    for position, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = _quality_in_thousandths(params.strip())
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES:
            ranked.append((-quality, position, primary))
    return min(ranked)[2] if ranked else "nl"


def _quality_in_thousandths(param: str) -> int:
    """RFC 9110 q-values ("q=0.8") as whole thousandths, without floats; absent means 1000."""
    if not param.startswith("q="):
        return 1000
    whole, _, fraction = param[2:].partition(".")
    if whole not in ("0", "1") or not fraction.isdigit() and fraction:
        return 0
    return min(1000, int(whole) * 1000 + int((fraction + "000")[:3]))


def render_message(code: str, lang: str, params: Mapping[str, object]) -> tuple[str, str]:
    nl, en = MESSAGES.get(code, MESSAGES["server.error"])
    title, detail = nl if lang == "nl" else en
    return title, detail.format_map(_Blank({k: _plain(v) for k, v in params.items()}))


def _plain(value: object) -> str:
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)
