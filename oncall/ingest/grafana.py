"""Grafana unified alerting's webhook contact point (the same body for POST and PUT).

The body is Alertmanager's (see :mod:`oncall.ingest.alertmanager`, whose rules apply field
by field) with Grafana's ``version`` ``"1"``, ``orgId``, ``state``, ``title`` and
``message`` at the top level, and per alert ``fingerprint``, ``values``, ``valueString``,
``silenceURL``, ``dashboardURL``, ``panelURL`` and ``imageURL``. The differences:

* **value**: Grafana's ``values`` map (refID → number, e.g. ``{"B": 0.0734, "C": 1}``): the
  first finite number in the order sent. Grafana serializes the map with sorted keys, so
  that is the lowest refID, usually the query or reduce expression rather than the
  threshold's 0/1. Without a usable ``values``, a ``value`` annotation as for Alertmanager.
  ``valueString`` is display text (deprecated by Grafana) and is only kept in ``raw``.
* **summary**: after the ``summary`` and ``description`` annotations, the top-level
  ``title``, then ``message`` (both templated for the whole group), then the alertname.
* **version**: ``"1"`` or absent. Alertmanager's ``"4"`` is refused, naming ``version``.
* **raw** also keeps the top-level ``orgId``.
"""

from __future__ import annotations

from typing import Any

from oncall.ingest.alert import NormalizedAlert, PayloadError
from oncall.ingest.alertmanager import RAW_KEYS, annotation_value, as_float, parse_webhook


def parse(payload: Any) -> list[NormalizedAlert]:
    """The alerts of one Grafana alerting webhook notification, in order."""
    return parse_webhook(payload, default_type="grafana", versions=("1",),
                         value_of=values_value, summary_fallbacks=("title", "message"),
                         raw_keys=(*RAW_KEYS, "orgId"))


def values_value(alert: dict[str, Any], at: str) -> float | None:
    """The first finite number of the alert's ``values`` map, else its ``value`` annotation."""
    values = alert.get("values")
    if values is not None:
        if not isinstance(values, dict):
            raise PayloadError(f"{at}values", "must be an object of refIDs to numbers")
        for raw in values.values():
            if isinstance(raw, int | float):
                number = as_float(raw)
                if number is not None:
                    return number
    return annotation_value(alert, at)
