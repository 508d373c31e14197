"""How often one phone number may be texted or called: a declarative table, after GoAlert's
per-contact-method throttle. A page that would break a rule waits (it is never dropped) and,
for SMS, goes out bundled with whatever else is waiting for the same person by then."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Rule:
    count: int
    per: timedelta

    def __str__(self) -> str:
        return f"at most {self.count} per {self.per}"


# Per destination number and channel. Every rule must hold.
THROTTLE: dict[str, list[Rule]] = {
    "sms": [Rule(5, timedelta(minutes=15)), Rule(2, timedelta(minutes=1))],
    "voice": [Rule(3, timedelta(minutes=15)), Rule(1, timedelta(minutes=1))],
}


def longest_window(channel: str) -> timedelta:
    rules = THROTTLE.get(channel, [])
    return max((r.per for r in rules), default=timedelta(0))


def next_allowed(channel: str, sent_at: list[datetime], now: datetime) -> datetime | None:
    """When the next send to a destination may go, given when earlier sends to it went
    (any order); None when it may go now. Pure: the caller reads ``sent_at`` from storage."""
    recent = sorted((t for t in sent_at if t <= now), reverse=True)
    allowed: datetime | None = None
    for rule in THROTTLE.get(channel, []):
        in_window = [t for t in recent if t > now - rule.per]
        if len(in_window) >= rule.count:
            # Free again when the rule.count-th most recent send leaves the window.
            at = in_window[rule.count - 1] + rule.per
            allowed = at if allowed is None else max(allowed, at)
    return allowed
