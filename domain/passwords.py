"""Password hashing with argon2id (argon2-cffi), never hand-written."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_LENGTH = 10

# OWASP: argon2id, at least 19 MiB, 2 iterations, parallelism 1. We take 46 MiB (OWASP's first option).
PROFILES = {
    "owasp": {"time_cost": 1, "memory_cost": 47104, "parallelism": 1},
    "test": {"time_cost": 1, "memory_cost": 8, "parallelism": 1},  # only under the test setting
}


@cache
def hasher(profile: str = "owasp") -> PasswordHasher:
    return PasswordHasher(**PROFILES[profile])


@cache
def _dummy_hash(profile: str) -> str:
    return hasher(profile).hash("not a real password, used to spend the same time")


def hash_password(password: str, profile: str = "owasp") -> str:
    return hasher(profile).hash(password)


def needs_rehash(password_hash: str, profile: str = "owasp") -> bool:
    """True when the hash was made with other parameters than the profile's (e.g. an older profile)."""
    try:
        return hasher(profile).check_needs_rehash(password_hash)
    except (InvalidHashError, ValueError):
        return True


def verify_password(password_hash: str | None, password: str, profile: str = "owasp") -> bool:
    """True when the password matches. With no hash (unknown email) a dummy hash is checked so the
    answer takes the same time either way."""
    try:
        return hasher(profile).verify(password_hash or _dummy_hash(profile), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False
