"""The generic JSON alert (``kind: generic``), documented in docs/alerting.md.

    {"type": "charge_failure", "summary": "Card declined spike", "severity": "critical",
     "status": "firing", "dedup_key": "charges/acme", "service": "billing-api",
     "labels": {"merchant_id": "acme"}, "value": 12}

Only ``summary`` is required. Unknown fields are ignored, so senders may add their own.
"""

from __future__ import annotations

import math
from typing import Any

from oncall.ingest.alert import SEVERITIES, STATUSES, NormalizedAlert, PayloadError

MAX_SUMMARY = 1024
MAX_KEY = 255
MAX_LABELS = 64


def parse(payload: Any) -> list[NormalizedAlert]:
    """One generic alert, or a JSON array of them (the web caps their number first, see
    :func:`oncall.ingest.alert.batch_size`)."""
    if isinstance(payload, list):
        if not payload:
            raise PayloadError("", "the array of alerts is empty")
        return [parse_one(item, f"[{i}].") for i, item in enumerate(payload)]
    return [parse_one(payload, "")]


def parse_one(item: Any, at: str = "") -> NormalizedAlert:
    if not isinstance(item, dict):
        raise PayloadError(at.rstrip(".") or "body", "must be a JSON object")
    summary = _string(item, "summary", at, required=True, limit=MAX_SUMMARY)
    assert summary is not None
    type_ = _string(item, "type", at, limit=100) or "generic"
    severity = (_string(item, "severity", at, limit=16) or "critical").lower()
    if severity not in SEVERITIES:
        raise PayloadError(f"{at}severity", f"must be one of {', '.join(SEVERITIES)}")
    status = (_string(item, "status", at, limit=16) or "firing").lower()
    if status not in STATUSES:
        raise PayloadError(f"{at}status", "must be 'firing' or 'resolved'")
    labels = item.get("labels", {})
    if labels is None:
        labels = {}
    if not isinstance(labels, dict):
        raise PayloadError(f"{at}labels", "must be an object of names to values")
    if len(labels) > MAX_LABELS:
        raise PayloadError(f"{at}labels", f"at most {MAX_LABELS} labels")
    for name, val in labels.items():
        if val is not None and not isinstance(val, str | int | float | bool):
            raise PayloadError(f"{at}labels.{name}", "must be a string, number or boolean")
    value = item.get("value")
    if value is not None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise PayloadError(f"{at}value", "must be a number")
        if not math.isfinite(value):
            raise PayloadError(f"{at}value", "must be a finite number")
        value = float(value)
    return NormalizedAlert(
        type=type_,
        summary=summary,
        severity=severity,
        status=status,
        dedup_key=_string(item, "dedup_key", at, limit=MAX_KEY) or "",
        service=_string(item, "service", at, limit=200),
        labels=dict(labels),
        value=value,
        raw=item,
    )


def _string(item: dict[str, Any], name: str, at: str, *, required: bool = False,
            limit: int) -> str | None:
    value = item.get(name)
    if value is None:
        if required:
            raise PayloadError(f"{at}{name}", "is required")
        return None
    if not isinstance(value, str):
        raise PayloadError(f"{at}{name}", "must be a string")
    value = value.strip()
    if required and not value:
        raise PayloadError(f"{at}{name}", "must not be empty")
    if len(value) > limit:
        raise PayloadError(f"{at}{name}", f"must be at most {limit} characters")
    return value
