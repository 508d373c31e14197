"""What Slack's failures mean for a page: permanent, transient, rate limits, no Slack."""

from __future__ import annotations

import pytest

from oncall.channels import DeliveryError, OutgoingPage, Recipient
from oncall.channels.slack.api import make_client
from oncall.channels.slack.channel import SlackChannel
from tests.slack_fake import TOKEN, FakeSlack, Reply, free_port_url


def post(fake_slack_url: str) -> None:
    make_client(TOKEN, fake_slack_url).chat_postMessage(channel="#x", text="hi")


def channel_for(base_url: str) -> SlackChannel:
    def no_database() -> object:
        raise AssertionError("a notice must not touch the database")

    return SlackChannel(lambda: make_client(TOKEN, base_url), no_database)  # type: ignore[arg-type]


def notice(recipient: Recipient) -> OutgoingPage:
    return OutgoingPage(page_id=1, incident_id=None, channel="slack", recipient=recipient,
                        severity="info", summary="s", service="billing-primary", level=0,
                        text="You are on call for billing-primary", kind="notice")


def send_error(ch: SlackChannel, recipient: Recipient) -> DeliveryError:
    with pytest.raises(DeliveryError) as caught:
        ch.send(notice(recipient))
    return caught.value


ALICE = Recipient("alice@example.com", "Alice", slack_id="U0ALICE01")


@pytest.mark.parametrize("code", ["channel_not_found", "not_in_channel", "user_not_found",
                                  "account_inactive", "invalid_auth", "is_archived",
                                  "cannot_dm_bot", "missing_scope"])
def test_these_errors_are_permanent(fake_slack: FakeSlack, code: str) -> None:
    fake_slack.error("conversations.open", code)
    error = send_error(channel_for(fake_slack.base_url), ALICE)
    assert error.permanent and code in str(error)


@pytest.mark.parametrize("code", ["internal_error", "fatal_error", "service_unavailable",
                                  "request_timeout", "something_new"])
def test_these_errors_are_transient(fake_slack: FakeSlack, code: str) -> None:
    fake_slack.error("chat.postMessage", code)
    error = send_error(channel_for(fake_slack.base_url), ALICE)
    assert not error.permanent and code in str(error)


def test_a_5xx_without_a_slack_body_is_transient(fake_slack: FakeSlack) -> None:
    fake_slack.script("chat.postMessage", Reply("<html>bad gateway</html>", status=502))
    assert not send_error(channel_for(fake_slack.base_url), ALICE).permanent


def test_slack_unreachable_is_transient() -> None:
    error = send_error(channel_for(free_port_url()), ALICE)
    assert not error.permanent


def test_a_short_retry_after_is_waited_out_and_retried(fake_slack: FakeSlack) -> None:
    fake_slack.error("chat.postMessage", "ratelimited", status=429, retry_after=0)
    fake_slack.error("chat.postMessage", "ratelimited", status=429, retry_after=0)
    receipt = channel_for(fake_slack.base_url).send(notice(ALICE))
    fake_slack.expect("conversations.open")
    for _ in range(3):
        fake_slack.expect("chat.postMessage", channel="D0ALICE01")
    fake_slack.done()
    assert receipt.detail == "D0ALICE01"


def test_a_long_retry_after_is_handed_back_with_the_wait(fake_slack: FakeSlack) -> None:
    fake_slack.error("chat.postMessage", "ratelimited", status=429, retry_after=120)
    error = send_error(channel_for(fake_slack.base_url), ALICE)
    assert not error.permanent
    assert getattr(error, "retry_after", None) == 120
    fake_slack.expect("conversations.open")
    fake_slack.expect("chat.postMessage")  # not retried: the worker must not sleep 2 minutes
    fake_slack.done()


def test_a_notice_is_a_plain_dm(fake_slack: FakeSlack) -> None:
    channel_for(fake_slack.base_url).send(notice(ALICE))
    fake_slack.expect("conversations.open", users="U0ALICE01")
    call = fake_slack.expect("chat.postMessage", channel="D0ALICE01",
                             text="You are on call for billing-primary")
    assert "actions" not in str(call.args["blocks"])
    fake_slack.done()


def test_it_reaches_people_with_a_slack_id_or_an_email_and_channels() -> None:
    ch = channel_for("http://127.0.0.1:9/")
    assert ch.reaches(ALICE)
    assert ch.reaches(Recipient("bob@example.com", "Bob"))
    assert ch.reaches(Recipient(None, "slack:#billing"))
    assert not ch.reaches(Recipient(None, "Nobody"))


def test_a_private_answer_goes_to_the_response_url(fake_slack: FakeSlack) -> None:
    from oncall.channels.slack import respond

    assert respond.ephemeral(fake_slack.response_url("a"), "hello") is None
    call = fake_slack.expect("response_url", text="hello", response_type="ephemeral")
    assert call.args["replace_original"] is False
    fake_slack.done()


@pytest.mark.parametrize(("status", "permanent"), [(404, True), (410, True), (429, False),
                                                   (500, False)])
def test_a_refused_private_answer_is_classified(fake_slack: FakeSlack, status: int,
                                                permanent: bool) -> None:
    from oncall.channels.slack import respond

    fake_slack.script("response_url", Reply("expired_url", status=status))
    error = respond.ephemeral(fake_slack.response_url("a"), "hello")
    assert error is not None and error.permanent is permanent


def test_retries_back_off_and_honour_retry_after_within_a_minute() -> None:
    from oncall.channels.slack import respond

    plain = DeliveryError("x", permanent=False)
    assert [respond.backoff(n, plain) for n in (0, 3, 10)] == [1.0, 8.0, 60.0]
    limited = DeliveryError("x", permanent=False)
    limited.retry_after = 30.0  # type: ignore[attr-defined]
    assert respond.backoff(0, limited) == 30.0
    limited.retry_after = 600.0  # type: ignore[attr-defined]
    assert respond.backoff(0, limited) == 60.0
