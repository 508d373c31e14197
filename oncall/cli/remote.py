"""The responders' commands, against a running service's API: ``login``, ``logout``,
``whoami``, ``incidents``, ``ack``, ``resolve``, ``escalate``, ``shifts`` and ``override``.
They need no database here, only the address of the service and an API token
(``oncall login``; or ``ONCALL_URL`` and ``ONCALL_TOKEN``)."""

from __future__ import annotations

import json
import re
import socket
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
from dateutil import parser as dateparser
from dateutil import tz as dateutil_tz

from oncall.cli import cli
from oncall.cli.client import Failed, Remote, credentials_path, load, normalize_url, remote, save
from oncall.cli.common import json_option, table

STATUSES = ("open", "triggered", "acknowledged", "resolved", "all")


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2))


@cli.command()
@click.argument("url")
@click.option("--email", help="Your console email (asked if not given).")
@click.option("--token", "api_token", metavar="TOKEN",
              help="Save an existing API token instead of asking for a password.")
@click.option("--label", help="What the new token is for (default: oncall CLI on HOST).")
def login(url: str, email: str | None, api_token: str | None, label: str | None) -> None:
    """Log in to the oncall service at URL with your console email and password (or an
    existing API token), and save the address and an API token for the other commands in
    your config directory (readable by you only)."""
    url = normalize_url(url)
    if url.startswith("http://") and not re.match(r"http://(localhost|127\.|\[::1\])", url):
        click.echo(f"warning: {url} is plain http: your password and token cross the network "
                   "unencrypted; use https:// unless this is your own network", err=True)
    previous = load()
    if api_token:
        me = Remote(url, api_token.strip()).request(
            "GET", "/api/v1/auth/me",
            unauthorized=f"{url} does not accept this token (revoked, expired or mistyped): "
                         "check it, or log in with your password")
        saved = {"url": url, "token": api_token.strip(), "email": me["email"],
                 "token_id": me["token"]["id"], "from_password": False}
    else:
        if not email:
            email = click.prompt("Email")
        password = click.prompt("Password", hide_input=True)
        made = Remote(url).request(
            "POST", "/api/v1/auth/tokens", auth=False,
            body={"email": email, "password": password,
                  "label": label or f"oncall CLI on {socket.gethostname()}"[:200]},
            unauthorized=f"wrong email or password for {url} (forgot it? ask an admin for "
                         "a reset link)")
        me = {"email": made["user"], "role": made["role"]}
        saved = {"url": url, "token": made["token"], "email": made["user"],
                 "token_id": made["id"], "from_password": True}
    path = save(saved)
    if previous and previous.get("from_password") and previous.get("url") == url \
            and previous.get("token") != saved["token"]:
        _revoke_quietly(previous)  # the token the last `oncall login` here made, now unused
    click.echo(f"logged in to {url} as {me['email']} ({me['role']}); token saved in {path}")


def _revoke_quietly(saved: dict[str, Any]) -> str | None:
    """Revoke a saved token on its server; None when done (or already gone), else why not."""
    try:
        Remote(saved["url"], saved["token"]).request(
            "DELETE", "/api/v1/auth/tokens/current", unauthorized="gone")
    except Failed as exc:
        return None if exc.message == "gone" else exc.message
    return None


@cli.command()
def logout() -> None:
    """Revoke the saved API token on the service (when it can be reached) and delete the
    saved credentials."""
    saved = load()
    path = credentials_path()
    if saved is None:
        click.echo(f"not logged in (no {path})")
        return
    problem = _revoke_quietly(saved)
    path.unlink(missing_ok=True)
    if problem:
        click.echo(f"warning: the token was not revoked on {saved['url']} ({problem}); "
                   "revoke it in the console (My tokens) when you can", err=True)
        click.echo(f"logged out of {saved['url']}: credentials deleted")
    else:
        click.echo(f"logged out of {saved['url']}: token revoked, credentials deleted")


@cli.command()
@json_option
def whoami(as_json: bool) -> None:
    """Who the saved (or ONCALL_TOKEN) token acts as, on which service."""
    r = remote()
    me = r.request("GET", "/api/v1/auth/me")
    if as_json:
        _echo_json({**me, "url": r.url})
        return
    click.echo(f"{me['email']} ({me['name']}, {me['role']}) on {r.url}")


def _age(created: str | None, now: datetime) -> str:
    if not created:
        return ""
    seconds = max(0, int((now - datetime.fromisoformat(created)).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _who(actor: str | None) -> str | None:
    return actor.removeprefix("user:") if actor else None


def _short(text: str, width: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 1] + "…"


@cli.command()
@click.option("--mine", is_flag=True, help="Only incidents that paged you or that you "
                                           "acknowledged.")
@click.option("--status", type=click.Choice(STATUSES), default="open", show_default=True,
              help="open = triggered or acknowledged.")
@click.option("--limit", type=click.IntRange(1, 500), default=50, show_default=True)
@json_option
def incidents(mine: bool, status: str, limit: int, as_json: bool) -> None:
    """Incidents on the service, newest first."""
    params: dict[str, Any] = {"limit": limit, "status": None if status == "all" else status}
    if mine:
        params["mine"] = "true"
    found = remote().request("GET", "/api/v1/incidents", params=params)["incidents"]
    if as_json:
        _echo_json(found)
        return
    now = datetime.now(UTC)
    rows = [{"id": i["id"], "status": i["status"], "severity": i["severity"],
             "service": i["service"], "summary": _short(i["summary"]),
             "age": _age(i.get("created_at"), now), "acked_by": _who(i.get("acked_by"))}
            for i in found]
    table(rows, ["id", "status", "severity", "service", "summary", "age", "acked_by"], False)


def _act(incident_id: int, action: str) -> dict[str, Any]:
    r = remote()
    return dict(r.request("POST", f"/api/v1/incidents/{incident_id}/{action}",
                          not_found=f"no incident {incident_id} on {r.url}"))


@cli.command()
@click.argument("incident_id", type=int, metavar="ID")
@json_option
def ack(incident_id: int, as_json: bool) -> None:
    """Acknowledge incident ID: its escalation stops."""
    done = _act(incident_id, "ack")
    if as_json:
        return _echo_json(done)
    click.echo(f"incident {done['id']} acknowledged by {_who(done['acked_by'])}: "
               f"{_short(done['summary'])}")


@cli.command()
@click.argument("incident_id", type=int, metavar="ID")
@json_option
def resolve(incident_id: int, as_json: bool) -> None:
    """Resolve incident ID: escalation stops; a new alert opens a new incident."""
    done = _act(incident_id, "resolve")
    if as_json:
        return _echo_json(done)
    click.echo(f"incident {done['id']} resolved by {_who(done['resolved_by'])}: "
               f"{_short(done['summary'])}")


@cli.command()
@click.argument("incident_id", type=int, metavar="ID")
@json_option
def escalate(incident_id: int, as_json: bool) -> None:
    """Page the next escalation level of incident ID now."""
    done = _act(incident_id, "escalate")
    if as_json:
        return _echo_json(done)
    click.echo(f"incident {done['id']} escalated: level {done['level']} paged: "
               f"{_short(done['summary'])}")


def _zone(name: str | None) -> tzinfo:
    """``--tz`` or this computer's local zone (``TZ``, else the system's)."""
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise click.BadParameter(f"unknown timezone {name!r} (e.g. Europe/Paris)",
                                     param_hint="--tz") from None
    return dateutil_tz.tzlocal()


def _local(iso: str, zone: tzinfo) -> str:
    at = datetime.fromisoformat(iso).astimezone(zone)
    return f"{at:%a} {at.day} {at:%b %H:%M} {at.tzname()}"


RELATIVE = re.compile(r"\+\s*(\d+)\s*([mhdw])")
UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_when(value: str, zone: tzinfo, now: datetime | None = None,
               param: str = "WHEN") -> datetime:
    """An ISO 8601 time (its offset kept; without one, in ``zone``), ``now``, ``+8h``
    (``m``, ``h``, ``d``, ``w``), ``today 21:00``, ``tomorrow 09:00``, ``fri 21:00`` or
    another form python-dateutil reads, in ``zone``."""
    now = (now or datetime.now(UTC)).astimezone(zone)
    text = value.strip().lower()
    if text == "now":
        return now
    rel = RELATIVE.fullmatch(text)
    if rel:
        return now + timedelta(**{UNITS[rel[2]]: int(rel[1])})
    base = now.replace(hour=0, minute=0, second=0, microsecond=0)
    for word, days in (("today", 0), ("tomorrow", 1)):
        if text == word or text.startswith(word + " "):
            text = text[len(word):].strip() or "00:00"
            base = base + timedelta(days=days)
            break
    try:
        at = dateparser.parse(text, default=base.replace(tzinfo=None))
    except (ValueError, OverflowError):
        raise click.BadParameter(f"{value!r} is not a time: use ISO 8601 "
                                 "(2026-12-24T21:00), 'tomorrow 09:00', 'fri 21:00' or "
                                 "'+8h'", param_hint=param) from None
    return at.replace(tzinfo=zone) if at.tzinfo is None else at


def _schedule_id(r: Remote, name: str) -> int:
    schedules = r.request("GET", "/api/v1/schedules")["schedules"]
    for found in schedules:
        if found["name"] == name:
            return int(found["id"])
    names = ", ".join(s["name"] for s in schedules) or "none yet"
    raise Failed(f"no schedule {name!r} on {r.url} (schedules: {names})")


ZONE_HELP = "Times are shown in --tz (default: this computer's local zone, from TZ)."


@cli.command()
@click.option("--me", is_flag=True, help="Only your shifts.")
@click.option("--user", "user_email", metavar="EMAIL", help="Only EMAIL's shifts.")
@click.option("--schedule", help="Only this schedule (default: every schedule).")
@click.option("--days", type=click.IntRange(1, 92), default=7, show_default=True,
              help="How far ahead to look.")
@click.option("--tz", "tz_name", metavar="ZONE", help="Show times in this IANA zone.")
@json_option
def shifts(me: bool, user_email: str | None, schedule: str | None, days: int,
           tz_name: str | None, as_json: bool) -> None:
    """Who is on call from now on, shift by shift, on every schedule (or --schedule S);
    gaps show as (nobody). Times are shown in --tz (default: this computer's local zone)."""
    if me and user_email:
        raise click.UsageError("give --me or --user, not both")
    zone = _zone(tz_name)
    r = remote()
    now = datetime.now(UTC)
    params = {"start": now.isoformat(), "end": (now + timedelta(days=days)).isoformat(),
              "schedule": schedule, "user": "me" if me else user_email}
    found = r.request("GET", "/api/v1/shifts", params=params,
                      not_found=f"no schedule {schedule!r} on {r.url}")
    if as_json:
        return _echo_json(found)
    rows = [{"schedule": x["schedule"], "from": _local(x["start"], zone),
             "until": _local(x["end"], zone), "who": x["user"] or "(nobody)",
             "source": "override" if x["override_id"] else (x["layer"] or "")}
            for x in found["shifts"]]
    if not rows and (me or user_email):
        who = "you have" if me else f"{found['user']} has"
        click.echo(f"{who} no shifts in the next {days} day(s)")
        return
    table(rows, ["schedule", "from", "until", "who", "source"], False)


@cli.command()
@click.argument("schedule")
@click.option("--user", "user_email", metavar="EMAIL",
              help="Who goes on call (default: you).")
@click.option("--from", "start", required=True, metavar="WHEN",
              help="ISO 8601, 'now', 'today 21:00', 'tomorrow 09:00', 'fri 21:00', '+2h' "
                   "(from now).")
@click.option("--until", "end", required=True, metavar="WHEN",
              help="Same forms; here '+8h' counts from --from.")
@click.option("--note", help="Why (shown on the schedule).")
@click.option("--tz", "tz_name", metavar="ZONE",
              help="The zone of times without an offset (default: this computer's local "
                   "zone, from TZ).")
@json_option
def override(schedule: str, user_email: str | None, start: str, end: str, note: str | None,
             tz_name: str | None, as_json: bool) -> None:
    """Put EMAIL (or you) on call on SCHEDULE from --from until --until, on top of every
    layer. Times without an offset are read in your computer's local zone (or --tz).
    Responders may cover only themselves, on schedules they are on; managers anyone."""
    zone = _zone(tz_name)
    begins = parse_when(start, zone, param="--from")
    # "+8h" for the end counts from the start: an 8-hour cover, wherever it begins.
    ends = parse_when(end, zone, now=begins if end.strip().startswith("+") else None,
                      param="--until")
    if ends <= begins:
        raise click.BadParameter(f"must be after --from ({_local(begins.isoformat(), zone)})",
                                 param_hint="--until")
    r = remote()
    schedule_id = _schedule_id(r, schedule)
    body: dict[str, Any] = {"start": begins.isoformat(), "end": ends.isoformat(),
                            "note": note}
    if user_email:
        body["user"] = user_email
    made = r.request("POST", f"/api/v1/schedules/{schedule_id}/overrides", body=body)
    if as_json:
        return _echo_json(made)
    click.echo(f"override {made['id']} on {schedule}: {made['user']} is on call from "
               f"{_local(made['start'], zone)} until {_local(made['end'], zone)}")
