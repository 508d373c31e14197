"""``oncall apply`` and ``oncall who``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.apply import ConfigError, apply_config, load_tree
from oncall.cli import cli
from oncall.cli.common import json_option, session, settings, table
from oncall.config import ConfigError as SettingsError
from oncall.models import Schedule
from oncall.schedules import history
from oncall.schedules.coverage import coverage_gaps
from oncall.schedules.store import who_is_on_call

DEFAULT_DIRS = ("rules", "schedules")


def run_apply(dirs: list[Path], dry_run: bool, effective: str = history.NEXT_HANDOFF,
              warnings: list[str] | None = None) -> list[str] | None:
    """Apply (or only diff) the config files; raises ConfigError naming file and line.
    None when ``dirs`` hold no config file at all: then nothing is changed, since an empty
    folder is far more often a mount or a path gone wrong than a wish to delete every
    schedule and policy the files once defined (an empty file ``{}`` says that).
    Coverage gaps in the next four weeks, as the files leave them, go to ``warnings``."""
    docs = load_tree(dirs, max_bytes=settings().config_max_bytes)
    if not docs:
        return None
    try:
        when = history.parse_effective(effective)
    except history.EffectiveError as exc:
        raise click.BadParameter(exc.message, param_hint="--effective") from None
    now = datetime.now(UTC)
    with session(create=True) as s:  # a first `oncall apply` makes the database
        try:
            changes = apply_config(s, docs, effective=when, now=now)
        except history.EffectiveError as exc:
            raise click.BadParameter(exc.message, param_hint="--effective") from None
        if warnings is not None:
            warnings += gap_warnings(s, now)
        if dry_run:
            s.rollback()
    return [str(c) for c in changes]


def gap_warnings(s: Session, now: datetime) -> list[str]:
    """One line per coverage gap on a schedule that a policy pages."""
    return [f"WARNING: nobody on call on schedule {g.schedule} from "
            f"{g.start.strftime('%Y-%m-%d %H:%M')} to {g.end.strftime('%Y-%m-%d %H:%M')} UTC "
            f"(paged by {', '.join(g.policies)})" for g in coverage_gaps(s, now)]


@cli.command("apply")
@click.option("--dry-run", is_flag=True, help="Print the changes (with each schedule's shift "
              "diff for the next 4 weeks); change nothing.")
@click.option("--effective", default=history.NEXT_HANDOFF, show_default=True,
              metavar="next-handoff|now|TIME",
              help="When layer changes take effect: each layer's next handoff, now, or an "
                   "ISO 8601 time with an offset. Shifts before it never change.")
@click.argument("dirs", nargs=-1, type=click.Path(path_type=Path))
def apply_cmd(dry_run: bool, effective: str, dirs: tuple[Path, ...]) -> None:
    """Apply rules/ and schedules/ (or DIRS) to the database, in one transaction."""
    paths = list(dirs) or [Path(d) for d in DEFAULT_DIRS if Path(d).exists()]
    if not paths:
        # Not an error: a deployment's one-shot `oncall migrate && oncall apply` runs fine
        # before its operator has written any config.
        click.echo("no rules/ or schedules/ here: nothing to apply")
        return
    warnings: list[str] = []
    try:
        changes = run_apply(paths, dry_run, effective, warnings)
    except (ConfigError, SettingsError) as exc:
        raise click.ClickException(f"{exc}\nnothing was applied") from None
    if changes is None:
        click.echo(f"no config files (*.yaml, *.yml) in {', '.join(map(str, paths))}: "
                   "nothing to apply")
        return
    for line in changes:
        click.echo(line)
    verb = "would change" if dry_run else "applied"
    click.echo(f"{verb} {len(changes)} object(s)" if changes else "no changes: up to date")
    for line in warnings:
        click.echo(line, err=True)


def _parse_at(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 time",
                                 param_hint="--at") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


@cli.command("who")
@click.argument("schedule", required=False)
@click.option("--at", "at_", help="An ISO 8601 time (default now; UTC if no offset).")
@json_option
def who(schedule: str | None, at_: str | None, as_json: bool) -> None:
    """Who is on call, on SCHEDULE or on every schedule."""
    at = _parse_at(at_)
    if at_ is None:
        at = at.replace(microsecond=0)  # "now", shown to the second
    with session() as s:
        names = [schedule] if schedule else list(s.scalars(select(Schedule.name)
                                                            .order_by(Schedule.name)))
        if schedule and not s.scalar(select(Schedule).where(Schedule.name == schedule)):
            raise click.ClickException(f"no schedule {schedule}")
        rows = [{"schedule": n, "on_call": who_is_on_call(s, n, at) or "(nobody)",
                 "at": at.isoformat()} for n in names]
    table(rows, ["schedule", "on_call", "at"], as_json)
