"""What the SMS says (pure functions). Twilio takes up to 1,600 characters per message."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from oncall.channels import page_text

MAX_SMS = 1600
# A reference unique to one request, at the end of every SMS: Twilio echoes the body, so a
# request whose answer was lost is found by it exactly (``lost``). No 0/O, 1/I/L.
REF_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
REF_LENGTH = 8
REF_ROOM = len("\n(ref )") + REF_LENGTH
_REF = re.compile(rf"\(ref ([{REF_ALPHABET}]{{{REF_LENGTH}}})\)$")


def new_ref() -> str:
    return "".join(secrets.choice(REF_ALPHABET) for _ in range(REF_LENGTH))


def with_ref(body: str, ref: str) -> str:
    """``body`` with the request's reference on a last line of its own (``body`` is cut
    if it would not fit with it; the composers leave ``REF_ROOM`` free)."""
    return f"{body[:MAX_SMS - REF_ROOM]}\n(ref {ref})"


def ref_of(body: str) -> str | None:
    """The reference an SMS body ends with, if any."""
    found = _REF.search(body.rstrip())
    return found.group(1) if found else None


@dataclass(frozen=True)
class Item:
    code: int
    incident_id: int
    severity: str
    service: str
    summary: str


def single(item: Item, reserve: int = 0, base_url: str | None = None) -> str:
    """``reserve``: characters to leave free at the end (for the reference); with
    ``base_url``, a link to the incident's page in the console."""
    c = item.code
    head = page_text(item.incident_id, item.severity, item.service, item.summary)
    link = f"\n{base_url}/incidents/{item.incident_id}" if base_url else ""
    tail = f"{link}\nReply {c}a to ack, {c}r to resolve, {c}e to escalate."
    return head[:MAX_SMS - reserve - len(tail)] + tail


def bundle(items: list[Item], reserve: int = 0, base_url: str | None = None) -> str:
    """Several open incidents for one person in one message."""
    if len(items) == 1:
        return single(items[0], reserve, base_url)
    services = sorted({i.service for i in items})
    head = (f"{len(items)} open incidents for {services[0]}:" if len(services) == 1
            else f"{len(items)} open incidents:")
    tail = "\nReply aa to ack all, or e.g. {0}a to ack, {0}r to resolve #{1}.".format(
        items[0].code, items[0].incident_id)
    room = MAX_SMS - reserve - len(head) - len(tail)
    lines = []
    for item in items:
        line = f"\n{item.code}: [{item.severity.upper()}] #{item.incident_id} "
        if len(services) > 1:
            line += f"{item.service}: "
        line += item.summary[:80]
        if len(line) > room:
            lines.append("\n...")
            break
        room -= len(line)
        lines.append(line)
    return head + "".join(lines) + tail


def help_text(codes: list[tuple[int, int, str]]) -> str:
    """``codes``: (code, incident id, summary) of the user's open incidents."""
    lines = ["oncall replies: <n>a ack, <n>r resolve, <n>e escalate incident n; a, r or e "
             "alone act on your latest page; aa acks all your open incidents."]
    if codes:
        lines.append("Open: " + "; ".join(f"{c} = #{i} {s[:40]}" for c, i, s in codes))
    else:
        lines.append("You have no open incidents.")
    return "\n".join(lines)[:MAX_SMS]
