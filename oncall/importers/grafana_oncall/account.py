"""What was read from Grafana OnCall."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SOURCE = "Grafana OnCall"


@dataclass
class Account:
    users: list[dict[str, Any]] = field(default_factory=list)
    schedules: list[dict[str, Any]] = field(default_factory=list)
    shifts: dict[str, dict[str, Any]] = field(default_factory=dict)
    chains: list[dict[str, Any]] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    integrations: list[dict[str, Any]] = field(default_factory=list)
    left_out: list[tuple[str, str, str]] = field(default_factory=list)  # kind, name, why


def shifts_of(s: dict[str, Any], shifts: dict[str, dict[str, Any]]
               ) -> list[dict[str, Any]]:
    return [shifts[i] for i in s.get("shifts") or [] if i in shifts]
