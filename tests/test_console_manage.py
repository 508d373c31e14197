"""The console's policies and services pages without a browser: the ladder, roles (no
edit controls for viewers, forged posts refused), forms that re-render with the field's
error, integrations created, rotated and deleted, and the URL shown once."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from oncall.models import AuditEntry, EscalationPolicy, Integration, Service, User
from tests.conftest import Cast
from tests.test_console import PASSWORD, add_user, csrf, sign_in


def signed_in(client: Any, session: Any, role: str) -> Any:
    email = f"{role}-console@example.com"
    add_user(session, email, role)
    assert sign_in(client, email, PASSWORD).status_code == 302
    return client


def test_the_policies_page_shows_each_ladder_resolved_to_people(
        client: Any, cast: Cast, session: Any) -> None:
    page = signed_in(client, session, "viewer").get("/policies").get_data(as_text=True)
    assert "billing" in page
    assert page.index("user:alice@example.com") < page.index("user:bob@example.com")
    assert "→ Alice" in page and "→ Bob" in page
    assert "After 5 min" in page and "Ends after the last level" in page
    assert "New policy" not in page and "Edit" not in page


def test_viewers_see_no_edit_controls_and_forged_posts_are_refused(
        client: Any, cast: Cast, session: Any) -> None:
    signed_in(client, session, "viewer")
    page = client.get(f"/services/{cast.service.id}").get_data(as_text=True)
    assert "billing-generic" in page
    for control in ("Rotate secret", "Create integration", "Delete service", "Edit service"):
        assert control not in page
    token = csrf(client, "/policies")
    for path, data in ((f"/services/{cast.service.id}/integrations", {"kind": "generic"}),
                       ("/policies/new", {"name": "x"}), ("/services", {"name": "x"}),
                       (f"/services/{cast.service.id}/delete", {})):
        assert client.post(path, data={**data, "csrf_token": token}).status_code == 403
        assert client.post(path, data=data).status_code == 400  # no CSRF token
    assert session.scalar(select(AuditEntry)) is None


def test_a_manager_creates_a_policy_and_an_invalid_form_keeps_the_field_error(
        client: Any, cast: Cast, session: Any) -> None:
    signed_in(client, session, "manager")
    token = csrf(client, "/policies/new")
    form = {"csrf_token": token, "name": "nights", "repeat": "1",
            "levels-0-targets": "user:alice@example.com", "levels-0-wait": "10",
            "levels-1-targets": "user:alice@example.com\nschedule:nope", "levels-1-wait": "5"}
    r = client.post("/policies/new", data=form)
    assert r.status_code == 400
    page = r.get_data(as_text=True)
    assert "Line 2: no schedule" in page and 'aria-invalid="true"' in page
    assert "schedule:nope" in page  # what was typed is kept
    assert session.scalar(select(EscalationPolicy).where(EscalationPolicy.name == "nights")) \
        is None
    form["levels-1-targets"] = "user:bob@example.com"
    r = client.post("/policies/new", data=form)
    assert r.status_code == 302
    policy = session.scalar(select(EscalationPolicy).where(EscalationPolicy.name == "nights"))
    assert [lvl.escalate_after for lvl in policy.levels] == [600, 300]
    assert policy.repeat == 1
    edit = client.get(f"/policies/{policy.id}").get_data(as_text=True)
    assert "user:bob@example.com" in edit


def test_file_managed_policies_are_read_only_in_the_console(
        client: Any, cast: Cast, session: Any) -> None:
    policy = session.scalar(select(EscalationPolicy))
    policy.managed_by = "rules/billing.yaml"
    session.commit()
    signed_in(client, session, "manager")
    page = client.get("/policies").get_data(as_text=True)
    assert "rules/billing.yaml" in page and f"/policies/{policy.id}\"" not in page
    r = client.post(f"/policies/{policy.id}", data={"csrf_token": csrf(client, "/policies"),
                                                     "name": "billing"})
    assert r.status_code == 409 and "rules/billing.yaml" in r.get_data(as_text=True)


def test_an_admin_creates_an_integration_and_sees_its_url_once(
        client: Any, cast: Cast, session: Any) -> None:
    signed_in(client, session, "admin")
    path = f"/services/{cast.service.id}"
    r = client.post(f"{path}/integrations", data={"csrf_token": csrf(client, path),
                                                  "kind": "alertmanager", "name": "prom"})
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    url = re.search(r'id="secret-url" type="text" readonly value="([^"]+)"', page).group(1)
    assert "/integrations/oci_" in url and 'data-copy="secret-url"' in page
    again = client.get(path).get_data(as_text=True)
    assert "prom" in again and url not in again
    iid = session.scalar(select(Integration.id).where(Integration.name == "prom"))
    r = client.post(f"{path}/integrations/{iid}/rotate",
                    data={"csrf_token": csrf(client, path)})
    rotated = re.search(r'id="secret-url" type="text" readonly value="([^"]+)"',
                        r.get_data(as_text=True)).group(1)
    assert rotated != url
    r = client.post(f"{path}/integrations/{iid}/rename",
                    data={"csrf_token": csrf(client, path), "name": "billing-generic"})
    assert r.status_code == 400 and "exists" in r.get_data(as_text=True)
    r = client.post(f"{path}/integrations/{iid}/delete",
                    data={"csrf_token": csrf(client, path)})
    assert r.status_code == 302
    assert session.scalar(select(Integration.id).where(Integration.id == iid)) is None
    actions = [e.action for e in session.scalars(select(AuditEntry).where(
        AuditEntry.object_type == "integration").order_by(AuditEntry.id))]
    assert actions == ["create", "rotate", "delete"]


def test_an_opsgenie_integration_shows_its_alert_api_url_and_genie_key(
        client: Any, cast: Cast, session: Any) -> None:
    signed_in(client, session, "admin")
    path = f"/services/{cast.service.id}"
    assert 'value="opsgenie"' in client.get(path).get_data(as_text=True)
    r = client.post(f"{path}/integrations", data={"csrf_token": csrf(client, path),
                                                  "kind": "opsgenie", "name": "og"})
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    url = re.search(r'id="secret-url" type="text" readonly value="([^"]+)"', page).group(1)
    key = re.search(r'id="secret-key" type="text" readonly value="([^"]+)"', page).group(1)
    assert url.endswith("/v2/alerts") and "API key (GenieKey)" in page
    sent = client.post("/v2/alerts", json={"message": "hello"},
                       headers={"Authorization": f"GenieKey {key}"})
    assert sent.status_code == 202, sent.json


def test_a_manager_creates_a_service_and_a_taken_name_is_shown_on_the_field(
        client: Any, cast: Cast, session: Any) -> None:
    signed_in(client, session, "manager")
    token = csrf(client, "/services")
    r = client.post("/services", data={"csrf_token": token, "name": "billing-api",
                                       "policy": "billing"})
    assert r.status_code == 409 and "exists" in r.get_data(as_text=True)
    r = client.post("/services", data={"csrf_token": token, "name": "checkout",
                                       "policy": "billing"})
    assert r.status_code == 302
    made = session.scalar(select(Service).where(Service.name == "checkout"))
    assert made.policy.name == "billing"
    listing = client.get("/services").get_data(as_text=True)
    assert "checkout" in listing and "never" in listing
    page = client.get(f"/services/{made.id}").get_data(as_text=True)
    assert "Create integration" not in page  # integrations are for admins
    assert session.scalar(select(User).where(User.email == "manager-console@example.com"))


def test_a_deactivated_user_is_signed_out_and_cannot_sign_in_again(
        client: Any, cast: Cast, session: Any) -> None:
    from oncall.manage import users
    from oncall.models import utcnow

    signed_in(client, session, "manager")
    assert client.get("/policies").status_code == 200
    user = session.scalar(select(User).where(User.email == "manager-console@example.com"))
    users.deactivate(session, "test", user, utcnow())
    session.commit()
    assert client.get("/policies").status_code == 302
    assert sign_in(client, "manager-console@example.com").status_code != 302


def test_file_managed_users_are_refused_naming_the_file(
        client: Any, cast: Cast, session: Any, admin_auth: dict[str, str]) -> None:
    session.get(User, cast.bob.id).managed_by = "schedules/people.yaml"
    session.commit()
    r = client.patch(f"/api/v1/users/{cast.bob.id}", json={"name": "Robert"},
                     headers=admin_auth)
    assert r.status_code == 409 and "schedules/people.yaml" in r.json["error"]


def test_a_deactivated_user_gets_no_new_sign_in_link(
        client: Any, cast: Cast, session: Any) -> None:
    from oncall.manage import users
    from oncall.models import utcnow

    users.deactivate(session, "test", session.get(User, cast.viewer.id), utcnow())
    session.commit()
    signed_in(client, session, "admin")
    r = client.post(f"/users/{cast.viewer.id}/link", data={"csrf_token": csrf(client, "/users")})
    assert r.status_code == 409 and "deactivated" in r.get_data(as_text=True)


def test_sending_the_integration_form_twice_creates_one_integration(
        client: Any, cast: Cast, session: Any) -> None:
    signed_in(client, session, "admin")
    path = f"/services/{cast.service.id}"
    page = client.get(path).get_data(as_text=True)
    once = re.search(r'id="once" name="once" type="hidden" value="([^"]+)"', page).group(1)
    form = {"csrf_token": csrf(client, path), "kind": "generic", "once": once}
    assert client.post(f"{path}/integrations", data=form).status_code == 200
    again = client.post(f"{path}/integrations", data=form)
    assert again.status_code == 409 and "already sent" in again.get_data(as_text=True)
    assert len(list(session.scalars(select(Integration)))) == 2  # the cast's and this one
