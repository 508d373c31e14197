"""The console without a browser: sessions, links, CSRF, roles, headers and the CLI."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from oncall.accounts import links, passwords, service
from oncall.cli import admin, cli, config, run  # noqa: F401 - attach the commands
from oncall.cli.bootstrap import admin_sign_in
from oncall.config import Settings
from oncall.models import SignInLink, User, utcnow
from oncall.web.console import sessions
from oncall.web.headers import CONSOLE_CSP
from tests.conftest import Cast, web_app

PASSWORD = "a long enough passphrase"


def add_user(session: Any, email: str, role: str, password: str | None = PASSWORD) -> User:
    user = User(email=email, name=email.split("@")[0], role=role,
                password_hash=passwords.hash_password(password) if password else None)
    session.add(user)
    session.commit()
    return user


def csrf(client: Any, path: str = "/signin") -> str:
    page = client.get(path).get_data(as_text=True)
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or \
        re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def sign_in(client: Any, email: str, password: str = PASSWORD) -> Any:
    return client.post("/signin", data={"email": email, "password": password,
                                        "csrf_token": csrf(client)})


def test_passwords_are_argon2id_and_verified_in_constant_work() -> None:
    stored = passwords.hash_password(PASSWORD)
    assert stored.startswith("$argon2id$")
    assert passwords.verify(stored, PASSWORD)
    assert not passwords.verify(stored, PASSWORD + "!")
    assert not passwords.verify(None, PASSWORD)  # no password yet: never a match
    assert not passwords.verify("not a hash", PASSWORD)
    assert passwords.weakness("short", "a@b.c") == "must be at least 10 characters long"
    assert passwords.weakness("alice@example.com", "alice@example.com")


def test_a_link_works_once_and_not_after_it_expires(session: Any) -> None:
    now = utcnow()
    made = service.invite(session, "new@example.com", actor="cli", now=now, secret_key="k" * 32,
                          role="manager")
    session.commit()
    assert made.link.purpose == "invite" and made.link.user.role == "manager"
    assert made.link.nonce_hash not in made.token  # only the hash is stored
    with pytest.raises(links.LinkError, match="expired"):
        links.find(session, made.token, now=now + timedelta(days=7, seconds=1),
                   secret_key="k" * 32)
    with pytest.raises(links.LinkError, match="not valid"):
        links.find(session, made.token, now=now, secret_key="another key" * 3)
    with pytest.raises(links.LinkError, match="not valid"):
        links.find(session, made.token[:-2], now=now, secret_key="k" * 32)
    link = links.find(session, made.token, now=now, secret_key="k" * 32)
    with pytest.raises(service.AccountError, match="at least 10"):
        service.set_password(session, link, "short", now=now)
    user = service.set_password(session, link, PASSWORD, now=now)
    session.commit()
    assert user.session_epoch == 1 and passwords.verify(user.password_hash, PASSWORD)
    with pytest.raises(links.LinkError, match="already used"):
        links.find(session, made.token, now=now, secret_key="k" * 32)
    with pytest.raises(links.LinkError, match="already used"):  # a racing second redeemer
        links.redeem(session, link, now=now)
    again = service.invite(session, "new@example.com", actor="cli", now=now,
                           secret_key="k" * 32)
    assert again.link.purpose == "reset"  # they have a password now


def test_oncall_user_invite_prints_a_link_that_the_console_accepts(
        settings: Settings, client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONCALL_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("ONCALL_PUBLIC_URL", "https://oncall.example.com")
    monkeypatch.setenv("ONCALL_SECRET_KEY", settings.secret_key)
    result = CliRunner().invoke(cli, ["user", "invite", "ann@example.com", "--role", "admin"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("invitation for ann@example.com (admin); works once")
    link = re.search(r"https://oncall\.example\.com(/welcome/\S+)", result.output)
    assert link, result.output
    assert client.get(link.group(1)).status_code == 200
    bad = CliRunner().invoke(cli, ["user", "invite", "not-an-email"])
    assert bad.exit_code == 2 and "is not an email address" in bad.output


def test_oncall_up_prints_an_admin_link_until_someone_has_a_password(
        session: Any, settings: Settings) -> None:
    first = admin_sign_in(session, settings)
    session.commit()
    assert "admin@localhost" in first[0] and "/welcome/" in first[1]
    admin_user = session.scalar(select(User).where(User.email == "admin@localhost"))
    assert admin_user.role == "admin"
    admin_user.password_hash = passwords.hash_password(PASSWORD)
    session.commit()
    assert admin_sign_in(session, settings) == []


def test_the_console_needs_a_session_and_api_tokens_do_not_open_it(
        client: Any, cast: Cast) -> None:
    r = client.get("/schedules", headers=cast.auth("manager"))
    assert r.status_code == 302 and r.headers["Location"] == "/signin?next=/schedules"
    assert client.get("/").headers["Location"] == "/signin?next=/"
    assert client.get("/api/v1/incidents", headers=cast.auth()).status_code == 200


def test_a_session_ends_when_idle_and_when_its_user_signs_out_everywhere(
        client: Any, session: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    add_user(session, "ann@example.com", "viewer")
    assert sign_in(client, "ann@example.com").status_code == 302
    assert client.get("/schedules").status_code == 200
    later = utcnow() + timedelta(minutes=721)
    monkeypatch.setattr(sessions, "utcnow", lambda: later)
    r = client.get("/schedules")
    assert r.status_code == 302 and r.headers["Location"].startswith("/signin")
    monkeypatch.undo()

    other = client.application.test_client()
    sign_in(client, "ann@example.com")
    sign_in(other, "ann@example.com")
    assert client.post("/signout-everywhere",
                       data={"csrf_token": csrf(client, "/account")}).status_code == 302
    assert other.get("/schedules").status_code == 302


def test_the_session_cookie_is_httponly_lax_and_secure_behind_https(
        settings: Settings, session: Any) -> None:
    add_user(session, "ann@example.com", "viewer")
    for public, secure in (("http://oncall.test", False), ("https://oncall.example.com", True)):
        for app in web_app(replace(settings, public_url=public)):
            client = app.test_client()
            sign_in(client, "ann@example.com")
            cookie = client.get_cookie("oncall_session")
            assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"
            assert cookie.secure is secure


def test_console_pages_forbid_inline_scripts_and_machines_get_no_cookie(
        client: Any, cast: Cast) -> None:
    page = client.get("/signin")
    assert page.headers["Content-Security-Policy"] == CONSOLE_CSP
    assert "script-src 'self'" in CONSOLE_CSP and "unsafe-inline" not in CONSOLE_CSP
    assert "<script>" not in page.get_data(as_text=True)  # every script is a file
    api = client.get("/api/v1/incidents", headers=cast.auth())
    assert api.headers["Content-Security-Policy"] == "frame-ancestors 'none'"
    assert "Set-Cookie" not in api.headers
    assert client.get("/nowhere").json["status"] == 404  # machines still get JSON


def test_every_console_post_needs_the_csrf_token_and_the_role(
        client: Any, session: Any) -> None:
    add_user(session, "vera@example.com", "viewer")
    sign_in(client, "vera@example.com")
    forged = {"email": "mallory@example.com", "role": "admin"}
    assert client.post("/users/invite", data=forged).status_code == 400
    token = csrf(client, "/account")
    assert client.post("/users/invite", data={**forged, "csrf_token": token}).status_code == 403
    assert client.get("/users").status_code == 403
    assert session.scalar(select(User).where(User.email == "mallory@example.com")) is None


def test_an_admin_invites_from_the_console(client: Any, session: Any) -> None:
    add_user(session, "boss@example.com", "admin")
    sign_in(client, "boss@example.com")
    token = csrf(client, "/users")
    bad = client.post("/users/invite", data={"email": "nope", "role": "viewer",
                                             "csrf_token": token})
    assert bad.status_code == 400 and "is not an email address" in bad.get_data(as_text=True)
    r = client.post("/users/invite", data={"email": "new@example.com", "role": "viewer",
                                           "csrf_token": token})
    assert r.status_code == 200
    assert re.search(r'value="http://oncall\.test/welcome/[^"]+"', r.get_data(as_text=True))
    link = session.scalar(select(SignInLink))
    assert link.user.email == "new@example.com" and link.user.role == "viewer"
    assert link.created_by == "user:boss@example.com"


def test_swagger_ui_is_served_from_the_package(client: Any) -> None:
    page = client.get("/api/v1/docs").get_data(as_text=True)
    assert "cdn" not in page.lower()
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', page):
        r = client.get(asset)
        assert r.status_code == 200, asset
        r.close()
    assert len(re.findall(r'(?:src|href)="(/static/[^"]+)"', page)) == 4


def test_the_schedules_list_refreshes_as_a_fragment_and_sends_a_lapsed_session_to_sign_in(
        client: Any, session: Any) -> None:
    hx = {"HX-Request": "true"}
    lapsed = client.get("/schedules", headers=hx)
    assert lapsed.status_code == 200 and lapsed.headers["HX-Redirect"] == "/signin"
    add_user(session, "ann@example.com", "viewer")
    sign_in(client, "ann@example.com")
    part = client.get("/schedules", headers=hx).get_data(as_text=True)
    assert part.lstrip().startswith('<div id="schedule-list"') and "<html" not in part


def test_failed_sign_ins_are_still_counted_when_the_limiter_storage_is_down(
        caplog: pytest.LogCaptureFixture) -> None:
    from oncall.web.console.throttle import Throttle

    throttle = Throttle.create("2/15minutes", "redis://127.0.0.1:1/0")  # nothing listens
    assert throttle.retry_after("ann@example.com", "10.0.0.1") is None
    throttle.failed("ann@example.com", "10.0.0.1")
    throttle.failed("ANN@example.com ", "10.0.0.2")  # the same account
    wait = throttle.retry_after("ann@example.com", "10.0.0.3")
    assert wait is not None and 0 < wait <= 15 * 60
    assert throttle.retry_after("bob@example.com", "10.0.0.3") is None
    assert "counting in memory" in caplog.text


@pytest.mark.parametrize("target", ["//evil.example", "/\\evil.example", "/\t/evil.example",
                                    "https://evil.example/", "javascript:alert(1)", "",
                                    "/\n/evil.example", "schedules"])
def test_signing_in_never_sends_anyone_to_another_site(target: str) -> None:
    assert sessions.safe_next(target) is None
    assert sessions.safe_next("/schedules?x=1") == "/schedules?x=1"


def test_an_invitation_does_not_change_the_role_of_someone_who_exists(
        settings: Settings, session: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    add_user(session, "vera@example.com", "viewer")
    monkeypatch.setenv("ONCALL_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("ONCALL_SECRET_KEY", settings.secret_key)
    result = CliRunner().invoke(cli, ["user", "invite", "vera@example.com", "--role", "admin"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("password reset link for vera@example.com (viewer) "
                                     "(role admin not applied: vera@example.com is a viewer)")
    session.expire_all()
    assert session.scalar(select(User.role).where(User.email == "vera@example.com")) == "viewer"
