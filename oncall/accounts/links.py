"""Invitation and password-reset links: signed (itsdangerous, with the installation's secret
key), expiring, and single use. The URL carries ``{id, nonce}`` signed; the database keeps
the nonce's hash, the expiry and when the link was used, so a link works once even if its
signature is still good, and a link copied from a log or a browser history is dead."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import update
from sqlalchemy.orm import Session

from oncall.models import SignInLink, User
from oncall.security import hash_token

PURPOSES = ("invite", "reset")
LIFETIME = {"invite": timedelta(days=7), "reset": timedelta(hours=24)}
_SALT = "oncall.console.sign-in-link"
PATH = "/welcome/"


class LinkError(ValueError):
    """The link cannot be used; ``message`` says why, in words for the person holding it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Issued:
    link: SignInLink
    token: str

    def url(self, public_url: str) -> str:
        return f"{public_url.rstrip('/')}{PATH}{self.token}"


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    if not secret_key:
        raise ValueError("sign-in links need the installation's secret key")
    return URLSafeTimedSerializer(secret_key, salt=_SALT)


def issue(session: Session, user: User, purpose: str, *, created_by: str, now: datetime,
          secret_key: str) -> Issued:
    """A new link for ``user`` (flushed in the caller's transaction)."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown link purpose {purpose!r}")
    nonce = secrets.token_urlsafe(24)
    link = SignInLink(user_id=user.id, purpose=purpose, nonce_hash=hash_token(nonce),
                      created_at=now, expires_at=now + LIFETIME[purpose],
                      created_by=created_by)
    session.add(link)
    session.flush()
    token = _serializer(secret_key).dumps({"id": link.id, "n": nonce})
    return Issued(link, token)


def find(session: Session, token: str, *, now: datetime, secret_key: str) -> SignInLink:
    """The link ``token`` names, if it can still be used; else LinkError saying why."""
    try:
        data = _serializer(secret_key).loads(
            token, max_age=int(max(LIFETIME.values()).total_seconds()))
    except BadSignature:
        raise LinkError("This link is not valid (it may be incomplete, or it expired): ask "
                        "an admin for a new one.") from None
    if not isinstance(data, dict) or not isinstance(data.get("id"), int) \
            or not isinstance(data.get("n"), str):
        raise LinkError("This link is not valid: ask an admin for a new one.")
    link = session.get(SignInLink, data["id"], populate_existing=True)
    if link is None or not secrets.compare_digest(link.nonce_hash, hash_token(data["n"])):
        raise LinkError("This link is not valid (it was withdrawn): ask an admin for a new one.")
    if link.used_at is not None:
        raise LinkError("This link was already used: each link works once. Sign in, or ask "
                        "an admin for a new link.")
    if link.expires_at <= now:
        raise LinkError("This link expired: ask an admin for a new one.")
    return link


def redeem(session: Session, link: SignInLink, *, now: datetime) -> None:
    """Mark ``link`` used, once: a second redeemer (two tabs, a replay) gets LinkError."""
    done = session.execute(update(SignInLink)
                           .where(SignInLink.id == link.id, SignInLink.used_at.is_(None))
                           .values(used_at=now))
    if getattr(done, "rowcount", 0) != 1:
        raise LinkError("This link was already used: each link works once.")
