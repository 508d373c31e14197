"""The one-click links of an email page: signed, expiring, single use, and bound to one
recipient, one incident and one action.

A link is ``/email/<token>``; the token is ``{user, incident, page, action, nonce, expiry}``
signed with the installation's secret key (itsdangerous, as the console's sign-in links).
Nothing is stored when a link is made; when one is used, its nonce's hash is stored
(``email_link_uses``) in the same transaction as the action, under a unique key, so a
second use (a reload, a replay, two clicks racing) changes nothing and says when the first
one was.

Opening a link (GET) never acts: mail scanners (Outlook Safe Links, Proofpoint...) fetch
every link in a message. It shows the incident and one button that POSTs back the same
token: the token is the capability, so no session or CSRF cookie is needed.

``check`` and ``act`` are the domain: pure verdicts from the token, the rows and ``now``;
acting goes through ``oncall.incidents.respond`` like every channel, with the recipient as
the actor (its role rule is asked by ``check`` too, to say so before the button is pressed).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from oncall.incidents import respond
from oncall.models import EmailLinkUse, Incident, User
from oncall.security import hash_token

ACTIONS = {"ack": "acknowledge", "resolve": "resolve"}
PATH = "/email/"
_SALT = "oncall.email.action-link"
MAX_TOKEN = 1000  # characters: anything longer is not one of ours


class LinkInvalid(ValueError):
    """Not a link this installation made (garbled, cut short, forged, or another key)."""


@dataclass(frozen=True)
class Claim:
    """What a verified token says."""

    user_id: int
    incident_id: int
    page_id: int
    action: str  # ack | resolve
    nonce: str
    expires_at: datetime

    @property
    def nonce_hash(self) -> str:
        return hash_token(self.nonce)


def _serializer(secret_key: str) -> URLSafeSerializer:
    if not secret_key:
        raise ValueError("email links need the installation's secret key")
    return URLSafeSerializer(secret_key, salt=_SALT)


def make(secret_key: str, *, user_id: int, incident_id: int, page_id: int, action: str,
         now: datetime, lifetime: timedelta) -> str:
    """A new token (nothing is stored: the signature is the record)."""
    if action not in ACTIONS:
        raise ValueError(f"not an email link action: {action!r}")
    expires = int((now + lifetime).timestamp())
    return str(_serializer(secret_key).dumps(
        {"u": user_id, "i": incident_id, "p": page_id, "a": action,
         "n": secrets.token_urlsafe(16), "x": expires}))


def url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}{PATH}{token}"


def read(secret_key: str, token: str) -> Claim:
    """The claim a token carries, if this installation signed it; else LinkInvalid."""
    if not token or len(token) > MAX_TOKEN:
        raise LinkInvalid("not a link")
    try:
        data: Any = _serializer(secret_key).loads(token)
    except (BadData, UnicodeError, ValueError) as exc:
        raise LinkInvalid("bad signature") from exc
    if not isinstance(data, dict):
        raise LinkInvalid("not a link")
    fields = ("u", "i", "p", "x")
    if any(not isinstance(data.get(k), int) or isinstance(data.get(k), bool) for k in fields) \
            or data.get("a") not in ACTIONS or not isinstance(data.get("n"), str):
        raise LinkInvalid("not a link")
    try:
        expires = datetime.fromtimestamp(data["x"], UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise LinkInvalid("not a link") from exc
    return Claim(data["u"], data["i"], data["p"], data["a"], data["n"], expires)


@dataclass(frozen=True)
class Verdict:
    """What to answer. ``kind``: ``confirm`` (GET: show the button), ``done`` (POST acted),
    or why nothing was done: ``used``, ``expired``, ``resolved``, ``acknowledged``,
    ``refused``, ``gone``. ``by``/``at``: who resolved or acknowledged it and when, or when
    the link was used."""

    kind: str
    status: int
    claim: Claim
    incident: Incident | None = None
    user: User | None = None
    by: str | None = None
    at: datetime | None = None
    message: str | None = None

    @property
    def verb(self) -> str:
        return ACTIONS[self.claim.action]


def actor_label(actor: str | None) -> str:
    """``user:alice@example.com`` -> ``alice@example.com``; ``system`` stays."""
    if not actor:
        return "someone"
    return actor.split(":", 1)[1] if actor.startswith("user:") else actor


def check(session: Session, claim: Claim, now: datetime) -> Verdict:
    """Whether the link may act now, and if not, why (nothing is changed)."""
    incident = session.get(Incident, claim.incident_id, populate_existing=True)
    user = session.get(User, claim.user_id, populate_existing=True)
    if incident is None:
        return Verdict("gone", 404, claim, message=f"Incident #{claim.incident_id} no "
                                                   "longer exists.")
    used = session.scalar(select(EmailLinkUse).where(
        EmailLinkUse.nonce_hash == claim.nonce_hash))
    if used is not None:
        return Verdict("used", 410, claim, incident, user, at=used.used_at)
    if incident.status == "resolved":
        return Verdict("resolved", 409, claim, incident, user,
                       by=actor_label(incident.resolved_by), at=incident.resolved_at)
    if claim.action == "ack" and incident.status == "acknowledged":
        return Verdict("acknowledged", 409, claim, incident, user,
                       by=actor_label(incident.acked_by), at=incident.acked_at)
    if claim.expires_at <= now:
        return Verdict("expired", 410, claim, incident, user, at=claim.expires_at)
    refused = respond.refusal(user, claim.action) if user is not None else None
    if user is None or (refused is not None and refused.reason == "deactivated"):
        return Verdict("refused", 403, claim, incident, user,
                       message="This link's recipient no longer has an account here.")
    if refused is not None:
        return Verdict("refused", 403, claim, incident, user, message=refused.message)
    return Verdict("confirm", 200, claim, incident, user)


def act(session: Session, claim: Claim, now: datetime) -> Verdict:
    """Take the link's action if ``check`` allows it, and use the link up, in the caller's
    transaction. A link used, or an incident changed, meanwhile (two clicks racing) raises
    ``Raced``: the caller rolls back and asks ``check`` again, which then says why."""
    verdict = check(session, claim, now)
    if verdict.kind != "confirm":
        return verdict
    assert verdict.user is not None
    try:
        session.add(EmailLinkUse(nonce_hash=claim.nonce_hash, user_id=claim.user_id,
                                 incident_id=claim.incident_id, action=claim.action,
                                 used_at=now))
        session.flush()
    except IntegrityError:
        raise Raced() from None
    outcome = respond.respond(session, verdict.user, claim.incident_id, claim.action, now,
                              via="email")
    if not outcome.done:  # someone acted on the incident between the check and the update
        raise Raced()
    return Verdict("done", 200, claim, outcome.incident, verdict.user,
                   by=verdict.user.email, at=now)


class Raced(RuntimeError):
    """The link was used, or the incident changed, between the check and the action: the
    caller rolls back (nothing is kept) and asks ``check`` again, which says what happened."""
