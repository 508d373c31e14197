"""The console's incident pages: server time on PostgreSQL with 10,000 incidents (the data
set of ``bench/console.py``) plus one incident with 500 timeline entries, 24 pages and 50
alerts; and how soon a new incident shows in an open list (the 2 s htmx poll).

    python bench/incidents.py [--runs 50] [--samples 25] [--database-url ...] [--keep]

Server time (target p95 < 150 ms): the wall time of one request through the Flask test
client in this process, signed in as a viewer (a responder for ``mine``), with p50, p95 and
max of ``--runs`` runs after 3 warm-up runs:

  GET /incidents                     open incidents (500), first page of 25
  GET /incidents (htmx fragment)     what the 2 s poll fetches
  GET /incidents?status=all          all 10,000, first page; and page 200 (deep offset)
  GET /incidents?mine=1&status=all   paged to me or acknowledged by me
  GET /incidents/<id>                the incident with 500 timeline entries
  GET /                              home: on call on 20 schedules, open incidents, my shift

"New incident visible" (target p95 < 2 s): the app served over HTTP (werkzeug, threaded, in
this process); a poller fetches the list fragment as htmx does (the list's ``hx-trigger``,
``every 1500ms``, on a fragment swapped outerHTML: the next poll is armed when the answer is
swapped in); each sample posts one alert to the integration's webhook (the real intake) at
a random moment and measures until a poll's answer lists its incident.
``--poll 2`` measures a 2 s interval instead.
``--samples`` samples. Results as a Markdown table and in ``bench/results/``.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import shlex
import sys
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, insert, select

from bench._harness import check_scratch, fmt, markdown_table, percentile, save_results
from bench.console import PASSWORD, populate, reset, timed

DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1/oncall_bench_incidents"
BROKER_URL = "redis://127.0.0.1:6379/10"
TIMELINE = 500


def add_busy_incident(database_url: str, now: datetime) -> tuple[int, str]:
    """One open incident with 500 timeline entries, 24 pages (some failed and fallen back),
    50 alerts; a responder with a password; a generic integration. Its id and the token."""
    from oncall import db
    from oncall.accounts import passwords
    from oncall.models import Alert, Incident, IncidentEvent, Integration, Page, Service, User
    from oncall.security import hash_token, new_token

    with db.session_scope(database_url) as s:
        user = s.scalar(select(User).where(User.email == "user00@bench.example"))
        assert user is not None
        user.password_hash = passwords.hash_password(PASSWORD)
        service = s.scalar(select(Service).where(Service.name == "service-00"))
        assert service is not None
        incident = Incident(service_id=service.id, dedup_key="busy", summary="busy incident",
                            severity="critical", status="triggered", level=3, loop=2,
                            created_at=now - timedelta(hours=5), updated_at=now,
                            next_action_at=now + timedelta(minutes=5))
        s.add(incident)
        s.flush()
        kinds = ["escalated", "paged", "page_failed", "fallback", "paged", "note"]
        s.execute(insert(IncidentEvent), [
            {"incident_id": incident.id, "kind": kinds[i % len(kinds)],
             "actor": "user:user01@bench.example" if i % 6 == 5 else "system",
             "at": now - timedelta(hours=5) + timedelta(seconds=30 * i),
             "detail": {"level": 1 + i % 3, "loop": 0, "channel": "sms",
                        "user": "user00@bench.example", "from_channel": "sms",
                        "to_channel": "voice", "text": f"note {i}", "error": "unreachable"}}
            for i in range(TIMELINE)])
        s.execute(insert(Page), [
            {"incident_id": incident.id, "level": 1 + i % 3, "loop": i // 8,
             "recipient": f"user:{user.id + i % 4}", "user_id": user.id + i % 4,
             "channel": ("sms", "voice")[i % 2], "status": ("sent", "failed")[i % 3 == 0],
             "attempts": 1, "message": "m", "created_at": now, "next_attempt_at": now}
            for i in range(24)])
        s.execute(insert(Alert), [
            {"incident_id": incident.id, "status": "firing", "type": "charge_failure",
             "severity": "critical", "summary": f"alert {i}", "dedup_key": "busy",
             "labels": {"merchant_id": f"m{i}"}, "received_at": now} for i in range(50)])
        token = new_token("oci")
        s.add(Integration(service_id=service.id, kind="generic", name="bench-generic",
                          token_hash=hash_token(token), prefix=token[:10]))
        return incident.id, token


def signed_in(client: Any, email: str) -> Any:
    page = client.get("/signin").get_data(as_text=True)
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert found, "no CSRF token on /signin"
    r = client.post("/signin", data={"email": email, "password": PASSWORD,
                                     "csrf_token": found.group(1)})
    assert r.status_code == 302, r.get_data(as_text=True)[:300]
    return client


def visibility(app: Any, token: str, samples: int, seed: int, poll_seconds: float) -> list[float]:
    """Seconds from posting an alert until the polled list fragment shows its incident."""
    import requests
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    browser = requests.Session()
    page = browser.get(f"{url}/signin").text
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert found
    r = browser.post(f"{url}/signin", data={"email": "viewer@bench.example",
                                            "password": PASSWORD, "csrf_token": found.group(1)},
                     allow_redirects=False)
    assert r.status_code == 302
    seen: dict[int, float] = {}
    stop = threading.Event()

    def poll() -> None:
        # htmx's "every ..." on an element swapped outerHTML: the new element arms its own
        # timer once it is in, so polls are the interval plus one request apart.
        while not stop.is_set():
            body = browser.get(f"{url}/incidents", headers={"HX-Request": "true"}).text
            arrived = time.perf_counter()
            for match in re.finditer(r'href="/incidents/(\d+)"', body):
                seen.setdefault(int(match.group(1)), arrived)
            stop.wait(poll_seconds)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    time.sleep(0.5)
    rng = random.Random(seed)
    out = []
    for i in range(samples):
        time.sleep(rng.uniform(0, poll_seconds))
        posted = time.perf_counter()
        answer = requests.post(f"{url}/integrations/{token}", timeout=10, json={
            "type": "latency", "severity": "critical", "summary": f"visibility sample {i}",
            "dedup_key": f"visibility-{seed}-{i}-{time.time_ns()}"})
        assert answer.status_code == 202, answer.text
        incident_id = int(answer.json()["incidents"][0]["incident_id"])
        deadline = posted + 10
        while incident_id not in seen and time.perf_counter() < deadline:
            time.sleep(0.01)
        assert incident_id in seen, f"incident {incident_id} not shown within 10 s"
        out.append(seen[incident_id] - posted)
    stop.set()
    poller.join(5)
    server.shutdown()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--samples", type=int, default=25)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--keep", action="store_true", help="reuse the data of a previous run")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--poll", type=float, default=None,
                        help="seconds between polls (default: the list's own hx-trigger)")
    args = parser.parse_args()
    check_scratch(args.database_url, BROKER_URL)

    from oncall import db
    from oncall.config import load_settings
    from oncall.models import Incident, IncidentEvent
    from oncall.web import create_app

    now = datetime.now(UTC).replace(microsecond=0)
    t0 = time.perf_counter()
    if not args.keep:
        reset(args.database_url)
        populate(args.database_url, now, args.seed)
        add_busy_incident(args.database_url, now)
    setup_s = time.perf_counter() - t0
    with db.session_scope(args.database_url) as s:
        busy = s.scalar(select(Incident.id).where(Incident.dedup_key == "busy"))
        events = s.scalar(select(func.count()).where(IncidentEvent.incident_id == busy))
        total = s.scalar(select(func.count()).select_from(Incident))
        from oncall.models import Integration
        from oncall.security import hash_token, new_token

        token = new_token("oci")  # a fresh one each run: only its hash is stored
        integration = s.scalar(select(Integration).where(Integration.name == "bench-generic"))
        assert integration is not None
        integration.token_hash, integration.prefix = hash_token(token), token[:10]
    os.environ.setdefault("ONCALL_SECRET_KEY", os.urandom(32).hex())
    settings = replace(load_settings(), database_url=args.database_url, broker_url=BROKER_URL,
                       ratelimit_storage_url="memory://")
    app = create_app(settings)
    viewer = signed_in(app.test_client(), "viewer@bench.example")
    responder = signed_in(app.test_client(), "user00@bench.example")

    def ok(response: Any) -> Any:
        assert response.status_code == 200, (response.status_code, response.get_data()[:300])
        return response

    assert b"busy incident" in ok(viewer.get(f"/incidents/{busy}")).data
    hx = {"HX-Request": "true"}
    measures = [
        ("GET /incidents (open: 500, first page)", lambda: ok(viewer.get("/incidents"))),
        ("GET /incidents, htmx fragment (what the poll fetches)",
         lambda: ok(viewer.get("/incidents", headers=hx))),
        ("GET /incidents?status=all (10,000, first page)",
         lambda: ok(viewer.get("/incidents?status=all"))),
        ("GET /incidents?status=all&page=200 (deep page)",
         lambda: ok(viewer.get("/incidents?status=all&page=200"))),
        ("GET /incidents?mine=1&status=all (a responder)",
         lambda: ok(responder.get("/incidents?mine=1&status=all"))),
        (f"GET /incidents/<id> ({events} timeline entries, 24 pages, 50 alerts)",
         lambda: ok(viewer.get(f"/incidents/{busy}"))),
        ("GET / (home: 20 schedules, open incidents, my next shift)",
         lambda: ok(responder.get("/"))),
    ]
    results = []
    for name, fn in measures:
        values, cpu = timed(fn, args.runs)
        p95 = percentile(values, 95)
        results.append({"measure": name, "unit": "ms", "runs": len(values),
                        "p50": percentile(values, 50), "p95": p95, "max": max(values),
                        "cpu_p50": percentile(cpu, 50), "target_p95": 150.0,
                        "pass": p95 < 150.0})
    from oncall.web.console.incidents import POLL

    poll = args.poll or float(POLL.removeprefix("every ").removesuffix("ms")) / 1e3
    seen = [s * 1e3 for s in visibility(app, token, args.samples, args.seed, poll)]
    p95 = percentile(seen, 95)
    results.append({"measure": f"new incident visible in an open list ({len(seen)} samples, "
                               f"poll every {poll:g} s)", "unit": "ms",
                    "runs": len(seen), "p50": percentile(seen, 50), "p95": p95,
                    "max": max(seen), "cpu_p50": None, "poll_seconds": poll, "target_p95": 2000.0,
                    "pass": p95 < 2000.0})
    argv = " ".join(shlex.quote(a) for a in sys.argv[1:])
    print(f"command: python bench/incidents.py {argv}".rstrip())
    print(f"python {platform.python_version()} on {platform.machine()} ({os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.1f}); {total:,} incidents; data set built in "
          f"{setup_s:.1f} s")
    print()
    print(markdown_table(["measure", "p50 ms", "p95 ms", "max ms", "CPU p50 ms", "target p95",
                          ""],
                         [[r["measure"], fmt(r["p50"]), fmt(r["p95"]), fmt(r["max"]),
                           fmt(r["cpu_p50"]), f"< {r['target_p95']:.0f} ms",
                           "PASS" if r["pass"] else "FAIL"] for r in results]))
    path = save_results("incidents", {"command": f"python bench/incidents.py {argv}".rstrip(),
                                      "results": results, "incidents": total})
    print(f"\nsaved {path}")


if __name__ == "__main__":
    main()
