"""The email a page sends: a subject line a phone's lock screen can show, a plain-text part
and an HTML part (autoescaped: an alert's summary and labels are untrusted), built with the
standard library's ``EmailMessage``.

Pure: what to say in, the message out. ``oncall.channels.email.channel`` loads the incident and
makes the links.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any

from jinja2 import Environment, PackageLoader

SUBJECT_MAX = 180  # characters of summary in the subject line
URGENT = ("critical", "error")


@dataclass(frozen=True)
class IncidentMail:
    """What an email page says about its incident."""

    id: int
    severity: str
    status: str
    summary: str
    service: str
    created_at: datetime
    runbook: str | None = None
    labels: dict[str, Any] = field(default_factory=dict)
    alert_count: int = 0
    alert_type: str | None = None
    value: float | None = None


@dataclass(frozen=True)
class Links:
    ack: str
    resolve: str
    console: str
    expires_at: datetime


def one_line(text: str, limit: int = SUBJECT_MAX) -> str:
    """Whitespace (newlines included: a header has one line) folded to single spaces, cut."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"


def subject(incident: IncidentMail) -> str:
    return one_line(f"[{incident.severity.upper()}] #{incident.id} {incident.service}: "
                    f"{incident.summary}", SUBJECT_MAX + 60)


def runbook_url(runbook: str | None) -> str | None:
    """A runbook that is a web address is a link; any other text is shown as it is."""
    if runbook and runbook.strip().lower().startswith(("https://", "http://")):
        return runbook.strip()
    return None


def message_ids(page_id: int, incident_id: int, sender: str, public_url: str) -> tuple[str, str]:
    """(this page's Message-ID, the incident's thread id). The page's id is the same at
    every attempt, so a message sent again after its answer was lost is one message to the
    mailbox; every page about an incident threads under the incident's id. The installation
    (its public URL) is in both, so two installations' page 1 differ."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "oncall.invalid"
    tag = hashlib.sha256(public_url.encode()).hexdigest()[:10]
    return (f"<oncall.page{page_id}.incident{incident_id}.{tag}@{domain}>",
            f"<oncall.incident{incident_id}.{tag}@{domain}>")


def recipient(to: str, name: str) -> Address:
    """The To header: the name quoted as it needs (a comma in "Moreau, Alice" is not a second
    address)."""
    return Address(display_name=one_line(name, 80), addr_spec=to)


def build_notice(text: str, *, to: str, to_name: str, sender: str, notice_id: int,
                 public_url: str, now: datetime) -> EmailMessage:
    """An informational message (the start of an on-call shift): plain text only."""
    msg = EmailMessage()
    msg["Subject"] = one_line(f"[oncall] {text}")
    msg["From"] = sender
    msg["To"] = recipient(to, to_name)
    msg["Date"] = format_datetime(now)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "oncall.invalid"
    tag = hashlib.sha256(public_url.encode()).hexdigest()[:10]
    msg["Message-ID"] = f"<oncall.notice{notice_id}.{tag}@{domain}>"
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    msg.set_content(f"{text}\n\n{public_url.rstrip('/')}/\n")
    return msg


def build(incident: IncidentMail, *, to: str, to_name: str, sender: str, links: Links,
          level: int, page_id: int, public_url: str, now: datetime) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = subject(incident)
    msg["From"] = sender
    msg["To"] = recipient(to, to_name)
    msg["Date"] = format_datetime(now)
    page_msgid, thread = message_ids(page_id, incident.id, sender, public_url)
    msg["Message-ID"] = page_msgid
    msg["References"] = thread
    msg["In-Reply-To"] = thread
    # No out-of-office or vacation answers to a page, and a high priority when it is urgent.
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    if incident.severity in URGENT:
        msg["Importance"] = "high"
        msg["X-Priority"] = "1"
    context = {"i": incident, "links": links, "to": to, "level": level,
               "runbook_url": runbook_url(incident.runbook),
               "labels": sorted((str(k), str(v)) for k, v in incident.labels.items()),
               "expires": links.expires_at.strftime("%Y-%m-%d %H:%M UTC"),
               "opened": incident.created_at.strftime("%Y-%m-%d %H:%M UTC")}
    msg.set_content(_TEXT.render(context))
    msg.add_alternative(_HTML.render(context), subtype="html")
    return msg


# The templates ship in the package (templates/page.txt, page.html). HTML autoescaped: an
# alert's summary and labels are the sender's text; the plain-text part is plain.
_LOADER = PackageLoader("oncall.channels.email", "templates")
_TEXT = Environment(loader=_LOADER, autoescape=False, trim_blocks=True, lstrip_blocks=True,
                    keep_trailing_newline=True).get_template("page.txt")
_HTML = Environment(loader=_LOADER, autoescape=True, trim_blocks=True, lstrip_blocks=True,
                    keep_trailing_newline=True).get_template("page.html")
