"""Errors with stable codes. A code is part of the API: clients branch on it, messages are keyed by it.

The domain names four kinds of "no"; the API maps each kind to one HTTP status. A code never changes
meaning once shipped; a new meaning gets a new code.
"""

from __future__ import annotations

from typing import ClassVar


class DomainError(Exception):
    code: ClassVar[str]

    def __init__(self, **params: str | int | list[str] | None) -> None:
        super().__init__(self.code)
        self.params = params  # JSON-safe; they travel as extension members of the problem


class Refused(DomainError):
    """Breaks a rule of the group or of the request."""


class Conflict(DomainError):
    """Clashes with what is already recorded."""


class Forbidden(DomainError):
    """Visible to the caller, but not theirs to do."""


class NotFound(DomainError):
    """Absent, or outside what the caller may see: one answer for both."""


class Unauthenticated(DomainError):
    """No valid credentials."""


class TooManyAttempts(DomainError):
    """Too many failed attempts; try again later."""


class PreconditionFailed(DomainError):
    """The caller edited an old version."""


# --- auth --------------------------------------------------------------------------------------
class InvalidCredentials(Unauthenticated):
    code = "auth.invalid_credentials"


class TokenMissing(Unauthenticated):
    code = "auth.token_missing"


class TokenInvalid(Unauthenticated):
    code = "auth.token_invalid"


class TokenExpired(Unauthenticated):
    code = "auth.token_expired"


class RefreshTokenInvalid(Unauthenticated):
    code = "auth.refresh_token_invalid"


class RefreshTokenReused(Unauthenticated):
    code = "auth.refresh_token_reused"


class AccountClosed(Unauthenticated):
    code = "auth.account_closed"


class LoginThrottled(TooManyAttempts):
    code = "auth.too_many_attempts"


# --- access ------------------------------------------------------------------------------------
class RoleNotAllowed(Forbidden):
    code = "access.role_not_allowed"


class NotYourGroup(Forbidden):
    code = "access.not_your_group"


class ResourceNotFound(NotFound):
    code = "resource.not_found"


# --- users, programmes, groups, members ------------------------------------------------------
class EmailTaken(Conflict):
    code = "user.email_taken"


class MemberLinkRequired(Refused):
    code = "user.member_required"


class MemberLinkNotAllowed(Refused):
    code = "user.member_not_allowed"


class MemberAlreadyLinked(Conflict):
    code = "user.member_already_linked"


class PasswordTooShort(Refused):
    code = "user.password_too_short"


class NotAFunder(Refused):
    code = "programme.not_a_funder"


class NotABegeleider(Refused):
    code = "group.not_a_begeleider"


class UnknownTimezone(Refused):
    code = "group.unknown_timezone"


class GroupStopped(Conflict):
    code = "group.stopped"


class StatusChangeNotAllowed(Refused):
    code = "group.status_change_not_allowed"


class MemberAlreadyLeft(Conflict):
    code = "member.already_left"


class LeftBeforeJoined(Refused):
    code = "member.left_before_joined"


# --- the contract ------------------------------------------------------------------------------
class IdReused(Conflict):
    """The same client-made id came with another body."""

    code = "request.id_reused"


class StaleVersion(PreconditionFailed):
    code = "request.stale_version"


class BadCursor(Refused):
    code = "request.bad_cursor"


class BadIfMatch(Refused):
    code = "request.bad_if_match"
