"""A fake Grafana OnCall public API v1 for the importer's tests.

No machine-readable description of this API is published; the shapes here follow its public
API reference (Grafana OnCall docs, "API reference", docs/sources/oncall-api-reference/ in
grafana/oncall) and, where the reference is silent or wrong (users' ``role`` values, the
fields each shift type shows), the public API's serializers (engine/apps/public_api/
serializers/):
https://grafana.com/docs/oncall/latest/oncall-api-reference/ - pages ``users``, ``schedules``
(types ``ical``/``calendar``/``web``, ``time_zone``, ``shifts``, ``ical_url_overrides``,
``GET /schedules/{id}/final_shifts?start_date=&end_date=`` -> ``user_pk``, ``user_email``,
``user_username``, ``shift_start``, ``shift_end``), ``on_call_shifts`` (``type``
``single_event``/``recurrent_event``/``rolling_users``, ``level``, ``start`` in local time,
``duration`` in seconds, ``frequency`` ``hourly``/``daily``/``weekly``/``monthly``,
``interval``, ``by_day``, ``week_start``, ``until``, ``users``, ``rolling_users``,
``start_rotation_from_user_index``, ``time_zone``), ``escalation_chains``,
``escalation_policies`` (``escalation_chain_id``, ``position``, ``type``, ``duration``,
``persons_to_notify``, ``persons_to_notify_next_each_time``,
``notify_on_call_from_schedule``, ``important``) and ``integrations`` (``type``,
``default_route.escalation_chain_id``, ``team_id``), ``teams`` (``id``, ``name``; users'
``teams`` and ``team_id`` on schedules, shifts, chains and integrations). Auth is the bare
token in ``Authorization``; lists are pages of ``results`` linked by absolute ``next`` URLs.
Every answer is checked against the small schema ``SHAPES`` below (the fields the importer
reads; for users, teams, schedules and shifts every field the serializer shows and no
other); ``invalid`` collects mismatches.

``final_shifts`` is computed here by an expansion written for this fake alone (it does not call
``oncall.schedules.rotation``): event k of a recurring shift starts ``k * interval`` periods
after its local ``start`` (days and weeks on the local wall clock, hours as elapsed time), with
``by_day`` the event is on each listed weekday of that period, it lasts ``duration`` (wall
clock for day-based shifts), none start after ``until``; rolling users take turns by event
period, from ``start_rotation_from_user_index``; at each moment a ``single_event`` or
``override`` shift wins, else the highest ``level`` (the later listed on a tie). Events that
begin before a shift's ``rotation_start`` do not happen (turns still count from ``start``: an
assumption, the importer does not import a rotation that starts later than the import).
``final_shifts`` covers ``start_date`` 00:00 UTC to ``end_date`` 00:00 UTC (the view ends one
second before it), not the whole ``end_date``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import jsonschema

from tests.importers.pd_fake import FakePagerDuty

Json = dict[str, Any]
DAYS = {"MO": 0, "TU": 1, "WE": 2, "TH": 3, "FR": 4, "SA": 5, "SU": 6}
OVERRIDES = ("single_event", "override")


def _obj(required: list[str], closed: bool = False, **props: Any) -> Json:
    """An object schema; ``closed``: no field beyond ``props`` (the serializer's fields)."""
    out: Json = {"type": "object", "required": required, "properties": props}
    if closed:
        out["additionalProperties"] = False
    return out


_S, _I, _N = {"type": "string"}, {"type": "integer"}, {"type": ["string", "null"]}
_LOCAL = {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$"}
_LIST = {"type": ["array", "null"]}
SHAPES: dict[str, Json] = {
    # serializers/users.py UserSerializer: no "name"; role is the legacy role's name.
    "users": _obj(["id", "email", "username", "role", "teams"], closed=True, id=_S, email=_S,
                  slack={"type": ["object", "null"]}, username=_S,
                  role={"enum": ["admin", "editor", "viewer", "none"]},
                  is_phone_number_verified={"type": "boolean"}, timezone=_N,
                  teams={"type": "array", "items": _S}),
    # serializers/teams.py
    "teams": _obj(["id", "name"], closed=True, id=_S, grafana_id=_I, name=_S, email=_S,
                  avatar_url=_S),
    # schedules_web/calendar/ical.py, "type" from schedules_polymorphic.py
    "schedules": _obj(["id", "name", "type"], closed=True, id=_S, team_id=_N, name=_S,
                      type={"enum": ["ical", "calendar", "web"]}, time_zone=_S,
                      slack={"type": "object"}, on_call_now={"type": "array"},
                      shifts={"type": "array", "items": _S}, ical_url_overrides=_N,
                      ical_url_primary=_N, enable_web_overrides={"type": "boolean"}),
    # on_call_shifts.py: each type shows only its own fields (no level on an override).
    "on_call_shifts": _obj(
        ["id", "name", "type", "start", "duration", "rotation_start"], closed=True, id=_S,
        team_id=_N, name=_S,
        type={"enum": ["single_event", "recurrent_event", "rolling_users", "override"]},
        time_zone=_N, level=_I, start=_LOCAL, duration=_I, rotation_start=_LOCAL,
        frequency={"enum": [None, "hourly", "daily", "weekly", "monthly"]},
        interval={"type": ["integer", "null"]},
        until={"anyOf": [_LOCAL, {"type": "null"}]},
        week_start={"enum": list(DAYS)},
        by_day={"type": ["array", "null"], "items": {"enum": list(DAYS)}},
        by_month=_LIST, by_monthday=_LIST,
        rolling_users={"type": ["array", "null"], "items": {"type": "array", "items": _S}},
        start_rotation_from_user_index={"type": ["integer", "null"]},
        users={"type": "array", "items": _S}),
    "escalation_chains": _obj(["id", "name"], id=_S, name=_S),
    "escalation_policies": _obj(["id", "escalation_chain_id", "position", "type"], id=_S,
                                escalation_chain_id=_S, position=_I, type=_S,
                                duration={"type": ["integer", "null"]}),
    "integrations": _obj(["id", "name", "type", "default_route"], id=_S, name=_S, type=_S,
                         team_id=_N, default_route=_obj(["escalation_chain_id"],
                                                        escalation_chain_id=_N)),
    "final_shifts": _obj(["user_pk", "user_email", "shift_start", "shift_end"], user_pk=_S,
                         user_email=_S, shift_start=_S, shift_end=_S),
}
PAGE = _obj(["count", "next", "previous", "results"], count=_I, next=_N, previous=_N,
            results={"type": "array"})


# -- Grafana OnCall's shift semantics, expanded independently ------------------------------

def _wall(naive: datetime, tz: ZoneInfo) -> datetime:
    return naive.replace(tzinfo=tz).astimezone(UTC)


def events(shift: Json, tz: ZoneInfo, horizon: datetime
           ) -> Iterator[tuple[datetime, datetime, list[str]]]:
    start = datetime.fromisoformat(shift["start"])
    length = timedelta(seconds=shift["duration"])
    if shift["type"] in OVERRIDES:
        yield _wall(start, tz), _wall(start + length, tz), list(shift["users"])
        return
    until = datetime.fromisoformat(shift["until"]) if shift.get("until") else None
    first_at = _wall(datetime.fromisoformat(shift.get("rotation_start") or shift["start"]), tz)
    groups = shift.get("rolling_users") or [shift["users"]]
    first = shift.get("start_rotation_from_user_index") or 0
    every = shift.get("interval") or 1
    step = {"hourly": timedelta(hours=1), "daily": timedelta(days=1),
            "weekly": timedelta(weeks=1), "monthly": timedelta(0)}[shift["frequency"]] * every
    for k in itertools.count():
        users = list(groups[(first + k) % len(groups)])
        if shift["frequency"] == "hourly":
            a = _wall(start, tz) + k * step
            if a >= horizon or (until and a > _wall(until, tz)):
                return
            if a >= first_at:
                yield a, a + length, users
            continue
        anchor = start + k * step
        if shift["frequency"] == "monthly":  # the same day of the month (1st to 28th here)
            month = start.month - 1 + k * every
            anchor = start.replace(year=start.year + month // 12, month=month % 12 + 1)
        if _wall(anchor, tz) >= horizon or (until and anchor > until):
            return
        days = [anchor]
        if shift.get("by_day"):
            span = 7 if shift["frequency"] == "weekly" else 1
            days = [anchor + timedelta(days=j) for j in range(span)
                    if (anchor + timedelta(days=j)).weekday() in
                    {DAYS[d] for d in shift["by_day"]}]
        for d in days:
            if _wall(d, tz) >= first_at:
                yield _wall(d, tz), _wall(d + length, tz), users


def final_shifts(schedule: Json, shifts: dict[str, Json], since: datetime, until: datetime
                 ) -> list[tuple[datetime, datetime, str]]:
    """(start, end, user id) rows, gaps left out, consecutive same-user rows merged."""
    tz = ZoneInfo(schedule["time_zone"])
    mine = [shifts[i] for i in schedule["shifts"]]
    ranked = sorted(range(len(mine)), key=lambda i: (mine[i]["type"] in OVERRIDES,
                                                     mine[i].get("level", 0), i))
    pieces = [(rank, a, b, users) for rank, i in enumerate(ranked)
              for a, b, users in events(mine[i], ZoneInfo(mine[i].get("time_zone") or str(tz)),
                                        until) if b > since and a < until]
    points = sorted({since, until} | {max(since, min(until, p)) for _, a, b, _ in pieces
                                      for p in (a, b)})
    out: list[tuple[datetime, datetime, str]] = []
    for a, b in itertools.pairwise(points):
        live = [(rank, users) for rank, s, e, users in pieces if s <= a < e]
        if not live:
            continue
        for user in max(live, key=lambda x: x[0])[1]:
            prev = [i for i, row in enumerate(out) if row[1] == a and row[2] == user]
            if prev:
                out[prev[0]] = (out[prev[0]][0], b, user)
            else:
                out.append((a, b, user))
    return out


# -- the server ---------------------------------------------------------------------------

def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeGrafanaOnCall(FakePagerDuty):
    """The PagerDuty fake's server (threads, failures served once, the request log, every
    answer checked) with Grafana OnCall's auth, paths, pages and shapes."""

    def __init__(self, data: Json, token: str = "gf-test-token", page_size: int = 2) -> None:
        super().__init__(data, token=token, page_size=page_size)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/oncall"

    def expected(self, schedule_id: str, since: datetime, until: datetime
                 ) -> list[tuple[datetime, datetime, str]]:
        sched = next(s for s in self.data["schedules"] if s["id"] == schedule_id)
        return final_shifts(sched, {x["id"]: x for x in self.data["on_call_shifts"]},
                            since, until)

    def route(self, path: str, q: dict[str, list[str]]) -> tuple[str, int, Any]:
        parts = [p for p in path.removeprefix("/oncall/api/v1/").split("/") if p]
        if len(parts) == 1 and parts[0] in SHAPES and parts[0] != "final_shifts":
            return parts[0], 200, self.results(path, self.data[parts[0]], q)
        if len(parts) == 3 and parts[0] == "schedules" and parts[2] == "final_shifts":
            sched = next((s for s in self.data["schedules"] if s["id"] == parts[1]), None)
            if sched is None:
                return "", 404, {"detail": "Not found."}
            since = datetime.fromisoformat(q["start_date"][0]).replace(tzinfo=UTC)
            # views/schedules.py: from start_date 00:00 UTC to end_date 00:00 (less 1 s)
            until = datetime.fromisoformat(q["end_date"][0]).replace(tzinfo=UTC)
            users = {u["id"]: u for u in self.data["users"]}
            rows = [{"user_pk": u, "user_email": users[u]["email"],
                     "user_username": users[u]["username"], "shift_start": _iso(a),
                     "shift_end": _iso(b)} for a, b, u in
                    self.expected(sched["id"], since, until)]
            return "final_shifts", 200, self.results(path, rows, q)
        return "", 404, {"detail": "Not found."}

    def results(self, path: str, items: list[Json], q: dict[str, list[str]]) -> Json:
        n = int(q.get("page", ["1"])[0])
        chunk = items[(n - 1) * self.page_size:n * self.page_size]
        rest = {k: v[0] for k, v in q.items() if k != "page"}
        link = "&".join(f"{k}={v}" for k, v in rest.items())

        def url(m: int) -> str:
            return f"{self.url.removesuffix('/oncall')}{path}?{link}{'&' if link else ''}page={m}"

        return {"count": len(items), "next": url(n + 1) if n * self.page_size < len(items)
                else None, "previous": url(n - 1) if n > 1 else None, "results": chunk,
                "page_size": self.page_size, "current_page_number": n,
                "total_pages": max(1, -(-len(items) // self.page_size))}

    def authorized(self, header: str | None) -> bool:
        return header == self.token

    def errors(self, template: str, status: int, body: Any) -> list[str]:
        errors = [f"{template}: page: {e.message}" for e in
                  jsonschema.Draft7Validator(PAGE).iter_errors(body)]
        shape = jsonschema.Draft7Validator(SHAPES[template])
        return errors + [f"{template}: {e.message}" for item in body.get("results", [])
                         for e in shape.iter_errors(item)]
