"""Reading an Opsgenie account (REST API v2, GET only): its pages, teams, schedules with
their overrides and timelines, and users' contacts."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from oncall.importers.common import ORDER_CHECK, iso, named
from oncall.importers.http import ApiClient, SourceError
from oncall.importers.opsgenie.account import SOURCE, Account
from oncall.importers.opsgenie.teams import TeamScope


def og_client(url: str, token: str, **kw: Any) -> ApiClient:
    return ApiClient(url, {"Authorization": f"GenieKey {token}"}, name=SOURCE, **kw)


def pages(client: ApiClient, path: str, limit: int = 100) -> Iterator[dict[str, Any]]:
    """Every item of ``data`` over Opsgenie's ``offset``/``limit`` pages, following
    ``paging.next`` (its query gives the next offset) until a page has none."""
    query: dict[str, Any] = {"offset": 0, "limit": limit}
    while True:
        page = client.get(path, query)
        items = page.get("data")
        if not isinstance(items, list):
            raise SourceError(f"{SOURCE}: GET {path} has no 'data' list")
        yield from items
        after = (page.get("paging") or {}).get("next")
        if not after or not items:
            return
        query = {**query, **dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(after).query))}


def timeline(client: ApiClient, schedule_id: str, since: datetime, weeks: int
             ) -> dict[str, Any]:
    """Opsgenie's own final schedule for ``weeks`` weeks from ``since``."""
    got = client.get(f"/v2/schedules/{schedule_id}/timeline", {
        "date": iso(since), "interval": weeks, "intervalUnit": "weeks"})
    return got.get("data") or {}


def fetch(client: ApiClient, now: datetime, schedule_names: tuple[str, ...] = (),
          team_names: tuple[str, ...] = (), weeks: int = ORDER_CHECK.days // 7) -> Account:
    """Read the account (GET only). With ``schedule_names``, only those schedules; with
    ``team_names``, only what belongs to those teams (:class:`TeamScope`). An unknown name
    is an error: a typo must not give a silently smaller import. Each schedule's timeline
    is read for ``weeks`` weeks (at least the verified ones: overlaps are found in it)."""
    acc = Account()
    acc.teams = client.get("/v2/teams").get("data") or []
    chosen = named(acc.teams, team_names, SOURCE, "team")
    acc.users = list(pages(client, "/v2/users"))
    acc.schedules = named(client.get("/v2/schedules", {"expand": "rotation"}).get("data")
                          or [], schedule_names, SOURCE)
    acc.escalations = client.get("/v2/escalations").get("data") or []
    acc.integrations = client.get("/v2/integrations").get("data") or []
    scope = None
    if team_names:
        members = {t["id"]: (client.get(f"/v2/teams/{t['id']}").get("data") or {})
                   .get("members") or [] for t in chosen}
        scope = TeamScope.of(chosen, members, acc.escalations, acc.schedules)
        acc.left_out += scope.left_schedules(acc.schedules)
        acc.schedules = [s for s in acc.schedules if s["id"] in scope.schedules]
    for s in acc.schedules:
        acc.overrides[s["id"]] = client.get(f"/v2/schedules/{s['id']}/overrides").get(
            "data") or []
        acc.timelines[s["id"]] = timeline(client, s["id"], now, weeks)
    if scope is not None:
        scope.add_override_users(acc.overrides, now)
        scope.narrow(acc)
    for u in acc.users:
        acc.contacts[u["id"]] = client.get(f"/v2/users/{u['id']}/contacts").get("data") or []
    return acc
