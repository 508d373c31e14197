"""Personal notification rules: for each severity, which channels page a user and after what
delay; the built-in defaults for users without rules; and contact methods disabled after a
permanent delivery failure.

The plan for (user, severity) is the user's rules for that severity, else their ``default``
rules, else the built-in defaults. Entries whose channel is not enabled, cannot reach the
user (no phone for ``sms``...) or whose contact is disabled are dropped. Rules left with no
real channel (only the console, which prints to the server's log) while a provider reaches
the user fall back to the built-in defaults (``source: fallback``): a page never goes
nowhere because of someone's rules. Callers own the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from oncall import db
from oncall.channels import registry
from oncall.models import ContactMethod, NotificationRule, User

SEVERITIES = ("critical", "error", "warning", "info", "default")
NOT_VERIFIED = "phone not verified"
URGENT = ("critical", "error")
CONSOLE = registry.CONSOLE


@dataclass(frozen=True)
class Rule:
    channel: str
    delay: int = 0  # seconds after the level pages the user

    def as_json(self) -> dict[str, Any]:
        return {"channel": self.channel, "delay_seconds": self.delay}


@dataclass
class Plan:
    """What to send a user: ``rules`` in order; ``skipped`` says why other entries were
    dropped ({channel: reason}); ``source`` is ``rules``, ``defaults``, or ``fallback`` (the
    rules reached no real channel, so the defaults apply)."""

    rules: list[Rule]
    skipped: dict[str, str] = field(default_factory=dict)
    source: str = "defaults"


def default_rules(severity: str, usable: list[str]) -> list[Rule]:
    """Critical and error: every usable channel now, except one that follows another usable
    channel (a call after an SMS, two minutes later). Warning and info: the usable channel
    of lowest ``quiet_rank`` (Slack, else SMS), else the first usable channel. The console,
    where it pages, is always included. (Each channel's ``Defaults`` say its part.)"""
    if severity in URGENT:
        return [Rule(ch, _urgent_delay(ch, usable)) for ch in usable]
    providers = [ch for ch in usable if ch != CONSOLE]
    ranked = sorted((rank, i) for i, ch in enumerate(providers)
                    if (rank := _quiet_rank(ch)) is not None)
    picked = providers[ranked[0][1]] if ranked else (providers[0] if providers else None)
    out = [Rule(picked)] if picked else []
    if CONSOLE in usable:
        out.append(Rule(CONSOLE))
    return out


def _urgent_delay(name: str, usable: list[str]) -> int:
    info = registry.known().get(name)
    defaults = info.defaults if info else None
    if defaults and defaults.follows and defaults.follows in usable:
        return defaults.delay
    return 0


def _quiet_rank(name: str) -> int | None:
    info = registry.known().get(name)
    return info.defaults.quiet_rank if info and info.defaults else None


def validate(rules: dict[str, list[Rule]]) -> None:
    """Raise ``ValueError("<severity>[i]: reason")`` for rules that cannot be stored."""
    for severity, steps in rules.items():
        if severity not in SEVERITIES:
            raise ValueError(f"{severity}: not a severity (one of {', '.join(SEVERITIES)})")
        seen: set[str] = set()
        for i, rule in enumerate(steps):
            if rule.delay < 0 or rule.delay > 86400:
                raise ValueError(f"{severity}[{i}].delay_seconds: must be 0..86400")
            if not rule.channel or len(rule.channel) > 32:
                raise ValueError(f"{severity}[{i}].channel: must be a channel name")
            if rule.channel in seen:
                # One page per (incident, level, loop, user, channel): a channel appears once.
                raise ValueError(f"{severity}[{i}].channel: {rule.channel} is already listed")
            seen.add(rule.channel)


def load(session: Session, user_id: int) -> dict[str, list[Rule]]:
    rows = session.execute(
        select(NotificationRule.severity, NotificationRule.channel,
               NotificationRule.delay_seconds)
        .where(NotificationRule.user_id == user_id)
        .order_by(NotificationRule.severity, NotificationRule.position)).all()
    out: dict[str, list[Rule]] = {}
    for severity, ch, delay in rows:
        out.setdefault(severity, []).append(Rule(ch, delay))
    return out


def managed_by(session: Session, user_id: int) -> str | None:
    """The file that manages this user's rules, if any."""
    return session.scalar(select(NotificationRule.managed_by).where(
        NotificationRule.user_id == user_id, NotificationRule.managed_by.is_not(None)).limit(1))


def replace(session: Session, user_id: int, rules: dict[str, list[Rule]],
            managed: str | None = None) -> None:
    validate(rules)
    session.execute(delete(NotificationRule).where(NotificationRule.user_id == user_id))
    session.add_all(NotificationRule(user_id=user_id, severity=severity, position=i,
                                     channel=r.channel, delay_seconds=r.delay,
                                     managed_by=managed)
                    for severity, steps in rules.items() for i, r in enumerate(steps))


def address(user: User, channel: str) -> str | None:
    """The contact a channel uses for this user (what a disabled state is tied to)."""
    return registry.address(channel, registry.recipient_of(user))


def phone_verified(user: User) -> bool:
    """Whether the user's phone may be paged: a number set by an admin or a config file is
    trusted as set; one the user entered themselves only once they proved it with the code
    sent to it (``oncall.accounts.phone``)."""
    return user.phone_source != "self" or user.phone_verified_at is not None


def blocked(user: User) -> dict[str, str]:
    """Channels never to page this user on, with why: SMS and voice to a self-entered
    phone number not yet verified."""
    if user.phone and not phone_verified(user):
        return {ch: NOT_VERIFIED for ch in registry.phone_channels() if registry.enabled(ch)}
    return {}


def disabled(session: Session, user: User) -> dict[str, ContactMethod]:
    """The user's contacts disabled at their current address (editing a contact re-enables
    it: the disabled row then names another address)."""
    rows = session.scalars(select(ContactMethod).where(ContactMethod.user_id == user.id))
    return {row.channel: row for row in rows if row.address == address(user, row.channel)}


def disable(session: Session, user: User, channel: str, reason: str, now: datetime) -> None:
    values = {"user_id": user.id, "channel": channel, "address": address(user, channel),
              "disabled_at": now, "disabled_reason": reason[:2000]}
    insert = db.insert_for(session)
    session.execute(insert(ContactMethod).values(**values).on_conflict_do_update(
        index_elements=["user_id", "channel"],
        set_={k: values[k] for k in ("address", "disabled_at", "disabled_reason")}))


def plan(session: Session, user: User, severity: str) -> Plan:
    configured = load(session, user.id)
    steps = configured.get(severity) or configured.get("default")
    off = disabled(session, user)
    held = blocked(user)
    usable = [ch for ch in registry.channels_for(user) if ch not in off and ch not in held]
    if steps is None:
        skipped = {ch: f"disabled: {row.disabled_reason}" for ch, row in off.items()}
        skipped.update(held)
        return Plan(default_rules(severity, usable), skipped, "defaults")
    who = registry.recipient_of(user)
    kept, skipped = [], {}
    for rule in steps:
        if not registry.enabled(rule.channel):
            skipped[rule.channel] = "channel not configured"
        elif not registry.reaches(rule.channel, who):
            skipped[rule.channel] = "no contact for this channel"
        elif rule.channel in held:
            skipped[rule.channel] = held[rule.channel]
        elif rule.channel in off:
            skipped[rule.channel] = f"disabled: {off[rule.channel].disabled_reason}"
        else:
            kept.append(rule)
    if any(ch != CONSOLE for ch in usable) and all(r.channel == CONSOLE for r in kept):
        # The rules reach nobody (only the console, or channels not configured or without
        # a contact) while a real channel does: page there rather than nowhere.
        if not registry.console_pages():
            skipped.update({r.channel: "prints only to the server's log" for r in kept})
        return Plan(default_rules(severity, usable), skipped, "fallback")
    if registry.console_pages() and registry.enabled(CONSOLE) and all(
            r.channel != CONSOLE for r in kept):
        kept.append(Rule(CONSOLE))
    return Plan(kept, skipped, "rules")


def fallbacks(session: Session, user: User, severity: str) -> list[str]:
    """Channels to fall back to, in order: the plan's, then any other usable channel."""
    off = disabled(session, user)
    held = blocked(user)
    ordered = [r.channel for r in plan(session, user, severity).rules]
    ordered += [ch for ch in registry.channels_for(user)
                if ch not in ordered and ch not in off and ch not in held]
    return ordered


def contacts_json(session: Session, user: User) -> list[dict[str, Any]]:
    """The user's contact methods with their state, as the API shows them."""
    off = disabled(session, user)
    who = registry.recipient_of(user)
    out = []
    phones = registry.phone_channels()
    for ch in registry.names():
        if not (registry.in_defaults(ch) or registry.enabled(ch)):
            continue  # a channel only for those who name it, and not configured
        if ch == CONSOLE or address(user, ch) is not None:
            row = off.get(ch)
            extra = {}
            if ch in phones:
                extra = {"source": user.phone_source, "verified": phone_verified(user)}
            out.append({**extra,
                "channel": ch, "address": address(user, ch),
                "enabled": registry.enabled(ch) and registry.reaches(ch, who),
                "state": "disabled" if row else (
                    "unverified" if ch in phones and not phone_verified(user)
                    else "active"),
                "disabled_reason": row.disabled_reason if row else None,
                "disabled_at": row.disabled_at.isoformat() if row else None})
    return out
