"""Inbound alert formats. Each adapter turns a payload into :class:`NormalizedAlert` values
or raises :class:`PayloadError` naming the offending field. Pure: no Flask, no database."""

from collections.abc import Callable
from typing import Any

from oncall.ingest import alertmanager, generic, grafana
from oncall.ingest.alert import SEVERITIES, NormalizedAlert, PayloadError

# The webhook formats of ``POST /integrations/<token>``, by integration kind (a ``pagerduty``
# integration receives PagerDuty's Events API at its own path, ``oncall.web.pagerduty``).
FORMATS: dict[str, Callable[[Any], list[NormalizedAlert]]] = {
    "generic": generic.parse,
    "alertmanager": alertmanager.parse,
    "grafana": grafana.parse,
}

__all__ = ["FORMATS", "SEVERITIES", "NormalizedAlert", "PayloadError"]
