"""Prometheus Alertmanager's webhook (``webhook_config``, payload version ``"4"``).

One request is a *group* of alerts; each entry of ``alerts[]`` becomes one
:class:`NormalizedAlert` with its own ``status``. The group-level ``status`` is ignored: a
group is ``firing`` while any one of its alerts fires, so it says nothing about the others.

Field by field:

* **dedup_key**: the alert's ``fingerprint`` when present. Alertmanager computes it from the
  alert's label set, so it is the per-alert identity: the same alert keeps it across repeats
  (``repeat_interval``), group changes and its resolve, and two alerts of one group never
  share it. Keying on ``groupKey`` alone would fold every alert of a group into one incident,
  and the resolve of one alert would close it while others still fire. Without a fingerprint
  (older or hand-written senders) the key is ``<type>:`` plus a SHA-256 of ``groupKey`` and
  the alert's own labels (sorted), which is just as stable.
* **type**: a ``type`` label when present, else ``alertname``, else ``"alertmanager"``.
* **severity**: the ``severity`` label, case-insensitive: critical/page → critical,
  error/high → error, warning/warn → warning, info/low/none → info. Any other value, or no
  severity label, → warning: the alert still pages through its policy, but a typo in a label
  does not make it a top-severity page, and it is never dropped.
* **summary**: the ``summary`` annotation, else ``description``, else the alertname (cut to
  1,024 characters, the length an incident keeps).
* **service**: a ``service`` label, when present.
* **labels**: ``commonLabels`` overlaid with the alert's own labels.
* **value**: a ``value`` annotation that parses as a finite number, else None.
* **raw**: the alert object plus the top-level ``receiver``, ``groupKey`` and ``externalURL``.

Unknown fields (``notification_reason``, ``routeLabels``, ...) are ignored. A ``version``
other than ``"4"`` is refused; a payload without ``version`` is read as version 4.
Length limits that would only lose detail (the summary) cut rather than refuse, because
Alertmanager treats a 4xx as permanent and would drop the whole group.

:func:`parse_webhook` is shared with the Grafana adapter, whose body has the same shape.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from typing import Any

from oncall.ingest.alert import STATUSES, NormalizedAlert, PayloadError

MAX_SUMMARY = 1024
MAX_TYPE = 100
MAX_SERVICE = 200
MAX_KEY = 255

SEVERITY_MAP = {
    "critical": "critical", "page": "critical",
    "error": "error", "high": "error",
    "warning": "warning", "warn": "warning",
    "info": "info", "low": "info", "none": "info",
}
DEFAULT_SEVERITY = "warning"
RAW_KEYS = ("receiver", "groupKey", "externalURL")

ValueHook = Callable[[dict[str, Any], str], float | None]
"""Reads an alert's value: ``(alert, at)`` where ``at`` is its JSON path prefix
(``alerts[0].``), for naming a bad field."""


def parse(payload: Any) -> list[NormalizedAlert]:
    """The alerts of one Alertmanager webhook notification, in order."""
    return parse_webhook(payload, default_type="alertmanager", versions=("4",),
                         value_of=annotation_value)


def parse_webhook(payload: Any, *, default_type: str, versions: Sequence[str],
                  value_of: ValueHook, summary_fallbacks: Sequence[str] = (),
                  raw_keys: Sequence[str] = RAW_KEYS) -> list[NormalizedAlert]:
    """An Alertmanager-shaped webhook body. ``versions`` lists the accepted ``version``
    strings (a body without one is accepted too); ``value_of`` reads each alert's value;
    ``summary_fallbacks`` names top-level string fields tried, in order, after the summary
    and description annotations and before the alert's type."""
    if not isinstance(payload, dict):
        raise PayloadError("body", "must be a JSON object")
    version = payload.get("version")
    if version is not None and version not in versions:
        wanted = " or ".join(f'"{v}"' for v in versions)
        raise PayloadError("version", f"unsupported version {version!r}: this adapter reads "
                                      f"version {wanted}{_other_format_hint(payload)}")
    alerts = payload.get("alerts")
    if alerts is None:
        raise PayloadError("alerts", "is required")
    if not isinstance(alerts, list):
        raise PayloadError("alerts", "must be an array")
    if not alerts:
        raise PayloadError("alerts", "must not be empty")
    common = payload.get("commonLabels")
    if common is None:
        common = {}
    _check_labels(common, "commonLabels")
    group_key = payload.get("groupKey")
    if group_key is not None and not isinstance(group_key, str):
        raise PayloadError("groupKey", "must be a string")
    fallback = ""
    for name in summary_fallbacks:
        text = payload.get(name)
        if isinstance(text, str) and text.strip():
            fallback = text.strip()
            break
    extra = {k: payload[k] for k in raw_keys if k in payload}
    return [_alert(item, f"alerts[{i}].", common=common, group_key=group_key or "",
                   default_type=default_type, value_of=value_of, fallback=fallback,
                   extra=extra)
            for i, item in enumerate(alerts)]


def annotation_value(alert: dict[str, Any], at: str) -> float | None:
    """The ``value`` annotation when it parses as a finite number, else None."""
    annotations = alert.get("annotations")
    if not isinstance(annotations, dict):
        return None
    return as_float(annotations.get("value"))


def as_float(value: Any) -> float | None:
    """A finite float from a number or a numeric string; None for anything else."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def map_severity(label: str | None) -> str:
    """Our severity for a ``severity`` label (see the module docstring)."""
    if label is None:
        return DEFAULT_SEVERITY
    return SEVERITY_MAP.get(label.strip().lower(), DEFAULT_SEVERITY)


def _alert(item: Any, at: str, *, common: dict[str, Any], group_key: str, default_type: str,
           value_of: ValueHook, fallback: str, extra: dict[str, Any]) -> NormalizedAlert:
    if not isinstance(item, dict):
        raise PayloadError(at.rstrip("."), "must be a JSON object")
    status = item.get("status")
    if status is None:
        raise PayloadError(f"{at}status", "is required")
    if status not in STATUSES:
        raise PayloadError(f"{at}status", "must be 'firing' or 'resolved'")
    own = item.get("labels")
    if own is None:
        raise PayloadError(f"{at}labels", "is required")
    _check_labels(own, f"{at}labels")
    labels = {**common, **own}
    annotations = item.get("annotations")
    if annotations is None:
        annotations = {}
    if not isinstance(annotations, dict):
        raise PayloadError(f"{at}annotations", "must be an object of names to strings")

    type_field = "type" if _text(labels.get("type")) else "alertname"
    type_ = _text(labels.get(type_field)) or default_type
    if len(type_) > MAX_TYPE:
        raise PayloadError(f"{at}labels.{type_field}", f"must be at most {MAX_TYPE} characters")
    service = _text(labels.get("service")) or None
    if service is not None and len(service) > MAX_SERVICE:
        raise PayloadError(f"{at}labels.service", f"must be at most {MAX_SERVICE} characters")

    summary = (_annotation(annotations, "summary", at)
               or _annotation(annotations, "description", at) or fallback
               or _text(labels.get("alertname")) or type_)
    if len(summary) > MAX_SUMMARY:
        summary = summary[:MAX_SUMMARY - 1] + "…"

    fingerprint = item.get("fingerprint")
    if fingerprint is not None and not isinstance(fingerprint, str):
        raise PayloadError(f"{at}fingerprint", "must be a string")
    if fingerprint and len(fingerprint) > MAX_KEY:
        raise PayloadError(f"{at}fingerprint", f"must be at most {MAX_KEY} characters")
    dedup_key = fingerprint or group_dedup_key(type_, group_key, own)

    raw = dict(item)
    for name, val in extra.items():
        raw.setdefault(name, val)
    return NormalizedAlert(
        type=type_,
        summary=summary,
        severity=map_severity(_text(labels.get("severity")) or None),
        status=status,
        dedup_key=dedup_key,
        service=service,
        labels=labels,
        value=value_of(item, at),
        raw=raw,
    )


def group_dedup_key(type_: str, group_key: str, labels: dict[str, Any]) -> str:
    """The key of an alert without a fingerprint: its group plus its own labels."""
    identity = json.dumps({"groupKey": group_key, "labels": labels}, sort_keys=True,
                          default=str)
    return f"{type_}:{hashlib.sha256(identity.encode()).hexdigest()[:24]}"


def _check_labels(labels: Any, at: str) -> None:
    if not isinstance(labels, dict):
        raise PayloadError(at, "must be an object of names to values")
    for name, val in labels.items():
        if val is not None and not isinstance(val, str | int | float | bool):
            raise PayloadError(f"{at}.{name}", "must be a string, number or boolean")


def _text(value: Any) -> str:
    """A label as text: labels are strings on the wire, but a number is taken as written."""
    if value is None:
        return ""
    return (value if isinstance(value, str) else json.dumps(value)).strip()


def _annotation(annotations: dict[str, Any], name: str, at: str) -> str:
    value = annotations.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise PayloadError(f"{at}annotations.{name}", "must be a string")
    return value.strip()


def _other_format_hint(payload: dict[str, Any]) -> str:
    if "orgId" in payload and payload.get("version") == "1":
        return " (this looks like a Grafana alerting webhook: use a grafana integration)"
    if payload.get("version") == "4":
        return " (this looks like an Alertmanager webhook: use an alertmanager integration)"
    return ""
