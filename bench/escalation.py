"""Escalation lateness: with many open incidents due at staggered times, how late does each
escalation fire?

    python bench/escalation.py [--incidents 10000] [--start 60] [--spread 60]

Prepares the scratch stack like the other benchmarks (migrate, ``oncall apply`` of rules/ and
schedules/), starts a real Celery worker (``oncall worker -c 2``) and beat (the sweeper, every
second), then inserts N triggered incidents of ``billing-api`` in one statement, each already
at level 1 of a frozen ``billing-critical`` snapshot and due to escalate to level 2 at
``now + start + spread * i / N`` (evenly staggered). Nothing enqueues tasks for them: the
sweeper alone must find and step every one, as after a broker loss. Waits for every level-2
escalation, then reads from the timeline:

  lateness       escalated.at - due    (each ``escalated`` entry records its ``due`` time)
  due -> paged   pages.sent_at - due   (the level-2 console pages)

Results: Markdown on stdout and JSON in bench/results/escalation-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h

TARGET_P99_S = 2.0

LATENESS = """
SELECT extract(epoch FROM e.at - CAST(e.detail->>'due' AS timestamptz))
FROM incident_events e JOIN incidents i ON i.id = e.incident_id
WHERE i.dedup_key LIKE 'esc-%' AND e.kind = 'escalated'
  AND CAST(e.detail->>'level' AS int) = 2 AND CAST(e.detail->>'loop' AS int) = 0
"""
PAGED = """
SELECT extract(epoch FROM p.sent_at - (SELECT CAST(e.detail->>'due' AS timestamptz)
                                        FROM incident_events e
                                        WHERE e.incident_id = i.id AND e.kind = 'escalated'
                                          AND CAST(e.detail->>'level' AS int) = 2 LIMIT 1))
FROM pages p JOIN incidents i ON i.id = p.incident_id
WHERE i.dedup_key LIKE 'esc-%' AND p.level = 2 AND p.loop = 0 AND p.status = 'sent'
"""
INSERT = """
INSERT INTO incidents (service_id, dedup_key, status, severity, summary, policy, level, loop,
                       next_action_at, created_at, updated_at)
SELECT :service_id, 'esc-' || g, 'triggered', 'critical', 'escalation bench ' || g,
       CAST(:policy AS json), 1, 0,
       :t0 + make_interval(secs => CAST(:start AS float8) + CAST(:spread AS float8) * g / :n),
       now(), now()
FROM generate_series(0, :n - 1) AS g
"""


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--incidents", type=int, default=10_000)
    p.add_argument("--start", type=float, default=60, help="first incident due after (s)")
    p.add_argument("--spread", type=float, default=60, help="due times spread over (s)")
    p.add_argument("--celery-concurrency", type=int, default=2)
    p.add_argument("--timeout", type=float, default=120,
                   help="how long to wait after the last due time")
    p.add_argument("--max-wait-quiet", type=float, default=20)
    p.add_argument("--database-url", default=h.DEFAULT_DATABASE_URL)
    p.add_argument("--broker-url", default=h.DEFAULT_BROKER_URL)
    return p.parse_args()


def snapshot(database_url: str) -> tuple[int, dict[str, Any]]:
    from sqlalchemy import select

    from oncall import db
    from oncall.models import EscalationPolicy, Service
    from oncall.paging.policy_snapshot import Policy

    with db.session_scope(database_url) as s:
        service = s.scalar(select(Service).where(Service.name == "billing-api"))
        policy = s.scalar(select(EscalationPolicy).where(
            EscalationPolicy.name == "billing-critical"))
        assert service is not None and policy is not None
        return service.id, Policy.of(policy).to_json()


def escalated(stack: h.Stack) -> int:
    return int(stack.sql(
        "SELECT count(*) FROM incidents WHERE dedup_key LIKE 'esc-%' AND level >= 2")[0][0])


def main() -> None:
    args = parse_args()
    h.install_cleanup()
    workdir = h.scratch_dir("oncall-bench-escalation-")
    h.log(f"scratch directory (process logs): {workdir}")
    stack = h.prepare(args.database_url, args.broker_url, workdir)
    service_id, policy = snapshot(args.database_url)
    worker = h.start_worker(stack, args.celery_concurrency)
    beat = h.start_beat(stack)
    quiet = h.wait_quiet(max_wait=args.max_wait_quiet)
    roles = {"celery_main": lambda: [worker.pid], "celery_children": worker.children,
             "celery_beat": lambda: [beat.pid],
             "postgres": lambda: h.postgres_pids(stack.database_name)}

    t0 = datetime.now(UTC)
    h.log(f"inserting {args.incidents:,} incidents due {args.start:g}-"
          f"{args.start + args.spread:g} s from now")
    stack.sql(INSERT, service_id=service_id, policy=json.dumps(policy), t0=t0,
              start=args.start, spread=args.spread, n=args.incidents)
    insert_s = (datetime.now(UTC) - t0).total_seconds()
    last_due = t0 + timedelta(seconds=args.start + args.spread)
    with h.Sampler(roles) as sampler:
        deadline = last_due + timedelta(seconds=args.timeout)
        done = 0
        while datetime.now(UTC) < deadline:
            done = escalated(stack)
            if done >= args.incidents:
                break
            time.sleep(1)
        h.log(f"{done:,}/{args.incidents:,} escalated to level 2")
        # Give the last pages a moment to be delivered.
        time.sleep(3)

    late = [float(r[0]) * 1000 for r in stack.sql(LATENESS)]
    paged = [float(r[0]) * 1000 for r in stack.sql(PAGED)]
    early = sum(1 for x in late if x < 0)
    result: dict[str, Any] = {
        "incidents": args.incidents, "escalated": done, "missing": args.incidents - done,
        "fired_early": early, "insert_seconds": round(insert_s, 2),
        "lateness_ms": h.describe(late), "due_to_page_sent_ms": h.describe(paged),
        "pages_sent_level2": len(paged), "sampling": sampler.report(),
        "busy_cores_before": round(quiet, 2),
    }
    for proc in (worker, beat):
        proc.stop(timeout=20)

    lat, pag = result["lateness_ms"], result["due_to_page_sent_ms"]
    table = h.markdown_table(["", "n", "p50 ms", "p90 ms", "p99 ms", "max ms"], [
        [label, str(v["n"]), h.fmt(v["p50"]), h.fmt(v["p90"]), h.fmt(v["p99"]), h.fmt(v["max"])]
        for label, v in (("escalation fired - due (lateness)", lat),
                         ("page sent - due", pag))])
    cpu = h.markdown_table(["process", "count", "peak RSS MB (max)", "CPU cores"], [
        [k, str(v["processes"]), h.fmt(v["peak_rss_mb_max"]), h.fmt(v["cpu_cores_avg"], 2)]
        for k, v in result["sampling"]["roles"].items()])
    p99 = lat["p99"]
    ok = p99 is not None and p99 < TARGET_P99_S * 1000 and result["missing"] == 0 and early == 0
    print(f"\n## Escalation lateness: {args.incidents:,} open incidents due over "
          f"{args.start:g}-{args.start + args.spread:g} s, celery -c "
          f"{args.celery_concurrency} + beat ({os.cpu_count()} CPUs)\n")
    print(table)
    print(f"\nescalated {done:,}/{args.incidents:,}, fired early {early}\n")
    print(cpu)
    print(f"\n  [{'PASS' if ok else 'FAIL'}] escalation lateness p99 < {TARGET_P99_S:g} s "
          f"(got {h.fmt(p99)} ms) with every incident escalated")
    note = h.stall_note(result["sampling"])
    if note:
        print(f"\n  {note}")
    path = h.save_results("escalation", {
        "command": shlex.join([Path(sys.executable).name, *sys.argv]), "args": vars(args),
        "machine": h.machine_info(args.database_url), "result": result, "table": table,
        "commands": {"worker": shlex.join(worker.argv), "beat": shlex.join(beat.argv)},
        "scratch_dir": str(workdir)})
    stack.flush_broker()
    print(f"\nJSON: {path.relative_to(h.REPO)}")


if __name__ == "__main__":
    main()
