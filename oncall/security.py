"""Secrets we hand out once and store only as hashes: integration and API tokens."""

from __future__ import annotations

import hashlib
import secrets


def new_token(prefix: str) -> str:
    """A URL-safe token with a readable prefix, e.g. ``oci_3kQ...`` (256 bits of entropy)."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def hash_token(token: str) -> str:
    # The tokens are long random strings, so a fast hash is enough: no dictionary to guess from.
    return hashlib.sha256(token.encode()).hexdigest()


def token_prefix(token: str) -> str:
    """The first characters, kept in clear so that people can tell tokens apart in listings."""
    return token[:10]
