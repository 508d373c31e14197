"""Fake provider channels for the paging tests: each records what it sent, reaches users the
way the real one would (a phone for sms/voice, a Slack id for slack), and fails on cue."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from oncall.channels import DeliveryError, OutgoingPage, Receipt, Recipient, registry


@dataclass
class FakeChannel:
    name: str
    errors: list[DeliveryError | None] = field(default_factory=list)
    sent: list[OutgoingPage] = field(default_factory=list)

    def send(self, page: OutgoingPage) -> Receipt:
        error = self.errors.pop(0) if self.errors else None
        if error is not None:
            raise error
        self.sent.append(page)
        # Like a provider: every request gets its own id, a resend of one page included.
        return Receipt(provider_id=f"{self.name}-{page.page_id}-{len(self.sent)}")

    def reaches(self, recipient: Recipient) -> bool:
        if self.name in ("sms", "voice"):
            return recipient.phone is not None
        if self.name == "slack":
            return recipient.slack_id is not None or recipient.name.startswith("slack:")
        return True

    def who(self) -> list[str | None]:
        return [p.recipient.email or p.recipient.name for p in self.sent]


def install(monkeypatch: Any, *names: str) -> dict[str, FakeChannel]:
    """Register fake providers for one test (the console then pages nobody)."""
    fakes = {name: FakeChannel(name) for name in names}
    for name, fake in fakes.items():
        monkeypatch.setitem(registry._CHANNELS, name, fake)
    monkeypatch.setattr(registry, "_console_always", False)
    return fakes
