"""Server time of the console's pages and the simulator, on a PostgreSQL database of 50 users,
20 schedules of 3 layers, 200 overrides, 10 policies, 10 services and 10,000 incidents.

    python bench/console.py [--runs 50] [--database-url ...] [--keep]

Each measure is the wall time of one request through the Flask test client (in this process,
signed in as a viewer with a console session, or with a viewer's API token for the API), or of
one call of the domain functions a page runs, with a fresh database session each time: p50, p95
and max of ``--runs`` runs after 3 warm-up runs. No network: this is the server's time.

Measured (``page`` targets: p95 < 150 ms; ``simulator``: p95 < 100 ms):

  GET /schedules                 the console's schedules list (now, until, next, gaps: all 20)
  GET /schedules/<id>?weeks=4    the schedule page over four weeks (layers, overrides, final
                                 row, gaps, the shift list), as a viewer sees it
  schedule page, domain          what it computes: ``spec_for``, the final shifts, each
                                 layer's shifts and the gaps
  GET /api/v1/schedules/<id>/shifts  the final row for four weeks through the API
  GET /policies                  the policies page: every policy's ladder (10) with whom each
                                 target reaches now
  policy ladder, domain          a policy's levels with whom each target resolves to now
  POST /api/v1/simulate          a critical alert at 03:00 local: three levels, three loops
  GET /simulate?...              the console's simulator page, the same question

The database (``oncall_bench_console`` by default; its name must contain ``bench``) has its
``public`` schema dropped and recreated and is migrated, unless ``--keep`` reuses the data of a
previous run. Results are printed as a Markdown table and saved in ``bench/results/``.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from bench._harness import (
    check_scratch,
    fmt,
    markdown_table,
    percentile,
    save_results,
)

DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1/oncall_bench_console"
PASSWORD = "a long enough passphrase"
NY = ZoneInfo("America/New_York")
USERS, SCHEDULES, OVERRIDES, INCIDENTS, POLICIES = 50, 20, 200, 10_000, 10


def reset(database_url: str) -> None:
    url = make_url(database_url)
    admin = create_engine(url.set(database="postgres"), poolclass=NullPool,
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                           {"n": url.database}):
            conn.execute(text(f'CREATE DATABASE "{url.database}"'))
    admin.dispose()
    engine = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    from oncall.migrate import upgrade

    upgrade(database_url)


def populate(database_url: str, now: datetime, seed: int) -> None:
    """The data set, through the domain's own functions where they exist (schedules,
    overrides); policies, services and incidents as rows."""
    from oncall import db
    from oncall.accounts import passwords
    from oncall.models import EscalationPolicy, Incident, PolicyLevel, Service, User
    from oncall.schedules import service as schedules

    rng = random.Random(seed)
    monday = (now.astimezone(NY) - timedelta(days=now.astimezone(NY).weekday() + 28)).date()
    with db.session_scope(database_url) as s:
        people = [User(email=f"user{i:02d}@bench.example", name=f"Person {i:02d}",
                       phone=f"+1415555{i:04d}", timezone="America/New_York", role="responder")
                  for i in range(USERS)]
        admin = User(email="admin@bench.example", name="Admin", role="admin",
                     phone="+14155559999")
        viewer = User(email="viewer@bench.example", name="Viewer", role="viewer",
                      timezone="America/New_York",
                      password_hash=passwords.hash_password(PASSWORD))
        s.add_all([*people, admin, viewer])
        s.flush()
        emails = [p.email for p in people]
        made = []
        for i in range(SCHEDULES):
            pick = rng.sample(emails, 12)
            made.append(schedules.create_schedule(s, "bench", {
                "name": f"schedule-{i:02d}", "timezone": "America/New_York", "layers": [
                    {"name": "primary", "rotation": "weekly", "handoff": "Mon 09:00",
                     "start": monday.isoformat(), "members": pick[:5]},
                    {"name": "business-hours", "rotation": "daily", "handoff": "09:00",
                     "start": monday.isoformat(), "members": pick[5:9],
                     "restrictions": [{"days": "Mon-Fri", "from": "09:00", "to": "17:00"}]},
                    {"name": "nights", "rotation": "daily", "handoff": "18:00",
                     "start": monday.isoformat(), "members": pick[9:12],
                     "restrictions": [{"days": "Mon-Fri", "from": "22:00", "to": "06:00"}]},
                ]}))
        for i in range(OVERRIDES):
            start = now + timedelta(hours=rng.uniform(-7 * 24, 28 * 24))
            schedules.add_override(s, "bench", made[i % SCHEDULES], rng.choice(people),
                                   start, start + timedelta(hours=rng.uniform(2, 12)),
                                   by=admin, now=now - timedelta(days=8))
        policies = []
        for i in range(POLICIES):
            policies.append(EscalationPolicy(name=f"policy-{i:02d}", repeat=2, levels=[
                PolicyLevel(position=0, escalate_after=300,
                            targets=[{"type": "schedule", "ref": f"schedule-{i:02d}"}]),
                PolicyLevel(position=1, escalate_after=600,
                            targets=[{"type": "schedule", "ref": f"schedule-{i + 10:02d}"},
                                     {"type": "user", "ref": emails[i]}]),
                PolicyLevel(position=2, escalate_after=300,
                            targets=[{"type": "user", "ref": emails[i + 10]}])]))
        services = [Service(name=f"service-{i:02d}", policy=policies[i])
                    for i in range(POLICIES)]
        s.add_all(services)
        s.flush()
        rows = []
        for i in range(INCIDENTS):
            opened = now - timedelta(minutes=rng.uniform(1, 90 * 24 * 60))
            open_ = i % 20 == 0  # 500 open, 9,500 resolved
            rows.append({"service_id": services[i % len(services)].id,
                         "dedup_key": f"bench-{i}", "summary": f"bench incident {i}",
                         "severity": "critical", "status": "triggered" if open_ else "resolved",
                         "level": 1, "loop": 0, "created_at": opened, "updated_at": opened,
                         "next_action_at": now + timedelta(minutes=5) if open_ else None,
                         "resolved_at": None if open_ else opened + timedelta(minutes=30),
                         "policy": None})
        s.execute(insert(Incident), rows)


def timed(fn: Callable[[], Any], runs: int) -> tuple[list[float], list[float]]:
    """Wall and CPU (this process: Python, not PostgreSQL) milliseconds of each run."""
    for _ in range(3):
        fn()
    wall, cpu = [], []
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - t) * 1e3)
        cpu.append((time.process_time() - c) * 1e3)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--keep", action="store_true", help="reuse the data of a previous run")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    check_scratch(args.database_url, "redis://127.0.0.1:6379/14")

    from oncall import db
    from oncall.cli.admin import create_token
    from oncall.config import load_settings
    from oncall.models import EscalationPolicy, Incident, Schedule
    from oncall.schedules.rotation import final_shifts, versions_shifts
    from oncall.schedules.rotation.changes import gaps
    from oncall.schedules.store import spec_for, who_is_on_call
    from oncall.web import create_app

    now = datetime.now(UTC).replace(microsecond=0)
    t0 = time.perf_counter()
    if not args.keep:
        reset(args.database_url)
        populate(args.database_url, now, args.seed)
    setup_s = time.perf_counter() - t0
    os.environ.setdefault("ONCALL_SECRET_KEY", os.urandom(32).hex())
    settings = replace(load_settings(), database_url=args.database_url,
                       broker_url="redis://127.0.0.1:6379/14",
                       ratelimit_storage_url="memory://",
                       # channels registered (nothing is sent: the simulator only plans)
                       twilio_account_sid="ACbench", twilio_auth_token="bench",
                       twilio_from_number="+14155550000")
    app = create_app(settings)
    client = app.test_client()
    page = client.get("/signin").get_data(as_text=True)
    token_match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token_match, "no CSRF token on /signin"
    signed = client.post("/signin", data={"email": "viewer@bench.example",
                                          "password": PASSWORD,
                                          "csrf_token": token_match.group(1)})
    assert signed.status_code == 302, signed.get_data(as_text=True)
    factory = db.session_factory(args.database_url)
    with db.session_scope(args.database_url) as s:
        api_token = create_token(s, "viewer@bench.example")
        counts = {name: s.scalar(select(func.count()).select_from(model))
                  for name, model in (("schedules", Schedule), ("incidents", Incident))}
        schedule_id = s.scalar(select(Schedule.id).where(Schedule.name == "schedule-00"))
    auth = {"Authorization": f"Bearer {api_token}"}
    night = (now.astimezone(NY) + timedelta(days=1)).replace(hour=3, minute=0, second=0)
    ask = {"service": "service-00", "type": "charge_failure", "severity": "critical",
           "labels": {"merchant_id": "acme"}, "at": night.isoformat()}
    form = {**ask, "labels": "merchant_id=acme", "at": night.strftime("%Y-%m-%dT%H:%M"),
            "timezone": "America/New_York"}
    start, end = now, now + timedelta(days=28)

    def ok(response: Any, code: int = 200) -> Any:
        assert response.status_code == code, (response.status_code, response.get_data()[:300])
        return response

    def schedule_page() -> None:
        with factory() as s:
            sched = s.get(Schedule, schedule_id)
            assert sched is not None
            spec = spec_for(s, sched, start, end)
            final_shifts(spec, start, end)
            zone = ZoneInfo(spec.timezone)
            for name in dict.fromkeys(x.name for x in spec.layers):
                versions_shifts([x for x in spec.layers if x.name == name], zone, start, end)
            gaps(spec, start, end)

    def policy_ladder() -> None:
        with factory() as s:
            policy = s.scalar(select(EscalationPolicy).where(
                EscalationPolicy.name == "policy-00"))
            assert policy is not None
            for level in policy.levels:
                for target in level.targets:
                    if target["type"] == "schedule":
                        who_is_on_call(s, target["ref"], now)

    answer = ok(client.post("/api/v1/simulate", json=ask, headers=auth)).json
    lines = [e for e in answer["timeline"] if e["recipient"]]
    assert answer["outcome"] == "pages" and len(lines) >= 9, answer
    assert b"It pages" in ok(client.get("/simulate", query_string=form)).data

    assert b"Final schedule" in ok(client.get(f"/schedules/{schedule_id}",
                                              query_string={"weeks": 4})).data
    assert b"policy-00" in ok(client.get("/policies")).data

    measures: list[tuple[str, str, Callable[[], Any]]] = [
        ("GET /schedules (console list, 20 schedules)", "page",
         lambda: ok(client.get("/schedules"))),
        ("GET /schedules/<id>?weeks=4 (schedule page, 4 weeks)", "page",
         lambda: ok(client.get(f"/schedules/{schedule_id}", query_string={"weeks": 4}))),
        ("schedule page, domain (4 weeks: spec, final, 3 layers, gaps)", "page",
         schedule_page),
        ("GET /api/v1/schedules/<id>/shifts (4 weeks)", "page",
         lambda: ok(client.get(f"/api/v1/schedules/{schedule_id}/shifts", headers=auth,
                               query_string={"start": start.isoformat(),
                                             "end": end.isoformat()}))),
        ("GET /policies (policy page: 10 ladders, who each target is now)", "page",
         lambda: ok(client.get("/policies"))),
        ("policy ladder, domain (who each target is now)", "page", policy_ladder),
        ("POST /api/v1/simulate", "simulator",
         lambda: ok(client.post("/api/v1/simulate", json=ask, headers=auth))),
        ("GET /simulate (console page)", "simulator",
         lambda: ok(client.get("/simulate", query_string=form))),
    ]
    results = []
    for name, kind, fn in measures:
        values, cpu = timed(fn, args.runs)
        target = 150.0 if kind == "page" else 100.0
        p95 = percentile(values, 95)
        results.append({"measure": name, "kind": kind, "runs": len(values),
                        "p50": percentile(values, 50), "p95": p95, "max": max(values),
                        "cpu_p50": percentile(cpu, 50),
                        "target_p95": target, "pass": p95 < target})
    argv = " ".join(shlex.quote(a) for a in sys.argv[1:])
    print(f"command: python bench/console.py {argv}".rstrip())
    print(f"python {platform.python_version()} on {platform.machine()} ({os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.1f}); {counts['schedules']} schedules, "
          f"{counts['incidents']:,} incidents; data set built in {setup_s:.1f} s; "
          f"simulator timeline: {len(answer['timeline'])} lines")
    print()
    print(markdown_table(["measure", "p50 ms", "p95 ms", "max ms", "CPU p50 ms", "target p95",
                          ""],
                         [[r["measure"], fmt(r["p50"]), fmt(r["p95"]), fmt(r["max"]),
                           fmt(r["cpu_p50"]),
                           f"< {r['target_p95']:.0f} ms", "PASS" if r["pass"] else "FAIL"]
                          for r in results]))
    path = save_results("console", {"command": f"python bench/console.py {argv}".rstrip(),
                                    "results": results, "counts": counts})
    print(f"\nsaved {path}")


if __name__ == "__main__":
    main()
