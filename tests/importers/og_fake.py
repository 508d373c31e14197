"""A fake Opsgenie REST API v2 for the importer's tests.

The server of :mod:`tests.importers.pd_fake` (a thread, failures served once on request,
every answer logged and validated) with Opsgenie's ``GenieKey`` auth, its ``offset``/
``limit`` pages with ``paging.next``, its paths and bodies, and a validator for Opsgenie's
OpenAPI 2 (swagger) document: EVERY 200 answer is checked against the operation's schema
(``definitions`` $refs resolved), mismatches collected in ``invalid``.

Opsgenie's final timeline (``GET /v2/schedules/{id}/timeline``) is computed here by an
expansion written for this fake alone (it does not call ``oncall.schedules.rotation``): turns of
``length`` days (``daily``), weeks (``weekly``, both at the local wall-clock time of
``startDate``) or elapsed hours (``hourly``) from ``startDate``, participants in order (a
``none`` participant's turn has nobody), cut to the rotation's time restriction
(``time-of-day`` daily windows, ``weekday-and-time-of-day`` weekly windows, both in the
schedule's zone) and to ``startDate``/``endDate``; every rotation in force puts its
participant on call (rotations are not layered); an override puts its user on call alone.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import jsonschema

from tests.importers.pd_fake import FakePagerDuty

SPEC_PATH = Path(__file__).resolve().parents[1] / "fixtures/opsgenie_v2_swagger.json"

Json = dict[str, Any]
DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


class SwaggerValidator:
    """Answers checked against the swagger operation's 2xx schema."""

    def __init__(self, path: Path = SPEC_PATH) -> None:
        self.spec = json.loads(path.read_text())

    def errors(self, template: str, status: int, body: Any) -> list[str]:
        op = self.spec["paths"][template]["get"]
        response = op["responses"].get(str(status))
        if response is None or "schema" not in response:
            return [] if status >= 400 else [f"{template} {status}: undocumented answer"]
        root = {**response["schema"], "definitions": self.spec["definitions"]}
        return [f"{template} {status}: {'/'.join(map(str, e.absolute_path))}: {e.message}"
                for e in jsonschema.Draft4Validator(root).iter_errors(body)]


# -- Opsgenie's rotation semantics, expanded independently --------------------------------

def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _wall(naive: datetime, tz: ZoneInfo) -> datetime:
    return naive.replace(tzinfo=tz).astimezone(UTC)


def _turns(rot: Json, tz: ZoneInfo, until: datetime) -> Iterator[tuple[datetime, datetime,
                                                                        Json]]:
    start = _at(rot["startDate"])
    naive = start.astimezone(tz).replace(tzinfo=None)
    days = {"daily": 1, "weekly": 7}.get(rot["type"], 0) * rot["length"]
    k = 0
    while True:
        if days:
            a = _wall(naive + timedelta(days=k * days), tz)
            b = _wall(naive + timedelta(days=(k + 1) * days), tz)
        else:
            a = start + timedelta(hours=k * rot["length"])
            b = a + timedelta(hours=rot["length"])
        if a >= until:
            return
        yield a, b, rot["participants"][k % len(rot["participants"])]
        k += 1


def _windows(tr: Json, tz: ZoneInfo, since: datetime, until: datetime
             ) -> list[tuple[datetime, datetime]]:
    out = []
    day = since.astimezone(tz).date() - timedelta(days=8)
    while day <= until.astimezone(tz).date() + timedelta(days=1):
        base = datetime(day.year, day.month, day.day)
        if tr["type"] == "time-of-day":
            r = tr["restriction"]
            a = base + timedelta(hours=r["startHour"], minutes=r["startMin"])
            b = base + timedelta(hours=r["endHour"], minutes=r["endMin"])
            out.append((a, b if b > a else b + timedelta(days=1)))
        else:
            for r in tr["restrictions"]:
                if DAYS.index(r["startDay"]) != day.weekday():
                    continue
                a = base + timedelta(hours=r["startHour"], minutes=r["startMin"])
                shift = (DAYS.index(r["endDay"]) - day.weekday()) % 7
                b = base + timedelta(days=shift, hours=r["endHour"], minutes=r["endMin"])
                out.append((a, b if b > a else b + timedelta(days=7)))
        day += timedelta(days=1)
    return [(_wall(a, tz), _wall(b, tz)) for a, b in out]


def rotation_periods(rot: Json, tz: ZoneInfo, since: datetime, until: datetime
                     ) -> list[tuple[datetime, datetime, Json]]:
    lo = max(since, _at(rot["startDate"]))
    hi = min(until, _at(rot["endDate"])) if rot.get("endDate") else until
    windows = (_windows(rot["timeRestriction"], tz, since, until)
               if rot.get("timeRestriction") else [(lo, hi)])
    out = []
    for a, b, who in _turns(rot, tz, hi):
        if who["type"] == "none":
            continue
        for wa, wb in windows:
            s, e = max(a, wa, lo), min(b, wb, hi)
            if s < e:
                out.append((s, e, who))
    return sorted(out, key=lambda x: x[0])


def _cut(periods: list[tuple[datetime, datetime, Json]], holes: list[tuple[datetime, datetime]]
         ) -> list[tuple[datetime, datetime, Json]]:
    for ha, hb in holes:
        periods = [piece for s, e, w in periods for piece in
                   ((s, min(e, ha), w), (max(s, hb), e, w)) if piece[0] < piece[1]]
    return periods


def final_timeline(schedule: Json, overrides: list[Json], since: datetime, until: datetime
                   ) -> list[tuple[Json, list[tuple[datetime, datetime, Json, str]]]]:
    """Per rotation, its (start, end, recipient, type) periods within [since, until)."""
    tz = ZoneInfo(schedule["timezone"])
    holes = [(max(_at(o["startDate"]), since), min(_at(o["endDate"]), until)) for o in overrides]
    holes = [(a, b) for a, b in holes if a < b]
    out = []
    for i, rot in enumerate(schedule["rotations"]):
        periods = [(s, e, w, "default") for s, e, w in
                   _cut(rotation_periods(rot, tz, since, until), holes)]
        if i == 0:  # overrides show in the first rotation
            periods += [(a, b, o["user"], "override") for (a, b), o in zip(
                holes, [o for o in overrides if _at(o["endDate"]) > since
                        and _at(o["startDate"]) < until], strict=True)]
        out.append((rot, sorted(periods, key=lambda x: x[0])))
    return out


# -- the server ---------------------------------------------------------------------------

def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeOpsgenie(FakePagerDuty):
    def __init__(self, data: Json, token: str = "og-test-key", page_size: int = 2) -> None:
        super().__init__(data, token=token, page_size=page_size)
        self.swagger = SwaggerValidator()

    def authorized(self, header: str | None) -> bool:
        return header == f"GenieKey {self.token}"

    def errors(self, template: str, status: int, body: Any) -> list[str]:
        return self.swagger.errors(template, status, body)

    def error(self, message: str) -> Json:
        return {"message": message, "took": 0.001, "requestId": "fake-error"}

    def ok(self, body: Json, expandable: list[str] | None = None) -> Json:
        out = {**body, "took": 0.01, "requestId": f"req-{len(self.log)}"}
        if expandable is not None:
            out["expandable"] = expandable
        return out

    def recipient(self, uid: str) -> Json:
        user = next(u for u in self.data["users"] if u["id"] == uid)
        return {"type": "user", "id": uid, "username": user["username"]}

    def route(self, path: str, q: dict[str, list[str]]) -> tuple[str, int, Any]:
        parts = [p for p in path.split("/") if p][1:]  # after /v2
        d = self.data
        if parts == ["users"]:
            return "/v2/users", 200, self.page(path, d["users"], q)
        if len(parts) == 3 and parts[0] == "users" and parts[2] == "contacts":
            return ("/v2/users/{identifier}/contacts", 200,
                    self.ok({"data": d["contacts"].get(parts[1], [])}))
        if parts == ["schedules"]:
            expand = "rotation" in q.get("expand", [""])[0].split(",")
            listed = [s if expand else {k: v for k, v in s.items() if k != "rotations"}
                      for s in d["schedules"]]
            return "/v2/schedules", 200, self.ok({"data": listed}, ["rotation"])
        if parts == ["escalations"]:
            return "/v2/escalations", 200, self.ok({"data": d["escalations"]})
        if parts == ["teams"]:
            return "/v2/teams", 200, self.ok({"data": d["teams"]}, ["member"])
        if len(parts) == 2 and parts[0] == "teams":
            team = next((t for t in d["teams"] if t["id"] == parts[1]), None)
            if team is None or q.get("identifierType", ["id"]) != ["id"]:
                return "/v2/teams/{identifier}", 404, self.error("No team exists with id")
            return "/v2/teams/{identifier}", 200, self.ok({"data": {
                **team, "members": d["members"].get(team["id"], [])}})
        if parts == ["integrations"]:
            listed = [i for i in d["integrations"] if "type" not in q or i["type"] in q["type"]]
            return "/v2/integrations", 200, self.ok({"data": listed})
        if len(parts) == 3 and parts[0] == "schedules":
            template = "/v2/schedules/{identifier}/" + parts[2]
            sched = next((s for s in d["schedules"] if s["id"] == parts[1]), None)
            if sched is None or parts[2] not in ("overrides", "timeline"):
                return template, 404, self.error("Schedule not found")
            overrides = d["overrides"].get(sched["id"], [])
            if parts[2] == "overrides":
                return template, 200, self.ok({"data": overrides})
            since = _at(q["date"][0])
            assert q.get("intervalUnit") == ["weeks"]
            until = since + timedelta(weeks=int(q["interval"][0]))
            meta = {"id": sched["id"], "name": sched["name"], "enabled": True}
            rotations = [{"id": rot["id"], "name": rot["name"], "order": float(i), "periods": [
                {"startDate": _iso(a), "endDate": _iso(b), "type": kind,
                 "recipient": {"type": w["type"], "id": w.get("id", ""),
                               "name": w.get("username") or w.get("name", "")}}
                for a, b, w, kind in periods]}
                for i, (rot, periods) in enumerate(final_timeline(sched, overrides, since,
                                                                  until))]
            return template, 200, self.ok({"data": {
                "_parent": meta, "startDate": _iso(since), "endDate": _iso(until),
                "finalTimeline": {"rotations": rotations}}}, ["base", "forwarding", "override"])
        return path, 404, self.error("Not found")

    def page(self, path: str, items: list[Json], q: dict[str, list[str]]  # type: ignore[override]
             ) -> Json:
        offset = int(q.get("offset", ["0"])[0])
        limit = min(int(q.get("limit", ["20"])[0]), self.page_size)
        chunk = items[offset:offset + limit]
        paging = {"first": f"{self.url}{path}?{urlencode({'offset': 0, 'limit': limit})}"}
        if offset + len(chunk) < len(items):
            paging["next"] = (f"{self.url}{path}?"
                              f"{urlencode({'offset': offset + len(chunk), 'limit': limit})}")
        return self.ok({"data": chunk, "totalCount": len(items), "paging": paging})
