"""Reading a Grafana OnCall account (public API v1, GET only), and its own final schedule
for ``--verify``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from oncall.importers.common import named
from oncall.importers.grafana_oncall.account import SOURCE, Account
from oncall.importers.grafana_oncall.teams import for_teams
from oncall.importers.http import ApiClient, SourceError


def gf_client(url: str, token: str, **kw: Any) -> ApiClient:
    """``url`` is the OnCall API's base (``https://oncall-prod-...grafana.net/oncall``)."""
    base = url.rstrip("/")
    return ApiClient(base if base.endswith("/api/v1") else f"{base}/api/v1",
                     {"Authorization": token}, name=SOURCE, **kw)


def pages(client: ApiClient, path: str, params: dict[str, Any] | None = None
          ) -> list[dict[str, Any]]:
    """Every item of ``results`` over the ``next`` links (absolute URLs under the base)."""
    out: list[dict[str, Any]] = []
    page = client.get(path, params)
    while True:
        items = page.get("results") if isinstance(page, dict) else None
        if not isinstance(items, list):
            raise SourceError(f"{SOURCE}: GET {path} has no 'results' list")
        out += items
        nxt = page.get("next")
        if not nxt:
            return out
        if not str(nxt).startswith(client.base_url + "/"):
            raise SourceError(f"{SOURCE}: GET {path} links its next page outside --url: {nxt}")
        page = client.get(str(nxt)[len(client.base_url):])


def fetch(client: ApiClient, schedule_names: tuple[str, ...] = (),
          team_names: tuple[str, ...] = ()) -> Account:
    """Read the account (GET only); an unknown ``--schedule`` or ``--team`` name is an
    error (before anything is written)."""
    teams = pages(client, "/teams/") if team_names else []
    acc = Account(users=pages(client, "/users/"), schedules=pages(client, "/schedules/"))
    acc.schedules = named(acc.schedules, schedule_names, SOURCE)
    acc.shifts = {x["id"]: x for x in pages(client, "/on_call_shifts/")}
    acc.chains = pages(client, "/escalation_chains/")
    acc.steps = pages(client, "/escalation_policies/")
    acc.integrations = pages(client, "/integrations/")
    return for_teams(acc, teams, team_names) if team_names else acc


def final_entries(client: ApiClient, schedule_id: str, emails: dict[str, str],
                  since: datetime, until: datetime) -> list[tuple[datetime, datetime,
                                                                  str | None]]:
    """Grafana OnCall's own final schedule (``final_shifts``) over whole UTC days: from
    ``start_date`` 00:00 UTC to ``end_date`` 00:00 UTC (its view stops a second before
    ``end_date``), so ``end_date`` is the day after ``until`` unless that is midnight."""
    last = until.astimezone(UTC)
    end = last.date() if last.time() == last.time().min else last.date() + timedelta(days=1)
    rows = pages(client, f"/schedules/{schedule_id}/final_shifts", {
        "start_date": since.astimezone(UTC).date().isoformat(),
        "end_date": end.isoformat()})
    return [(datetime.fromisoformat(r["shift_start"].replace("Z", "+00:00")),
             datetime.fromisoformat(r["shift_end"].replace("Z", "+00:00")),
             r.get("user_email") or emails.get(str(r.get("user_pk")))) for r in rows]
