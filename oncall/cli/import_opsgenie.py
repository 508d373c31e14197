"""``oncall import opsgenie``: read an Opsgenie account (REST API v2), write config-as-code
files, and prove the schedules match Opsgenie's own timeline (``--verify WEEKS``)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from oncall.cli import importers


def _opsgenie(url: str, token_env: str, out: Path, schedules: tuple[str, ...],
              teams: tuple[str, ...], since: datetime | None, weeks: int | None,
              timeout: float, retries: int) -> None:
    """Import from Opsgenie (REST API v2; https://api.eu.opsgenie.com in the EU)."""
    from oncall.importers.opsgenie.fetch import fetch, og_client, timeline
    from oncall.importers.opsgenie.mapping import map_account
    from oncall.importers.opsgenie.timeline import timeline_entries

    if teams and schedules:
        raise click.UsageError("--team and --schedule cannot be combined for Opsgenie: "
                               "--team already takes the schedules the teams own and the "
                               "ones their escalations reach")
    token, now = importers.start(token_env, out, since)
    with importers.import_errors(out):
        client = og_client(url, token, timeout=timeout, retries=retries)
        result = map_account(fetch(client, now, schedules, teams), now,
                             filtered=bool(schedules))

        def theirs(og_id: str, until: datetime) -> importers.Source:
            return timeline_entries(timeline(client, og_id, now, weeks or 1))

        differences = importers.write_and_verify(out, result, "Opsgenie", now, since, weeks,
                                                 schedules, theirs)
    importers.finish(result.report, out, weeks, differences, len(result.schedule_ids))


opsgenie: click.Command = click.command("opsgenie")(importers.source_options(
    "https://api.opsgenie.com", "Opsgenie", "an API key with read access (sent as GenieKey)")(
        _opsgenie))
