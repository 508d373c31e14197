"""``oncall import grafana-oncall``: the Grafana OnCall (public API v1) source of
``oncall import`` (options, output and ``--verify`` as for ``pagerduty``)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from oncall.cli import importers as base

# The options every source shares, as ``pagerduty`` defines them.
_SHARED = {p.name: p for p in base.pagerduty.params}


@base.import_group.command("grafana-oncall")
@click.option("--url", required=True,
              help="The OnCall API's base URL (Settings > API URL; /api/v1 is added).")
@click.option("--verify", "weeks", type=click.IntRange(1, 52), metavar="WEEKS",
              help="Compare Grafana OnCall's final shifts for the next WEEKS weeks with ours, "
                   "minute by minute; exit 1 on any difference.")
def grafana_oncall(url: str, weeks: int | None, token_env: str, out: Path,
                   schedules: tuple[str, ...], teams: tuple[str, ...], since: datetime | None,
                   timeout: float, retries: int) -> None:
    """Import from Grafana OnCall (public API v1)."""
    from oncall.importers.grafana_oncall.fetch import fetch, final_entries, gf_client
    from oncall.importers.grafana_oncall.mapping import map_account

    if teams and schedules:
        raise click.UsageError("--team and --schedule cannot be combined for Grafana OnCall: "
                               "--team already imports the team's schedules and the ones its "
                               "policies reach")
    token, now = base.start(token_env, out, since)
    with base.import_errors(out):
        client = gf_client(url, token, timeout=timeout, retries=retries)
        result = map_account(fetch(client, schedules, teams), now, filtered=bool(schedules))

        def theirs(gid: str, until: datetime) -> base.Source:
            return final_entries(client, gid, result.emails, now, until)

        differences = base.write_and_verify(out, result, "Grafana OnCall", now, since, weeks,
                                            schedules, theirs)
    base.finish(result.report, out, weeks, differences, len(result.schedule_ids))


grafana_oncall.params[1:1] = [_SHARED[n] for n in ("token_env", "out", "schedules", "teams",
                                                        "since")]
grafana_oncall.params += [_SHARED[n] for n in ("timeout", "retries")]
