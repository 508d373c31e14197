"""``oncall simulate``: who would be paged, on which channel, when, for an alert at a given
time (``oncall.simulate``), on the local database. Writes nothing."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from oncall.channels import registry
from oncall.cli import cli
from oncall.cli.common import json_option, session, settings
from oncall.ingest import FORMATS, SEVERITIES
from oncall.models import utcnow
from oncall.simulate import Answer, Entry, SimulationError, simulate


@cli.command("simulate")
@click.option("--service", required=True, help="The service the alert is sent to.")
@click.option("--type", "type_", default="generic", show_default=True,
              help="The alert's type, as rules match it (charge_failure, cron_miss...).")
@click.option("--severity", type=click.Choice(SEVERITIES), default="critical",
              show_default=True)
@click.option("--label", "labels", multiple=True, metavar="K=V", help="A label (repeatable).")
@click.option("--summary", help="The alert's summary.")
@click.option("--value", type=float, help="The alert's value (threshold rules compare it).")
@click.option("--dedup-key", help="The sender's dedup key.")
@click.option("--payload", type=click.File("r"),
              help="Instead of the fields: a webhook body (JSON file, - for stdin) holding one "
                   "firing alert, as an integration of --format receives it.")
@click.option("--format", "kind", type=click.Choice(list(FORMATS)), default="generic",
              show_default=True, help="The format of --payload.")
@click.option("--at", "at_", help="When (ISO 8601; default now). Without an offset: in --tz.")
@click.option("--tz", "tz_name", default="UTC", show_default=True,
              help="The zone --at is read in and times are printed in.")
@json_option
def simulate_cmd(service: str, type_: str, severity: str, labels: tuple[str, ...],
                 summary: str | None, value: float | None, dedup_key: str | None,
                 payload: TextIO | None, kind: str, at_: str | None, tz_name: str,
                 as_json: bool) -> None:
    """What an alert would do: held or paged, by which rule, the open incident it joins,
    and who is paged on which channel when, until the ladder ends. Writes nothing.

    The channels are this process's: run it with the same TWILIO_* and SLACK_* settings as
    the worker."""
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise click.BadParameter(f"{tz_name!r} is not an IANA time zone",
                                 param_hint="--tz") from None
    at = _at(at_, tz)
    try:
        body = json.load(payload) if payload is not None else None
    except ValueError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--payload") from None
    registry.setup(settings())  # which channels page, as in the worker
    try:
        with session() as s:
            answer = simulate(s, service, at, type_=type_, severity=severity, summary=summary,
                              labels=_labels(labels), value=value, dedup_key=dedup_key,
                              payload=body, kind=kind)
            s.rollback()
    except SimulationError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(answer.as_json(), indent=2, default=_iso))
    else:
        for line in render(answer, tz):
            click.echo(line)


def _at(text: str | None, tz: ZoneInfo) -> datetime:
    if not text:
        return utcnow()
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter("must be an ISO 8601 time", param_hint="--at") from None
    return at if at.tzinfo is not None else at.replace(tzinfo=tz)


def _labels(pairs: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        name, eq, val = pair.partition("=")
        if not eq or not name:
            raise click.BadParameter(f"{pair!r} is not K=V", param_hint="--label")
        out[name] = val
    return out


def _iso(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def render(answer: Answer, tz: ZoneInfo) -> list[str]:
    """The answer as the terminal shows it: what happens, then one line per person paged
    (``03:00  level 1  alice@example.com (Alice)  sms, voice at 03:02``) and per note."""
    start = answer.at.astimezone(tz)
    a = answer.alert
    lines = [f"{start:%Y-%m-%d %H:%M} {tz.key}: a {a.severity} {a.type} alert for "
             f"{answer.service}", answer.reason,
             f"policy: {answer.policy or '(none)'}"]
    if answer.timeline:
        lines += ["", *(_line(e, tz, start) for e in answer.timeline)]
    if answer.if_crossed:
        lines += ["", "were the threshold crossed:",
                  *(_line(e, tz, start) for e in answer.if_crossed)]
    return lines


def _line(entry: Entry, tz: ZoneInfo, start: datetime) -> str:
    def when(t: datetime) -> str:
        local = t.astimezone(tz)
        return f"{local:%H:%M}" if local.date() == start.date() else f"{local:%m-%d %H:%M}"

    level = "admins " if entry.level == 0 else f"level {entry.level}"
    if entry.loop:
        level += f" (repeat {entry.loop})"
    if entry.note is not None:
        return f"{when(entry.at)}  {level}  {entry.note}"
    who = f"{entry.recipient} ({entry.name})" if entry.name else str(entry.recipient)
    channels = ", ".join(ch if t == entry.at else f"{ch} at {when(t)}"
                         for ch, t in entry.channels)
    return f"{when(entry.at)}  {level}  {who}  {channels}"
