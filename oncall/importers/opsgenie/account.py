"""What was read from Opsgenie."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SOURCE = "Opsgenie"


@dataclass
class Account:
    """What was read from Opsgenie."""

    users: list[dict[str, Any]] = field(default_factory=list)
    contacts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    schedules: list[dict[str, Any]] = field(default_factory=list)
    overrides: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    timelines: dict[str, dict[str, Any]] = field(default_factory=dict)
    escalations: list[dict[str, Any]] = field(default_factory=list)
    teams: list[dict[str, Any]] = field(default_factory=list)
    integrations: list[dict[str, Any]] = field(default_factory=list)
    # (kind, name, why) of what --team left out, for the report
    left_out: list[tuple[str, str, str]] = field(default_factory=list)
