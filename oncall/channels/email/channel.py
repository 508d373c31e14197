"""The ``email`` channel: one message per page, sent through the configured SMTP server with
``smtplib``, and how SMTP's answers are classed for the outbox (``oncall.paging.delivery``):

* the server cannot be reached, times out, or answers 4xx: transient, retried with backoff
  (after the last attempt the user's next channel is paged);
* the server refuses the recipient (5xx to ``RCPT TO``) or the message (5xx to ``DATA``):
  permanent, the address is disabled and the user's next channel is paged at once;
* the login, the From address or TLS is refused: transient (the server's configuration, not
  the recipient, is at fault: the address stays enabled, the page is retried and then falls
  back);
* the connection breaks while the message is being sent: the answer is lost, the page is
  sent again; its Message-ID is the same, so the mailbox keeps one copy.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable
from datetime import timedelta
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from oncall.channels import DeliveryError, OutgoingPage, Receipt, Recipient
from oncall.channels.email import links, message
from oncall.config import Settings
from oncall.models import Alert, Incident, Service, utcnow

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


class Smtp:
    """The SMTP server of ``ONCALL_SMTP_URL``: ``smtp://`` upgrades with STARTTLS when the
    server offers it (and refuses to send a password over a connection that is not
    encrypted, except to this machine); ``smtps://`` is TLS from the first byte."""

    def __init__(self, url: str, timeout: float = 10.0,
                 context: ssl.SSLContext | None = None) -> None:
        parts = urlsplit(url)
        self.tls = parts.scheme == "smtps"
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (465 if self.tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.timeout = timeout
        self.context = context or ssl.create_default_context()

    def describe(self) -> str:
        how = "TLS" if self.tls else "STARTTLS when offered"
        who = f"{self.username}@" if self.username else ""
        return f"{'smtps' if self.tls else 'smtp'}://{who}{self.host}:{self.port}, {how}"

    def send(self, msg: EmailMessage) -> None:
        """Send one message; DeliveryError (permanent or transient) when it was not taken."""
        try:
            server = self._connect()
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"SMTP server {self.host}:{self.port} unreachable: {exc}",
                                permanent=False) from exc
        try:
            self._login(server)
            self._send(server, msg)
        finally:
            try:
                server.quit()
            except (OSError, smtplib.SMTPException):
                server.close()  # the message was taken (or the error is already raised)

    def _connect(self) -> smtplib.SMTP:
        if self.tls:
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                    context=self.context)
        return smtplib.SMTP(self.host, self.port, timeout=self.timeout)

    def _login(self, server: smtplib.SMTP) -> None:
        try:
            server.ehlo()
            encrypted = self.tls
            if not self.tls and server.has_extn("starttls"):
                server.starttls(context=self.context)
                server.ehlo()
                encrypted = True
            if self.username is None:
                return
            if not encrypted and self.host not in LOCAL_HOSTS:
                raise DeliveryError(
                    f"SMTP server {self.host}:{self.port} offers no STARTTLS: the password is "
                    "not sent in the clear (use smtps:// or a server that offers STARTTLS)",
                    permanent=False)
            server.login(self.username, self.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(f"SMTP login refused ({exc.smtp_code}): check the user and "
                                "password in ONCALL_SMTP_URL", permanent=False) from exc
        except (OSError, smtplib.SMTPException) as exc:  # TLS, a closed connection, ...
            raise DeliveryError(f"SMTP session with {self.host}:{self.port} failed: {exc}",
                                permanent=False) from exc

    def _send(self, server: smtplib.SMTP, msg: EmailMessage) -> None:
        try:
            refused = server.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            code, said = next(iter(exc.recipients.values()), (0, b""))
            raise _answer("recipient refused", code, said, blame_recipient=True) from exc
        except smtplib.SMTPSenderRefused as exc:
            raise _answer("From address refused (check ONCALL_SMTP_FROM)", exc.smtp_code,
                          exc.smtp_error, blame_recipient=False) from exc
        except smtplib.SMTPDataError as exc:
            raise _answer("message refused", exc.smtp_code, exc.smtp_error,
                          blame_recipient=True) from exc
        except smtplib.SMTPResponseException as exc:
            raise _answer("SMTP error", exc.smtp_code, exc.smtp_error,
                          blame_recipient=False) from exc
        except (OSError, smtplib.SMTPException) as exc:
            # Cut off while sending: the server may have taken it. Sent again; the same
            # Message-ID makes it one message in the mailbox.
            raise DeliveryError(f"SMTP connection lost while sending: {exc}",
                                permanent=False, answer_lost=True) from exc
        if refused:  # one recipient per message: this is not reached, but never silent
            raise DeliveryError(f"recipient refused: {refused}", permanent=True)


def _answer(what: str, code: int, said: bytes | str, *, blame_recipient: bool) -> DeliveryError:
    text = said.decode(errors="replace") if isinstance(said, bytes) else str(said)
    permanent = blame_recipient and 500 <= code < 600
    return DeliveryError(f"{what}: {code} {text}"[:500], permanent=permanent)


class EmailChannel:
    name = "email"

    def __init__(self, settings: Settings, smtp: Smtp,
                 factory: Callable[[], sessionmaker[Session]]) -> None:
        self.settings = settings
        self.smtp = smtp
        self._factory = factory

    def reaches(self, recipient: Recipient) -> bool:
        return bool(recipient.email and "@" in recipient.email)

    def send(self, page: OutgoingPage) -> Receipt:
        to = page.recipient.email
        if not to:
            raise DeliveryError(f"{page.recipient.name} has no email address", permanent=True)
        s = self.settings
        if page.kind == "notice" or page.incident_id is None:  # a shift starts: plain text
            notice = message.build_notice(page.text, to=to, to_name=page.recipient.name,
                                          sender=s.smtp_from or "", notice_id=page.page_id,
                                          public_url=s.public_url, now=utcnow())
            self.smtp.send(notice)
            return Receipt(provider_id=str(notice["Message-ID"])[:100])
        user_id = self._user_id(to)
        with self._factory()() as session:
            view = load(session, page.incident_id)
        if view is None:
            raise DeliveryError(f"incident {page.incident_id} is gone", permanent=True)
        if view.status != "triggered":  # acknowledged since the outbox re-checked it
            return Receipt(provider_id=None, detail=f"not sent: incident {view.status}")
        msg = self.compose(page, view, to, user_id)
        self.smtp.send(msg)
        return Receipt(provider_id=str(msg["Message-ID"])[:100], detail="accepted by SMTP")

    def compose(self, page: OutgoingPage, view: message.IncidentMail, to: str,
                user_id: int) -> EmailMessage:
        s, now = self.settings, utcnow()
        life = timedelta(hours=s.email_link_hours)

        def link(action: str) -> str:
            token = links.make(s.secret_key, user_id=user_id, incident_id=view.id,
                               page_id=page.page_id, action=action, now=now, lifetime=life)
            return links.url(s.public_url, token)

        urls = message.Links(ack=link("ack"), resolve=link("resolve"),
                             console=f"{s.public_url.rstrip('/')}/incidents/{view.id}",
                             expires_at=now + life)
        return message.build(view, to=to, to_name=page.recipient.name,
                             sender=s.smtp_from or "", links=urls, level=page.level,
                             page_id=page.page_id, public_url=s.public_url, now=now)

    def _user_id(self, email: str) -> int:
        from oncall.models import User

        with self._factory()() as session:
            found = session.scalar(select(User.id).where(User.email == email))
        if found is None:
            raise DeliveryError(f"no user {email}", permanent=True)
        return int(found)


def load(session: Session, incident_id: int) -> message.IncidentMail | None:
    """What an email says about the incident: itself, its service, and its latest alert."""
    row = session.execute(
        select(Incident.id, Incident.severity, Incident.status, Incident.summary,
               Service.name, Incident.created_at, Incident.runbook)
        .join(Service, Service.id == Incident.service_id)
        .where(Incident.id == incident_id)).first()
    if row is None:
        return None
    count = session.scalar(select(func.count()).select_from(Alert)
                           .where(Alert.incident_id == incident_id)) or 0
    latest = session.execute(
        select(Alert.type, Alert.value, Alert.labels).where(Alert.incident_id == incident_id)
        .order_by(Alert.received_at.desc(), Alert.id.desc()).limit(1)).first()
    return message.IncidentMail(
        id=row.id, severity=row.severity, status=row.status, summary=row.summary,
        service=row.name, created_at=row.created_at, runbook=row.runbook,
        labels=dict(latest.labels or {}) if latest else {}, alert_count=int(count),
        alert_type=latest.type if latest else None, value=latest.value if latest else None)

