"""``oncall import opsgenie``: read an Opsgenie account (REST API v2), write config-as-code
files, and prove the schedules match Opsgenie's own timeline (``--verify WEEKS``)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import click

from oncall.cli import importers
from oncall.importers.http import SourceError
from oncall.importers.writer import OutputError, atomic_folder, check_target


@importers.import_group.command("opsgenie")
@click.option("--url", default="https://api.opsgenie.com", show_default=True,
              help="The REST API's base URL (https://api.eu.opsgenie.com in the EU).")
@click.option("--token-env", "token_env", required=True, metavar="VAR",
              help="The environment variable holding an API key with read access "
                   "(sent as GenieKey).")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path),
              help="A new (or empty) folder for the files; written only if all succeeds.")
@click.option("--schedule", "schedules", multiple=True, metavar="NAME",
              help="Import only this schedule (repeatable); users, escalations and teams "
                   "are still imported, references to other schedules are reported.")
@click.option("--verify", "weeks", type=click.IntRange(1, 52), metavar="WEEKS",
              help="Compare Opsgenie's final timeline for the next WEEKS weeks with ours, "
                   "minute by minute; exit 1 on any difference.")
@click.option("--timeout", type=click.FloatRange(0.1, 600), default=30.0, show_default=True,
              help="Seconds to wait for each answer.")
@click.option("--retries", type=click.IntRange(0, 10), default=4, show_default=True,
              help="Further attempts after a rate limit (429), a 5xx or a timeout.")
def opsgenie(url: str, token_env: str, out: Path, schedules: tuple[str, ...],
             weeks: int | None, timeout: float, retries: int) -> None:
    """Import from Opsgenie (REST API v2)."""
    from oncall.importers.files import schedule_specs
    from oncall.importers.opsgenie import fetch, map_account, og_client, timeline, timeline_entries
    from oncall.importers.verify import compare, format_difference
    from oncall.rotations import final_shifts

    token = importers._token(token_env)
    try:
        check_target(out)
    except OutputError as exc:
        raise click.UsageError(str(exc)) from None
    now = importers.utcnow().replace(second=0, microsecond=0)
    differences: list[str] = []
    try:
        client = og_client(url, token, timeout=timeout, retries=retries)
        result = map_account(fetch(client, now, schedules), now, filtered=bool(schedules))
        with atomic_folder(out) as tmp:
            for rel, text in result.files.items():
                (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
                (tmp / rel).write_text(text)
            if weeks:
                until = now + timedelta(weeks=weeks)
                specs = schedule_specs(tmp)
                lines = []
                for name, og_id in result.schedule_ids.items():
                    theirs = timeline_entries(timeline(client, og_id, now, weeks))
                    ours = [(x.start, x.end, x.user)
                            for x in final_shifts(specs[name], now, until)]
                    diffs = compare(name, theirs, ours, now, until)
                    differences += [format_difference(d, result.timezones[name])
                                    for d in diffs]
                    lines.append(f"{name}: {len(diffs)} difference(s) over {weeks} week(s)")
                (tmp / "VERIFY.txt").write_text(
                    f"Opsgenie's final timeline against ours, {now:%Y-%m-%d %H:%M} UTC + "
                    f"{weeks} week(s)\n" + "\n".join(lines + differences) + "\n")
    except SourceError as exc:
        raise click.ClickException(f"{exc} (nothing was written to {out})") from None
    except OutputError as exc:
        raise click.ClickException(str(exc)) from None
    importers.finish(result.report, out, weeks, differences, len(result.schedule_ids))
