"""``oncall.incidents.respond``, the one way every channel acknowledges, resolves and
escalates: every role (and a deactivated responder) x every verb x every incident state, on
the test database, checking the outcome, the incident and its timeline."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from oncall import incidents
from oncall.incidents.respond import ALREADY, DONE, NOT_FOUND, REFUSED, Verb, respond
from oncall.models import Incident, IncidentEvent, User, utcnow
from tests.conftest import Cast
from tests.test_engine import trigger

ROLES = ("viewer", "responder", "manager", "admin", "deactivated")
STATES = ("triggered", "acknowledged", "resolved")
# What a responder, manager or admin gets: (state, verb, escalate_acknowledged) -> kind.
ALLOWED = {
    ("triggered", Verb.ACKNOWLEDGE): DONE, ("triggered", Verb.RESOLVE): DONE,
    ("triggered", Verb.ESCALATE): DONE,
    ("acknowledged", Verb.ACKNOWLEDGE): ALREADY, ("acknowledged", Verb.RESOLVE): DONE,
    ("acknowledged", Verb.ESCALATE): DONE,
    ("resolved", Verb.ACKNOWLEDGE): ALREADY, ("resolved", Verb.RESOLVE): ALREADY,
    ("resolved", Verb.ESCALATE): ALREADY,
}
# The status a done verb leaves (escalate: triggered again, one level further).
AFTER = {Verb.ACKNOWLEDGE: "acknowledged", Verb.RESOLVE: "resolved",
         Verb.ESCALATE: "triggered"}
EVENT = {Verb.ACKNOWLEDGE: "acknowledged", Verb.RESOLVE: "resolved",
         Verb.ESCALATE: "escalate_requested"}


def actor(factory: Any, cast: Cast, role: str) -> User:
    """A user in ``role``: the cast's, or a new admin, or a deactivated responder."""
    known = {"viewer": cast.viewer, "responder": cast.alice, "manager": cast.manager}
    if role in known:
        return known[role]
    with factory() as s, s.begin():
        user = User(email=f"{role}@example.com", name=role.title(),
                    role="admin" if role == "admin" else "responder",
                    deactivated_at=utcnow() if role == "deactivated" else None)
        s.add(user)
    return user


def incident_in(factory: Any, state: str) -> int:
    """A new incident, then acknowledged or resolved by bob if ``state`` says so."""
    incident_id = trigger(factory)
    with factory() as s, s.begin():
        if state == "acknowledged":
            incidents.acknowledge(s, incident_id, "user:bob@example.com", utcnow())
        elif state == "resolved":
            incidents.resolve(s, incident_id, "user:bob@example.com", utcnow())
    return incident_id


def events(factory: Any, incident_id: int) -> list[tuple[str, str, dict[str, Any]]]:
    with factory() as s:
        return [(e.kind, e.actor, e.detail) for e in s.scalars(
            select(IncidentEvent).where(IncidentEvent.incident_id == incident_id)
            .order_by(IncidentEvent.id))]


def snapshot(factory: Any, incident_id: int) -> tuple[str, int, str | None, str | None]:
    with factory() as s:
        found = s.get(Incident, incident_id)
        assert found is not None
        return found.status, found.level, found.acked_by, found.resolved_by


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("verb", list(Verb))
def test_every_role_verb_and_state(factory: Any, cast: Cast, role: str, state: str,
                                   verb: Verb) -> None:
    user = actor(factory, cast, role)
    incident_id = incident_in(factory, state)
    before, timeline = snapshot(factory, incident_id), events(factory, incident_id)
    now = utcnow()
    with factory() as s, s.begin():
        outcome = respond(s, user, incident_id, verb, now, via="test")
        kind, reason, message = outcome.kind, outcome.reason, outcome.message
    if role in ("viewer", "deactivated"):
        assert (kind, reason) == (REFUSED, "role" if role == "viewer" else "deactivated")
        assert message is not None and message.startswith(
            "You are not allowed" if role == "viewer" else "Your oncall account")
        expected = REFUSED
    else:
        expected = ALLOWED[(state, verb)]
        assert kind == expected and reason is None
    after = snapshot(factory, incident_id)
    if expected != DONE:  # refused or already: nothing changed, nothing recorded
        assert after == before and events(factory, incident_id) == timeline
        return
    assert after[0] == AFTER[verb]
    if verb is Verb.ESCALATE:
        assert after[1] == before[1] + 1
    if verb is Verb.ACKNOWLEDGE:
        assert after[2] == f"user:{user.email}"
    if verb is Verb.RESOLVE:
        assert after[3] == f"user:{user.email}"
    added = events(factory, incident_id)[len(timeline):]
    assert (EVENT[verb], f"user:{user.email}") == added[0][:2]
    assert added[0][2]["via"] == "test"


@pytest.mark.parametrize("state", STATES)
def test_quick_replies_do_not_escalate_an_acknowledged_incident(
        factory: Any, cast: Cast, state: str) -> None:
    """``escalate_acknowledged=False`` (SMS, voice, Slack): an acknowledged incident stays
    acknowledged; a triggered one still escalates."""
    incident_id = incident_in(factory, state)
    before = snapshot(factory, incident_id)
    with factory() as s, s.begin():
        outcome = respond(s, cast.alice, incident_id, "escalate", utcnow(), via="sms",
                          escalate_acknowledged=False)
    assert outcome.verb is Verb.ESCALATE
    if state == "triggered":
        assert outcome.kind == DONE and snapshot(factory, incident_id)[1] == before[1] + 1
    else:
        assert outcome.kind == ALREADY and snapshot(factory, incident_id) == before
        assert outcome.incident is not None and outcome.incident.status == state


def test_an_unknown_incident_is_not_found_and_a_refusal_comes_first(factory: Any,
                                                                   cast: Cast) -> None:
    with factory() as s, s.begin():
        assert respond(s, cast.alice, 999_999, "ack", utcnow(), via="api").kind == NOT_FOUND
        assert respond(s, cast.viewer, 999_999, "ack", utcnow(), via="api").kind == REFUSED


def test_channel_names_for_the_verbs() -> None:
    assert Verb.named("ack") is Verb.named("ack_all") is Verb.ACKNOWLEDGE
    assert Verb.named("escalate") is Verb.ESCALATE
    with pytest.raises(ValueError):
        Verb.named("reassign")
