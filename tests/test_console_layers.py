"""Layer editing in the console without a browser: each change is previewed (the shift diff)
before it can be saved, takes effect from the chosen time (past shifts unchanged), is refused
over someone else's save ("changed since you opened it") with the typed values kept, bad
input re-renders with the field's error and saves nothing, and only managers may edit;
file-managed schedules can be handed to the console."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from oncall.models import AuditEntry, Schedule, ScheduleLayer, User, utcnow
from oncall.schedules import service
from oncall.schedules.store import who_is_on_call
from tests.test_console import add_user, csrf, sign_in

START = (utcnow() - timedelta(days=10)).date()


@pytest.fixture
def billing(session: Any) -> Schedule:
    for email, role in (("ann@example.com", "responder"), ("bob@example.com", "responder"),
                        ("cat@example.com", "responder"), ("max@example.com", "manager"),
                        ("mia@example.com", "manager"), ("vic@example.com", "viewer")):
        add_user(session, email, role)
    made = service.create_schedule(session, "test", {
        "name": "billing", "timezone": "America/New_York",
        "layers": [{"name": "daily", "rotation": "daily", "handoff": "09:00",
                    "start": START.isoformat(),
                    "members": ["ann@example.com", "bob@example.com"]}]})
    session.commit()
    return made


def form_of(client: Any, url: str) -> dict[str, Any]:
    """The editor's fields as the browser would submit them (selected options)."""
    html = client.get(url).get_data(as_text=True)
    data: dict[str, Any] = {"csrf_token": csrf(client, url)}
    for name, value in re.findall(r'<input[^>]*name="([\w-]+)"[^>]*value="([^"]*)"', html):
        if name not in ("csrf_token",):
            data.setdefault(name, value)
    for name in ("name", "handoff_time", "start", "version", "r-count"):
        m = re.search(rf'name="{name}"[^>]*value="([^"]*)"', html) or re.search(
            rf'value="([^"]*)"[^>]*name="{name}"', html)
        data[name] = m.group(1) if m else ""
    for name in ("kind", "handoff_day"):
        block = re.search(rf'<select[^>]*name="{name}".*?</select>', html, re.S)
        assert block
        data[name] = re.search(r'<option selected value="([^"]*)"|<option value="([^"]*)" '
                               r'selected', block.group(0)).group(1) or "weekly"
    data["member"] = [m.group(1) for m in re.finditer(
        r'<select id="member-\d+" name="member"[^>]*>.*?<option value="([^"]*)" selected',
        html, re.S)]
    data["effective"] = "next-handoff"
    data["count"] = "1"
    return data


def history(billing: Schedule, session: Any) -> list[str | None]:
    now = utcnow()
    session.expire_all()
    return [who_is_on_call(session, "billing", now - timedelta(hours=h))
            for h in range(1, 24 * 9, 7)]


def test_a_manager_previews_then_saves_a_new_member_from_the_next_handoff(
        client: Any, session: Any, billing: Schedule) -> None:
    layer_id = billing.layers[0].id
    past = history(billing, session)
    now_on_call = who_is_on_call(session, "billing", utcnow())
    sign_in(client, "max@example.com")
    page = client.get(f"/schedules/{billing.id}").get_data(as_text=True)
    url = f"/schedules/{billing.id}/layers/{layer_id}/edit"
    assert url in page and "Add a layer" in page
    data = form_of(client, url)
    assert data["member"] == ["ann@example.com", "bob@example.com"]
    assert data["kind"] == "daily" and data["handoff_time"] == "09:00"
    data["add_member"] = "cat@example.com"
    # A save without its preview is a preview: nothing is written.
    r = client.post(url, data={**data, "op": "save"})
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "What this change does" in html
    assert ">cat<" in html and "Gains" in html
    assert "It takes effect <strong>" in html and "at once" not in html  # the next handoff
    session.expire_all()
    assert len(session.get(ScheduleLayer, layer_id).members) == 2
    mark = re.search(r'name="previewed"[^>]*value="([^"]+)"', html)
    assert mark, html
    saved = client.post(url, data={**data, "op": "save", "previewed": mark.group(1)})
    assert saved.status_code == 302, saved.get_data(as_text=True)
    session.expire_all()
    layer = session.get(ScheduleLayer, layer_id)
    assert [m for m in layer.members] and len(layer.members) == 3
    assert layer.effective_from > utcnow()  # the next handoff, not now
    assert history(billing, session) == past  # the past is unchanged
    assert who_is_on_call(session, "billing", utcnow()) == now_on_call
    assert session.scalar(select(AuditEntry).where(AuditEntry.object_type == "layer",
                                                   AuditEntry.actor == "user:max@example.com"))


def test_a_changed_form_after_its_preview_is_previewed_again(
        client: Any, session: Any, billing: Schedule) -> None:
    layer_id = billing.layers[0].id
    sign_in(client, "max@example.com")
    url = f"/schedules/{billing.id}/layers/{layer_id}/edit"
    data = form_of(client, url)
    html = client.post(url, data={**data, "op": "preview", "name": "one"}).get_data(
        as_text=True)
    mark = re.search(r'name="previewed"[^>]*value="([^"]+)"', html).group(1)
    r = client.post(url, data={**data, "op": "save", "previewed": mark, "name": "two"})
    assert r.status_code == 200 and "What this change does" in r.get_data(as_text=True)
    session.expire_all()
    assert session.get(ScheduleLayer, layer_id).name == "daily"


def test_the_second_manager_is_told_it_changed_since_they_opened_it(
        client: Any, app: Any, session: Any, billing: Schedule) -> None:
    layer_id = billing.layers[0].id
    url = f"/schedules/{billing.id}/layers/{layer_id}/edit"
    sign_in(client, "max@example.com")
    mine = form_of(client, url)
    other = app.test_client()
    sign_in(other, "mia@example.com")
    theirs = form_of(other, url)
    # Mia saves first (preview, then save).
    html = other.post(url, data={**theirs, "op": "preview", "name": "mia's"}).get_data(
        as_text=True)
    mark = re.search(r'name="previewed"[^>]*value="([^"]+)"', html).group(1)
    assert other.post(url, data={**theirs, "op": "save", "name": "mia's",
                                 "previewed": mark}).status_code == 302
    # Max, from the version he opened: refused, his input kept, nothing lost or half-saved.
    r = client.post(url, data={**mine, "op": "preview", "name": "max's"})
    html = r.get_data(as_text=True)
    assert r.status_code == 409, html
    assert "changed since you opened it" in html and "mia@example.com" in html
    assert 'value="max&#39;s"' in html or "value=\"max's\"" in html
    session.expire_all()
    assert session.get(ScheduleLayer, layer_id).name == "mia's"


def test_bad_input_shows_the_field_error_and_saves_nothing(
        client: Any, session: Any, billing: Schedule) -> None:
    layer_id = billing.layers[0].id
    sign_in(client, "max@example.com")
    url = f"/schedules/{billing.id}/layers/{layer_id}/edit"
    data = form_of(client, url)
    r = client.post(url, data={**data, "handoff_time": "25:99"})
    assert r.status_code == 400
    assert "HH:MM, 00:00 to 23:59" in r.get_data(as_text=True)
    r = client.post(url, data={**data, "member": ["ann@example.com", "ghost@example.com"]})
    assert r.status_code == 400 and "no user" in r.get_data(as_text=True)
    r = client.post(url, data={**data, "r-count": "1", "r-from-0": "9am", "r-to-0": "17:00"})
    assert r.status_code == 400 and "Window 1" in r.get_data(as_text=True)
    past = (utcnow() - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    r = client.post(url, data={**data, "effective": "at", "effective_at": past})
    assert r.status_code == 400 and "in the past" in r.get_data(as_text=True)
    session.expire_all()
    layer = session.get(ScheduleLayer, layer_id)
    assert layer.name == "daily" and len(layer.members) == 2 and not layer.restrictions


def test_members_move_and_restrictions_are_added_without_saving(
        client: Any, session: Any, billing: Schedule) -> None:
    layer_id = billing.layers[0].id
    sign_in(client, "max@example.com")
    url = f"/schedules/{billing.id}/layers/{layer_id}/edit"
    data = form_of(client, url)
    html = client.post(url, data={**data, "op": "down:0"}).get_data(as_text=True)
    order = re.findall(r'name="member"[^>]*>.*?<option value="([^"]*)" selected', html, re.S)
    assert order == ["bob@example.com", "ann@example.com"]
    html = client.post(url, data={**data, "op": "add-restriction"}).get_data(as_text=True)
    assert 'name="r-from-0"' in html
    session.expire_all()
    assert session.get(ScheduleLayer, layer_id).version == billing.layers[0].version


def test_add_and_remove_a_layer(client: Any, session: Any, billing: Schedule) -> None:
    sign_in(client, "max@example.com")
    url = f"/schedules/{billing.id}/layers/new"
    data = form_of(client, url)
    data.update(name="weekends", kind="weekly", handoff_day="Sat", handoff_time="09:00",
                member=["cat@example.com"], effective="now")
    html = client.post(url, data={**data, "op": "preview"}).get_data(as_text=True)
    mark = re.search(r'name="previewed"[^>]*value="([^"]+)"', html).group(1)
    assert client.post(url, data={**data, "op": "save", "previewed": mark}).status_code == 302
    session.expire_all()
    layer = session.scalars(select(ScheduleLayer).where(ScheduleLayer.name == "weekends")).one()
    assert layer.spec["handoff"] == "Sat 09:00"
    layer_id = layer.id
    edit = f"/schedules/{billing.id}/layers/{layer_id}/edit"
    data = form_of(client, edit)
    html = client.post(edit, data={**data, "op": "remove-preview", "effective": "now"}
                       ).get_data(as_text=True)
    assert "What this change does" in html and "Remove weekends" in html
    mark = re.search(r'name="previewed"[^>]*value="([^"]+)"', html).group(1)
    r = client.post(edit, data={**data, "op": "remove", "effective": "now", "previewed": mark})
    assert r.status_code == 302
    session.expire_all()
    assert session.get(ScheduleLayer, layer_id) is None


def test_only_managers_edit_and_file_schedules_are_handed_over_first(
        client: Any, session: Any, billing: Schedule) -> None:
    layer_id = billing.layers[0].id
    url = f"/schedules/{billing.id}/layers/{layer_id}/edit"
    sign_in(client, "ann@example.com")
    assert "/edit" not in client.get(f"/schedules/{billing.id}").get_data(as_text=True)
    assert client.get(url).status_code == 403
    token = csrf(client, "/account")
    assert client.post(url, data={"csrf_token": token, "name": "x", "op": "save",
                                  "version": "1"}).status_code == 403
    billing.managed_by = "schedules/billing.yaml"
    session.commit()
    client.post("/signout", data={"csrf_token": token})
    sign_in(client, "max@example.com")
    page = client.get(f"/schedules/{billing.id}").get_data(as_text=True)
    assert "Edit it in the console instead" in page and url not in page
    assert client.get(url).status_code == 409
    detach = f"/schedules/{billing.id}/detach"
    assert "oncall apply" in client.get(detach).get_data(as_text=True)
    assert client.post(detach, data={"csrf_token": csrf(client, detach)}).status_code == 302
    session.expire_all()
    assert billing.managed_by is None and billing.detached_from == "schedules/billing.yaml"
    assert client.get(url).status_code == 200


def test_a_manager_creates_a_schedule_then_its_first_layer(
        client: Any, session: Any, billing: Schedule) -> None:
    sign_in(client, "ann@example.com")
    assert client.get("/schedules/new").status_code == 403
    client.post("/signout", data={"csrf_token": csrf(client, "/account")})
    sign_in(client, "max@example.com")
    assert "New schedule" in client.get("/schedules").get_data(as_text=True)
    token = csrf(client, "/schedules/new")
    bad = client.post("/schedules/new", data={"csrf_token": token, "name": "payments",
                                              "timezone": "Mars/Olympus"})
    assert bad.status_code == 400 and "Mars/Olympus" in bad.get_data(as_text=True)
    taken = client.post("/schedules/new", data={"csrf_token": token, "name": "billing",
                                                "timezone": "UTC"})
    assert taken.status_code == 409 and "exists" in taken.get_data(as_text=True)
    assert session.scalar(select(Schedule).where(Schedule.name == "payments")) is None
    made = client.post("/schedules/new", data={"csrf_token": token, "name": "payments",
                                               "timezone": "Europe/Berlin"})
    assert made.status_code == 302 and made.location.endswith("/layers/new")
    sched = session.scalar(select(Schedule).where(Schedule.name == "payments"))
    assert sched is not None and sched.timezone == "Europe/Berlin" and sched.managed_by is None


def test_every_bad_field_is_marked_at_once(client: Any, session: Any,
                                           billing: Schedule) -> None:
    sign_in(client, "max@example.com")
    url = f"/schedules/{billing.id}/layers/{billing.layers[0].id}/edit"
    r = client.post(url, data={**form_of(client, url), "name": "", "handoff_time": "25:99"})
    html = r.get_data(as_text=True)
    assert r.status_code == 400
    assert 'id="name-error"' in html and 'id="handoff_time-error"' in html
    assert "HH:MM, 00:00 to 23:59" in html


def test_each_person_keeps_their_colour_whatever_the_range(client: Any, session: Any,
                                                           billing: Schedule) -> None:
    """abe (who sorts first) covers a day of the second range only: ann and bob keep the
    colours of their places in the layer, in both ranges."""
    abe = add_user(session, "abe@example.com", "responder")
    later = utcnow() + timedelta(days=9)
    boss = session.scalars(select(User).where(User.email == "max@example.com")).one()
    service.add_override(session, "test", billing, abe, later, later + timedelta(hours=6),
                         None, by=boss, now=utcnow())
    session.commit()
    sign_in(client, "vic@example.com")

    def colours(start: str) -> dict[str, set[str]]:
        html = client.get(f"/schedules/{billing.id}?start={start}&weeks=1").get_data(
            as_text=True)
        found: dict[str, set[str]] = {}
        for css, label in re.findall(r'class="bar (p\d)"[^>]*/>\s*<text[^>]*>([^<]+)<', html):
            found.setdefault(label.strip(), set()).add(css)
        return found

    today = utcnow().date()
    first, second = colours(today.isoformat()), colours((today + timedelta(days=7)).isoformat())
    assert "abe" in second and "abe" not in first
    assert first["ann"] == second["ann"] == {"p0"}
    assert first["bob"] == second["bob"] == {"p1"}
