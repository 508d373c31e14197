"""Incidents in a real Chromium at phone width: a responder with the list open sees an alert's
new incident appear without reloading, opens it, acknowledges it in one tap and the ladder
stops; a note goes on the timeline; hostile text stays text; no page scrolls sideways and axe
finds nothing serious on home, the list and an incident."""

from __future__ import annotations

import json
import urllib.request
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from oncall import db
from oncall.accounts import passwords
from oncall.models import Incident, IncidentEvent, Page, User, utcnow
from oncall.paging import runs, sweeper
from tests.browser.conftest import (
    PASSWORD,
    PHONE,
    Live,
    horizontal_overflow,
    serious_violations,
    shot,
    sign_in,
)
from tests.conftest import make_cast

XSS = "<img src=x onerror=alert(1)>"


def post_alert(live: Live, token: str, **fields: Any) -> int:
    """An alert through the real intake (the integration's webhook); the incident's id."""
    body = {"type": "charge_failure", "severity": "critical",
            "summary": "Charge failures for acme", **fields}
    request = urllib.request.Request(f"{live.url}/integrations/{token}",
                                     data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 202
        return int(json.loads(answer.read())["incidents"][0]["incident_id"])


def responders(live: Live, factory: Any) -> Any:
    cast = make_cast(factory)
    with db.session_scope(live.settings.database_url) as s:
        for user in s.scalars(select(User)):
            user.password_hash = passwords.hash_password(PASSWORD)
            user.timezone = "America/New_York"
    return cast


def test_a_responder_at_375px_sees_a_new_incident_appear_acks_it_and_the_ladder_stops(
        live: Live, context_for: Any, factory: Any) -> None:
    cast = responders(live, factory)
    page = context_for(PHONE).new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_in(page, live, "alice@example.com")
    page.goto(f"{live.url}/incidents")
    assert "No incident matches." in page.text_content("main")
    page.evaluate("() => { window.stillTheSamePage = true; }")

    incident_id = post_alert(live, cast.integration_token, summary=XSS,
                             labels={"merchant_id": XSS})
    runs.escalate_incident(factory, incident_id, now=utcnow())  # what the worker does
    link = page.locator(f'a[href="/incidents/{incident_id}"]')
    link.wait_for(timeout=6000)  # the 2 s poll brings it in
    assert page.evaluate("() => window.stillTheSamePage === true")  # no reload
    assert XSS in (link.text_content() or "")  # the summary as text, escaped
    assert horizontal_overflow(page) == 0
    assert serious_violations(page) == []
    shot(page, "incidents-list-phone")

    link.click()
    page.wait_for_url(f"{live.url}/incidents/{incident_id}")
    ack = page.get_by_role("button", name="Acknowledge")
    box = ack.bounding_box()
    assert box is not None and box["height"] >= 44 and box["y"] < 400  # big, near the top
    assert page.get_by_role("heading", level=1).text_content() == XSS
    assert horizontal_overflow(page) == 0
    assert serious_violations(page) == []
    shot(page, "incident-phone")
    ack.click()  # one tap
    page.wait_for_url(f"{live.url}/incidents/{incident_id}")
    assert "Acknowledged: nobody else will be paged." in page.text_content("main")
    assert page.get_by_role("button", name="Acknowledge").count() == 0

    with factory() as s:
        incident = s.get(Incident, incident_id)
        assert (incident.status, incident.acked_by) == ("acknowledged",
                                                        "user:alice@example.com")
    sweeper.sweep(factory, utcnow() + timedelta(hours=2))  # long after level 2 was due
    with factory() as s:
        pages = s.scalars(select(Page).where(Page.incident_id == incident_id)).all()
        assert {p.user_id for p in pages} == {cast.alice.id}  # bob was never paged
        assert not [p for p in pages if p.status in ("pending", "sending")]
        assert s.get(Incident, incident_id).level == 1

    page.get_by_label("Add a note").fill("Rolled back the deploy; watching")
    page.get_by_role("button", name="Add note").click()
    page.wait_for_url(f"{live.url}/incidents/{incident_id}#timeline")
    first = page.locator(".inc-timeline li").first
    assert "Note by Alice: Rolled back the deploy; watching" in (first.text_content() or "")
    with factory() as s:
        assert s.scalar(select(IncidentEvent.actor).where(IncidentEvent.kind == "note")) == \
            "user:alice@example.com"
    page.get_by_label("Add a note").fill("   ")  # blank: the server says so on the field
    page.get_by_role("button", name="Add note").click()
    page.wait_for_load_state()
    assert page.get_by_text("Write something first.").is_visible()
    shot(page, "incident-note-phone")
    assert dialogs == []
    assert [e for e in page.context.console_errors if "status of 400" not in e] == []


def test_home_list_and_incident_pass_axe_and_fit_375px(
        live: Live, context_for: Any, factory: Any) -> None:
    cast = responders(live, factory)
    first = post_alert(live, cast.integration_token, summary=XSS, dedup_key="a")
    post_alert(live, cast.integration_token, summary="Latency above SLO on checkout "
               "for every region at once, a long summary that has to wrap", dedup_key="b",
               severity="warning")
    runs.escalate_incident(factory, first, now=utcnow())
    page = context_for(PHONE).new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_in(page, live, "bob@example.com")
    assert page.url == f"{live.url}/"
    assert page.get_by_role("heading", name="Open incidents: 2").is_visible()
    for path, name in (("/", "home-phone"), ("/incidents?status=all", "incidents-all-phone"),
                       (f"/incidents/{first}", "incident-page-phone")):
        page.goto(f"{live.url}{path}")
        assert horizontal_overflow(page) == 0, path
        assert serious_violations(page) == [], path
        shot(page, name)
    viewer = context_for(PHONE).new_page()
    sign_in(viewer, live, "viewer@example.com")
    viewer.goto(f"{live.url}/incidents/{first}")
    assert viewer.locator("main button").count() == 0  # no action, no note form
    token = viewer.locator("meta[name=csrf-token], input[name=csrf_token]").first
    forged = viewer.request.post(f"{live.url}/incidents/{first}/ack",
                                 form={"csrf_token": token.input_value()})
    assert forged.status == 403
    with factory() as s:
        assert s.get(Incident, first).status == "triggered"
    assert dialogs == []
