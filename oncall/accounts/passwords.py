"""Passwords, hashed with Argon2id (argon2-cffi's defaults: RFC 9106's low-memory profile)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 10
MAX_LENGTH = 1024  # hashing is deliberately slow; a megabyte "password" must not be

_hasher = PasswordHasher()
# Verified when the email is unknown, so that a miss costs as long as a wrong password and
# the answer time does not tell which emails have accounts.
_DUMMY = _hasher.hash("not a password of anyone's")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches the ``stored`` hash; False for no hash (the user has no
    password yet) after the same work as a real check."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _hasher.verify(stored or _DUMMY, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """True when the hash was made with weaker parameters than today's (then store a new one
    at the next successful sign-in)."""
    return _hasher.check_needs_rehash(stored)


def weakness(password: str, email: str) -> str | None:
    """Why ``password`` is refused, or None: long enough, not absurdly long, not the email."""
    if len(password) < MIN_LENGTH:
        return f"must be at least {MIN_LENGTH} characters long"
    if len(password) > MAX_LENGTH:
        return f"must be at most {MAX_LENGTH} characters long"
    if password.strip().lower() in (email.lower(), email.split("@")[0].lower()):
        return "must not be your email address"
    return None
