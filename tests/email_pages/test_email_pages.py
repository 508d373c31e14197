"""Email pages end to end against a real SMTP server (aiosmtpd): an incident pages by email
through the sweeper's real delivery path, the message carries both parts and working signed
links, GET never acts, POST acknowledges and the ladder stops; reused, expired and
resolved links change nothing and say so; a refusing or absent server is retried or falls
back, recorded in ``pages``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from oncall import incidents
from oncall.channels import preferences
from oncall.channels.email import links
from oncall.models import ContactMethod, Incident, IncidentEvent, Page
from tests.conftest import Cast, pages_for
from tests.email_pages.conftest import FROM, PUBLIC, Pager, SmtpServer, parts, tokens


def email_pages(factory: Any, incident_id: int) -> list[Page]:
    return [p for p in pages_for(factory, incident_id) if p.channel == "email"]


def status(factory: Any, incident_id: int) -> Incident:
    with factory() as s:
        found = s.get(Incident, incident_id)
        assert found is not None
        return found


def timeline(factory: Any, incident_id: int) -> list[IncidentEvent]:
    with factory() as s:
        return list(s.scalars(select(IncidentEvent).where(IncidentEvent.incident_id ==
                                                          incident_id)
                              .order_by(IncidentEvent.id)))


def test_a_page_arrives_with_both_parts_and_its_links_acknowledge_and_stop_the_ladder(
        web: Any, factory: Any, cast: Cast, pager: Pager, smtp: SmtpServer) -> None:
    incident = pager.trigger(summary="Charge failures for acme",
                             labels={"merchant_id": "acme", "region": "eu-west-1"})
    pager.tick()
    [page] = email_pages(factory, incident)
    assert (page.status, page.level, page.attempts) == ("sent", 1, 1)
    [msg] = smtp.mailbox.wait(1)
    assert msg["X-Envelope-To"] == "alice@example.com"
    assert msg["To"] == "Alice <alice@example.com>" and msg["From"] == FROM
    assert msg["Subject"] == f"[CRITICAL] #{incident} billing-api: Charge failures for acme"
    assert page.provider_id == msg["Message-ID"]  # what the outbox recorded is what went out
    assert msg["Auto-Submitted"] == "auto-generated"
    text, html = parts(msg)
    for part in (text, html):
        assert "Charge failures for acme" in part and "billing-api" in part
        assert "merchant_id" in part and "eu-west-1" in part
        assert f"{PUBLIC}/incidents/{incident}" in part
        assert f"{PUBLIC}/email/" in part
    assert "Acknowledge" in html and "Resolve" in html
    token = tokens(msg)

    # A mail scanner (or the person) opens the link: a page with one button, nothing done.
    for _ in range(3):
        r = web.get(f"/email/{token['ack']}")
        assert r.status_code == 200
        assert f"Acknowledge incident #{incident}" in r.text and 'method="post"' in r.text
    assert status(factory, incident).status == "triggered"
    assert "default-src 'none'" in r.headers["Content-Security-Policy"]
    assert r.headers["Referrer-Policy"] == "no-referrer"  # the token never leaves in a Referer

    # The button: no session, no CSRF cookie, the token is the capability.
    r = web.post(f"/email/{token['ack']}")
    assert r.status_code == 200, r.text
    assert "Acknowledged by alice@example.com via email" in r.text
    found = status(factory, incident)
    assert (found.status, found.acked_by) == ("acknowledged", "user:alice@example.com")
    acked = [e for e in timeline(factory, incident) if e.kind == "acknowledged"]
    assert [(e.actor, e.detail) for e in acked] == [("user:alice@example.com",
                                                     {"via": "email"})]

    # The escalation stopped: well past level 2's time, bob is paged on nothing.
    pager.tick(900)
    assert {p.level for p in pages_for(factory, incident)} == {1}
    assert len(smtp.mailbox.messages) == 1

    # The same link again changes nothing and says when it was used.
    r = web.post(f"/email/{token['ack']}")
    assert r.status_code == 410 and "already used" in r.text
    assert web.get(f"/email/{token['ack']}").status_code == 410

    # The resolve link of the same email still works (another link, another action).
    r = web.post(f"/email/{token['resolve']}")
    assert r.status_code == 200 and "Resolved by alice@example.com via email" in r.text
    found = status(factory, incident)
    assert (found.status, found.resolved_by) == ("resolved", "user:alice@example.com")


def test_a_reused_link_changes_nothing_even_after_the_incident_triggers_again(
        web: Any, factory: Any, cast: Cast, pager: Pager, smtp: SmtpServer) -> None:
    incident = pager.trigger()
    pager.tick()
    token = tokens(smtp.mailbox.wait(1)[0])
    assert web.post(f"/email/{token['ack']}").status_code == 200
    # Escalated again by someone (triggered, acknowledgement dropped): the old link is spent.
    from oncall import actions

    with factory() as s, s.begin():
        actions.escalate_now(s, incident, "user:bob@example.com", pager.now)
    assert status(factory, incident).status == "triggered"
    r = web.post(f"/email/{token['ack']}")
    assert r.status_code == 410 and "This link was already used" in r.text
    assert status(factory, incident).status == "triggered"


def test_a_link_for_a_resolved_incident_says_who_resolved_it(
        web: Any, factory: Any, cast: Cast, pager: Pager, smtp: SmtpServer) -> None:
    incident = pager.trigger()
    pager.tick()
    token = tokens(smtp.mailbox.wait(1)[0])
    with factory() as s, s.begin():
        incidents.resolve(s, incident, "user:bob@example.com", pager.now)
    for r in (web.get(f"/email/{token['ack']}"), web.post(f"/email/{token['ack']}"),
              web.post(f"/email/{token['resolve']}")):
        assert "already resolved by bob@example.com" in r.text, r.text
        assert "button" not in r.text.split("<main", 1)[1]
    assert status(factory, incident).resolved_by == "user:bob@example.com"
    assert not [e for e in timeline(factory, incident)
                if e.detail and e.detail.get("via") == "email"]


def test_an_acknowledged_incident_says_who_acknowledged_it(
        web: Any, factory: Any, cast: Cast, pager: Pager, smtp: SmtpServer) -> None:
    incident = pager.trigger()
    pager.tick()
    token = tokens(smtp.mailbox.wait(1)[0])
    with factory() as s, s.begin():
        incidents.acknowledge(s, incident, "user:bob@example.com", pager.now)
    r = web.post(f"/email/{token['ack']}")
    assert r.status_code == 409 and "already acknowledged by bob@example.com" in r.text
    assert status(factory, incident).acked_by == "user:bob@example.com"


def test_an_expired_link_is_refused(web: Any, factory: Any, cast: Cast, pager: Pager,
                                    smtp: SmtpServer, email_settings: Any) -> None:
    incident = pager.trigger()
    old = links.make(email_settings.secret_key, user_id=cast.alice.id, incident_id=incident,
                     page_id=1, action="ack", now=pager.now - timedelta(hours=25),
                     lifetime=timedelta(hours=24))
    for r in (web.get(f"/email/{old}"), web.post(f"/email/{old}")):
        assert r.status_code == 410 and "This link expired" in r.text
    assert status(factory, incident).status == "triggered"


def test_forged_and_garbled_links_are_404_pages_never_500(
        web: Any, factory: Any, cast: Cast, pager: Pager, email_settings: Any) -> None:
    incident = pager.trigger()
    good = links.make(email_settings.secret_key, user_id=cast.alice.id, incident_id=incident,
                      page_id=1, action="ack", now=pager.now, lifetime=timedelta(hours=1))
    forged = links.make("another installation's key", user_id=cast.alice.id,
                        incident_id=incident, page_id=1, action="ack", now=pager.now,
                        lifetime=timedelta(hours=1))
    payload, _, _sig = good.rpartition(".")
    for bad in (forged, good[:-3], payload + ".AAAA", "x", "a/b/c", "%00", "..",
                "é" * 20, good + "x" * 2000):
        for r in (web.get(f"/email/{bad}"), web.post(f"/email/{bad}")):
            assert r.status_code in (400, 404), (bad, r.status_code)
            assert "text/html" in r.content_type
    assert status(factory, incident).status == "triggered"
    gone = links.make(email_settings.secret_key, user_id=cast.alice.id, incident_id=999999,
                      page_id=1, action="ack", now=pager.now, lifetime=timedelta(hours=1))
    assert web.get(f"/email/{gone}").status_code == 404
    assert web.get("/email/").status_code in (404, 405)


def test_a_viewer_paged_by_email_is_told_they_may_not_acknowledge(
        web: Any, factory: Any, cast: Cast, pager: Pager, email_settings: Any) -> None:
    incident = pager.trigger()
    token = links.make(email_settings.secret_key, user_id=cast.viewer.id,
                       incident_id=incident, page_id=1, action="ack", now=pager.now,
                       lifetime=timedelta(hours=1))
    r = web.post(f"/email/{token}")
    assert r.status_code == 403 and "not allowed to acknowledge" in r.text
    assert status(factory, incident).status == "triggered"


def test_a_hostile_summary_is_escaped_in_the_html_part(
        web: Any, factory: Any, cast: Cast, pager: Pager, smtp: SmtpServer) -> None:
    hostile = "<img src=x onerror=alert(1)>"
    incident = pager.trigger(summary=hostile, labels={"<b>k</b>": "<script>x</script>"})
    pager.tick()
    [msg] = smtp.mailbox.wait(1)
    text, html = parts(msg)
    assert hostile in text  # plain text is plain
    assert "<img" not in html and "<script>" not in html and "<b>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    r = web.get(f"/email/{tokens(msg)['ack']}")
    assert "<img src=x" not in r.text and "&lt;img src=x onerror=alert(1)&gt;" in r.text
    assert msg["Subject"].endswith(hostile)  # a header: shown as text by every client
    assert status(factory, incident).status == "triggered"


def test_a_newline_in_the_summary_cannot_add_a_header(
        factory: Any, cast: Cast, pager: Pager, smtp: SmtpServer) -> None:
    pager.trigger(summary="disk full\r\nBcc: everyone@example.com")
    pager.tick()
    [msg] = smtp.mailbox.wait(1)
    assert msg["Bcc"] is None and msg["X-Envelope-To"] == "alice@example.com"
    assert "\n" not in msg["Subject"] and "disk full Bcc:" in msg["Subject"]


def test_an_smtp_server_that_is_down_is_retried_and_nothing_is_lost(
        web: Any, factory: Any, cast: Cast, pager: Pager, smtp: SmtpServer) -> None:
    smtp.stop()
    incident = pager.trigger()
    pager.tick()
    [page] = email_pages(factory, incident)
    assert (page.status, page.attempts) == ("pending", 1)
    assert "unreachable" in (page.error or "")
    assert page.next_attempt_at > pager.now
    assert [e.kind for e in timeline(factory, incident)].count("page_retry") >= 1
    smtp.start()  # back on the same port
    pager.tick(10)
    [page] = email_pages(factory, incident)
    assert (page.status, page.attempts) == ("sent", 2)
    assert len(smtp.mailbox.wait(1)) == 1


def test_a_temporary_refusal_is_retried(factory: Any, cast: Cast, pager: Pager,
                                        smtp: SmtpServer) -> None:
    smtp.mailbox.refuse["alice@example.com"] = "451 4.3.0 try again later"
    incident = pager.trigger()
    pager.tick()
    [page] = email_pages(factory, incident)
    assert page.status == "pending" and "451" in (page.error or "")
    del smtp.mailbox.refuse["alice@example.com"]
    pager.tick(10)
    assert email_pages(factory, incident)[0].status == "sent"


def test_a_refused_address_is_disabled_and_the_next_channel_is_paged(
        factory: Any, cast: Cast, pager: Pager, smtp: SmtpServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Alice's rules: email; her next channel is the console (standing in for SMS), which is
    # not paged alongside (as in production, where it pages nobody).
    from oncall.channels import registry

    real = registry.channels_for
    monkeypatch.setattr(registry, "console_pages", lambda: False)
    monkeypatch.setattr(registry, "channels_for", lambda user: [*real(user), "console"])
    with factory() as s, s.begin():
        preferences.replace(s, cast.alice.id, {"default": [preferences.Rule("email")]})
    smtp.mailbox.refuse["alice@example.com"] = "550 5.1.1 no such mailbox"
    incident = pager.trigger()
    pager.tick()
    pages = pages_for(factory, incident)
    email = [p for p in pages if p.channel == "email"]
    assert [(p.status, p.attempts) for p in email] == [("failed", 1)]
    assert "550" in (email[0].error or "")
    assert [(p.channel, p.status, p.level) for p in pages if p.channel == "console"] == \
        [("console", "sent", 1)]
    kinds = [e.kind for e in timeline(factory, incident)]
    assert "page_failed" in kinds and "contact_disabled" in kinds and "fallback" in kinds
    with factory() as s:
        row = s.scalar(select(ContactMethod).where(ContactMethod.user_id == cast.alice.id))
        assert row is not None and (row.channel, row.address) == ("email", "alice@example.com")
    assert smtp.mailbox.messages == []


def test_each_attempt_carries_the_same_message_id(factory: Any, cast: Cast, pager: Pager,
                                                  smtp: SmtpServer) -> None:
    smtp.mailbox.data_reply = "451 4.3.0 not now"
    incident = pager.trigger()
    pager.tick()
    smtp.mailbox.data_reply = None
    pager.tick(10)
    [page] = email_pages(factory, incident)
    [msg] = smtp.mailbox.wait(1)
    assert page.status == "sent" and page.attempts == 2
    assert msg["Message-ID"] == page.provider_id
    assert f"page{page.id}." in msg["Message-ID"]


def test_a_name_with_a_comma_is_one_recipient(factory: Any, cast: Cast, pager: Pager,
                                              smtp: SmtpServer) -> None:
    from sqlalchemy import update

    from oncall.models import User

    with factory() as s, s.begin():
        s.execute(update(User).where(User.id == cast.alice.id).values(name="Moreau, Alice"))
    pager.trigger()
    pager.tick()
    [msg] = smtp.mailbox.wait(1)
    assert [a.addr_spec for a in msg["To"].addresses] == ["alice@example.com"]
    assert msg["To"].addresses[0].display_name == "Moreau, Alice"


def test_a_shift_start_notice_goes_out_by_email(email_app: Any, smtp: SmtpServer) -> None:
    from oncall.channels import OutgoingPage, Recipient, registry

    text = "You are on call for billing-primary from Mon 07 Dec 09:00 until Mon 14 Dec 09:00."
    receipt = registry.channel("email").send(OutgoingPage(
        page_id=5, incident_id=None, channel="email",
        recipient=Recipient("alice@example.com", "Alice"), severity="info", summary=text,
        service="billing-primary", level=0, text=text, kind="notice"))
    [msg] = smtp.mailbox.wait(1)
    assert msg["Subject"] == f"[oncall] {text}" and receipt.provider_id == msg["Message-ID"]
    assert text in parts_plain(msg)


def parts_plain(msg: Any) -> str:
    body = msg.get_body(preferencelist=("plain",))
    return str(body.get_content())


def test_two_clicks_racing_act_once(web: Any, factory: Any, cast: Cast, pager: Pager,
                                    smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The second request read the link as unused (its check ran before the first one's
    commit): its use is refused by the unique key, it is rolled back, and it says so."""
    pager.trigger()
    pager.tick()
    token = tokens(smtp.mailbox.wait(1)[0])["resolve"]
    assert web.post(f"/email/{token}").status_code == 200
    real = links.check
    stale = iter([True])

    def check_before_the_other_commit(session: Any, claim: Any, now: Any) -> Any:
        if next(stale, False):  # the first check of this request: as it was a moment ago
            verdict = real(session, claim, now)
            return links.Verdict("confirm", 200, claim, verdict.incident, verdict.user)
        return real(session, claim, now)

    monkeypatch.setattr(links, "check", check_before_the_other_commit)
    r = web.post(f"/email/{token}")
    assert r.status_code == 410 and "already used" in r.text
    with factory() as s:
        assert [e.kind for e in s.scalars(select(IncidentEvent).where(
            IncidentEvent.kind == "resolved"))] == ["resolved"]


def test_an_expired_link_to_a_resolved_incident_says_who_resolved_it(
        web: Any, factory: Any, cast: Cast, pager: Pager, email_settings: Any) -> None:
    incident = pager.trigger()
    old = links.make(email_settings.secret_key, user_id=cast.alice.id, incident_id=incident,
                     page_id=1, action="ack", now=pager.now - timedelta(hours=30),
                     lifetime=timedelta(hours=24))
    with factory() as s, s.begin():
        incidents.resolve(s, incident, "user:bob@example.com", pager.now)
    r = web.get(f"/email/{old}")
    assert "already resolved by bob@example.com" in r.text
