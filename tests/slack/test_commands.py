"""``/oncall``: who, ack, resolve, override, help; ephemeral unless asked otherwise."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from oncall import permissions
from oncall.channels.slack.commands import parse_duration
from oncall.models import AuditEntry, Override, Schedule, ScheduleLayer, User, utcnow
from tests.conftest import Cast
from tests.slack.conftest import ALICE, BOB, MARIA, VIC, Queue, command, link, open_incident
from tests.slack.conftest import status as incident_status
from tests.slack_fake import FakeSlack, sign

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.fixture
def billing(factory: Any, slack_cast: Cast) -> int:
    """A schedule 'billing' where alice and bob take daily turns, alice first today."""
    with factory() as s, s.begin():
        schedule = Schedule(name="billing", timezone="UTC", layers=[ScheduleLayer(
            position=0, name="daily",
            spec={"rotation": "daily", "handoff": "00:00",
                  "start": utcnow().date().isoformat()},
            members=[slack_cast.alice.id, slack_cast.bob.id])])
        s.add(schedule)
        s.flush()
        return schedule.id


def test_the_fixture_who_billing_command_answers_privately(
        web: Any, factory: Any, billing: int, fake_slack: FakeSlack) -> None:
    link(factory, manager="U07PMGR55AB")  # the fixture's caller (dana.kim)
    body = (FIXTURES / "slack_slash_command_oncall_who.form").read_bytes()
    r = web.post("/slack/commands", data=body, headers=sign(body))
    assert r.status_code == 200
    assert r.json["response_type"] == "ephemeral"
    assert f"*billing*: <@{ALICE}> (Alice) until" in r.json["text"]
    fake_slack.done()


def test_who_without_a_schedule_lists_every_schedule_and_public_answers_in_channel(
        web: Any, billing: int) -> None:
    r = command(web, "who public", VIC)
    assert r.json == {"response_type": "in_channel",
                      "text": r.json["text"]} and r.json["text"].startswith("*billing*:")


def test_who_an_unknown_schedule_names_the_real_ones(web: Any, billing: int) -> None:
    text = command(web, "who nope", VIC).json["text"]
    assert "no schedule `nope`" in text and "billing" in text


@pytest.mark.parametrize("text", ["", "help", "frobnicate now"])
def test_help_and_unknown_commands_get_the_help_text(web: Any, slack_cast: Cast,
                                                     text: str) -> None:
    r = command(web, text, "U0NOBODY")  # help needs no linked account
    assert r.status_code == 200 and r.json["response_type"] == "ephemeral"
    assert "/oncall who [schedule]" in r.json["text"]
    assert ("don't know `frobnicate`" in r.json["text"]) == (text == "frobnicate now")


def test_ack_and_resolve_by_command_and_messages_follow(
        web: Any, slack_cast: Cast, factory: Any, queue: Queue) -> None:
    incident = open_incident(web, slack_cast)
    queue.take()
    r = command(web, f"ack {incident}", BOB)
    assert "You acknowledged incident" in r.json["text"]
    assert incident_status(factory, incident) == "acknowledged"
    assert queue.take() == [("refresh", incident)]
    assert "already acknowledged by" in command(web, f"ack #{incident}", ALICE).json["text"]
    assert queue.take() == []
    assert "You resolved" in command(web, f"resolve INC-{incident}", ALICE).json["text"]
    assert queue.take() == [("refresh", incident)]
    assert "already resolved" in command(web, f"resolve {incident}", ALICE).json["text"]
    assert incident_status(factory, incident) == "resolved"


def test_a_deactivated_person_is_refused_and_nothing_changes(
        web: Any, slack_cast: Cast, factory: Any, queue: Queue) -> None:
    """Deactivation ends access on every channel (``oncall.incidents.respond``): the Slack
    account stays linked, but acts no more."""
    incident = open_incident(web, slack_cast)
    queue.take()
    with factory() as s, s.begin():
        s.get(User, slack_cast.bob.id).deactivated_at = utcnow()
    for verb in ("ack", "resolve"):
        assert command(web, f"{verb} {incident}", BOB).json["text"] == (
            "Your oncall account is deactivated: you can no longer act on incidents.")
    assert incident_status(factory, incident) == "triggered"
    assert queue.take() == []


@pytest.mark.parametrize(("text", "answer"), [
    ("ack", "Usage: `/oncall ack <incident>`"),
    ("ack banana", "Usage"),
    ("resolve 999999", "There is no incident #999999"),
])
def test_ack_with_a_bad_id_says_so(web: Any, slack_cast: Cast, text: str,
                                   answer: str) -> None:
    assert answer in command(web, text, ALICE).json["text"]


def test_a_viewer_cannot_ack_and_an_unlinked_user_is_told_how_to_link(
        web: Any, slack_cast: Cast, factory: Any, queue: Queue) -> None:
    incident = open_incident(web, slack_cast)
    assert "responder role" in command(web, f"ack {incident}", VIC).json["text"]
    assert "not linked" in command(web, f"ack {incident}", "U0NOBODY").json["text"]
    assert incident_status(factory, incident) == "triggered"


def test_slack_asks_the_one_role_rule(web: Any, slack_cast: Cast, factory: Any,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    incident = open_incident(web, slack_cast)
    assert command(web, f"resolve {incident}", VIC).json["text"] == (
        "You are not allowed to resolve incidents: you are a viewer, and it needs the "
        "responder role.")
    monkeypatch.setitem(permissions.INCIDENT_RULES, "viewer", frozenset({"acknowledge"}))
    assert command(web, f"ack {incident}", VIC).json["text"].startswith("You acknowledged")
    assert incident_status(factory, incident) == "acknowledged"


def test_a_manager_puts_someone_on_call_and_it_is_audited(
        web: Any, factory: Any, billing: int) -> None:
    r = command(web, f"override billing <@{BOB}|bob> 2h", MARIA)
    assert r.status_code == 200
    assert f"<@{BOB}> (Bob) is on call for *billing* until" in r.json["text"]
    with factory() as s:
        [override] = s.scalars(select(Override)).all()
        assert override.user.email == "bob@example.com"
        assert override.end - override.start == timedelta(hours=2)
        assert override.created_by == "user:manager@example.com"
        [entry] = s.scalars(select(AuditEntry).where(AuditEntry.object_type == "override"))
        assert (entry.action, entry.actor) == ("create", "user:manager@example.com")
    assert f"*billing*: <@{BOB}> (Bob) until" in command(web, "who billing", VIC).json["text"]


def test_an_override_by_email_works_too(web: Any, factory: Any, billing: int) -> None:
    text = command(web, "override billing <mailto:bob@example.com|bob@example.com> 1d",
                   MARIA).json["text"]
    assert "is on call for *billing*" in text


@pytest.mark.parametrize(("text", "answer"), [
    ("override billing @bob 2h", "I don't know who @bob is"),
    (f"override nope <@{BOB}> 2h", "There is no schedule `nope`"),
    (f"override billing <@{BOB}> forever", "is not a duration"),
    (f"override billing <@{BOB}> 40d", "is not a duration"),
    ("override billing", "Usage"),
])
def test_a_bad_override_is_refused_and_stores_nothing(web: Any, factory: Any, billing: int,
                                                      text: str, answer: str) -> None:
    assert answer in command(web, text, MARIA).json["text"]
    with factory() as s:
        assert s.scalars(select(Override)).all() == []


def test_a_responder_may_not_override_from_slack(web: Any, factory: Any,
                                                 billing: int) -> None:
    text = command(web, f"override billing <@{BOB}> 2h", ALICE).json["text"]
    assert "manager role" in text
    with factory() as s:
        assert s.scalars(select(Override)).all() == []


@pytest.mark.parametrize(("text", "minutes"), [("30m", 30), ("2h", 120), ("1d12h", 2160),
                                               ("1h30m", 90), ("2H", 120)])
def test_durations(text: str, minutes: int) -> None:
    assert parse_duration(text) == timedelta(minutes=minutes)


@pytest.mark.parametrize("text", ["", "2", "h", "2x", "-2h", "2h 30m"])
def test_not_durations(text: str) -> None:
    assert parse_duration(text) is None


def test_a_command_without_a_user_is_400(web: Any) -> None:
    body = b"command=%2Foncall&text=who"
    r = web.post("/slack/commands", data=body, headers=sign(body))
    assert r.status_code == 400 and r.json["field"] == "user_id"


def test_link_connects_a_slack_account_by_its_email_and_is_audited(
        web: Any, slack_cast: Cast, factory: Any, fake_slack: FakeSlack) -> None:
    link(factory, alice=None)
    fake_slack.directory["Alice@Example.com"] = "U0NEWALIC"
    r = command(web, "link", "U0NEWALIC")
    assert "Linked: you are alice@example.com (responder)" in r.json["text"]
    fake_slack.expect("users.info", user="U0NEWALIC")
    fake_slack.done()
    assert "You are linked to alice@example.com" in command(web, "link", "U0NEWALIC").json[
        "text"]
    fake_slack.done()  # already linked: Slack is not asked again
    with factory() as s:
        [entry] = s.scalars(select(AuditEntry).where(AuditEntry.object_type == "user"))
        assert (entry.actor, entry.after) == ("slack:U0NEWALIC", {"slack": "U0NEWALIC"})
    incident = open_incident(web, slack_cast)
    assert "You acknowledged" in command(web, f"ack {incident}", "U0NEWALIC").json["text"]


def test_link_refuses_an_unknown_email_and_an_account_linked_elsewhere(
        web: Any, slack_cast: Cast, factory: Any, fake_slack: FakeSlack) -> None:
    fake_slack.directory["stranger@example.com"] = "U0STRANGE"
    fake_slack.directory["alice@example.com"] = "U0ALICE2ND"
    assert "No oncall user has the email stranger@example.com" in command(
        web, "link", "U0STRANGE").json["text"]
    assert "already linked to another Slack account" in command(
        web, "link", "U0ALICE2ND").json["text"]
    fake_slack.error("users.info", "internal_error")
    assert "could not ask Slack" in command(web, "link", "U0STRANGE").json["text"]
    with factory() as s:
        assert s.scalars(select(AuditEntry)).all() == []


def test_link_takes_an_email_as_a_value_not_a_pattern(
        web: Any, slack_cast: Cast, factory: Any, fake_slack: FakeSlack) -> None:
    # A Slack member "manag_r@" must not become manager@ ("_" is LIKE's any-character),
    # nor "%@example.com" everyone.
    link(factory, manager=None)
    fake_slack.directory["manag_r@example.com"] = "U0MALLORY"
    fake_slack.directory["%@example.com"] = "U0WILDCRD"
    assert "No oncall user has the email manag_r@example.com" in command(
        web, "link", "U0MALLORY").json["text"]
    assert "No oncall user has the email %@example.com" in command(
        web, "link", "U0WILDCRD").json["text"]
    with factory() as s:
        assert s.scalar(select(User.slack_id).where(User.email == "manager@example.com")) is None
        assert s.scalars(select(AuditEntry)).all() == []


def test_link_refuses_an_email_two_users_share_but_for_case(
        web: Any, slack_cast: Cast, factory: Any, fake_slack: FakeSlack) -> None:
    link(factory, alice=None)
    with factory() as s, s.begin():
        s.add(User(email="ALICE@example.com", name="Alice again", role="admin"))
    fake_slack.directory["Alice@Example.com"] = "U0NEWALIC"
    assert "2 oncall users have the email" in command(web, "link", "U0NEWALIC").json["text"]
    with factory() as s:
        assert s.scalars(select(User).where(User.slack_id == "U0NEWALIC")).all() == []
