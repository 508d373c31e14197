"""Configuring email (ONCALL_SMTP_URL's forms, the From address), the channel in
notification rules (API and config files) whether SMTP is configured or not, and the SMTP
session itself: login, TLS refusal, a connection dropped while sending."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from oncall.channels import DeliveryError, preferences, registry
from oncall.channels.email.channel import Smtp
from oncall.channels.email.message import IncidentMail, Links, build
from oncall.config import ConfigError, Settings, load_settings
from oncall.models import utcnow
from tests.conftest import Cast, apply, web_app
from tests.email_pages.conftest import FROM, Mailbox
from tests.servers import free_port


def env(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for name in ("ONCALL_SMTP_URL", "ONCALL_SMTP_FROM", "ONCALL_EMAIL_LINK_HOURS"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(f"{name}_FILE", raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize("url", ["smtp://localhost:1025", "smtp://u:p%40ss@mail.example.com:587",
                                 "smtps://u:p@mail.example.com:465", "smtp://mail.example.com"])
def test_the_documented_url_forms_are_accepted(monkeypatch: pytest.MonkeyPatch,
                                               url: str) -> None:
    env(monkeypatch, ONCALL_SMTP_URL=url, ONCALL_SMTP_FROM="oncall@example.com")
    s = load_settings()
    assert (s.smtp_url, s.smtp_from, s.email_link_hours) == (url, "oncall@example.com", 24.0)


def test_the_password_is_decoded_and_never_described(monkeypatch: pytest.MonkeyPatch) -> None:
    smtp = Smtp("smtp://bot%40example.com:p%40ss%2Fw@mail.example.com:587")
    assert (smtp.username, smtp.password, smtp.port, smtp.tls) == (
        "bot@example.com", "p@ss/w", 587, False)
    assert "p@ss" not in smtp.describe() and "mail.example.com:587" in smtp.describe()
    assert (Smtp("smtps://mail.example.com").port, Smtp("smtp://mail.example.com").port) == \
        (465, 25)


GOOD_FROM = {"ONCALL_SMTP_FROM": "oncall@example.com"}


@pytest.mark.parametrize(("values", "names"), [
    ({"ONCALL_SMTP_URL": "http://mail.example.com", **GOOD_FROM}, "ONCALL_SMTP_URL"),
    ({"ONCALL_SMTP_URL": "smtp://:25", **GOOD_FROM}, "ONCALL_SMTP_URL"),
    ({"ONCALL_SMTP_URL": "smtp://mail.example.com:abc", **GOOD_FROM}, "ONCALL_SMTP_URL"),
    ({"ONCALL_SMTP_URL": "smtp://mail.example.com:587"}, "ONCALL_SMTP_FROM"),
    ({"ONCALL_SMTP_URL": "smtp://mail.example.com:587", "ONCALL_SMTP_FROM": "oncall"},
     "ONCALL_SMTP_FROM"),
    ({"ONCALL_EMAIL_LINK_HOURS": "0"}, "ONCALL_EMAIL_LINK_HOURS"),
    ({"ONCALL_EMAIL_LINK_HOURS": "soon"}, "ONCALL_EMAIL_LINK_HOURS"),
])
def test_bad_settings_are_refused_naming_the_variable(monkeypatch: pytest.MonkeyPatch,
                                                      values: dict[str, str],
                                                      names: str) -> None:
    env(monkeypatch, **values)
    with pytest.raises(ConfigError, match=names):
        load_settings()


def test_without_smtp_there_is_no_email_channel(app: Any, settings: Settings) -> None:
    assert not registry.enabled("email")
    assert settings.smtp_url is None


def test_a_rule_naming_email_without_smtp_is_kept_and_skipped(
        client: Any, cast: Cast, factory: Any) -> None:
    r = client.put(f"/api/v1/users/{cast.alice.id}/notification-rules", headers=cast.auth(),
                   json={"rules": {"critical": [{"channel": "email", "delay_seconds": 0}]}})
    assert r.status_code == 200, r.json
    r = client.get(f"/api/v1/users/{cast.alice.id}/notification-rules", headers=cast.auth())
    critical = r.json["effective"]["critical"]
    assert critical["skipped"] == {"email": "channel not configured"}
    assert "email" not in [s["channel"] for s in critical["steps"]]
    bad = client.put(f"/api/v1/users/{cast.alice.id}/notification-rules", headers=cast.auth(),
                     json={"rules": {"critical": [{"channel": "e-mail"}]}})
    assert bad.status_code == 400 and "email" in bad.json["error"]


def test_with_smtp_email_is_in_the_plan_and_the_contacts(
        settings: Settings, cast: Cast, factory: Any, admin_auth: dict[str, str]) -> None:
    configured = dataclasses.replace(settings, smtp_url="smtp://127.0.0.1:9",
                                     smtp_from=FROM)
    app = next(web_app(configured))
    try:
        client = app.test_client()
        r = client.put(f"/api/v1/users/{cast.alice.id}/notification-rules",
                       headers=cast.auth(),
                       json={"rules": {"warning": [{"channel": "email"}]}})
        assert r.status_code == 200, r.json
        r = client.get(f"/api/v1/users/{cast.alice.id}/notification-rules",
                       headers=cast.auth())
        assert next(s["channel"] for s in r.json["effective"]["warning"]["steps"]) == "email"
        # Without rules for critical, the built-in defaults page every usable channel now.
        assert "email" in [s["channel"] for s in r.json["effective"]["critical"]["steps"]]
        with factory() as s:
            user = s.get(type(cast.alice), cast.alice.id)
            contacts = preferences.contacts_json(s, user)
        assert {"channel": "email", "address": "alice@example.com", "enabled": True,
                "state": "active", "disabled_reason": None, "disabled_at": None} in contacts
        ready = client.get("/ready", headers=admin_auth)
        assert "email" in ready.json["details"] and "enabled" in ready.json["details"]["email"]
    finally:
        registry.setup(settings)


def test_config_files_accept_email_in_notify(factory: Any, config: Path) -> None:
    users = config / "rules" / "email-user.yaml"
    users.write_text("users:\n  - user: erin@example.com\n    name: Erin\n"
                     "    notification_rules:\n"
                     "      critical: [{channel: email}, {channel: sms, after: 2m}]\n")
    apply(factory, config / "rules", config / "schedules")
    from sqlalchemy import select

    from oncall.models import User

    with factory() as s:
        erin = s.scalar(select(User).where(User.email == "erin@example.com"))
        assert erin is not None
        assert preferences.load(s, erin.id)["critical"] == [preferences.Rule("email"),
                                                      preferences.Rule("sms", 120)]


# The SMTP session ------------------------------------------------------------------------


def _page() -> Any:
    now = utcnow()
    incident = IncidentMail(id=7, severity="critical", status="triggered", summary="disk full",
                            service="db", created_at=now)
    return build(incident, to="alice@example.com", to_name="Alice", sender=FROM,
                 links=Links("http://x/email/a", "http://x/email/r", "http://x/incidents/7",
                             now),
                 level=1, page_id=3, public_url="http://x", now=now)


class _Auth:
    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str,
                 auth_data: Any) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and \
            (auth_data.login, auth_data.password) == (b"bot", b"s3cret")
        return AuthResult(success=ok, handled=False)


def _server(handler: Any, **kwargs: Any) -> tuple[Controller, int]:
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    return controller, port


def test_a_login_to_a_local_relay_works_and_a_wrong_password_is_transient() -> None:
    box = Mailbox()
    controller, port = _server(box, authenticator=_Auth(), auth_require_tls=False)
    try:
        Smtp(f"smtp://bot:s3cret@localhost:{port}").send(_page())
        assert len(box.messages) == 1
        with pytest.raises(DeliveryError) as refused:
            Smtp(f"smtp://bot:wrong@localhost:{port}").send(_page())
        assert not refused.value.permanent and "login refused" in str(refused.value)
    finally:
        controller.stop()


def test_a_password_is_not_sent_in_the_clear_to_a_remote_server() -> None:
    box = Mailbox()
    controller, port = _server(box, authenticator=_Auth(), auth_require_tls=False)
    try:
        # 127.0.0.2 is this machine too, but not named as local: treated as remote.
        smtp = Smtp(f"smtp://bot:s3cret@127.0.0.1:{port}")
        smtp.host = "127.0.0.2"
        try:
            smtp.send(_page())
        except DeliveryError as exc:
            assert not exc.permanent
            assert "not sent in the clear" in str(exc) or "unreachable" in str(exc)
        else:
            raise AssertionError("sent a password without TLS")
        assert box.messages == []
    finally:
        controller.stop()


class _Dropping(Mailbox):
    """Takes the message, then drops the connection before answering."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await super().handle_DATA(server, session, envelope)
        server.transport.close()
        return "250 never heard"


def test_a_connection_dropped_while_sending_is_a_lost_answer() -> None:
    box = _Dropping()
    controller, port = _server(box)
    try:
        with pytest.raises(DeliveryError) as lost:
            Smtp(f"smtp://127.0.0.1:{port}").send(_page())
        assert lost.value.answer_lost and not lost.value.permanent
        assert len(box.messages) == 1  # it had gone out: the retry's same Message-ID dedups
    finally:
        controller.stop()
