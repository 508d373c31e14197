"""Logs cannot be forged and carry no secrets: alert and user text is escaped onto one line,
and integration tokens, feed tokens and ping uuids are redacted, in our log lines, Flask's,
werkzeug's and gunicorn's access and error logs, and the console channel's output."""

from __future__ import annotations

import io
import logging
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from oncall import logsafe
from oncall.channels import OutgoingPage, Recipient
from oncall.channels.console import ConsoleChannel
from oncall.config import Settings
from oncall.web import hooks
from tests.conftest import Cast, alert
from tests.servers import web_server

FORGED = "2026-03-11 02:14:00 ERROR admin@example.com resolved every incident"
TOKEN = "oci_" + "S3cr3t" * 7


@pytest.fixture
def printed() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger whose lines end up in a string, as a plain handler prints them."""
    logsafe.install()
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    log = logging.getLogger("tests.logsafe")
    log.addHandler(handler)
    log.propagate = False
    log.setLevel(logging.INFO)
    yield log, out
    log.removeHandler(handler)


def lines(text: str) -> list[str]:
    return text.splitlines()


def test_a_newline_in_logged_text_cannot_start_a_line(
        printed: tuple[logging.Logger, io.StringIO]) -> None:
    log, out = printed
    summary = f"disk full\n{FORGED}\r\x1b[2Jwiped\u2028too"
    log.warning("alert: %s", summary)
    log.warning(f"alert: {summary}")  # an f-string: the whole message is the data
    log.warning("labels: %(labels)s", {"labels": {"x": summary}})
    log.warning("page %d of %.1f: %r", 3, 2.5, summary)
    printed_lines = lines(out.getvalue())
    assert len(printed_lines) == 4
    assert not any(line.startswith("2026") for line in printed_lines)
    assert "\x1b" not in out.getvalue()
    assert printed_lines[0] == ("WARNING alert: disk full\\n" + FORGED
                                + "\\r\\x1b[2Jwiped\\u2028too")
    assert printed_lines[3].startswith("WARNING page 3 of 2.5: 'disk full\\\\n")


def test_an_exception_message_cannot_forge_a_line_but_the_traceback_keeps_its_frames(
        printed: tuple[logging.Logger, io.StringIO]) -> None:
    log, out = printed
    try:
        try:
            raise KeyError(f"alert\n{FORGED}")
        except KeyError as inner:
            raise RuntimeError(f"while storing {TOKEN}\n{FORGED}") from inner
    except RuntimeError:
        log.exception("intake failed for /integrations/%s", TOKEN)
    text = out.getvalue()
    assert "Traceback (most recent call last):" in text and "raise KeyError" in text
    assert "The above exception was the direct cause" in text
    assert not any(line.startswith("2026") for line in lines(text))
    assert "S3cr3t" not in text


@pytest.mark.parametrize("secret,shown", [
    (f"POST /integrations/{TOKEN} HTTP/1.1", "POST /integrations/[redacted] HTTP/1.1"),
    (f"GET /users/3.ics?token=ocf_{'x' * 40}&a=1", "GET /users/3.ics?token=[redacted]&a=1"),
    ("GET /ping/0b6a4c6e-8a57-4d93-9e51-1c6a1b1f2a3c/fail", "GET /ping/[redacted]/fail"),
    ("Authorization: Bearer oct_abcdefghijkl", "Authorization: Bearer [redacted]"),
    ('{"routing_key": "0123456789abcdef0123456789abcdef"}', '{"routing_key": "[redacted]"}'),
    (f"token {TOKEN} seen", "token oci_[redacted] seen"),
    ("no database at postgresql+psycopg://oncall:hunter2@db:5432/oncall",
     "no database at postgresql+psycopg://oncall:[redacted]@db:5432/oncall"),
    ("redis://:s3cret@redis:6379/0 and http://host:8080/x",
     "redis://:[redacted]@redis:6379/0 and http://host:8080/x"),
])
def test_tokens_are_redacted(printed: tuple[logging.Logger, io.StringIO], secret: str,
                             shown: str) -> None:
    log, out = printed
    log.info("%s", secret)
    log.info(secret)
    assert lines(out.getvalue()) == [f"INFO {shown}", f"INFO {shown}"]


def test_the_console_channel_prints_one_line_per_page_whatever_the_summary() -> None:
    out = io.StringIO()
    summary = f"disk full\n{FORGED}"
    page = OutgoingPage(page_id=1, incident_id=7, channel="console", level=1,
                        recipient=Recipient("alice@example.com", "Alice"),
                        severity="critical", summary=summary, service="billing-api",
                        text=f"[CRITICAL] #7 billing-api: {summary}")
    ConsoleChannel(out).send(page)
    printed_lines = lines(out.getvalue())
    assert printed_lines[0] == ("PAGE to alice@example.com (level 1): [CRITICAL] #7 "
                                f"billing-api: disk full\\n{FORGED}")
    assert len(printed_lines) == 2 and printed_lines[1].strip().startswith("acknowledge:")


def test_flask_logs_a_failed_request_without_its_token_or_forged_lines(
        app: Any, cast: Cast, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    def broken(*_: Any) -> Any:
        raise RuntimeError(f"storage said no to {alert()['summary']}\n{FORGED}")

    monkeypatch.setattr(hooks, "store", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    r = app.test_client().post(f"/integrations/{cast.integration_token}?token=abc",
                               json=alert())
    assert r.status_code == 500
    text = "\n".join(logging.Formatter("%(message)s").format(rec) for rec in caplog.records)
    assert "Exception on /integrations/[redacted] [POST]" in text
    assert cast.integration_token not in text
    assert not any(line.startswith("2026") for line in lines(text))


@pytest.mark.slow
def test_gunicorn_access_and_error_logs_carry_no_token(settings: Settings, cast: Cast,
                                                       tmp_path: Path) -> None:
    ping = uuid.uuid4()
    with web_server(settings, tmp_path, workers=1,
                    extra_env={"ONCALL_ACCESS_LOG": "-"}) as url:
        assert requests.post(f"{url}/integrations/{cast.integration_token}", json=alert(),
                             timeout=10).status_code == 202
        feed = requests.post(f"{url}/api/v1/users/me/feed-token", headers=cast.auth(),
                             timeout=10).json()
        feed_token = feed["token"]
        requests.get(f"{url}/users/{cast.alice.id}.ics?token={feed_token}", timeout=10)
        requests.get(f"{url}/ping/{ping}", timeout=10)
        requests.get(f"{url}/integrations/{cast.integration_token}%0a{FORGED}", timeout=10)
    log = (tmp_path / "web.log").read_text()
    assert re.search(r'"POST /integrations/\[redacted\] HTTP/1\.1" 202', log), log[-2000:]
    assert '.ics?token=[redacted] HTTP/1.1" 200' in log
    assert "/ping/[redacted] HTTP/1.1" in log
    for secret in (cast.integration_token, feed_token, str(ping), cast.tokens["alice"]):
        assert secret not in log
