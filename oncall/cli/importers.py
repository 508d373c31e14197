"""``oncall import pagerduty``: read another service's account, write config-as-code files
for review and ``oncall apply``, and prove the schedules match (``--verify WEEKS``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from oncall.cli import cli
from oncall.importers.http import SourceError
from oncall.importers.writer import OutputError, atomic_folder, check_target, write_files


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


@import_group.command("pagerduty")
@click.option("--url", default="https://api.pagerduty.com", show_default=True,
              help="The REST API's base URL.")
@click.option("--token-env", "token_env", required=True, metavar="VAR",
              help="The environment variable holding a read-only REST API key.")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path),
              help="A new (or empty) folder for the files; written only if all succeeds.")
@click.option("--schedule", "schedules", multiple=True, metavar="NAME",
              help="Import only this schedule (repeatable); users, policies and services "
                   "are still imported, references to other schedules are reported.")
@click.option("--verify", "weeks", type=click.IntRange(1, 52), metavar="WEEKS",
              help="Compare PagerDuty's final schedule for the next WEEKS weeks with ours, "
                   "minute by minute; exit 1 on any difference.")
@click.option("--timeout", type=click.FloatRange(0.1, 600), default=30.0, show_default=True,
              help="Seconds to wait for each answer.")
@click.option("--retries", type=click.IntRange(0, 10), default=4, show_default=True,
              help="Further attempts after a rate limit (429), a 5xx or a timeout.")
def pagerduty(url: str, token_env: str, out: Path, schedules: tuple[str, ...],
              weeks: int | None, timeout: float, retries: int) -> None:
    """Import from PagerDuty (REST API v2)."""
    from oncall.importers.files import schedule_specs
    from oncall.importers.pagerduty import fetch, map_account, parse_time, pd_client
    from oncall.importers.verify import compare, format_difference
    from oncall.rotations import final_shifts

    token = _token(token_env)
    try:
        check_target(out)
    except OutputError as exc:
        raise click.UsageError(str(exc)) from None
    now = utcnow().replace(second=0, microsecond=0)
    horizon = timedelta(days=max(OVERRIDE_DAYS, 7 * (weeks or 0)))
    differences: list[str] = []
    with import_errors(out):
        client = pd_client(url, token, timeout=timeout, retries=retries)
        account = fetch(client, now, horizon, schedules)
        result = map_account(account, now, filtered=bool(schedules))
        with atomic_folder(out) as tmp:
            write_files(tmp, result.files)
            if weeks:
                until = now + timedelta(weeks=weeks)
                specs = schedule_specs(tmp)
                lines = []
                for name, pd_id in result.schedule_ids.items():
                    got = client.get(f"/schedules/{pd_id}", {
                        "since": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "until": until.strftime("%Y-%m-%dT%H:%M:%SZ"), "time_zone": "UTC"})
                    entries = ((got["schedule"].get("final_schedule") or {})
                               .get("rendered_schedule_entries") or [])
                    theirs = [(parse_time(e["start"]), parse_time(e["end"]),
                               _who(e, result.emails)) for e in entries]
                    ours = [(x.start, x.end, x.user)
                            for x in final_shifts(specs[name], now, until)]
                    diffs = compare(name, theirs, ours, now, until)
                    tz = result.timezones[name]
                    differences += [format_difference(d, tz) for d in diffs]
                    lines.append(f"{name}: {len(diffs)} difference(s) over {weeks} week(s)")
                (tmp / "VERIFY.txt").write_text(
                    f"PagerDuty's final schedule against ours, {now:%Y-%m-%d %H:%M} UTC + "
                    f"{weeks} week(s)\n" + "\n".join(lines + differences) + "\n")
    report = result.report
    click.echo(f"imported into {out}: {report.summary()} (details: {out / 'REPORT.txt'})")
    notable = report.of("approximated") + report.of("not mapped")
    for e in notable[:SHOWN]:
        click.echo(f"  {e.status}: {e.kind} {e.name}: {e.detail}")
    if len(notable) > SHOWN:
        click.echo(f"  ... and {len(notable) - SHOWN} more in {out / 'REPORT.txt'}")
    if weeks:
        for line in differences:
            click.echo(line)
        n = len(differences)
        click.echo(f"verify: {n} difference(s) over {weeks} week(s) in "
                   f"{len(result.schedule_ids)} schedule(s)")
        if n:
            raise SystemExit(1)
    click.echo(f"next: review the files, then `oncall apply --dry-run {out}`")


def _who(entry: dict[str, object], emails: dict[str, str]) -> str | None:
    user = entry.get("user")
    if not isinstance(user, dict):
        return None
    return emails.get(str(user.get("id")), f"PagerDuty user {user.get('id')}")
from oncall.cli import import_grafana  # noqa: E402,F401 - the grafana-oncall source
