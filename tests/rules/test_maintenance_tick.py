"""A threshold crossing found by the periodic re-evaluation is held by a maintenance window in
force, like one opened by an alert: it pages when the window ends."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from oncall import maintenance
from oncall.maintenance import service as windows
from oncall.paging import sweeper
from oncall.rules import tick
from tests.conftest import Cast, pages_for
from tests.rules.conftest import at, incidents, timeline
from tests.rules.test_tick import BURN_RULE


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    maintenance.invalidate()
    yield
    maintenance.invalidate()


def test_a_burn_rate_crossing_inside_a_window_pages_when_it_ends(
        apply_rules: Callable[[str], Any], send: Callable[..., Any], factory: Any,
        cast: Cast) -> None:
    apply_rules(BURN_RULE)
    with factory() as s, s.begin():
        windows.create(s, "user:manager@example.com", {
            "name": "api-deploy", "matchers": {"service": "billing-api"},
            "starts_at": at(30).isoformat(), "ends_at": at(90).isoformat()}, at(0))
    for m in range(0, 10):
        send(at(m), type="api_error_rate", labels={"errors": 0, "total": 1000})
    for m in range(10, 69):
        send(at(m), type="api_error_rate", labels={"errors": 1.6, "total": 100})
    [opened] = tick.run(factory, at(69)).opened
    [incident] = incidents(factory)
    assert incident.id == opened and incident.next_action_at == at(90)
    assert [k for k, _, _ in timeline(factory, opened)] == ["triggered", "suppressed"]
    sweeper.sweep(factory, now=at(89))
    assert pages_for(factory, opened) == []
    sweeper.sweep(factory, now=at(90))
    assert [p.level for p in pages_for(factory, opened)] == [1]
