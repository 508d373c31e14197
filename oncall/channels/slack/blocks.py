"""Block Kit messages about an incident: pure functions of what the incident looks like now.

The buttons carry the incident id as their ``value`` and dispatch on ``action_id``
(``ack``, ``resolve``, ``escalate``); the same message is later rewritten in place with
``chat.update`` to show who acknowledged or resolved it, and which buttons still apply.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

ACTIONS = ("ack", "resolve", "escalate")
EMOJI = {"triggered": ":rotating_light:", "acknowledged": ":white_check_mark:",
         "resolved": ":large_green_circle:"}


@dataclass(frozen=True)
class IncidentView:
    """What a message shows. ``acked_by`` / ``resolved_by`` are already display text (a
    ``<@U…>`` mention when the person's Slack account is known)."""

    id: int
    status: str
    severity: str
    summary: str
    service: str
    alert_count: int
    level: int
    levels: int
    created_at: datetime
    runbook: str | None = None
    acked_by: str | None = None
    acked_at: datetime | None = None
    resolved_by: str | None = None
    resolved_at: datetime | None = None

    def version(self) -> str:
        """A short key of everything a message shows except the alert count, so that a
        message is rewritten when (and only when) its state changed."""
        key = "|".join(str(v) for v in (self.status, self.level, self.acked_by, self.acked_at,
                                        self.resolved_by, self.resolved_at))
        return hashlib.sha256(key.encode()).hexdigest()[:32]


def escape(text: str) -> str:
    """Slack's three control characters (https://docs.slack.dev/messaging/formatting-message-text)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def when(at: datetime) -> str:
    """A time every reader sees in their own timezone, with a UTC fallback."""
    return f"<!date^{int(at.timestamp())}^{{time}}|{at.strftime('%H:%M')} UTC>"


def runbook(ref: str) -> str:
    """A link for a URL; a path (a rule's ``runbook: docs/runbooks/x.md``) as code."""
    if ref.startswith(("https://", "http://")) and not any(c in ref for c in "<>| "):
        return f"<{ref.replace('&', '&amp;')}|Runbook>"
    return f"Runbook: `{escape(ref)}`"


def fallback_text(view: IncidentView) -> str:
    """The message's ``text``: what notifications and screen readers show. Slack parses it
    like mrkdwn, so alert data is escaped here too (a summary's ``<!channel>`` would notify
    the whole channel, its ``<https://…|label>`` would be a disguised link)."""
    head = (f"{EMOJI.get(view.status, '')} [{escape(view.severity.upper())}] #{view.id} "
            f"{escape(view.summary)}")
    if view.status == "acknowledged":
        return f"{head} - acknowledged by {_plain(view.acked_by)}"
    if view.status == "resolved":
        return f"{head} - resolved by {_plain(view.resolved_by)}"
    return f"{head} ({escape(view.service)})"


def _plain(who: str | None) -> str:
    return who or "someone"


def state_line(view: IncidentView) -> str:
    if view.status == "resolved" and view.resolved_at:
        return f"Resolved by {_plain(view.resolved_by)} at {when(view.resolved_at)}"
    if view.status == "acknowledged" and view.acked_at:
        return f"Acknowledged by {_plain(view.acked_by)} at {when(view.acked_at)}"
    of = f" of {view.levels}" if view.levels else ""
    return f"Unacknowledged - escalation level {view.level}{of}"


def message(view: IncidentView, paged: str | None = None) -> dict[str, Any]:
    """``text`` and ``blocks`` for chat.postMessage / chat.update. ``paged`` names whoever
    this copy pages (a DM), shown while the incident is unacknowledged."""
    head = (f"*#{view.id}* {EMOJI.get(view.status, '')} *{escape(view.summary)}*\n"
            f"*Severity:* {escape(view.severity)}   *Service:* {escape(view.service)}   "
            f"*Alerts:* {view.alert_count}")
    context = [state_line(view)]
    if view.status == "triggered" and paged:
        context.append(f"paged {paged}")
    context.append(f"opened {when(view.created_at)}")
    blocks: list[dict[str, Any]] = [
        {"type": "section", "block_id": "incident_summary",
         "text": {"type": "mrkdwn", "text": head}},
        {"type": "context", "block_id": "incident_state",
         "elements": [{"type": "mrkdwn", "text": " · ".join(context)}]},
    ]
    if view.runbook:
        blocks.append({"type": "section", "block_id": "incident_runbook",
                       "text": {"type": "mrkdwn", "text": ":book: " + runbook(view.runbook)}})
    buttons = _buttons(view)
    if buttons:
        blocks.append({"type": "actions", "block_id": "incident_actions",
                       "elements": buttons})
    return {"text": fallback_text(view), "blocks": blocks}


def _button(action: str, label: str, incident_id: int, style: str | None = None,
            confirm: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {"type": "button", "action_id": action, "value": str(incident_id),
                              "text": {"type": "plain_text", "text": label}}
    if style:
        button["style"] = style
    if confirm:
        button["confirm"] = {
            "title": {"type": "plain_text", "text": "Are you sure?"},
            "text": {"type": "mrkdwn", "text": confirm},
            "confirm": {"type": "plain_text", "text": label},
            "deny": {"type": "plain_text", "text": "Cancel"}}
    return button


def _buttons(view: IncidentView) -> list[dict[str, Any]]:
    if view.status == "triggered":
        return [_button("ack", "Acknowledge", view.id, "primary"),
                _button("resolve", "Resolve", view.id),
                _button("escalate", "Escalate", view.id, "danger",
                        "Page the next escalation level now?")]
    if view.status == "acknowledged":
        return [_button("resolve", "Resolve", view.id, "primary")]
    return []


def notice(text: str) -> dict[str, Any]:
    """A plain notice (a handoff, a heartbeat): ``text`` is shown as it is, never parsed."""
    safe = escape(text)
    return {"text": safe, "blocks": [{"type": "section",
                                      "text": {"type": "mrkdwn", "text": safe}}]}
