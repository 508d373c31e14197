"""The one alert shape every adapter produces."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

SEVERITIES = ("critical", "error", "warning", "info")
STATUSES = ("firing", "resolved")


class PayloadError(ValueError):
    """Bad input. ``field`` is a JSON path, e.g. ``labels.merchant_id`` or ``alerts[2].status``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message


def batch_size(payload: Any) -> tuple[str, int]:
    """How many alerts a webhook body carries, and the field that holds them: a generic
    array (``body``), or Alertmanager's and Grafana's ``alerts``. Counted before any alert
    is parsed, so that an oversized batch costs nothing and is refused whole."""
    if isinstance(payload, list):
        return "body", len(payload)
    if isinstance(payload, dict) and isinstance(payload.get("alerts"), list):
        return "alerts", len(payload["alerts"])
    return "body", 1


@dataclass(frozen=True)
class NormalizedAlert:
    type: str
    summary: str
    severity: str = "critical"
    status: str = "firing"
    dedup_key: str = ""
    service: str | None = None
    labels: dict[str, Any] = field(default_factory=dict)
    value: float | None = None
    raw: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if not self.dedup_key:
            object.__setattr__(self, "dedup_key", derived_dedup_key(self.type, self.labels,
                                                                     self.summary))


def derived_dedup_key(type_: str, labels: dict[str, Any], summary: str) -> str:
    """Alerts that name the same thing share a key: the type plus the labels (or, with no
    labels, the summary). Repeats of one problem then fold into one incident."""
    identity: dict[str, Any] = {"type": type_}
    if labels:
        identity["labels"] = labels
    else:
        identity["summary"] = summary
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode())
    return f"{type_}:{digest.hexdigest()[:24]}"
