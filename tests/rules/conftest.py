"""Rules written to a file and applied the way `oncall apply` does, on top of the cast
(service billing-api with policy `billing`: alice, then bob)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from oncall.apply import apply_config, load_tree
from oncall.incidents import intake
from oncall.ingest import NormalizedAlert
from oncall.models import Incident, IncidentEvent, Integration
from tests.conftest import Cast

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)

HEADER = """
policies:
  - policy: bob-first
    levels:
      - notify: [user:bob@example.com]
services:
  - service: billing-api
    policy: billing
"""


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def apply_rules(factory: Any, cast: Cast, tmp_path: Path) -> Callable[[str], list[str]]:
    def apply(rules_yaml: str) -> list[str]:
        (tmp_path / "rules").mkdir(exist_ok=True)
        (tmp_path / "rules" / "test.yaml").write_text(HEADER + rules_yaml)
        docs = load_tree([tmp_path / "rules"], base=tmp_path)
        with factory() as s, s.begin():
            return [str(c) for c in apply_config(s, docs)]
    return apply


@pytest.fixture
def send(factory: Any, cast: Cast) -> Callable[..., Any]:
    """Store alerts through intake at an explicit time, as the webhook would."""
    def send_(now: datetime, **fields: Any) -> intake.Outcome:
        with factory() as s, s.begin():
            source = intake.Source.of(s.scalars(select(Integration)).one())
            [outcome] = intake.ingest(s, source, [NormalizedAlert(**{
                "type": "charge_failure", "summary": "charge failed", **fields})], now)
        return outcome
    return send_


def timeline(factory: Any, incident_id: int) -> list[tuple[str, str, dict[str, Any]]]:
    with factory() as s:
        return [(e.kind, e.actor, e.detail) for e in s.scalars(
            select(IncidentEvent).where(IncidentEvent.incident_id == incident_id)
            .order_by(IncidentEvent.id))]


def incidents(factory: Any) -> list[Incident]:
    with factory() as s:
        return list(s.scalars(select(Incident).order_by(Incident.id)))
