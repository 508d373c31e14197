"""The responders' CLI (``oncall login``, ``incidents``, ``ack``, ``shifts``, ``override``...)
against a running service: the real web app serving HTTP on a free port in a thread, on the
test database; the commands reach it over the network as they would a remote one."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import select
from werkzeug.serving import make_server

from oncall import jobs
from oncall.accounts import passwords
from oncall.cli import cli
from oncall.cli.remote import account, incidents  # noqa: F401 - they attach the commands
from oncall.cli.remote.shifts import parse_when
from oncall.config import Settings
from oncall.models import ApiToken, AuditEntry, Incident, User, utcnow
from oncall.paging import stepping
from tests.conftest import Cast, alert, make_cast
from tests.servers import free_port

PASSWORD = "a long enough passphrase"


@dataclass
class Service:
    url: str
    cast: Cast
    factory: Any

    def incident(self, paged: bool = False, **fields: Any) -> int:
        """A new incident from an alert; ``paged``: its first level (alice) paged now."""
        r = requests.post(f"{self.url}/integrations/{self.cast.integration_token}",
                          json=alert(**fields), timeout=10)
        assert r.status_code == 202, r.text
        incident_id = int(r.json()["incidents"][0]["incident_id"])
        if paged:
            with self.factory() as s, s.begin():
                stepping.escalate(s, incident_id, utcnow() + timedelta(seconds=1))
        return incident_id

    def api(self, method: str, path: str, who: str = "manager", **kw: Any) -> Any:
        return requests.request(method, self.url + path, timeout=10, **kw,
                                headers={"Authorization": f"Bearer {self.cast.tokens[who]}"})


@pytest.fixture
def service(settings: Settings, factory: Any, tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[Service]:
    """The app on a free port; the cast's people have console passwords; the CLI's config
    directory is a fresh one and no ONCALL_URL / ONCALL_TOKEN leaks in."""
    from oncall.web import create_app

    cast = make_cast(factory)
    with factory() as s, s.begin():
        for user in s.scalars(select(User)):
            user.password_hash = passwords.hash_password(PASSWORD)
    holder: dict[str, Any] = {}
    server = make_server("127.0.0.1", 0, lambda env, start: holder["app"](env, start),
                         threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    holder["app"] = create_app(replace(settings, public_url=url, signin_rate_limit="3/15minutes",
                                       ratelimit_storage_url="memory://"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("ONCALL_URL", raising=False)
    monkeypatch.delenv("ONCALL_TOKEN", raising=False)
    try:
        yield Service(url, cast, factory)
    finally:
        server.shutdown()
        thread.join(10)
        jobs._app = None


def run(*args: str, input: str | None = None, ok: bool = True) -> Any:
    result = CliRunner().invoke(cli, list(args), input=input)
    if ok:
        assert result.exit_code == 0, result.output
    return result


def one_line_error(result: Any, *expected: str) -> str:
    """The command failed with one line on stderr (no traceback) holding every ``expected``
    part."""
    assert result.exit_code != 0, result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception,
                                                                     SystemExit), result.exc_info
    lines = result.stderr.strip().splitlines()  # prompts (Email:, Password:) are on stdout
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    for part in expected:
        assert part in lines[0], lines[0]
    return str(lines[0])


def login(service: Service, email: str = "alice@example.com") -> None:
    result = run("login", service.url, input=f"{email}\n{PASSWORD}\n")
    assert f"logged in to {service.url} as {email}" in result.output


def credentials(tmp_path: Path) -> Path:
    return tmp_path / "config" / "oncall" / "credentials.json"


def test_login_with_a_password_saves_a_private_token(service: Service, tmp_path: Path) -> None:
    result = run("login", service.url, input=f"alice@example.com\n{PASSWORD}\n")
    assert PASSWORD not in result.output  # the prompt hides it
    path = credentials(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    saved = json.loads(path.read_text())
    assert saved["url"] == service.url and saved["email"] == "alice@example.com"
    assert saved["token"].startswith("oct_")
    me = json.loads(run("whoami", "--json").output)
    assert me["email"] == "alice@example.com" and me["role"] == "responder"
    # Made through oncall.manage.tokens: audited, labelled with the host.
    with service.factory() as s:
        token = s.get(ApiToken, saved["token_id"])
        assert token is not None and token.label.startswith("oncall CLI on ")
        assert s.scalar(select(AuditEntry).where(AuditEntry.object_type == "api_token",
                                                 AuditEntry.object_id == token.id))
    # Logging in again replaces (and revokes) the token the first login made.
    run("login", service.url, "--email", "alice@example.com", input=f"{PASSWORD}\n")
    with service.factory() as s:
        assert s.get(ApiToken, saved["token_id"]) is None


def test_incidents_mine_ack_resolve_and_escalate(service: Service) -> None:
    login(service)
    paged = service.incident(paged=True, summary="Checkout latency high")
    other = service.incident(type="disk_full", summary="Disk full on db-2",
                             labels={"host": "db-2"})
    listed = json.loads(run("incidents", "--json").output)
    assert {i["id"] for i in listed} == {paged, other}
    mine = json.loads(run("incidents", "--mine", "--json").output)
    assert [i["id"] for i in mine] == [paged]  # paged to alice; the other not yet
    table = run("incidents").output.splitlines()
    assert table[0].split() == ["ID", "STATUS", "SEVERITY", "SERVICE", "SUMMARY", "AGE",
                                "ACKED_BY"]
    assert any(line.startswith(f"{paged} ") and "Checkout latency high" in line
               for line in table)

    out = run("ack", str(other)).output
    assert out.strip() == f"incident {other} acknowledged by alice@example.com: Disk full on db-2"
    with service.factory() as s:
        found = s.get(Incident, other)
        assert found is not None and found.status == "acknowledged"
        assert found.acked_by == "user:alice@example.com" and found.next_action_at is None
    mine = json.loads(run("incidents", "--mine", "--json").output)
    assert {i["id"] for i in mine} == {paged, other}  # acknowledged by alice now
    row = next(line for line in run("incidents").output.splitlines()
               if line.startswith(f"{other} "))
    assert "acknowledged" in row and row.rstrip().endswith("alice@example.com")

    assert "escalated: level 2 paged" in run("escalate", str(paged)).output
    assert f"incident {paged} resolved by alice@example.com" in run("resolve",
                                                                   str(paged)).output
    with service.factory() as s:
        assert s.get(Incident, paged).status == "resolved"  # type: ignore[union-attr]
    assert [i["id"] for i in json.loads(run("incidents", "--json").output)] == [other]
    assert {i["id"] for i in json.loads(run("incidents", "--status", "all",
                                            "--json").output)} == {paged, other}


def _schedule(service: Service) -> dict[str, Any]:
    r = service.api("POST", "/api/v1/schedules", json={
        "name": "billing-primary", "timezone": "America/New_York", "layers": [{
            "name": "weekly", "rotation": "weekly", "handoff": "Mon 09:00",
            "start": "2026-11-02", "members": ["alice@example.com", "bob@example.com"]}]})
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_an_override_shows_in_shifts(service: Service) -> None:
    _schedule(service)
    login(service, "manager@example.com")
    out = run("override", "billing-primary", "--user", "bob@example.com",
              "--from", "tomorrow 21:00", "--until", "+3d", "--tz", "Europe/Paris",
              "--note", "dentist").output
    assert "on billing-primary: bob@example.com is on call from " in out and "CET" in out
    # Read in Europe/Paris: 21:00 there, tomorrow.
    paris = ZoneInfo("Europe/Paris")
    day = (datetime.now(UTC).astimezone(paris) + timedelta(days=1)).date()
    found = json.loads(run("shifts", "--user", "bob@example.com", "--days", "5",
                           "--json").output)
    [cover] = [x for x in found["shifts"] if x["override_id"]]
    start = datetime.fromisoformat(cover["start"]).astimezone(paris)
    assert start.strftime("%Y-%m-%d %H:%M") == f"{day} 21:00"
    # "+3d" for --until counts from --from: a three-day cover.
    assert datetime.fromisoformat(cover["end"]).astimezone(paris) == start + timedelta(days=3)
    assert cover["schedule"] == "billing-primary" and cover["user"] == "bob@example.com"
    table = run("shifts", "--schedule", "billing-primary", "--tz", "UTC").output
    assert table.splitlines()[0].split() == ["SCHEDULE", "FROM", "UNTIL", "WHO", "SOURCE"]
    assert any("bob@example.com" in line and "override" in line for line in table.splitlines())

    # A responder: their own shifts; an override for someone else is refused in one line.
    run("logout")
    login(service, "alice@example.com")
    mine = json.loads(run("shifts", "--me", "--days", "14", "--json").output)
    assert mine["user"] == "alice@example.com"
    assert mine["shifts"] and {x["user"] for x in mine["shifts"]} == {"alice@example.com"}
    one_line_error(run("override", "billing-primary", "--user", "bob@example.com",
                       "--from", "+1d", "--until", "+2d", ok=False), "Error: not allowed")
    one_line_error(run("override", "nope", "--from", "+1d", "--until", "+2d", ok=False),
                   "no schedule 'nope'", "billing-primary")
    one_line_error(run("override", "billing-primary", "--from", "the day after",
                       "--until", "+2d", ok=False), "is not a time")


def test_every_error_is_one_line_naming_the_fix(service: Service, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    one_line_error(run("incidents", ok=False), "not logged in: run `oncall login")
    one_line_error(run("ack", "1", ok=False), "not logged in")
    one_line_error(run("login", service.url, input="alice@example.com\nwrong password\n",
                       ok=False), "wrong email or password")
    assert not credentials(tmp_path).exists()
    one_line_error(run("login", "ftp://example.com", ok=False), "https://")

    login(service)
    one_line_error(run("ack", "999999", ok=False), f"no incident 999999 on {service.url}")
    incident = service.incident()
    # The token revoked elsewhere (the console, an admin): 401, log in again.
    token_id = json.loads(credentials(tmp_path).read_text())["token_id"]
    assert service.api("DELETE", f"/api/v1/tokens/{token_id}", who="alice").status_code == 204
    one_line_error(run("incidents", ok=False), "no longer accepts your API token",
                   f"oncall login {service.url}")

    login(service, "viewer@example.com")
    one_line_error(run("ack", str(incident), ok=False), "not allowed:",
                   "You are not allowed to acknowledge incidents")
    one_line_error(run("escalate", str(incident), ok=False), "not allowed:")

    # Some other web server at that address: said so, not a JSON error.
    def elsewhere(environ: Any, start_response: Any) -> list[bytes]:
        start_response("404 Not Found", [("Content-Type", "text/html")])
        return [b"<html><body>Not here</body></html>"]

    other = make_server("127.0.0.1", 0, elsewhere)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    try:
        one_line_error(run("login", f"http://127.0.0.1:{other.server_port}", "--token",
                           "oct_x", ok=False), "has no oncall API here (404)")
    finally:
        other.shutdown()
    one_line_error(run("login", service.url, "--token", "oct_mistyped", ok=False),
                   "does not accept this token")

    # A redirect (http to https, an old address) is named, never followed with the token.
    seen: list[str] = []

    def moved(environ: Any, start_response: Any) -> list[bytes]:
        seen.append(environ.get("HTTP_AUTHORIZATION", ""))
        start_response("301 Moved Permanently", [("Location", "https://oncall.example.com"
                                                  + environ["PATH_INFO"])])
        return [b""]

    old = make_server("127.0.0.1", 0, moved)
    threading.Thread(target=old.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("ONCALL_URL", f"http://127.0.0.1:{old.server_port}")
        monkeypatch.setenv("ONCALL_TOKEN", "oct_not-a-real-token")
        one_line_error(run("incidents", ok=False),
                       "redirects to https://oncall.example.com/api/v1/incidents",
                       "`oncall login https://oncall.example.com`")
        assert len(seen) == 1  # asked once, not followed
    finally:
        old.shutdown()
    monkeypatch.setenv("ONCALL_URL", service.url)
    one_line_error(run("incidents", ok=False), "refused ONCALL_TOKEN")
    down = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("ONCALL_URL", down)
    one_line_error(run("incidents", ok=False), f"cannot reach {down} (connection refused)")
    monkeypatch.setenv("ONCALL_TOKEN", service.cast.tokens["bob"])
    monkeypatch.setenv("ONCALL_URL", service.url)
    assert json.loads(run("whoami", "--json").output)["email"] == "bob@example.com"


def test_the_password_exchange_is_rate_limited(service: Service) -> None:
    for _ in range(3):
        one_line_error(run("login", service.url, input="bob@example.com\nnope nope nope\n",
                           ok=False), "wrong email or password")
    # The right password, too late: the account waits, and is told how long.
    line = one_line_error(run("login", service.url, input=f"bob@example.com\n{PASSWORD}\n",
                              ok=False), "too many failed sign-ins; wait ")
    assert re.search(r"wait \d+ minutes and try again", line)


def test_logout_revokes_the_token_and_deletes_the_file(service: Service,
                                                       tmp_path: Path) -> None:
    login(service)
    token = json.loads(credentials(tmp_path).read_text())["token"]
    out = run("logout").output
    assert out.strip() == f"logged out of {service.url}: token revoked, credentials deleted"
    assert not credentials(tmp_path).exists()
    r = requests.get(f"{service.url}/api/v1/incidents", timeout=10,
                     headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401
    assert "not logged in" in run("logout").output
    one_line_error(run("incidents", ok=False), "not logged in")


def test_logout_with_the_service_down_still_forgets_the_token(service: Service,
                                                              tmp_path: Path) -> None:
    login(service)
    saved = json.loads(credentials(tmp_path).read_text())
    down = f"http://127.0.0.1:{free_port()}"
    credentials(tmp_path).write_text(json.dumps({**saved, "url": down}))
    result = run("logout")
    assert "warning: the token was not revoked" in result.output
    assert f"logged out of {down}: credentials deleted" in result.output
    assert not credentials(tmp_path).exists()


def test_the_installed_command_prints_one_line_and_no_traceback(service: Service,
                                                                tmp_path: Path) -> None:
    """The real ``oncall`` process, as a shell runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONCALL_")}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")

    def oncall(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "oncall.cli", *args], cwd=tmp_path,
                              env={**env, **extra}, capture_output=True, text=True,
                              timeout=60)

    done = oncall("incidents")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "Error: not logged in: run `oncall login https://oncall.example.com` (the address "
        "of your oncall service), or set ONCALL_URL and ONCALL_TOKEN"]
    down = f"http://127.0.0.1:{free_port()}"
    done = oncall("ack", "3", ONCALL_URL=down, ONCALL_TOKEN="oct_x")
    assert done.returncode == 1 and len(done.stderr.strip().splitlines()) == 1
    assert "cannot reach" in done.stderr and "Traceback" not in done.stderr
    done = oncall("login", service.url, "--token", service.cast.tokens["bob"])
    assert done.returncode == 0, done.stderr
    assert "logged in to" in done.stdout and "as bob@example.com (responder)" in done.stdout
    done = oncall("incidents")
    assert done.returncode == 0 and done.stdout.strip() == "(none)"


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-12-24T21:00:00-05:00", "2026-12-24 21:00 -0500"),  # its own offset kept
    ("2026-12-24T21:00Z", "2026-12-24 21:00 +0000"),
    ("2026-12-24 21:00", "2026-12-24 21:00 -0500"),  # no offset: the zone given
    ("now", "2026-12-03 10:30 -0500"),
    ("+8h", "2026-12-03 18:30 -0500"),
    ("+90m", "2026-12-03 12:00 -0500"),
    ("+2d", "2026-12-05 10:30 -0500"),
    ("today 21:00", "2026-12-03 21:00 -0500"),
    ("tomorrow 09:00", "2026-12-04 09:00 -0500"),
    ("Tomorrow", "2026-12-04 00:00 -0500"),
    ("fri 21:00", "2026-12-04 21:00 -0500"),
    ("21:00", "2026-12-03 21:00 -0500"),
    ("Dec 31 23:30", "2026-12-31 23:30 -0500"),
])
def test_when_is_iso_or_a_friendly_form_in_the_local_zone(text: str, expected: str) -> None:
    zone = ZoneInfo("America/New_York")
    now = datetime(2026, 12, 3, 15, 30, tzinfo=UTC)  # a Thursday, 10:30 in New York
    assert parse_when(text, zone, now).strftime("%Y-%m-%d %H:%M %z") == expected


@pytest.mark.parametrize("text", ["yesterday-ish", "the day after", "+8 fortnights", ""])
def test_a_time_that_cannot_be_read_is_refused(text: str) -> None:
    import click

    with pytest.raises(click.BadParameter, match="is not a time"):
        parse_when(text, ZoneInfo("UTC"))
