"""``oncall shifts`` and ``override``: schedules through the API, with times read and shown
in a zone (``--tz``, default this computer's) and relative times (``+2h``)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
from dateutil import parser as dateparser
from dateutil import tz as dateutil_tz

from oncall.cli import cli
from oncall.cli.client import Failed, Remote, remote
from oncall.cli.common import echo_json, json_option, table


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
        return echo_json(found)
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
        return echo_json(made)
    click.echo(f"override {made['id']} on {schedule}: {made['user']} is on call from "
               f"{_local(made['start'], zone)} until {_local(made['end'], zone)}")
