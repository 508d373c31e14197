"""A fake PagerDuty REST API v2 for the importer's tests.

It serves fixture data over HTTP (a thread) with PagerDuty's token auth
(``Authorization: Token token=...``), ``offset``/``limit``/``more`` pagination (pages of at
most ``page_size``), failures served once on request (429 with ``Retry-After``, 5xx, a slow
answer), and validates EVERY response body it sends against the published description
(``/work/shared/specs/pagerduty/pagerduty_rest_v2_subset.json``): ``invalid`` collects each
mismatch and the tests assert it stays empty. Teams (``/teams``, ``/teams/{id}/members``:
the users whose ``teams`` name it) are served as the spec describes them; services'
``integrations`` are the references the spec describes (its ``IntegrationReference`` admits
only ``*_reference`` types, so full objects, which ``include[]=integrations`` would give, are
not served: the importer maps both by their type, tested without HTTP).

PagerDuty's final schedule (``GET /schedules/{id}?since=&until=``) is computed here by an
expansion of PagerDuty's layer semantics written for this fake alone (it does not call
``oncall.schedules.rotation``): turns of ``rotation_turn_length_seconds`` counted from
``rotation_virtual_start`` (whole days keep the local handoff time across DST, other lengths
are elapsed time), users in order, restriction windows of local time, the layer's
``start``/``end``, later layers over earlier ones, overrides over everything (the later
listed wins).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import jsonschema

SPEC_PATH = Path(os.environ.get("ONCALL_PD_SPEC",
                                "/work/shared/specs/pagerduty/pagerduty_rest_v2_subset.json"))
if not SPEC_PATH.exists():  # the copy beside the repository
    SPEC_PATH = Path(__file__).resolve().parents[3] / "shared/specs/pagerduty/" \
        "pagerduty_rest_v2_subset.json"

Json = dict[str, Any]


class SpecValidator:
    """Response bodies checked against the operation's documented schema ($refs resolved
    within the document)."""

    def __init__(self, path: Path = SPEC_PATH) -> None:
        self.spec = json.loads(path.read_text())

    def schema(self, template: str, status: int) -> Json | None:
        op = self.spec["paths"][template]["get"]
        responses = op["responses"]
        key = str(status)
        if status == 200 and key not in responses:  # e.g. overrides, documented as 201
            key = next(k for k in responses if k.startswith("2"))
        response = responses.get(key)
        if response is None:
            return None
        if "$ref" in response:
            response = self._resolve(response["$ref"])
        content = (response.get("content") or {}).get("application/json")
        return None if content is None else content["schema"]

    def _resolve(self, ref: str) -> Json:
        node: Any = self.spec
        for part in ref.removeprefix("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node  # type: ignore[no-any-return]

    def errors(self, template: str, status: int, body: Any) -> list[str]:
        schema = self.schema(template, status)
        if schema is None:
            return [] if status >= 400 else [f"{template} {status}: undocumented answer"]
        root = {**schema, "components": self.spec["components"]}
        validator = jsonschema.Draft7Validator(root)
        return [f"{template} {status}: {'/'.join(map(str, e.absolute_path))}: {e.message}"
                for e in validator.iter_errors(body)]


# -- PagerDuty's layer semantics, expanded independently ----------------------------------

def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _wall(naive: datetime, tz: ZoneInfo) -> datetime:
    """A local wall-clock time as UTC (a skipped time keeps the offset before the gap, so it
    lands after it; a repeated time is its first occurrence)."""
    return naive.replace(tzinfo=tz).astimezone(UTC)


def _turns(layer: Json, tz: ZoneInfo, until: datetime) -> Iterator[tuple[datetime, datetime,
                                                                          str]]:
    length = layer["rotation_turn_length_seconds"]
    virtual = _at(layer["rotation_virtual_start"])
    users = [u["user"]["id"] for u in layer["users"]]
    naive = virtual.astimezone(tz).replace(tzinfo=None)
    k = 0
    while True:
        if length % 86400 == 0:
            a = _wall(naive + timedelta(seconds=k * length), tz)
            b = _wall(naive + timedelta(seconds=(k + 1) * length), tz)
        else:
            a = virtual + timedelta(seconds=k * length)
            b = a + timedelta(seconds=length)
        if a >= until:
            return
        yield a, b, users[k % len(users)]
        k += 1


def _windows(restrictions: list[Json], tz: ZoneInfo, since: datetime, until: datetime
             ) -> list[tuple[datetime, datetime]]:
    out = []
    day: date = since.astimezone(tz).date() - timedelta(days=8)
    while day <= until.astimezone(tz).date() + timedelta(days=1):
        for r in restrictions:
            if r["type"] == "weekly_restriction" and day.isoweekday() != r["start_day_of_week"]:
                continue
            h, m, s = (int(x) for x in r["start_time_of_day"].split(":"))
            naive = datetime(day.year, day.month, day.day, h, m, s)
            out.append((_wall(naive, tz),
                        _wall(naive + timedelta(seconds=r["duration_seconds"]), tz)))
        day += timedelta(days=1)
    return out


def layer_entries(layer: Json, tz: ZoneInfo, since: datetime, until: datetime
                  ) -> list[tuple[datetime, datetime, str]]:
    lo = max(since, _at(layer["start"]))
    hi = min(until, _at(layer["end"])) if layer.get("end") else until
    pieces = []
    windows = (_windows(layer["restrictions"], tz, since, until)
               if layer.get("restrictions") else [(lo, hi)])
    for a, b, user in _turns(layer, tz, hi):
        for wa, wb in windows:
            s, e = max(a, wa, lo), min(b, wb, hi)
            if s < e:
                pieces.append((s, e, user))
    return pieces


def final_schedule(schedule: Json, overrides: list[Json], since: datetime, until: datetime
                   ) -> list[tuple[datetime, datetime, str]]:
    """(start, end, user id) entries, gaps left out, consecutive same-user pieces merged."""
    tz = ZoneInfo(schedule["time_zone"])
    sources = [layer_entries(layer, tz, since, until) for layer in schedule["schedule_layers"]]
    sources.append([(max(_at(o["start"]), since), min(_at(o["end"]), until), o["user"]["id"])
                    for o in overrides])
    points = sorted({since, until} | {p for src in sources for s, e, _ in src for p in (s, e)
                                      if since <= p <= until})
    out: list[tuple[datetime, datetime, str]] = []
    for a, b in itertools.pairwise(points):
        who = None
        for src in reversed(sources):  # overrides, then the last layer first
            hits = [u for s, e, u in src if s <= a < e]
            if hits:
                who = hits[-1]
                break
        if who is None:
            continue
        if out and out[-1][1] == a and out[-1][2] == who:
            out[-1] = (out[-1][0], b, who)
        else:
            out.append((a, b, who))
    return out


def restrictions_in(layer: Json, own: str, zone: str) -> Json:
    """``layer`` with its restrictions' days and times of day given in ``zone`` instead of
    the schedule's zone ``own`` (converted at the layer's start), as PagerDuty answers a
    request with another ``time_zone``."""
    at = _at(layer["start"])
    shift = (at.astimezone(ZoneInfo(zone)).utcoffset()
             - at.astimezone(ZoneInfo(own)).utcoffset())  # type: ignore[operator]
    out = []
    for r in layer.get("restrictions") or []:
        h, m, s = (int(x) for x in r["start_time_of_day"].split(":"))
        day = (r.get("start_day_of_week", 1) - 1) * 86400
        t = (day + h * 3600 + m * 60 + s + int(shift.total_seconds())) % (7 * 86400)
        moved = {**r, "start_time_of_day":
                 f"{t % 86400 // 3600:02d}:{t % 3600 // 60:02d}:{t % 60:02d}"}
        if r["type"] == "weekly_restriction":
            moved["start_day_of_week"] = t // 86400 + 1
        out.append(moved)
    return {**layer, "restrictions": out}


# -- the server ---------------------------------------------------------------------------

def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakePagerDuty:
    def __init__(self, data: Json, token: str = "pd-test-token", page_size: int = 2) -> None:
        self.data = data
        self.token = token
        self.page_size = page_size
        self.validator = SpecValidator()
        self.invalid: list[str] = []
        self.validated = 0
        self.log: list[tuple[str, int]] = []  # (path with query, status)
        self.fail_once: dict[str, list[tuple[int, dict[str, str]]]] = {}
        self.delay: dict[str, float] = {}
        self.reverse_layers = False
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakePagerDuty:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def user_ref(self, uid: str) -> Json:
        user = next(u for u in self.data["users"] if u["id"] == uid)
        return {"id": uid, "type": "user_reference", "summary": user["name"]}

    def route(self, path: str, q: dict[str, list[str]]) -> tuple[str, int, Any]:
        parts = [p for p in path.split("/") if p]
        d = self.data
        if parts == ["users"]:
            return "/users", *self.page("users", d["users"], q)
        if len(parts) == 3 and parts[0] == "users" and parts[2] == "contact_methods":
            return ("/users/{id}/contact_methods", 200,
                    {"contact_methods": d["contact_methods"].get(parts[1], [])})
        if len(parts) == 3 and parts[0] == "users" and parts[2] == "notification_rules":
            return ("/users/{id}/notification_rules", 200,
                    {"notification_rules": d["notification_rules"].get(parts[1], [])})
        if parts == ["schedules"]:
            listed = [{k: v for k, v in s.items() if k != "schedule_layers"}
                      for s in d["schedules"]]
            return "/schedules", *self.page("schedules", listed, q)
        if parts == ["escalation_policies"]:
            return "/escalation_policies", *self.page("escalation_policies", d["policies"], q)
        if parts == ["services"]:
            return "/services", *self.page("services", d["services"], q)
        if parts == ["teams"]:
            return "/teams", *self.page("teams", d.get("teams", []), q)
        if len(parts) == 3 and parts[0] == "teams" and parts[2] == "members":
            if not any(x["id"] == parts[1] for x in d.get("teams", [])):
                return "/teams/{id}/members", 404, {"error": {"message": "Not Found",
                                                              "code": 2100}}
            members = [{"user": self.user_ref(u["id"]), "role": "responder"}
                       for u in d["users"] if parts[1] in {x["id"] for x in u.get("teams", [])}]
            return "/teams/{id}/members", *self.page("members", members, q)
        if len(parts) >= 2 and parts[0] == "schedules":
            sched = next((s for s in d["schedules"] if s["id"] == parts[1]), None)
            template = "/schedules/{id}" + ("/overrides" if len(parts) == 3 else "")
            if sched is None:
                return template, 404, {"error": {"message": "Not Found", "code": 2100}}
            overrides = d["overrides"].get(sched["id"], [])
            if len(parts) == 3 and parts[2] == "overrides":
                since, until = _at(q["since"][0]), _at(q["until"][0])
                return template, 200, {"overrides": [
                    o for o in overrides if _at(o["start"]) < until and _at(o["end"]) > since]}
            body = dict(sched)
            zone = q.get("time_zone", [sched["time_zone"]])[0]
            if zone != sched["time_zone"]:  # restrictions "respect the time_zone parameter"
                body["schedule_layers"] = [restrictions_in(x, sched["time_zone"], zone)
                                           for x in sched["schedule_layers"]]
            if self.reverse_layers:  # as PagerDuty's API long did: highest priority first
                body["schedule_layers"] = body["schedule_layers"][::-1]
            if "since" in q and "until" in q:
                since, until = _at(q["since"][0]), _at(q["until"][0])
                entries = final_schedule(sched, overrides, since, until)
                body["final_schedule"] = {"name": "Final Schedule", "rendered_schedule_entries": [
                    {"user": self.user_ref(u), "start": _iso(s), "end": _iso(e)}
                    for s, e, u in entries]}
            return template, 200, {"schedule": body}
        return path, 404, {"error": {"message": "Not Found", "code": 2100}}

    def authorized(self, header: str | None) -> bool:
        return header == f"Token token={self.token}"

    def errors(self, template: str, status: int, body: Any) -> list[str]:
        """What is wrong with an answer (a subclass for another API checks its own way)."""
        return self.validator.errors(template, status, body)

    def page(self, key: str, items: list[Json], q: dict[str, list[str]]) -> tuple[int, Json]:
        offset = int(q.get("offset", ["0"])[0])
        limit = min(int(q.get("limit", ["25"])[0]), self.page_size)
        chunk = items[offset:offset + limit]
        return 200, {key: chunk, "offset": offset, "limit": limit,
                     "more": offset + len(chunk) < len(items)}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                q = parse_qs(parts.query)
                if parts.path in fake.delay:
                    time.sleep(fake.delay[parts.path])
                headers: dict[str, str] = {}
                if not fake.authorized(self.headers.get("Authorization")):
                    template, status, body = parts.path, 401, {
                        "error": {"message": "Unauthorized", "code": 2006}}
                else:
                    with fake._lock:
                        planned = fake.fail_once.get(parts.path)
                        failure = planned.pop(0) if planned else None
                    if failure is not None:
                        status, headers = failure
                        template, body = parts.path, {"error": {"message": "try again",
                                                                "code": 2020}}
                    else:
                        template, status, body = fake.route(parts.path, q)
                if status == 200:
                    errors = fake.errors(template, status, body)
                    with fake._lock:
                        fake.validated += 1
                        fake.invalid += errors
                with fake._lock:
                    fake.log.append((self.path, status))
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                with contextlib.suppress(OSError):
                    self.wfile.write(raw)

        return Handler
