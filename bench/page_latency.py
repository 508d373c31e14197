"""Alert in to page out: how long from an alert arriving to its console page being sent.

    python bench/page_latency.py [--alerts 200] [--rate 20] [--twilio [fake|prism]]

Runs the real ``oncall web`` (gunicorn), a real Celery worker (``oncall worker -c 2``) and beat
(the sweeper) on Redis and PostgreSQL, sends N alerts with unique dedup keys at a steady rate
(open loop), waits for their pages, then reads the timings from the database:

  alert -> page sent      pages.sent_at - alerts.received_at (the number that matters)
  alert -> page created   pages.created_at - alerts.received_at (waking a worker, the first step)
  page created -> sent    pages.sent_at - pages.created_at (claiming and sending the page)

plus the HTTP latency the sender saw and the peak RSS of every process.

``--twilio`` pages by SMS through the real twilio SDK instead of the console, against the
tests' fake Twilio (``fake``, the default: it notes when each request arrives, so the table
gains "alert received -> Twilio request made") or Prism mocking Twilio's OpenAPI document
(``prism``: "page sent" is then after Prism's answer). Users get phone numbers; the SMS
throttle is off (one person receives every page here) and bundling stays on. Results: Markdown on
stdout and JSON in bench/results/page-latency-<timestamp>.json. See bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h

TARGET_P99_MS = 1000.0

TIMINGS = """
SELECT a.dedup_key,
       extract(epoch FROM p.sent_at - a.received_at) * 1000,
       extract(epoch FROM p.created_at - a.received_at) * 1000,
       extract(epoch FROM p.sent_at - p.created_at) * 1000,
       p.status
FROM alerts a
LEFT JOIN pages p ON p.incident_id = a.incident_id AND p.level = 1 AND p.loop = 0
WHERE a.dedup_key LIKE :prefix
"""


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--alerts", type=int, default=200)
    p.add_argument("--rate", type=float, default=20, help="alerts per second")
    p.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    p.add_argument("--threads", type=int, default=None, help="gunicorn threads per worker")
    p.add_argument("--celery-concurrency", type=int, default=2)
    p.add_argument("--no-beat", action="store_true",
                   help="no beat, so no sweeper: pages come only from the tasks")
    p.add_argument("--timeout", type=float, default=60,
                   help="how long to wait for the last pages after sending")
    p.add_argument("--max-wait-quiet", type=float, default=20,
                   help="first wait up to this long for other load on the machine to stop")
    p.add_argument("--storm", type=int, default=0, metavar="N",
                   help="afterwards, N trials of a dedup storm (--storm-seconds of closed-loop "
                        "load on one dedup_key): incident created -> its first page sent")
    p.add_argument("--storm-seconds", type=float, default=8)
    p.add_argument("--port", type=int, default=18280)
    p.add_argument("--twilio", nargs="?", const="fake", choices=["fake", "prism"],
                   help="page by SMS through the twilio SDK against a fake Twilio or Prism")
    p.add_argument("--database-url", default=h.DEFAULT_DATABASE_URL)
    p.add_argument("--broker-url", default=h.DEFAULT_BROKER_URL)
    return p.parse_args()


def wait_pages(stack: h.Stack, prefix: str, expected: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    sent = 0
    while time.monotonic() < deadline:
        sent = stack.sql(
            "SELECT count(*) FROM pages p JOIN alerts a ON a.incident_id = p.incident_id "
            "WHERE a.dedup_key LIKE :prefix AND p.status = 'sent' AND p.level = 1",
            prefix=prefix)[0][0]
        if sent >= expected:
            break
        time.sleep(0.2)
    return int(sent)


def storms(stack: h.Stack, url: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Each trial: 32 connections send one dedup_key for a while; how long did the incident's
    first page take while duplicates kept joining it?"""
    trials = []
    for i in range(args.storm):
        load = h.run_load(url, args.storm_seconds, 32, "shared", f"storm{i}", stack.workdir)
        key = f"storm{i}-shared"
        deadline = time.monotonic() + 15
        row = None
        while time.monotonic() < deadline:
            row = stack.sql(
                "SELECT extract(epoch FROM p.sent_at - i.created_at) * 1000 "
                "FROM incidents i JOIN pages p ON p.incident_id = i.id AND p.level = 1 "
                "WHERE i.dedup_key = :k AND p.status = 'sent'", k=key)
            if row:
                break
            time.sleep(0.2)
        delay = float(row[0][0]) if row else None
        trials.append({"key": key, "rps": round(load.rps, 1), "alerts": load.ok,
                       "first_page_ms": h.rounded(delay)})
        h.log(f"storm {i}: {load.rps:,.0f} alerts/s on one key; first page after "
              f"{h.fmt(delay)} ms")
    return trials


def main() -> None:
    args = parse_args()
    h.install_cleanup()
    workdir = h.scratch_dir("oncall-bench-latency-")
    h.log(f"scratch directory (process logs): {workdir}")
    twilio = TwilioMock(args.twilio, workdir) if args.twilio else None
    stack = h.prepare(args.database_url, args.broker_url, workdir)
    if twilio is not None:
        twilio.configure(stack)
        worker = twilio.start_worker(stack, args.celery_concurrency)
    else:
        worker = h.start_worker(stack, args.celery_concurrency)
    beat = None if args.no_beat else h.start_beat(stack)
    web = h.start_web(stack, args.port, args.workers, args.threads)
    url = f"http://127.0.0.1:{args.port}/integrations/{stack.token}"

    # Warm-up: every web worker and pool child opens its connections before we measure.
    warm = h.send_paced(url, [f"warm-{i}" for i in range(10)], rate=20)
    wait_pages(stack, "warm-%", sum(s.status == 202 for s in warm), 20)
    quiet = h.wait_quiet(max_wait=args.max_wait_quiet)

    roles = {"web_workers": web.children, "web_master": lambda: [web.pid],
             "celery_main": lambda: [worker.pid], "celery_children": worker.children,
             "postgres": lambda: h.postgres_pids(stack.database_name),
             "redis": lambda: h.pids_named("redis-server")}
    if beat is not None:
        roles["celery_beat"] = lambda: [beat.pid]
    keys = [f"lat-{i}" for i in range(args.alerts)]
    h.log(f"sending {args.alerts} alerts at {args.rate:g}/s")
    with h.Sampler(roles) as sampler:
        t0 = time.monotonic()
        sent = h.send_paced(url, keys, args.rate)
        send_seconds = time.monotonic() - t0
        accepted = sum(s.status == 202 for s in sent)
        got = wait_pages(stack, "lat-%", accepted, args.timeout)
    h.log(f"{accepted} accepted, {got} pages sent")

    rows = stack.sql(TIMINGS, prefix="lat-%")
    e2e = [float(r[1]) for r in rows if r[4] == "sent"]
    to_created = [float(r[2]) for r in rows if r[2] is not None]
    to_sent = [float(r[3]) for r in rows if r[4] == "sent"]
    http_ms = [s.latency_ms for s in sent if s.status == 202]
    late = [s.late_ms for s in sent]
    nobody = stack.sql("SELECT count(*) FROM incident_events WHERE kind = 'nobody_on_call'")[0][0]
    result: dict[str, Any] = {
        "alerts": args.alerts, "rate": args.rate, "accepted": accepted,
        "errors": len(sent) - accepted, "pages_sent": got, "pages_missing": accepted - got,
        "nobody_on_call_events": nobody, "send_seconds": round(send_seconds, 2),
        "sender_late_ms": h.describe(late),
        "latency_ms": {"alert_to_page_sent": h.describe(e2e),
                       "alert_to_page_created": h.describe(to_created),
                       "page_created_to_sent": h.describe(to_sent),
                       "http_response": h.describe(http_ms)},
        "sampling": sampler.report(), "busy_cores_before": round(quiet, 2),
    }
    result["storms"] = storms(stack, url, args) if args.storm else []
    for proc in (web, worker, beat):
        if proc is not None:
            proc.stop(timeout=20)

    if twilio is not None:
        result["twilio"] = args.twilio
        if twilio.fake is not None:
            result["latency_ms"]["alert_to_twilio_request"] = h.describe(
                twilio.request_latencies(stack, "lat-%"))
            result["twilio_requests"] = len(twilio.fake.requests)
        twilio.stop()
    lat = result["latency_ms"]
    labels = {"alert_to_twilio_request": "alert received -> Twilio request made",
              "alert_to_page_sent": "alert received -> page sent (end to end)",
              "alert_to_page_created": "alert received -> page row created (wake + first step)",
              "page_created_to_sent": "page created -> page sent (delivery)",
              "http_response": "HTTP response time seen by the sender"}
    table = h.markdown_table(["", "n", "p50 ms", "p90 ms", "p99 ms", "max ms"], [
        [labels[k], str(v["n"]), h.fmt(v["p50"]), h.fmt(v["p90"]), h.fmt(v["p99"]),
         h.fmt(v["max"])] for k, v in lat.items()])
    role_names = {"web_workers": "web workers (gunicorn)", "web_master": "web master",
                  "celery_main": "celery worker main process",
                  "celery_children": "celery pool children", "celery_beat": "celery beat",
                  "postgres": "postgres (this database)", "redis": "redis-server"}
    mem_rows = []
    for key, role in result["sampling"]["roles"].items():
        mem_rows.append([role_names.get(key, key), str(role["processes"]),
                         h.fmt(role["peak_rss_mb_max"]), h.fmt(role["peak_rss_mb_sum"]),
                         h.fmt(role["pss_mb_at_end_max"]), h.fmt(role["cpu_cores_avg"], 2)])
    mem_table = h.markdown_table(
        ["process", "count", "peak RSS MB (max)", "peak RSS MB (sum)", "PSS MB at end (max)",
         "CPU cores"], mem_rows)
    p99 = lat.get("alert_to_twilio_request", lat["alert_to_page_sent"])["p99"]
    ok = p99 is not None and p99 < TARGET_P99_MS and result["pages_missing"] == 0
    print(f"\n## Alert -> page latency: {args.alerts} alerts at {args.rate:g}/s, "
          f"{args.workers} web workers, celery -c {args.celery_concurrency}"
          f"{f', SMS via Twilio ({args.twilio})' if args.twilio else ''}"
          f"{'' if args.no_beat else ' + beat'} ({os.cpu_count()} CPUs)\n")
    print(table)
    print(f"\naccepted {accepted}/{args.alerts}, pages sent {got}, missing "
          f"{result['pages_missing']}, sender behind schedule p99 "
          f"{h.fmt(result['sender_late_ms']['p99'])} ms\n")
    print(mem_table)
    if result["storms"]:
        print("\nDedup storms (incident created -> first page sent, while every request "
              "updates the incident's row):\n")
        print(h.markdown_table(["trial", "alerts/s on one key", "first page ms"], [
            [t["key"], h.fmt(t["rps"], 0), h.fmt(t["first_page_ms"])]
            for t in result["storms"]]))
    what = "Twilio request" if "alert_to_twilio_request" in lat else "page"
    print(f"\n  [{'PASS' if ok else 'FAIL'}] alert -> {what} p99 < {TARGET_P99_MS:g} ms "
          f"(got {h.fmt(p99)}) with every page sent")
    note = h.stall_note(result["sampling"])
    if note:
        print(f"\n  {note}")
    path = h.save_results("page-latency", {
        "command": shlex.join([Path(sys.executable).name, *sys.argv]), "args": vars(args),
        "machine": h.machine_info(args.database_url), "result": result, "table": table,
        "memory_table": mem_table, "commands": {
            "web": shlex.join(web.argv), "worker": shlex.join(worker.argv),
            "beat": shlex.join(beat.argv) if beat else None},
        "scratch_dir": str(workdir)})
    stack.flush_broker()
    print(f"\nJSON: {path.relative_to(h.REPO)}")


class TwilioMock:
    """The fake Twilio (in this process) or Prism, and a worker that pages by SMS."""

    ACCOUNT = "AC5e0f2a4c6b8d0e1f3a5c7b9d1e3f5a7c"

    def __init__(self, kind: str, workdir: Path) -> None:
        sys.path.insert(0, str(h.REPO))
        self.fake: Any = None
        self.prism: h.Proc | None = None
        if kind == "fake":
            from tests.twilio.fakes import FakeTwilio

            self.fake = FakeTwilio()
            self.url = self.fake.url
        else:
            port = 18290
            prism = h.REPO / "tests" / "tools" / "node_modules" / ".bin" / "prism"
            self.prism = h.Proc("prism", [str(prism), "mock", "-d", "-h", "127.0.0.1", "-p",
                                          str(port),
                                          str(h.REPO / "tests/fixtures/twilio_api_v2010.json")],
                                dict(os.environ), workdir)
            h.wait_log(self.prism, "Prism is listening", timeout=120)
            self.url = f"http://127.0.0.1:{port}"

    def configure(self, stack: h.Stack) -> None:
        stack.env.update(TWILIO_ACCOUNT_SID=self.ACCOUNT, TWILIO_AUTH_TOKEN="0" * 32,
                         TWILIO_FROM_NUMBER="+12125550147", TWILIO_API_BASE_URL=self.url,
                         ONCALL_PUBLIC_URL="https://oncall.example.com",
                         ONCALL_TEST_NO_THROTTLE="1")
        stack.sql("UPDATE users SET phone = '+1415555' || lpad(id::text, 4, '0')")

    def start_worker(self, stack: h.Stack, concurrency: int) -> h.Proc:
        """The worker as ``oncall worker`` runs it, every user paged by SMS."""
        argv = [sys.executable, str(h.REPO / "tests" / "twilio" / "sms_worker.py"), "-A",
                "worker.app", "worker", "-Q", "oncall,oncall.beat", "-l", "INFO",
                "-c", str(concurrency)]
        proc = h.Proc("celery-worker", argv, stack.env, stack.workdir, cwd=stack.workdir)
        h.wait_log(proc, " ready.", timeout=60)
        return proc

    def request_latencies(self, stack: h.Stack, prefix: str) -> list[float]:
        """Alert received -> the first request to Twilio naming its incident, in ms."""
        import re

        first: dict[int, float] = {}
        for req in self.fake.requests:
            for inc in map(int, re.findall(r"#(\d+) ", req.form.get("Body", ""))):
                first.setdefault(inc, req.wall)
        rows = stack.sql("SELECT incident_id, extract(epoch FROM received_at) FROM alerts "
                         "WHERE dedup_key LIKE :prefix", prefix=prefix)
        return [(first[int(i)] - float(t)) * 1000 for i, t in rows if int(i) in first]

    def stop(self) -> None:
        if self.fake is not None:
            self.fake.close()
        if self.prism is not None:
            self.prism.stop(timeout=10)


if __name__ == "__main__":
    main()
