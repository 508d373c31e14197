"""The schedule page without a browser: the timeline, the override form prefilled from a
shift, overrides and swaps through the domain's role rules, bad input, deleting."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from oncall.models import Override, Schedule, utcnow
from oncall.schedules import layer_edits, service
from oncall.schedules.store import who_is_on_call
from tests.test_console import add_user, csrf, sign_in

START = (utcnow() - timedelta(days=3)).date()


@pytest.fixture
def billing(session: Any) -> Schedule:
    """billing: ann then bob, daily at 09:00 New York; cat (a responder in no layer),
    max (a manager) and vic (a viewer) look at it."""
    for email, role in (("ann@example.com", "responder"), ("bob@example.com", "responder"),
                        ("cat@example.com", "responder"), ("max@example.com", "manager"),
                        ("vic@example.com", "viewer")):
        add_user(session, email, role)
    made = service.create_schedule(session, "test", {
        "name": "billing", "timezone": "America/New_York",
        "layers": [{"name": "daily", "rotation": "daily", "handoff": "09:00",
                    "start": START.isoformat(),
                    "members": ["ann@example.com", "bob@example.com"]}]})
    session.commit()
    return made


def tomorrow_noon() -> datetime:
    """Inside tomorrow's 09:00-09:00 New York shift, as UTC."""
    day = (utcnow() + timedelta(days=1)).date()
    return datetime(day.year, day.month, day.day, 17, 0, tzinfo=UTC)


def page(client: Any, path: str) -> str:
    r = client.get(path)
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_data(as_text=True)


def test_the_page_draws_each_layer_the_overrides_and_the_final_row(
        client: Any, billing: Schedule) -> None:
    sign_in(client, "vic@example.com")
    assert f'href="/schedules/{billing.id}"' in page(client, "/schedules")
    html = page(client, f"/schedules/{billing.id}")
    assert "Layer: daily" in html and "Overrides" in html and "Final schedule" in html
    widths = [float(w) for w in re.findall(r'<svg x="[\d.]+%" y="2" width="([\d.]+)%"', html)]
    assert widths and all(0 < w <= 100 for w in widths)
    assert "style=" not in html  # the CSP forbids inline styles: SVG attributes place bars
    assert "ann" in html and "bob" in html
    weeks = page(client, f"/schedules/{billing.id}?weeks=8&start=2026-01-05")
    assert "Mon 5 Jan 00:00 \N{EN DASH} Mon 2 Mar 00:00" in weeks
    capped = page(client, f"/schedules/{billing.id}?weeks=99")
    assert capped.count('<option value="8" selected') == 1


def test_a_viewer_sees_no_edit_control_and_forged_posts_are_refused(
        client: Any, session: Any, billing: Schedule) -> None:
    sign_in(client, "vic@example.com")
    html = page(client, f"/schedules/{billing.id}")
    assert "/override" not in html and "Delete" not in html and 'class="shift" href' not in html
    token = csrf(client, "/account")
    at = tomorrow_noon()
    assert client.get(f"/schedules/{billing.id}/override?at={at.isoformat()}").status_code == 403
    forged = {"csrf_token": token, "user": "vic@example.com", "zone": "UTC",
              "start": "2030-01-01T00:00", "end": "2030-01-02T00:00"}
    assert client.post(f"/schedules/{billing.id}/override", data=forged).status_code == 403
    assert session.scalar(select(func.count()).select_from(Override)) == 0


def test_a_manager_clicks_a_shift_and_puts_someone_else_on_call(
        client: Any, session: Any, billing: Schedule) -> None:
    sign_in(client, "max@example.com")
    html = page(client, f"/schedules/{billing.id}?tz=schedule")
    links = re.findall(r'<a class="shift" href="([^"]+)"', html)
    assert links  # each final shift is a link to its override form
    at = tomorrow_noon()
    form = page(client, f"/schedules/{billing.id}/override?at={at.isoformat()}&tz=schedule")
    day = at.date()
    # snapped to the whole shift, 09:00 to 09:00 in the schedule's zone
    assert f'value="{day.isoformat()}T09:00"' in form
    assert f'value="{(day + timedelta(days=1)).isoformat()}T09:00"' in form
    assert 'value="America/New_York"' in form
    holder = who_is_on_call(session, "billing", at)
    r = client.post(f"/schedules/{billing.id}/override?at={at.isoformat()}&tz=schedule", data={
        "csrf_token": csrf(client, f"/schedules/{billing.id}"), "user": "cat@example.com",
        "zone": "America/New_York", "start": f"{day.isoformat()}T09:00",
        "end": f"{(day + timedelta(days=1)).isoformat()}T09:00", "note": "covering"})
    assert r.status_code == 302, r.get_data(as_text=True)
    session.expire_all()
    assert holder != "cat@example.com"
    assert who_is_on_call(session, "billing", at) == "cat@example.com"
    made = session.scalar(select(Override))
    assert made.created_by == "user:max@example.com" and made.note == "covering"
    assert made.end - made.start == timedelta(days=1)
    shown = page(client, r.headers["Location"])
    assert "Override saved: cat is on call" in shown and "covering" in shown


def test_bad_input_re_renders_the_form_with_the_fields_error_and_saves_nothing(
        client: Any, session: Any, billing: Schedule) -> None:
    sign_in(client, "max@example.com")
    token = csrf(client, f"/schedules/{billing.id}")
    path = f"/schedules/{billing.id}/override?at={tomorrow_noon().isoformat()}"
    base = {"csrf_token": token, "user": "cat@example.com", "zone": "UTC",
            "start": "2030-01-02T09:00", "end": "2030-01-01T09:00"}
    for change, status, message in (
            ({}, 400, "must be after start"),
            ({"start": "tomorrow"}, 400, "Not a valid datetime value"),
            ({"user": "nobody@example.com"}, 400, "Not a valid choice"),
            ({"zone": "Mars/Olympus"}, 400, "unknown timezone"),
            ({"end": "2031-06-01T09:00"}, 400, "at most 366 days")):
        r = client.post(path, data={**base, **change})
        html = r.get_data(as_text=True)
        assert r.status_code == status, (change, html)
        assert message in html and 'aria-invalid="true"' in html, change
    assert session.scalar(select(func.count()).select_from(Override)) == 0


def test_a_responder_overrides_only_themselves_and_only_where_they_are_a_member(
        client: Any, session: Any, billing: Schedule) -> None:
    sign_in(client, "ann@example.com")
    at = tomorrow_noon()
    form = page(client, f"/schedules/{billing.id}/override?at={at.isoformat()}")
    mine = re.search(r'<select[^>]*id="user"[^>]*>(.*?)</select>', form, re.S)
    assert mine and re.findall(r'value="([^"]+)"', mine.group(1)) == ["ann@example.com"]
    token = csrf(client, f"/schedules/{billing.id}")
    data = {"csrf_token": token, "zone": "UTC", "start": at.strftime("%Y-%m-%dT%H:%M"),
            "end": (at + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")}
    other = client.post(f"/schedules/{billing.id}/override", data={**data,
                                                                  "user": "bob@example.com"})
    assert other.status_code == 400 and "Not a valid choice" in other.get_data(as_text=True)
    long = client.post(f"/schedules/{billing.id}/override", data={
        **data, "user": "ann@example.com",
        "end": (at + timedelta(days=15)).strftime("%Y-%m-%dT%H:%M")})
    assert long.status_code == 400 and "at most 14 days" in long.get_data(as_text=True)
    assert client.post(f"/schedules/{billing.id}/override",
                       data={**data, "user": "ann@example.com"}).status_code == 302
    session.expire_all()
    assert who_is_on_call(session, "billing", at + timedelta(hours=1)) == "ann@example.com"

    client = client.application.test_client()
    sign_in(client, "cat@example.com")  # a responder in no layer: no controls, and refused
    assert "/override" not in page(client, f"/schedules/{billing.id}")
    assert client.get(f"/schedules/{billing.id}/override").status_code == 403
    refused = client.post(f"/schedules/{billing.id}/override", data={
        **data, "csrf_token": csrf(client, "/account"), "user": "cat@example.com"})
    assert refused.status_code == 403
    assert session.scalar(select(func.count()).select_from(Override)) == 1


def test_swapping_a_shift_hands_the_whole_layer_shift_over(
        client: Any, session: Any, billing: Schedule) -> None:
    sign_in(client, "max@example.com")
    at = tomorrow_noon()
    form = page(client, f"/schedules/{billing.id}/override?at={at.isoformat()}")
    assert "Or swap the daily shift" in form
    r = client.post(f"/schedules/{billing.id}/swap", data={
        "swap-csrf_token": csrf(client, "/account"), "swap-layer": "daily",
        "swap-at": at.isoformat(), "swap-to": "cat@example.com"})
    assert r.status_code == 302, r.get_data(as_text=True)
    made = session.scalar(select(Override))
    assert made.kind == "swap" and made.end - made.start == timedelta(days=1)
    assert who_is_on_call(session, "billing", at) == "cat@example.com"


def test_an_override_is_deleted_by_its_creator_or_a_manager_only(
        client: Any, session: Any, billing: Schedule) -> None:
    ann = session.scalar(select(service.User).where(service.User.email == "ann@example.com"))
    at = tomorrow_noon()
    made = service.add_override(session, "user:ann@example.com", billing, ann, at,
                                at + timedelta(hours=1), by=ann, now=utcnow())
    session.commit()
    path = f"/schedules/{billing.id}/overrides/{made.id}/delete"
    sign_in(client, "bob@example.com")  # a member, not its creator
    html = page(client, f"/schedules/{billing.id}?start={at.date().isoformat()}")
    assert path not in html
    assert client.post(path, data={"csrf_token": csrf(client, "/account")}).status_code == 403
    client = client.application.test_client()
    sign_in(client, "ann@example.com")
    html = page(client, f"/schedules/{billing.id}?start={at.date().isoformat()}")
    assert path in html
    r = client.post(path, data={"csrf_token": csrf(client, "/account"),
                                "back": "//evil.example/"})
    assert r.status_code == 302 and r.headers["Location"] == f"/schedules/{billing.id}"
    assert session.scalar(select(func.count()).select_from(Override)) == 0


def test_gaps_are_red_on_the_final_row_and_file_managed_schedules_say_so(
        client: Any, session: Any, billing: Schedule) -> None:
    billing.managed_by = "schedules/billing.yaml"
    billing.layers[0].restrictions = [{"days": ["Sat", "Sun"], "from": "00:00", "to": "24:00"}]
    session.commit()
    sign_in(client, "max@example.com")
    html = page(client, f"/schedules/{billing.id}?weeks=1")
    assert "Managed by the file <code>schedules/billing.yaml</code>" in html
    assert "(read-only)" in html
    assert 'class="bar gap"' in html and "Gap: nobody on call" in html
    assert "/override?at=" in html  # overrides are still taken


def test_times_are_in_the_viewers_zone_with_a_toggle_to_the_schedules(
        client: Any, session: Any, billing: Schedule) -> None:
    add_user(session, "tom@example.com", "viewer").timezone = "Europe/Berlin"
    session.commit()
    sign_in(client, "tom@example.com")
    mine = page(client, f"/schedules/{billing.id}?start=2026-12-07")
    assert "Times in <strong>Europe/Berlin</strong> (yours)" in mine
    assert "Mon 7 Dec 15:00" in mine and "CET" in mine  # the 09:00 New York handoff
    toggle = re.search(r'<a href="([^"]+tz=schedule)">Show in the schedule', mine)
    assert toggle
    theirs = page(client, toggle.group(1).replace("&amp;", "&"))
    assert "Times in <strong>America/New_York</strong> (the schedule's)" in theirs
    assert "Mon 7 Dec 09:00" in theirs and "Mon 7 Dec 15:00" not in theirs


def test_a_responder_gives_their_own_layer_shift_to_another_member_but_not_someone_elses(
        client: Any, session: Any, billing: Schedule) -> None:
    at = tomorrow_noon()
    holder = who_is_on_call(session, "billing", at)
    other = "bob@example.com" if holder == "ann@example.com" else "ann@example.com"
    sign_in(client, other)  # not holding tomorrow's shift, and not taking it
    r = client.post(f"/schedules/{billing.id}/swap", data={
        "swap-csrf_token": csrf(client, "/account"), "swap-layer": "daily",
        "swap-at": at.isoformat(), "swap-to": "cat@example.com"})
    assert r.status_code == 400 and "Not a valid choice" in r.get_data(as_text=True)
    r = client.post(f"/schedules/{billing.id}/swap", data={
        "swap-csrf_token": csrf(client, "/account"), "swap-layer": "daily",
        "swap-at": (at + timedelta(days=1)).isoformat(), "swap-to": holder})
    assert r.status_code == 302  # their own next shift, to the other member
    session.expire_all()
    assert who_is_on_call(session, "billing", at + timedelta(days=1)) == holder


def test_the_layer_row_shows_a_roster_change_from_when_it_takes_effect(
        session: Any, billing: Schedule) -> None:
    from oncall.schedules.timeline import timeline

    now = utcnow()
    start, end = now - timedelta(days=2), now + timedelta(days=6)
    when = now + timedelta(days=2)
    before = timeline(session, billing, start, when)
    layer_edits.update_layer(session, "test", billing.layers[0],
                         {"members": ["cat@example.com"]}, effective=when, now=now)
    session.commit()
    after = timeline(session, billing, start, end)
    assert [x.name for x in after.layers] == ["daily"]
    assert before.layers[0].shifts  # shifts before the change are unchanged
    assert timeline(session, billing, start, when).layers[0].shifts == before.layers[0].shifts
    assert {s.user for s in after.final.shifts if s.start >= when} == {"cat@example.com"}
    assert after.gaps == [] and after.overrides.shifts == []


@pytest.mark.parametrize("query", ["start=0001-01-01", "start=9999-12-31&weeks=8",
                                   "start=nope&weeks=-3", "weeks=1e9", "tz=<script>"])
def test_odd_ranges_fall_back_instead_of_failing(
        client: Any, billing: Schedule, query: str) -> None:
    sign_in(client, "max@example.com")
    assert "Final schedule" in page(client, f"/schedules/{billing.id}?{query}")


@pytest.mark.parametrize("at", ["0001-01-01T00:00:00+00:00", "9999-12-31T00:00:00Z",
                                "yesterday", "2026-12-01T00:00:00"])
def test_an_odd_shift_time_opens_the_form_for_now(
        client: Any, billing: Schedule, at: str) -> None:
    sign_in(client, "max@example.com")
    assert "Create override" in page(client, f"/schedules/{billing.id}/override?at={at}")
    assert client.get("/schedules/999").status_code == 404


def test_a_schedule_that_cannot_be_computed_says_why(
        client: Any, session: Any, billing: Schedule) -> None:
    billing.layers[0].spec = {"rotation": "fortnightly-ish", "start": "2026-01-01"}
    session.commit()
    sign_in(client, "max@example.com")
    r = client.get(f"/schedules/{billing.id}")
    assert r.status_code == 200 and "cannot be computed" in r.get_data(as_text=True)


def test_the_shift_under_way_is_overridden_from_now_not_from_its_start(
        client: Any, billing: Schedule) -> None:
    """Prefilling a shift that began yesterday at 09:00 would rewrite who was on call then."""
    sign_in(client, "max@example.com")
    now = utcnow()
    form = page(client, f"/schedules/{billing.id}/override?at={now.isoformat()}"
                        "&tz=schedule")
    start = re.search(r'id="start"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*id="start"', form)
    assert start
    local = datetime.fromisoformat(start.group(1) or start.group(2))
    prefilled = local.replace(tzinfo=ZoneInfo("America/New_York"))
    assert now - timedelta(minutes=1) <= prefilled <= now + timedelta(minutes=2)
    assert "This shift has begun" in form
