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
        ("Even niet bereikbaar", "De server is even niet bereikbaar. Probeer het zo opnieuw."),
        ("Temporarily unavailable", "The server is not available right now. Try again shortly."),
    ),
    "database.unavailable": (
        ("Even niet bereikbaar", "De gegevens konden even niet worden opgeslagen of opgehaald. Stuur hetzelfde "
                                 "verzoek zo opnieuw; wat al was aangekomen, wordt niet dubbel geboekt."),
        ("Temporarily unavailable", "The data could not be saved or fetched just now. Send the same request again "
                                    "shortly; whatever had already arrived is not booked twice."),
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
    # spaarkring: cycles, roles, meetings, the presentielijst
    "cycle.not_a_spaarkring": (
        ("Geen spaarkring", "Rondes, inleg en leningen horen bij een spaarkring, niet bij een luistergroep."),
        ("Not a spaarkring", "Cycles, deposits and loans belong to a spaarkring, not to a luistergroep."),
    ),
    "cycle.rules_invalid": (
        ("Regels kloppen niet", "Deze regels passen niet bij elkaar: {fields}."),
        ("Rules don't fit", "These rules don't fit together: {fields}."),
    ),
    "cycle.already_open": (
        ("Er loopt al een ronde", "Deze groep heeft al een open ronde. Sluit die eerst af."),
        ("A cycle is already open", "This group already has an open cycle. Close it first."),
    ),
    "cycle.closed": (
        ("Ronde is gesloten", "Deze ronde is afgesloten; er kan niets meer bij."),
        ("Cycle is closed", "This cycle is closed; nothing can be added."),
    ),
    "meeting.number_out_of_range": (
        ("Nummer klopt niet", "Een bijeenkomst heeft een nummer van 1 tot en met {planned_meetings}."),
        ("Number out of range", "A meeting has a number from 1 up to and including {planned_meetings}."),
    ),
    "meeting.number_taken": (
        ("Nummer al gebruikt", "Er is al een bijeenkomst met dit nummer in deze ronde."),
        ("Number already used", "This cycle already has a meeting with this number."),
    ),
    "meeting.not_open": (
        ("Bijeenkomst niet geopend", "Open eerst de bijeenkomst."),
        ("Meeting not open", "Open the meeting first."),
    ),
    "meeting.closed": (
        ("Bijeenkomst is gesloten", "Deze bijeenkomst is gesloten; er kan niets meer bij. Herstel een fout met een correctie."),
        ("Meeting is closed", "This meeting is closed; nothing can be added. Fix a mistake with a reversal."),
    ),
    "meeting.already_open": (
        ("Bijeenkomst is al geopend", "Deze bijeenkomst is al geopend."),
        ("Meeting already open", "This meeting is already open."),
    ),
    "meeting.another_open": (
        ("Andere bijeenkomst open", "Er is nog een andere bijeenkomst open. Sluit die eerst."),
        ("Another meeting is open", "Another meeting is still open. Close it first."),
    ),
    "meeting.later_meeting_held": (
        ("Latere bijeenkomst al gehouden", "Bijeenkomst {meeting_no} is al gehouden; deze kan niet meer."),
        ("A later meeting was held", "Meeting {meeting_no} has been held already; this one can't be held now."),
    ),
    "meeting.opening_cash_differs": (
        ("Beginkas wijkt af", "De bijeenkomst is al geopend met {opening_cash_cents} in de kas."),
        ("Opening cash differs", "The meeting was already opened with {opening_cash_cents} in the box."),
    ),
    "meeting.may_not_record": (
        ("Niet uw taak", "Alleen de voorzitter of de boekhouder van deze bijeenkomst legt dit vast."),
        ("Not yours to record", "Only the voorzitter or the boekhouder of this meeting records this."),
    ),
    "meeting.no_discrepancy": (
        ("Niets uit te leggen", "De kas klopte; er is geen verschil om uit te leggen."),
        ("Nothing to explain", "The cash box added up; there is no difference to explain."),
    ),
    "roles.invalid": (
        ("Rollen kloppen niet", "De rollen vanaf bijeenkomst {from_meeting_no} kloppen niet. Kijk wie welke rol heeft."),
        ("Roles don't add up", "The roles from meeting {from_meeting_no} don't add up. Check who holds which role."),
    ),
    "roles.meeting_held": (
        ("Bijeenkomst al gehouden", "Tot en met bijeenkomst {last_held_meeting_no} liggen de rollen vast; "
                                    "wijzig ze vanaf een latere."),
        ("Meeting already held", "Roles are fixed up to and including meeting {last_held_meeting_no}; "
                                 "change them from a later one."),
    ),
    "roles.one_role_per_member": (
        ("Eén rol per lid", "Bij bijeenkomst {meeting_no} heeft een lid meer dan één rol."),
        ("One role per member", "At meeting {meeting_no} a member holds more than one role."),
    ),
    "member.not_current": (
        ("Geen lid meer of nog niet", "Niet iedereen hier is op dit moment lid van de groep."),
        ("Not a current member", "Not everyone named is a member of the group at this time."),
    ),
    "attendance.signed": (
        ("Presentielijst is getekend", "Na het tekenen verandert de presentielijst niet meer."),
        ("Attendance list is signed", "Once signed, the attendance list no longer changes."),
    ),
    "attendance.empty": (
        ("Presentielijst is leeg", "Vul eerst in wie er zijn."),
        ("Attendance list is empty", "First record who is there."),
    ),
    "attendance.signer_not_voorzitter": (
        ("Alleen de voorzitter tekent", "Alleen de voorzitter van deze bijeenkomst tekent de presentielijst."),
        ("Only the voorzitter signs", "Only the voorzitter of this meeting signs the attendance list."),
    ),
    "attendance.not_signed": (
        ("Presentielijst niet getekend", "De voorzitter tekent eerst de presentielijst; daarna wordt er geld geteld."),
        ("Attendance list not signed", "The voorzitter signs the attendance list first; then money is counted."),
    ),
    # deposits, and cash counted in front of the group
    "deposit.member_not_present": (
        ("Lid niet aanwezig", "Wie inlegt, staat op de presentielijst."),
        ("Member not present", "Whoever deposits must be on the attendance list."),
    ),
    "deposit.counter_not_geldteller": (
        ("Geen geldteller", "Alleen een geldteller van deze bijeenkomst telt de inleg."),
        ("Not a geldteller", "Only a geldteller of this meeting counts the deposit."),
    ),
    "deposit.counter_is_owner": (
        ("Zelf tellen kan niet", "Wie inlegt, telt het eigen geld niet. Laat een andere geldteller tellen."),
        ("Can't count your own", "Whoever deposits doesn't count their own money. Let another geldteller count."),
    ),
    "deposit.counter_not_present": (
        ("Geldteller niet aanwezig", "De geldteller staat op de presentielijst."),
        ("Geldteller not present", "The geldteller must be on the attendance list."),
    ),
    "deposit.witnesses_required": (
        ("Te weinig getuigen", "Minstens {required} andere aanwezigen moeten de inleg zien (nu {given})."),
        ("Too few witnesses", "At least {required} others present must see the deposit (now {given})."),
    ),
    "deposit.self_witnessed": (
        ("Getuige is betrokken", "Wie inlegt of telt, is geen getuige. Kies andere getuigen."),
        ("Witness is involved", "Whoever deposits or counts is no witness. Choose other witnesses."),
    ),
    "deposit.witnesses_not_distinct": (
        ("Dubbele getuige", "Noem elke getuige één keer."),
        ("Witness named twice", "Name each witness once."),
    ),
    "deposit.witness_not_present": (
        ("Getuige niet aanwezig", "Getuigen staan op de presentielijst."),
        ("Witness not present", "Witnesses must be on the attendance list."),
    ),
    "deposit.amount_out_of_limits": (
        ("Bedrag buiten de grenzen", "De inleg per bijeenkomst ligt tussen {min_deposit_cents} en "
                                     "{max_deposit_cents} (al ingelegd: {already_cents})."),
        ("Amount out of limits", "A deposit per meeting lies between {min_deposit_cents} and {max_deposit_cents} "
                                 "cents (already deposited: {already_cents})."),
    ),
    "cash.member_not_present": (
        ("Lid niet aanwezig", "Wie het geld krijgt of geeft, staat op de presentielijst."),
        ("Member not present", "Whoever receives or hands over the money must be on the attendance list."),
    ),
    "cash.counter_not_geldteller": (
        ("Geen geldteller", "Alleen een geldteller van deze bijeenkomst telt het geld."),
        ("Not a geldteller", "Only a geldteller of this meeting counts the money."),
    ),
    "cash.counter_is_owner": (
        ("Zelf tellen kan niet", "Wie het geld krijgt of geeft, telt het niet zelf. Laat een andere geldteller tellen."),
        ("Can't count your own", "Whoever receives or hands over the money doesn't count it. Let another geldteller "
                                 "count."),
    ),
    "cash.counter_not_present": (
        ("Geldteller niet aanwezig", "De geldteller staat op de presentielijst."),
        ("Geldteller not present", "The geldteller must be on the attendance list."),
    ),
    "cash.witnesses_required": (
        ("Te weinig getuigen", "Minstens {required} andere aanwezigen moeten het tellen zien (nu {given})."),
        ("Too few witnesses", "At least {required} others present must see the counting (now {given})."),
    ),
    "cash.self_witnessed": (
        ("Getuige is betrokken", "Wie het geld krijgt, geeft of telt, is geen getuige. Kies andere getuigen."),
        ("Witness is involved", "Whoever receives, hands over or counts the money is no witness. Choose others."),
    ),
    "cash.witnesses_not_distinct": (
        ("Dubbele getuige", "Noem elke getuige één keer."),
        ("Witness named twice", "Name each witness once."),
    ),
    "cash.witness_not_present": (
        ("Getuige niet aanwezig", "Getuigen staan op de presentielijst."),
        ("Witness not present", "Witnesses must be on the attendance list."),
    ),
    # the ledger and the offline sync
    "ledger.already_reversed": (
        ("Al gecorrigeerd", "Deze boeking is al gecorrigeerd."),
        ("Already reversed", "This entry has already been reversed."),
    ),
    "ledger.reversal_not_reversible": (
        ("Correctie van een correctie", "Een correctie wordt niet zelf gecorrigeerd. Boek het juiste bedrag opnieuw."),
        ("Reversal of a reversal", "A reversal is not reversed itself. Record the right amount again."),
    ),
    "ledger.reversal_other_cycle": (
        ("Andere ronde", "Een correctie wordt geboekt in een bijeenkomst van dezelfde ronde."),
        ("Other cycle", "A reversal is recorded at a meeting of the same cycle."),
    ),
    "sync.differs_from_closed_meeting": (
        ("Bijeenkomst al gesloten", "Deze bijeenkomst is al gesloten met andere gegevens ({path}). "
                                    "Haal op wat er staat."),
        ("Meeting already closed", "This meeting was already closed with other data ({path}). Fetch what is there."),
    ),
    # loans, leaving, share-out
    "loan.loans_disabled": (
        ("Alleen sparen", "In deze ronde wordt alleen gespaard; er zijn geen leningen."),
        ("Saving only", "This cycle is for saving only; there are no loans."),
    ),
    "loan.cycle_sharing_out": (
        ("Ronde wordt verdeeld", "Tijdens het uitdelen zijn er geen nieuwe leningen."),
        ("Cycle is sharing out", "No new loans while the cycle is being shared out."),
    ),
    "loan.over_multiple": (
        ("Lening te hoog", "Met {saved_cents} gespaard leent dit lid hoogstens {max_cents}."),
        ("Loan too large", "Having saved {saved_cents}, this member may borrow at most {max_cents}."),
    ),
    "loan.term_too_long": (
        ("Looptijd te lang", "Een lening loopt hoogstens {max_term_meetings} bijeenkomsten."),
        ("Term too long", "A loan runs at most {max_term_meetings} meetings."),
    ),
    "loan.due_after_last_meeting": (
        ("Terug na de laatste bijeenkomst", "De lening moet uiterlijk bij bijeenkomst {last_meeting_no} terug zijn, "
                                            "niet pas bij {due_meeting_no}."),
        ("Due after the last meeting", "The loan must be repaid by meeting {last_meeting_no}, not only at "
                                       "{due_meeting_no}."),
    ),
    "loan.already_open": (
        ("Al een lening", "Dit lid heeft al een lening die nog loopt."),
        ("Loan already open", "This member already has a loan that is still running."),
    ),
    "loan.not_requested": (
        ("Al besloten", "Over deze lening is al besloten (nu: {loan_status})."),
        ("Already decided", "This loan has been decided already (now: {loan_status})."),
    ),
    "loan.not_approved": (
        ("Niet goedgekeurd", "Alleen een goedgekeurde lening wordt uitbetaald (nu: {loan_status})."),
        ("Not approved", "Only an approved loan is paid out (now: {loan_status})."),
    ),
    "loan.not_disbursed": (
        ("Niet uitbetaald", "Aflossen kan pas na het uitbetalen (nu: {loan_status})."),
        ("Not paid out", "Repaying comes after paying out (now: {loan_status})."),
    ),
    "loan.not_enough_cash": (
        ("Te weinig in de kas", "In de kas zit {cash_expected_cents}; dat is te weinig voor deze lening."),
        ("Not enough cash", "The box holds {cash_expected_cents}; that is too little for this loan."),
    ),
    "loan.other_cycle": (
        ("Andere ronde", "Deze lening hoort bij een andere ronde."),
        ("Other cycle", "This loan belongs to another cycle."),
    ),
    "loan.overpayment": (
        ("Te veel afgelost", "Er staat nog {outstanding_cents} open; meer aflossen kan niet."),
        ("Overpayment", "{outstanding_cents} are outstanding; more can't be repaid."),
    ),
    "loan.self_vote": (
        ("Lener stemt niet", "Wie de lening vraagt, stemt niet mee."),
        ("Borrower doesn't vote", "Whoever asks for the loan doesn't vote on it."),
    ),
    "loan.borrower_may_not_decide": (
        ("Lener beslist niet", "Wie de lening vraagt, legt het besluit er niet over vast."),
        ("Borrower doesn't decide", "Whoever asks for the loan doesn't record the decision on it."),
    ),
    "loan.voter_not_present": (
        ("Stemmer niet aanwezig", "Alleen wie aanwezig is, stemt mee."),
        ("Voter not present", "Only those present vote."),
    ),
    "member.loan_outstanding": (
        ("Lening loopt nog", "Dit lid heeft nog een lening open. Los die eerst af."),
        ("Loan outstanding", "This member still has a loan open. Repay it first."),
    ),
    "member.not_left": (
        ("Lid is niet vertrokken", "Dit lid is nog niet vertrokken."),
        ("Member has not left", "This member has not left."),
    ),
    "member.nothing_saved": (
        ("Niets gespaard", "Dit lid heeft niets gespaard om uit te betalen."),
        ("Nothing saved", "This member has saved nothing to pay out."),
    ),
    "share_out.loan_outstanding": (
        ("Lening loopt nog", "Er staan nog leningen open; uitdelen kan pas als alles is afgelost."),
        ("Loan outstanding", "Loans are still open; sharing out waits until everything is repaid."),
    ),
    "share_out.no_one_to_share_with": (
        ("Niemand om mee te delen", "Er is {total_cents}, maar niemand om het aan uit te delen."),
        ("No one to share with", "There are {total_cents}, but no one to share them with."),
    ),
    "share_out.not_last_meeting": (
        ("Niet de laatste bijeenkomst", "Uitdelen gebeurt op de laatste bijeenkomst van de ronde."),
        ("Not the last meeting", "Sharing out happens at the cycle's last meeting."),
    ),
    "share_out.not_finalised": (
        ("Nog niet uitgedeeld", "Deze ronde is nog niet afgerekend."),
        ("Not shared out yet", "This cycle has not been shared out yet."),
    ),
}


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "?"


def pick_language(accept_language: str | None) -> str:
    """'nl' unless English is preferred over Dutch (a malformed q-value counts as q=0)."""
    if not accept_language:
        return "nl"
    ranked: list[tuple[int, int, str]] = []
    for position, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = _quality_in_thousandths(params.strip())
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and quality > 0:  # q=0 means "not this one" (RFC 9110)
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
    return title, detail.format_map(_Blank({k: _plain(k, v, lang) for k, v in params.items()}))


def euros(cents: int, lang: str) -> str:
    """Cents as people say them: "€ 12,50" in Dutch, "€12.50" in English; integers only."""
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(cents), 100)
    grouped = f"{whole:,}".replace(",", "." if lang == "nl" else ",")
    return f"{sign}€ {grouped},{rest:02d}" if lang == "nl" else f"{sign}€{grouped}.{rest:02d}"


def _plain(key: str, value: object, lang: str) -> str:
    if key.endswith("_cents") and isinstance(value, int) and not isinstance(value, bool):
        return euros(value, lang)
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


# luistergroepen: afspraken, series, sessions, RSVPs, attendance
LUISTERGROEP_MESSAGES: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    "group.not_a_luistergroep": (
        ("Alleen voor een luistergroep", "Afspraken en reeksen van sessies horen bij een luistergroep. "
                                         "Een spaarkring plant zijn bijeenkomsten in de spaarronde."),
        ("Only for a luistergroep", "Afspraken and session series belong to a luistergroep. "
                                    "A spaarkring plans its meetings in its cycle."),
    ),
    "series.rrule_invalid": (
        ("De herhaling klopt niet", "Het deel {part} van de herhaalregel klopt niet. Bijvoorbeeld: "
                                    "FREQ=WEEKLY;BYDAY=TH;UNTIL=20261231."),
        ("The recurrence is not right", "The {part} part of the recurrence rule is not right. For example: "
                                        "FREQ=WEEKLY;BYDAY=TH;UNTIL=20261231."),
    ),
    "series.rrule_unbounded": (
        ("De herhaling heeft geen einde", "Geef een einddatum (UNTIL) of een aantal keren (COUNT)."),
        ("The recurrence never ends", "Give an end date (UNTIL) or a number of times (COUNT)."),
    ),
    "series.beyond_horizon": (
        ("De reeks loopt te lang door", "Een reeks eindigt binnen {years} jaar na de eerste sessie."),
        ("The series runs too long", "A series ends within {years} years of its first session."),
    ),
    "series.start_invalid": (
        ("Het begin klopt niet", "Geef de eerste sessie met tijdzone, op een hele minuut, tussen 2000 en 2100."),
        ("The start is not right", "Give the first session with an offset, on a whole minute, between 2000 and 2100."),
    ),
    "series.start_not_in_rule": (
        ("De eerste sessie past niet in de herhaling", "De eerste sessie ({weekday}) valt niet op een dag "
                                                       "van de herhaalregel. Kies een dag die past."),
        ("The first session does not fit the recurrence", "The first session ({weekday}) is not on a day of the "
                                                          "recurrence rule. Pick a day that fits."),
    ),
    "series.facilitator_invalid": (
        ("Geen gespreksleider", "De gespreksleider moet een begeleider of beheerder van de organisatie zijn."),
        ("Not a facilitator", "The facilitator must be a begeleider or admin of the organisation."),
    ),
    "series.already_ended": (
        ("De reeks is al afgelopen", "Er zijn geen sessies meer op of na die datum."),
        ("The series has already ended", "There are no sessions on or after that date."),
    ),
    "series.split_touches_past": (
        ("Die sessie is al begonnen", "Een reeks verandert alleen voor sessies die nog moeten komen. "
                                      "Kies een latere datum."),
        ("That session has already begun", "A series only changes for sessions still to come. "
                                           "Pick a later date."),
    ),
    "series.continuation_before_date": (
        ("Het nieuwe begin ligt te vroeg", "De eerste sessie van de vervolgreeks valt op of na {from_on}."),
        ("The new start is too early", "The continuing series' first session is on or after {from_on}."),
    ),
    "series.nothing_to_continue": (
        ("Er is niets om voort te zetten", "De reeks heeft na die datum geen sessies meer. "
                                           "Geef een nieuwe herhaalregel."),
        ("There is nothing to continue", "The series has no sessions after that date. Give a new recurrence rule."),
    ),
    "sessions.window_invalid": (
        ("De periode klopt niet", "Geef 'from' en 'to' met tijdzone; 'to' na 'from', hooguit {max_days} dagen later."),
        ("The window is not right", "Give 'from' and 'to' with an offset; 'to' after 'from', at most {max_days} days on."),
    ),
    "session.cancelled": (
        ("Deze sessie gaat niet door", "De sessie is afgezegd. Zet haar eerst terug als ze toch doorgaat."),
        ("This session is cancelled", "The session was cancelled. Reinstate it first if it takes place after all."),
    ),
    "session.not_started": (
        ("De sessie is nog niet begonnen", "Wie er was, vult u in vanaf het begin ({starts_at})."),
        ("The session has not begun", "Who came is recorded from the start ({starts_at}) on."),
    ),
    "session.attendance_recorded": (
        ("Er is al aanwezigheid", "Deze sessie heeft plaatsgevonden: wie er was, is al ingevuld."),
        ("Attendance is recorded", "This session took place: who came has been recorded."),
    ),
    "rsvp.session_full": (
        ("De sessie is vol", "Alle {capacity} plaatsen zijn bezet. Meld u aan voor de wachtlijst."),
        ("The session is full", "All {capacity} seats are taken. Join the waiting list."),
    ),
    "rsvp.not_yourself": (
        ("Alleen voor uzelf", "U kunt alleen voor uzelf aangeven of u komt."),
        ("Only for yourself", "You can only answer for yourself."),
    ),
}
MESSAGES.update(LUISTERGROEP_MESSAGES)


# exports for funders
EXPORT_MESSAGES: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    "export.period_reversed": (
        ("Periode klopt niet", "De begindatum ({from_on}) ligt na de einddatum ({to_on}). Draai ze om."),
        ("Period is reversed", "The start date ({from_on}) is after the end date ({to_on}). Swap them."),
    ),
    "export.period_too_long": (
        ("Periode te lang", "Een export beslaat hoogstens {max_months} maanden; deze periode telt er {months}. "
                            "Kies een kortere periode."),
        ("Period too long", "An export covers at most {max_months} months; this period has {months}. "
                            "Choose a shorter period."),
    ),
}
MESSAGES.update(EXPORT_MESSAGES)


ERASURE_MESSAGES: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    "member.erase_money_outstanding": (
        ("Er staat nog geld open", "Dit lid heeft nog een lening of spaargeld ({what}) in een lopende ronde. "
                                   "Reken eerst af; daarna kan het lid vergeten worden."),
        ("Money still outstanding", "This member still has a loan or savings ({what}) in a running cycle. "
                                    "Settle it first; then the member can be forgotten."),
    ),
}
MESSAGES.update(ERASURE_MESSAGES)
