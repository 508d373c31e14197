"""Slack, scripted end to end in one process: page -> button -> state -> messages updated.

The fake Slack records every call; each test reads them in order with ``expect`` and ends
with ``done()``, which fails on any call nobody expected (a duplicate post, a stray update).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from oncall.channels import slack
from oncall.models import EscalationPolicy, IncidentEvent, Page, PolicyLevel, User
from tests.conftest import Cast, pages_for
from tests.slack.conftest import (
    ALICE,
    BOB,
    VIC,
    Queue,
    link,
    messages,
    open_incident,
    press,
    status,
)
from tests.slack_fake import FakeSlack, channel_id, dm


def blocks_text(call_args: dict[str, Any]) -> str:
    return json.dumps(call_args["blocks"])


def buttons(call_args: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["action_id"], e["value"]) for b in call_args["blocks"]
            if b["type"] == "actions" for e in b["elements"]]


def page_alice(web: Any, slack_cast: Cast, fake_slack: FakeSlack, queue: Queue,
               factory: Any) -> int:
    incident = open_incident(web, slack_cast, summary="Charge failures for acme",
                             labels={"merchant_id": "acme",
                                     "runbook_url": "https://runbooks.example.com/charges"})
    queue.run(factory)
    fake_slack.expect("conversations.open", users=ALICE)
    post = fake_slack.expect("chat.postMessage", channel=dm(ALICE))
    assert buttons(post.args) == [("ack", str(incident)), ("resolve", str(incident)),
                                  ("escalate", str(incident))]
    text = blocks_text(post.args)
    assert "Charge failures for acme" in text and "billing-api" in text
    assert "*Alerts:* 1" in text and "critical" in text
    assert "https://runbooks.example.com/charges" in text
    assert post.auth == "Bearer xoxb-test-token"
    fake_slack.done()
    return incident


def test_a_page_is_a_dm_with_buttons_and_the_ack_button_updates_it(
        web: Any, slack_cast: Cast, fake_slack: FakeSlack, queue: Queue, factory: Any,
        on_slack: None) -> None:
    incident = page_alice(web, slack_cast, fake_slack, queue, factory)
    [(kind, channel, ts)] = messages(factory, incident)
    assert (kind, channel) == ("dm", dm(ALICE))
    [page] = pages_for(factory, incident)
    assert (page.channel, page.status, page.provider_id) == ("slack", "sent", ts)

    r = press(web, "ack", incident, ALICE)
    assert r.status_code == 200
    assert status(factory, incident) == "acknowledged"
    with factory() as s:
        assert s.scalar(select(IncidentEvent.actor).where(
            IncidentEvent.kind == "acknowledged")) == "user:alice@example.com"
    assert queue.items == [("refresh", incident)]
    queue.run(factory)
    update = fake_slack.expect("chat.update", channel=dm(ALICE), ts=ts)
    assert f"Acknowledged by <@{ALICE}> at <!date^" in blocks_text(update.args)
    assert buttons(update.args) == [("resolve", str(incident))]
    assert "acknowledged by" in update.args["text"]
    fake_slack.done()

    press(web, "resolve", incident, ALICE)
    queue.run(factory)
    update = fake_slack.expect("chat.update", channel=dm(ALICE), ts=ts)
    assert "Resolved by" in blocks_text(update.args) and buttons(update.args) == []
    fake_slack.done()
    assert status(factory, incident) == "resolved"


def test_a_user_without_a_slack_id_is_found_by_email_and_linked(
        web: Any, slack_cast: Cast, fake_slack: FakeSlack, queue: Queue, factory: Any,
        on_slack: None) -> None:
    link(factory, alice=None)
    fake_slack.directory["alice@example.com"] = "U0FOUND99"
    incident = open_incident(web, slack_cast)
    queue.run(factory)
    fake_slack.expect("users.lookupByEmail", email="alice@example.com")
    fake_slack.expect("conversations.open", users="U0FOUND99")
    fake_slack.expect("chat.postMessage", channel=dm("U0FOUND99"))
    fake_slack.done()
    with factory() as s:
        assert s.scalar(select(User.slack_id).where(User.email == "alice@example.com")) \
            == "U0FOUND99"
    assert press(web, "ack", incident, "U0FOUND99").status_code == 200
    assert status(factory, incident) == "acknowledged"


def test_nobody_in_slack_with_that_email_fails_the_page_for_good(
        web: Any, slack_cast: Cast, fake_slack: FakeSlack, queue: Queue, factory: Any,
        on_slack: None) -> None:
    link(factory, alice=None)
    incident = open_incident(web, slack_cast)
    queue.run(factory)
    fake_slack.expect("users.lookupByEmail", email="alice@example.com")
    fake_slack.done()
    [page] = pages_for(factory, incident)
    assert page.status == "failed" and "users_not_found" in page.error
    assert messages(factory, incident) == []


def test_slack_trouble_is_retried_later_and_posts_once(
        web: Any, slack_cast: Cast, fake_slack: FakeSlack, queue: Queue, factory: Any,
        on_slack: None) -> None:
    from oncall.models import utcnow
    from oncall.paging import sweeper

    fake_slack.error("chat.postMessage", "internal_error")
    incident = open_incident(web, slack_cast)
    queue.run(factory)
    fake_slack.expect("conversations.open")
    fake_slack.expect("chat.postMessage")
    fake_slack.done()
    [page] = pages_for(factory, incident)
    assert page.status == "pending" and "internal_error" in page.error
    assert messages(factory, incident) == []
    sweeper.sweep(factory, page.next_attempt_at)  # the retry, when it is due
    fake_slack.expect("conversations.open")
    fake_slack.expect("chat.postMessage", channel=dm(ALICE))
    fake_slack.done()
    assert pages_for(factory, incident)[0].status == "sent"
    assert len(messages(factory, incident)) == 1
    sweeper.sweep(factory, utcnow())
    fake_slack.done()


def test_a_429_is_waited_out_as_retry_after_says(
        web: Any, slack_cast: Cast, fake_slack: FakeSlack, queue: Queue, factory: Any,
        on_slack: None) -> None:
    fake_slack.error("chat.postMessage", "ratelimited", status=429, retry_after=1)
    incident = open_incident(web, slack_cast)
    queue.run(factory)
    fake_slack.expect("conversations.open")
    fake_slack.expect("chat.postMessage")
    fake_slack.expect("chat.postMessage")
    fake_slack.done()
    assert pages_for(factory, incident)[0].status == "sent"
    assert len(messages(factory, incident)) == 1


def test_a_channel_target_posts_there_and_every_message_follows_an_api_ack(
        web: Any, slack_cast: Cast, fake_slack: FakeSlack, queue: Queue, factory: Any,
        on_slack: None) -> None:
    with factory() as s, s.begin():
        policy = s.scalar(select(EscalationPolicy))
        level = s.scalar(select(PolicyLevel).where(PolicyLevel.policy_id == policy.id,
                                                   PolicyLevel.position == 0))
        level.targets = [{"type": "slack", "ref": "#billing-incidents"},
                         {"type": "user", "ref": "alice@example.com"}]
    incident = open_incident(web, slack_cast)
    queue.run(factory)
    fake_slack.expect("conversations.open", users=ALICE)
    fake_slack.expect("chat.postMessage", channel=dm(ALICE))
    post = fake_slack.expect("chat.postMessage", channel="#billing-incidents")
    assert buttons(post.args)[0] == ("ack", str(incident))
    fake_slack.done()
    posted = messages(factory, incident)
    assert [(k, c) for k, c, _ in posted] == [("dm", dm(ALICE)),
                                              ("channel", channel_id("#billing-incidents"))]
    with factory() as s:
        assert s.scalar(select(Page.recipient).where(Page.channel == "slack",
                                                     Page.user_id.is_(None))) \
            == "slack:#billing-incidents"

    r = web.post(f"/api/v1/incidents/{incident}/ack", headers=slack_cast.auth("bob"))
    assert r.status_code == 200
    queue.run(factory)
    for _kind, channel, ts in posted:
        update = fake_slack.expect("chat.update", channel=channel, ts=ts)
        assert f"Acknowledged by <@{BOB}>" in blocks_text(update.args)
    fake_slack.done()
    queue.items.append(("refresh", incident))  # a duplicate task changes nothing
    queue.run(factory)
    fake_slack.done()


def test_an_alert_that_resolves_the_incident_updates_its_messages(
        web: Any, slack_cast: Cast, fake_slack: FakeSlack, queue: Queue, factory: Any,
        on_slack: None) -> None:
    incident = page_alice(web, slack_cast, fake_slack, queue, factory)
    r = web.post(f"/integrations/{slack_cast.integration_token}",
                 json={"summary": "Charge failures for acme", "status": "resolved",
                       "type": "charge_failure", "labels": {"merchant_id": "acme",
                       "runbook_url": "https://runbooks.example.com/charges"}})
    assert r.status_code == 202 and status(factory, incident) == "resolved"
    queue.run(factory)
    update = fake_slack.expect("chat.update", channel=dm(ALICE))
    assert "billing-generic (integration)" in blocks_text(update.args)
    fake_slack.done()


def test_the_escalate_button_pages_the_next_level_now(
        web: Any, slack_cast: Cast, fake_slack: FakeSlack, queue: Queue, factory: Any,
        on_slack: None) -> None:
    incident = page_alice(web, slack_cast, fake_slack, queue, factory)
    assert press(web, "escalate", incident, ALICE).status_code == 200
    queue.run(factory)
    fake_slack.expect("conversations.open", users=BOB)
    post = fake_slack.expect("chat.postMessage", channel=dm(BOB))
    assert "escalation level 2 of 2" in blocks_text(post.args)
    update = fake_slack.expect("chat.update", channel=dm(ALICE))  # alice's copy: level 2
    assert "escalation level 2 of 2" in blocks_text(update.args)
    fake_slack.done()
    assert [(p.level, p.user_id) for p in pages_for(factory, incident)] == [
        (1, slack_cast.alice.id), (2, slack_cast.bob.id)]


def test_pressing_on_a_resolved_incident_answers_politely_and_changes_nothing(
        web: Any, slack_cast: Cast, fake_slack: FakeSlack, queue: Queue, factory: Any,
        on_slack: None) -> None:
    incident = page_alice(web, slack_cast, fake_slack, queue, factory)
    web.post(f"/api/v1/incidents/{incident}/resolve", headers=slack_cast.auth("bob"))
    queue.run(factory)
    fake_slack.expect("chat.update")
    with factory() as s:
        events = s.scalar(select(IncidentEvent.id).order_by(IncidentEvent.id.desc()))
    url = fake_slack.response_url("late")
    assert press(web, "ack", incident, ALICE, response_url=url).status_code == 200
    queue.run(factory)
    answer = fake_slack.expect("response_url")
    assert answer.args["response_type"] == "ephemeral"
    assert "already resolved by" in answer.args["text"] and "nothing changed" in answer.args["text"]
    assert answer.args["replace_original"] is False
    fake_slack.done()
    assert status(factory, incident) == "resolved"
    with factory() as s:
        assert s.scalar(select(IncidentEvent.id).order_by(IncidentEvent.id.desc())) == events


def test_an_unlinked_slack_user_is_told_how_to_link_and_nothing_changes(
        web: Any, slack_cast: Cast, fake_slack: FakeSlack, queue: Queue, factory: Any,
        on_slack: None) -> None:
    incident = page_alice(web, slack_cast, fake_slack, queue, factory)
    url = fake_slack.response_url("stranger")
    assert press(web, "ack", incident, "U0STRANGE", response_url=url).status_code == 200
    queue.run(factory)
    answer = fake_slack.expect("response_url")
    assert "not linked" in answer.args["text"] and "/oncall link" in answer.args["text"]
    assert "oncall user slack you@example.com U0STRANGE" in answer.args["text"]
    fake_slack.done()
    assert status(factory, incident) == "triggered"


def test_a_viewer_cannot_acknowledge(web: Any, slack_cast: Cast, fake_slack: FakeSlack,
                                     queue: Queue, factory: Any, on_slack: None) -> None:
    incident = page_alice(web, slack_cast, fake_slack, queue, factory)
    url = fake_slack.response_url("vic")
    assert press(web, "ack", incident, VIC, response_url=url).status_code == 200
    queue.run(factory)
    assert "responder role" in fake_slack.expect("response_url").args["text"]
    fake_slack.done()
    assert status(factory, incident) == "triggered"


def test_a_response_url_elsewhere_is_never_posted_to(
        web: Any, slack_cast: Cast, fake_slack: FakeSlack, queue: Queue, factory: Any,
        on_slack: None) -> None:
    incident = page_alice(web, slack_cast, fake_slack, queue, factory)
    r = press(web, "ack", incident, "U0STRANGE", response_url="http://169.254.169.254/x")
    assert r.status_code == 200
    assert queue.items == []
    fake_slack.done()


def test_a_message_slack_lost_is_given_up_on_and_the_others_still_update(
        web: Any, slack_cast: Cast, fake_slack: FakeSlack, queue: Queue, factory: Any,
        on_slack: None) -> None:
    from oncall.channels import slack
    from oncall.channels.slack import store

    incident = page_alice(web, slack_cast, fake_slack, queue, factory)
    web.post(f"/api/v1/incidents/{incident}/ack", headers=slack_cast.auth("alice"))
    fake_slack.error("chat.update", "message_not_found")
    report = store.refresh(slack.factory(), slack.client(), incident)
    assert report.retry is None and len(report.failed) == 1
    fake_slack.expect("chat.update")
    web.post(f"/api/v1/incidents/{incident}/resolve", headers=slack_cast.auth("alice"))
    assert store.refresh(slack.factory(), slack.client(), incident).updated == 0
    fake_slack.done()


def test_a_transient_update_failure_is_retried_until_it_lands(
        web: Any, slack_cast: Cast, fake_slack: FakeSlack, queue: Queue, factory: Any,
        on_slack: None) -> None:
    from oncall.channels import slack
    from oncall.channels.slack import store

    incident = page_alice(web, slack_cast, fake_slack, queue, factory)
    web.post(f"/api/v1/incidents/{incident}/ack", headers=slack_cast.auth("alice"))
    fake_slack.error("chat.update", "service_unavailable")
    report = store.refresh(slack.factory(), slack.client(), incident)
    assert report.retry is not None and not report.retry.permanent
    fake_slack.expect("chat.update")
    report = store.refresh(slack.factory(), slack.client(), incident)
    assert report.retry is None and report.updated == 1
    assert "Acknowledged by" in blocks_text(fake_slack.expect("chat.update").args)
    fake_slack.done()


def test_acknowledged_while_the_page_was_being_posted_the_post_is_corrected_at_once(
        web: Any, slack_cast: Cast, fake_slack: FakeSlack, queue: Queue, factory: Any,
        on_slack: None, monkeypatch: Any) -> None:
    from oncall import incidents
    from oncall.channels.slack import store
    from oncall.models import utcnow

    record = store.record_message

    def bob_acks_meanwhile(*args: Any, **kwargs: Any) -> None:
        with factory() as s, s.begin():  # bob acks while alice's DM is on its way
            incidents.acknowledge(s, incident, "user:bob@example.com", utcnow())
        slack.after_change(incident)
        queue.run(factory)  # that refresh finds no message to update yet
        record(*args, **kwargs)

    monkeypatch.setattr(store, "record_message", bob_acks_meanwhile)
    incident = open_incident(web, slack_cast)
    queue.run(factory)
    fake_slack.expect("conversations.open")
    post = fake_slack.expect("chat.postMessage")
    assert buttons(post.args)[0][0] == "ack"
    [(_, channel, ts)] = messages(factory, incident)
    update = fake_slack.expect("chat.update", channel=channel, ts=ts)
    assert f"Acknowledged by <@{BOB}>" in blocks_text(update.args)
    fake_slack.done()


def test_acknowledged_before_the_post_nothing_is_posted(
        web: Any, slack_cast: Cast, fake_slack: FakeSlack, queue: Queue, factory: Any,
        on_slack: None) -> None:
    from oncall import incidents
    from oncall.models import utcnow
    from oncall.paging import delivery, runs

    incident = open_incident(web, slack_cast)
    queue.take()
    result = runs.escalate_incident(factory, incident)
    assert result is not None
    with factory() as s, s.begin():
        outgoing = delivery.prepare_delivery(s, result.page_ids[0], utcnow())
    assert outgoing is not None
    with factory() as s, s.begin():  # acknowledged after the outbox's re-check
        incidents.acknowledge(s, incident, "user:bob@example.com", utcnow())
    delivery.send(outgoing)
    fake_slack.done()
    assert messages(factory, incident) == []
