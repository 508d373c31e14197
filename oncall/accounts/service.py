"""What the console and the CLI do with accounts: invite, set a password from a link, sign
in, and end every session of a user."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from oncall.accounts import links, passwords
from oncall.audit import audit
from oncall.models import ROLES, User

EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


class AccountError(ValueError):
    """A refused account change; ``field`` names the input at fault."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message


def by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def invite(session: Session, email: str, *, actor: str, now: datetime, secret_key: str,
           role: str = "responder", name: str | None = None) -> links.Issued:
    """A sign-in link for ``email``: an invitation to set a password (the user is created
    with ``role`` when new), or a reset link when the user already has a password."""
    email = email.strip()
    if not EMAIL.fullmatch(email):
        raise AccountError("email", f"{email!r} is not an email address")
    if role not in ROLES:
        raise AccountError("role", f"must be one of {', '.join(ROLES)}")
    user = by_email(session, email)
    if user is None:
        user = User(email=email, name=(name or "").strip() or email.split("@")[0], role=role)
        session.add(user)
        session.flush()
        audit(session, actor, "create", "user", user.id, email, None,
              {"email": email, "name": user.name, "role": role})
    if user.deactivated_at is not None:
        raise AccountError("email", f"{user.email} is deactivated")
    purpose = "reset" if user.password_hash else "invite"
    issued = links.issue(session, user, purpose, created_by=actor, now=now,
                         secret_key=secret_key)
    audit(session, actor, purpose, "user", user.id, user.email, None,
          {"link": issued.link.id, "expires_at": issued.link.expires_at.isoformat()})
    return issued


def set_password(session: Session, link: links.SignInLink, password: str, *,
                 now: datetime) -> User:
    """Redeem ``link`` (once) and give its user ``password``; every earlier session of the
    user ends (a reset after a lost laptop must lock the laptop out)."""
    user = link.user
    weak = passwords.weakness(password, user.email)
    if weak:
        raise AccountError("password", weak)
    links.redeem(session, link, now=now)
    user.password_hash = passwords.hash_password(password)
    user.session_epoch += 1
    audit(session, f"user:{user.email}", "set-password", "user", user.id, user.email, None,
          {"via": link.purpose})
    return user


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The user ``email`` and ``password`` belong to, or None (unknown email, no password
    yet or a wrong one take the same time). An outdated hash is replaced on success."""
    user = by_email(session, email)
    if not passwords.verify(user.password_hash if user else None, password) or user is None:
        return None
    assert user.password_hash is not None
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    return user


def sign_out_everywhere(session: Session, user: User) -> None:
    """End every console session of ``user`` (each carries the epoch it started in)."""
    user.session_epoch += 1


def anyone_has_password(session: Session) -> bool:
    return session.scalar(select(User.id).where(User.password_hash.is_not(None)).limit(1)) \
        is not None
