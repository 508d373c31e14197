"""Maintenance windows, the pure part: which alerts a window matches, and when it is on.

Matchers are exact and all must hold: ``service`` (the incident's service), ``type`` (the
alert class) and each of ``labels`` (compared as text, so ``42`` in YAML matches a label
``"42"``). A window with no matchers matches every alert.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

MATCHER_KEYS = ("service", "type", "labels")


class WindowError(ValueError):
    """Refused: ``field`` names the input at fault; ``status`` is the HTTP status to answer."""

    def __init__(self, field: str | None, message: str, status: int = 400) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field, self.message, self.status = field, message, status


@dataclass(frozen=True)
class Window:
    id: int
    name: str
    starts_at: datetime
    ends_at: datetime
    service: str | None = None
    type: str | None = None
    labels: dict[str, str] = field(default_factory=dict)

    def active_at(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    def matches(self, service: str | None, type_: str, labels: Mapping[str, Any]) -> bool:
        if self.service is not None and self.service != service:
            return False
        if self.type is not None and self.type != type_:
            return False
        return all(name in labels and _text(labels[name]) == value
                   for name, value in self.labels.items())


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def check_matchers(raw: Any, field: str = "matchers") -> dict[str, Any]:
    """The matchers in their stored form (labels as text), or a WindowError naming the field."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise WindowError(field, "must be an object with service, type and/or labels")
    unknown = sorted(set(raw) - set(MATCHER_KEYS))
    if unknown:
        raise WindowError(f"{field}.{unknown[0]}", "unknown matcher (use service, type, labels)")
    out: dict[str, Any] = {}
    for key in ("service", "type"):
        if raw.get(key) is not None:
            if not isinstance(raw[key], str) or not raw[key]:
                raise WindowError(f"{field}.{key}", "must be a non-empty string")
            out[key] = raw[key]
    labels = raw.get("labels")
    if labels is not None:
        if not isinstance(labels, dict):
            raise WindowError(f"{field}.labels", "must be an object of label: value")
        for name, value in labels.items():
            if not isinstance(value, str | int | float | bool):
                raise WindowError(f"{field}.labels.{name}", "must be a string, number or boolean")
        if labels:
            out["labels"] = {str(k): _text(v) for k, v in labels.items()}
    return out


def from_row(id_: int, name: str, matchers: dict[str, Any], starts_at: datetime,
             ends_at: datetime) -> Window:
    return Window(id_, name, starts_at, ends_at, matchers.get("service"), matchers.get("type"),
                  dict(matchers.get("labels") or {}))


def describe(matchers: dict[str, Any]) -> str:
    parts = [f"{k}={matchers[k]}" for k in ("service", "type") if matchers.get(k)]
    parts += [f"{k}={v}" for k, v in (matchers.get("labels") or {}).items()]
    return ", ".join(parts) or "every alert"
