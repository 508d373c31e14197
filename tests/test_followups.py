"""The one after-commit hook (``oncall.incidents.followups``): what a transaction noted is
enqueued once it commits, never for a rollback, and a failing follow-up is logged, not raised
to the caller whose data is committed."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest

from oncall import jobs
from oncall.channels import slack
from oncall.incidents import followups, note_change
from oncall.models import utcnow


@pytest.fixture
def enqueued(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """What the follow-ups enqueue, instead of a broker."""
    sent: list[tuple[Any, ...]] = []
    monkeypatch.setattr(jobs, "deliver", lambda i: sent.append(("deliver", i)))
    monkeypatch.setattr(jobs, "escalate", lambda i, level=0, loop=0, at=None:
                        sent.append(("escalate", i, level, loop, at)))
    monkeypatch.setattr(jobs, "opened", lambda i, woken: sent.append(("opened", i, woken)))
    monkeypatch.setattr(slack, "after_change", lambda i: sent.append(("refresh", i)))
    return sent


def test_what_a_transaction_noted_is_enqueued_once_it_commits(
        factory: Any, enqueued: list[tuple[Any, ...]]) -> None:
    later = utcnow() + timedelta(minutes=5)
    with factory() as s:
        s.connection()  # a transaction is open
        note_change(s, 1)
        followups.paged(s, 2, 1, 0, later)
        followups.opened(s, 3, False)
        followups.due(s, 4)
        assert enqueued == []  # nothing before the commit
        s.commit()
        assert enqueued == [("refresh", 1),
                            ("deliver", 2), ("escalate", 2, 1, 0, later), ("refresh", 2),
                            ("opened", 3, False),
                            ("escalate", 4, 0, 0, None)]
        enqueued.clear()
        s.connection()
        s.commit()  # noted once, enqueued once
    assert enqueued == []


def test_nothing_is_enqueued_for_a_transaction_that_rolls_back(
        factory: Any, enqueued: list[tuple[Any, ...]]) -> None:
    with factory() as s:
        s.connection()
        note_change(s, 1)
        followups.paged(s, 2, 1, 0, None)
        s.rollback()
        s.connection()
        note_change(s, 3)
        s.commit()  # the next transaction of the same session brings only its own
    assert enqueued == [("refresh", 3)]


def test_a_failing_follow_up_is_logged_not_raised(
        factory: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    def broken(incident_id: int) -> None:
        raise RuntimeError("broker gone")

    monkeypatch.setattr(slack, "after_change", broken)
    with factory() as s, caplog.at_level(logging.ERROR, logger=followups.__name__):
        s.connection()
        note_change(s, 7)
        s.commit()  # does not raise: the change is committed, the sweeper does the rest
    assert "follow-ups of incidents [7] failed" in caplog.text


def test_a_step_taken_by_the_sweeper_is_followed_up_by_the_hook(
        factory: Any, enqueued: list[tuple[Any, ...]]) -> None:
    """Whoever takes a step (here the sweeper, which enqueues nothing itself), its commit
    hands the incident's follow-ups over: its Slack messages, and its next step if due."""
    from oncall.paging import sweeper
    from tests.conftest import make_cast
    from tests.test_engine import trigger

    make_cast(factory, escalate_after=300)
    incident_id = trigger(factory)
    enqueued.clear()  # the intake's own ("opened")
    now = utcnow()
    sweeper.sweep(factory, now)
    assert ("refresh", incident_id) in enqueued
    assert ("escalate", incident_id, 1, 0, now + timedelta(seconds=300)) in enqueued
    enqueued.clear()
    sweeper.sweep(factory, now + timedelta(seconds=300))  # level 2, the last: nothing follows
    assert enqueued == [("refresh", incident_id)]
