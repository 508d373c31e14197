"""``oncall apply`` and ``oncall who``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click
from sqlalchemy import select

from oncall.apply import ConfigError, apply_config, load_tree
from oncall.cli import cli
from oncall.cli.common import json_option, session, settings, table
from oncall.config import ConfigError as SettingsError
from oncall.models import Schedule
from oncall.scheduling.store import who_is_on_call

DEFAULT_DIRS = ("rules", "schedules")


def run_apply(dirs: list[Path], dry_run: bool) -> list[str] | None:
    """Apply (or only diff) the config files; raises ConfigError naming file and line.
    None when ``dirs`` hold no config file at all: then nothing is changed, since an empty
    folder is far more often a mount or a path gone wrong than a wish to delete every
    schedule and policy the files once defined (an empty file ``{}`` says that)."""
    docs = load_tree(dirs, max_bytes=settings().config_max_bytes)
    if not docs:
        return None
    with session() as s:
        changes = apply_config(s, docs)
        if dry_run:
            s.rollback()
    return [str(c) for c in changes]


@cli.command("apply")
@click.option("--dry-run", is_flag=True, help="Print the changes; change nothing.")
@click.argument("dirs", nargs=-1, type=click.Path(path_type=Path))
def apply_cmd(dry_run: bool, dirs: tuple[Path, ...]) -> None:
    """Apply rules/ and schedules/ (or DIRS) to the database, in one transaction."""
    paths = list(dirs) or [Path(d) for d in DEFAULT_DIRS if Path(d).exists()]
    if not paths:
        # Not an error: a deployment's one-shot `oncall migrate && oncall apply` runs fine
        # before its operator has written any config.
        click.echo("no rules/ or schedules/ here: nothing to apply")
        return
    try:
        changes = run_apply(paths, dry_run)
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
    with session() as s:
        names = [schedule] if schedule else list(s.scalars(select(Schedule.name)
                                                            .order_by(Schedule.name)))
        if schedule and not s.scalar(select(Schedule).where(Schedule.name == schedule)):
            raise click.ClickException(f"no schedule {schedule}")
        rows = [{"schedule": n, "on_call": who_is_on_call(s, n, at) or "(nobody)",
                 "at": at.isoformat()} for n in names]
    table(rows, ["schedule", "on_call", "at"], as_json)
