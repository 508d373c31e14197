"""``oncall import grafana-oncall``: the Grafana OnCall (public API v1) source of
``oncall import`` (options, output and ``--verify`` as for ``pagerduty``)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import click

from oncall.cli import importers as base
from oncall.importers.writer import OutputError, atomic_folder, check_target, write_files

# The options every source shares, as ``pagerduty`` defines them.
_SHARED = {p.name: p for p in base.pagerduty.params}


@base.import_group.command("grafana-oncall")
@click.option("--url", required=True,
              help="The OnCall API's base URL (Settings > API URL; /api/v1 is added).")
@click.option("--verify", "weeks", type=click.IntRange(1, 52), metavar="WEEKS",
              help="Compare Grafana OnCall's final shifts for the next WEEKS weeks with ours, "
                   "minute by minute; exit 1 on any difference.")
def grafana_oncall(url: str, weeks: int | None, token_env: str, out: Path,
                   schedules: tuple[str, ...], timeout: float, retries: int) -> None:
    """Import from Grafana OnCall (public API v1)."""
    from oncall.importers.files import schedule_specs
    from oncall.importers.grafana_oncall import fetch, final_entries, gf_client, map_account
    from oncall.importers.verify import compare, format_difference
    from oncall.rotations import final_shifts

    token = base._token(token_env)
    try:
        check_target(out)
    except OutputError as exc:
        raise click.UsageError(str(exc)) from None
    now = base.utcnow().replace(second=0, microsecond=0)
    found: list[str] = []
    with base.import_errors(out):
        client = gf_client(url, token, timeout=timeout, retries=retries)
        result = map_account(fetch(client, schedules), now, filtered=bool(schedules))
        with atomic_folder(out) as tmp:
            write_files(tmp, result.files)
            if weeks:
                until = now + timedelta(weeks=weeks)
                specs = schedule_specs(tmp)
                summary = []
                for name, gid in result.schedule_ids.items():
                    diffs = compare(name, final_entries(client, gid, result.emails, now, until),
                                    [(x.start, x.end, x.user)
                                     for x in final_shifts(specs[name], now, until)], now, until)
                    found += [format_difference(d, result.timezones[name]) for d in diffs]
                    summary.append(f"{name}: {len(diffs)} difference(s) over {weeks} week(s)")
                (tmp / "VERIFY.txt").write_text(
                    f"Grafana OnCall's final shifts against ours from {now:%Y-%m-%d %H:%M} UTC"
                    f" for {weeks} week(s)\n" + "\n".join(summary + found) + "\n")
    report = result.report
    click.echo(f"imported into {out}: {report.summary()} (details: {out / 'REPORT.txt'})")
    shown = [e for e in report.entries if e.status != "mapped"]
    click.echo("\n".join(f"  {e.status}: {e.kind} {e.name}: {e.detail}"
                         for e in shown[:base.SHOWN]) or "  nothing approximated or left out")
    if len(shown) > base.SHOWN:
        click.echo(f"  ... {len(shown) - base.SHOWN} more in REPORT.txt")
    if weeks:
        click.echo("\n".join([*found, f"verify: {len(found)} difference(s) over {weeks} "
                              f"week(s) in {len(result.schedule_ids)} schedule(s)"]))
        if found:
            raise SystemExit(1)
    click.echo(f"next: review the files, then `oncall apply --dry-run {out}`")


grafana_oncall.params[1:1] = [_SHARED[n] for n in ("token_env", "out", "schedules")]
grafana_oncall.params += [_SHARED[n] for n in ("timeout", "retries")]
