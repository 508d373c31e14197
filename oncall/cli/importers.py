"""``oncall import pagerduty``: read another service's account, write config-as-code files
for review and ``oncall apply``, and prove the schedules match (``--verify WEEKS``)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, TypeVar

import click

from oncall.cli import cli
from oncall.importers.http import SourceError
from oncall.importers.report import Report
from oncall.importers.writer import OutputError, atomic_folder, check_target, write_files

F = TypeVar("F", bound=Callable[..., Any])


def utcnow() -> datetime:
    """Now (tests move it)."""
    return datetime.now(UTC)


# Approximations and omissions printed (all of them are in REPORT.txt).
SHOWN = 30
# How far ahead overrides are read (at least the verified window).
OVERRIDE_DAYS = 180


@cli.group("import")
def import_group() -> None:
    """Import users, schedules, escalation policies and services from another on-call
    service into config files (it only reads from the source)."""


def _token(var: str) -> str:
    value = os.environ.get(var, "").strip()
    if not value:
        raise click.UsageError(f"the environment variable {var} (--token-env) is not set or "
                               "empty: put the API token there (never on the command line)")
    return value


@contextmanager
def import_errors(out: Path) -> Iterator[None]:
    """A source or output failure inside as one line (``--out`` is left as it was)."""
    try:
        yield
    except SourceError as exc:
        raise click.ClickException(f"{exc} (nothing was written to {out})") from None
    except OutputError as exc:
        raise click.ClickException(str(exc)) from None


def source_options(url: str, source: str, key: str) -> Callable[[F], F]:
    """The options every ``oncall import <source>`` takes."""
    options = [
        click.option("--url", default=url, show_default=True, help="The API's base URL."),
        click.option("--token-env", "token_env", required=True, metavar="VAR",
                     help=f"The environment variable holding {key}."),
        click.option("--out", "out", required=True, type=click.Path(path_type=Path),
                     help="A new (or empty) folder for the files; written only if all "
                          "succeeds."),
        click.option("--schedule", "schedules", multiple=True, metavar="NAME",
                     help="Import only this schedule (repeatable); users, policies and "
                          "services are still imported, references to other schedules are "
                          "reported."),
        click.option("--team", "teams", multiple=True, metavar="NAME",
                     help="Import only what belongs to this team (repeatable): its services, "
                          "their policies, the schedules and users those reach, and the "
                          "team's own schedules and members (not with --schedule)."),
        click.option("--since", "since", metavar="DATE", callback=_since,
                     help="Import the account as of DATE (YYYY-MM-DD, midnight UTC, or an "
                          "ISO time with its offset), now or later: layers ended by then "
                          "are left out, overrides from then on are read, --verify starts "
                          "then. Default: now."),
        click.option("--verify", "weeks", type=click.IntRange(1, 52), metavar="WEEKS",
                     help=f"Compare {source}'s final schedule for the next WEEKS weeks with "
                          "ours, minute by minute; exit 1 on any difference."),
        click.option("--timeout", type=click.FloatRange(0.1, 600), default=30.0,
                     show_default=True, help="Seconds to wait for each answer."),
        click.option("--retries", type=click.IntRange(0, 10), default=4, show_default=True,
                     help="Further attempts after a rate limit (429), a 5xx or a timeout."),
    ]

    def wrap(f: F) -> F:
        for option in reversed(options):
            f = option(f)
        return f

    return wrap


def _since(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD) or an ISO time "
                                 "(2027-01-04T09:00:00-05:00)") from None
    if at.tzinfo is None:
        if len(value.strip()) > 10:
            raise click.BadParameter(f"{value!r} has no UTC offset: add one (Z, -05:00)")
        at = at.replace(tzinfo=UTC)
    at = at.astimezone(UTC).replace(second=0, microsecond=0)
    now = utcnow().replace(second=0, microsecond=0)
    if len(value.strip()) == 10 and at.date() == now.date():
        return now  # today: from now on
    if at < now:
        raise click.BadParameter(f"{value} is in the past: past shifts are not imported "
                                 "(leave --since out to import as of now)")
    return at


def start(token_env: str, out: Path, since: datetime | None = None) -> tuple[str, datetime]:
    """The token, after checking ``out``, and the moment the import is taken at: ``since``
    or now (to the minute)."""
    token = _token(token_env)
    try:
        check_target(out)
    except OutputError as exc:
        raise click.UsageError(str(exc)) from None
    return token, since or utcnow().replace(second=0, microsecond=0)


Source = list[tuple[datetime, datetime, str | None]]


class Imported(Protocol):
    """What every source's mapping returns."""

    files: dict[str, str]
    report: Report
    schedule_ids: dict[str, str]  # our schedule name -> the source's id
    timezones: dict[str, str]  # our schedule name -> zone


def write_and_verify(out: Path, result: Imported, source: str, now: datetime,
                     since: datetime | None, weeks: int | None, named: tuple[str, ...],
                     theirs: Callable[[str, datetime], Source]) -> list[str]:
    """Write the import into ``out`` all or nothing, with its report (dated when ``since``
    moved it); with ``weeks``, compare each schedule with ``theirs(source id, until)``
    first, into VERIFY.txt. The differences, one line each. A schedule named with
    ``--schedule`` that could not be imported is an error (nothing is written)."""
    from oncall.importers.files import schedule_specs
    from oncall.importers.verify import compare, format_difference
    from oncall.schedules.rotation import final_shifts

    for entry in result.report.of("not mapped"):
        if entry.kind == "schedule" and entry.name in named:
            raise SourceError(f"{source} schedule {entry.name!r} (--schedule) cannot be "
                              f"imported: {entry.detail}")
    if since:
        result.report.as_of = f"as of {since:%Y-%m-%d %H:%M} UTC (--since)"
    differences: list[str] = []
    with atomic_folder(out) as tmp:
        write_files(tmp, {**result.files, "REPORT.txt": result.report.text()})
        if weeks:
            until = now + timedelta(weeks=weeks)
            specs = schedule_specs(tmp)
            lines = []
            for name, source_id in result.schedule_ids.items():
                ours = [(x.start, x.end, x.user) for x in final_shifts(specs[name], now, until)]
                diffs = compare(name, theirs(source_id, until), ours, now, until)
                differences += [format_difference(d, result.timezones[name]) for d in diffs]
                lines.append(f"{name}: {len(diffs)} difference(s) over {weeks} week(s)")
            (tmp / "VERIFY.txt").write_text(
                f"{source}'s final schedule against ours, {now:%Y-%m-%d %H:%M} UTC + "
                f"{weeks} week(s)\n" + "\n".join(lines + differences) + "\n")
    return differences


@import_group.command("pagerduty")
@source_options("https://api.pagerduty.com", "PagerDuty", "a read-only REST API key")
def pagerduty(url: str, token_env: str, out: Path, schedules: tuple[str, ...],
              teams: tuple[str, ...], since: datetime | None, weeks: int | None,
              timeout: float, retries: int) -> None:
    """Import from PagerDuty (REST API v2)."""
    from oncall.importers.common import parse_time
    from oncall.importers.pagerduty.fetch import fetch, pd_client
    from oncall.importers.pagerduty.mapping import map_account

    if teams and schedules:
        raise click.UsageError("--team and --schedule cannot be combined: --team imports "
                               "the schedules its services' policies need")
    token, now = start(token_env, out, since)
    horizon = timedelta(days=max(OVERRIDE_DAYS, 7 * (weeks or 0)))
    with import_errors(out):
        client = pd_client(url, token, timeout=timeout, retries=retries)
        account = fetch(client, now, horizon, schedules, teams)
        result = map_account(account, now, filtered=bool(schedules))

        def theirs(pd_id: str, until: datetime) -> Source:
            got = client.get(f"/schedules/{pd_id}", {
                "since": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "until": until.strftime("%Y-%m-%dT%H:%M:%SZ"), "time_zone": "UTC"})
            entries = ((got["schedule"].get("final_schedule") or {})
                       .get("rendered_schedule_entries") or [])
            return [(parse_time(e["start"]), parse_time(e["end"]), _who(e, result.emails))
                    for e in entries]

        differences = write_and_verify(out, result, "PagerDuty", now, since, weeks, schedules,
                                       theirs)
    finish(result.report, out, weeks, differences, len(result.schedule_ids))


def finish(report: Report, out: Path, weeks: int | None, differences: list[str],
           schedules: int) -> None:
    """Print the import's outcome (the report's notable entries, the differences), exit 1
    on any difference."""
    click.echo(f"imported into {out}: {report.summary()} (details: {out / 'REPORT.txt'})")
    notable = report.of("approximated") + report.of("not mapped")
    for e in notable[:SHOWN]:
        click.echo(f"  {e.status}: {e.kind} {e.name}: {e.detail}")
    if len(notable) > SHOWN:
        click.echo(f"  ... and {len(notable) - SHOWN} more in {out / 'REPORT.txt'}")
    if weeks:
        for line in differences:
            click.echo(line)
        click.echo(f"verify: {len(differences)} difference(s) over {weeks} week(s) in "
                   f"{schedules} schedule(s)" + (f" (also in {out / 'VERIFY.txt'})"
                                                  if differences else ""))
    click.echo(f"next: review the files, then `oncall apply --dry-run {out}` and "
               f"`oncall apply --effective now {out}`")
    for script, what in (("integrations", "on the server: prints each new URL or key once"),
                         ("overrides", "after `oncall login` as a manager")):
        path = out / f"{script}.json"
        count = len(json.loads(path.read_text())) if path.exists() else 0
        if count:
            noun = script if count > 1 else script.removesuffix("s")
            click.echo(f"      then `sh {out / script}.sh` ({count} {noun}; {what})")
    if differences:
        raise SystemExit(1)


def _who(entry: dict[str, object], emails: dict[str, str]) -> str | None:
    user = entry.get("user")
    if not isinstance(user, dict):
        return None
    return emails.get(str(user.get("id")), f"PagerDuty user {user.get('id')}")


from oncall.cli import import_opsgenie  # noqa: E402 - `oncall import opsgenie`

import_group.add_command(import_opsgenie.opsgenie)
from oncall.cli import import_grafana  # noqa: E402,F401 - the grafana-oncall source
