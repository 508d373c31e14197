"""Alert intake throughput and latency against two baselines, on PostgreSQL, in one run.

    python bench/ingest.py [--seconds 15] [--concurrency 32] [--workers 4]

Each server runs under gunicorn with ``oncall web``'s settings and the same worker count:

  parse          bench/baseline_app.py: parse the JSON, answer 202 (the web stack's ceiling)
  insert         bench/baseline_app.py: also INSERT it as JSONB and commit (the durability floor)
  insert-autocommit
                 the same INSERT in autocommit, one round trip instead of three, as the
                 intake stores a lone alert: for reference (the targets compare with insert)
  oncall-unique  ``oncall web``, every alert with its own dedup_key: each one opens an
                 incident, which the worker steps and pages at once (the worst case)
  oncall-dedup   ``oncall web``, every alert with one dedup_key (the dedup path)
  oncall-unique-noworker
                 as oncall-unique with no Celery worker: what the intake alone can do
  am50-*         Alertmanager webhooks of 50 alerts each

A Celery worker (``oncall worker -c 2``) runs during the oncall variants but the noworker
one. Only 202s count as requests; anything else is an error. ``--rounds N`` measures every
server N times in turn and judges the targets on the medians (each ratio against the
``insert`` of its own round): on a shared machine one 15 s window can be 15% off the next.
Results: Markdown tables on stdout and JSON in bench/results/ingest-<timestamp>.json.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h

VARIANTS = {
    # name: (server, key mode, Celery worker running)
    "parse": ("baseline-parse", "unique", False),
    "insert": ("baseline-insert", "unique", False),
    # Reference: the floor in one round trip, as the intake stores a lone alert.
    "insert-autocommit": ("baseline-insert-autocommit", "unique", False),
    "oncall-unique": ("oncall", "unique", True),
    "oncall-dedup": ("oncall", "shared", True),
    # Diagnostic: the intake alone, with no worker competing for the CPU (tasks pile up).
    "oncall-unique-noworker": ("oncall", "unique", False),
    # Alertmanager webhooks of 50 alerts: a standing group re-notified (every alert joins its
    # open incident), and 50 new alerts in every request (50 incidents to open and page).
    "am50-repeat": ("oncall", "am50-repeat", True),
    "am50-new": ("oncall", "am50-new", True),
    # The same standing group with an alert type no rule matches (api_latency): the path of
    # most Alertmanager traffic, one statement per batch. The two above are charge_failure
    # alerts, which rules/billing.yaml's per-merchant count rule judges one by one.
    "am50-norule": ("oncall", "am50-norule", True),
}

TARGETS = {"am_alerts_per_s": 5000.0, "rps": 1000.0, "ratio_to_insert": 0.65, "p99_ms": 50.0,
           "web_rss_mb": 100.0, "celery_rss_mb": 120.0}

BASELINE_DDL = """
CREATE TABLE bench_baseline (
    id bigserial PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    body jsonb NOT NULL
)"""

VOLUME_TABLES = "pages, incident_events, alerts, incidents"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=15, help="measured load per server")
    p.add_argument("--warmup", type=float, default=3, help="unmeasured load first")
    p.add_argument("--concurrency", type=int, default=32, help="open connections")
    p.add_argument("--workers", type=int, default=4, help="gunicorn workers, every server")
    p.add_argument("--threads", type=int, default=None,
                   help="gunicorn threads per worker, every server (default: oncall's, 1)")
    p.add_argument("--celery-concurrency", type=int, default=2)
    p.add_argument("--loadgen", choices=["auto", "wrk", "python"], default="auto")
    p.add_argument("--wrk-threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=1,
                   help="measure every server this many times in turn; judge the medians")
    p.add_argument("--only", nargs="+", choices=list(VARIANTS), default=list(VARIANTS),
                   help="run only these (default: all)")
    p.add_argument("--no-dedup", action="store_true", help="skip oncall-dedup")
    p.add_argument("--storm", type=int, default=10_000, metavar="N",
                   help="after the variants: N copies of one alert as fast as they go (one "
                        "incident, one page expected); 0 skips it")
    p.add_argument("--rate-limit", default="off",
                   help="ONCALL_INTAKE_RATE_LIMIT for the oncall servers (default off: this "
                        "measures intake capacity; 'default' keeps the shipped limit)")
    p.add_argument("--max-wait-quiet", type=float, default=20,
                   help="before each measurement wait up to this long for other load on the "
                        "machine to stop")
    p.add_argument("--port", type=int, default=18180, help="first port; one per server")
    p.add_argument("--database-url", default=h.DEFAULT_DATABASE_URL)
    p.add_argument("--broker-url", default=h.DEFAULT_BROKER_URL)
    return p.parse_args()


def start_baseline(stack: h.Stack, mode: str, port: int, args: argparse.Namespace) -> h.Proc:
    argv = [sys.executable, "-m", "gunicorn", "-c", "python:oncall.web.gunicorn_conf",
            "--bind", f"127.0.0.1:{port}", "--workers", str(args.workers),
            "--pythonpath", str(h.BENCH)]
    if args.threads:
        argv += ["--threads", str(args.threads)]
    env = {**stack.env, "BENCH_BASELINE": mode}
    proc = h.Proc(f"baseline-{mode}-{port}", [*argv, "baseline_app:app"], env, stack.workdir,
                  cwd=stack.workdir)
    h.wait_http(port, "/health", proc=proc)
    return proc


def load(args: argparse.Namespace, url: str, seconds: float, key_mode: str, prefix: str,
         stack: h.Stack, on_start: Any = None) -> h.LoadResult:
    return h.run_load(url, seconds, args.concurrency, key_mode, prefix, stack.workdir,
                      tool=args.loadgen, wrk_threads=args.wrk_threads, on_start=on_start)


def measure(name: str, stack: h.Stack, port: int, args: argparse.Namespace) -> dict[str, Any]:
    server_kind, key_mode, with_worker = VARIANTS[name]
    worker = None
    if server_kind == "oncall":
        stack.sql(f"TRUNCATE {VOLUME_TABLES} RESTART IDENTITY CASCADE")
        stack.flush_broker()
        if with_worker:
            worker = h.start_worker(stack, args.celery_concurrency)
        server = h.start_web(stack, port, args.workers, args.threads)
    else:
        if server_kind.startswith("baseline-insert"):
            stack.sql("TRUNCATE bench_baseline RESTART IDENTITY")
        server = start_baseline(stack, server_kind.removeprefix("baseline-"), port, args)
    token = stack.am_token if key_mode.startswith("am50") else stack.token
    url = f"http://127.0.0.1:{port}/integrations/{token}"
    try:
        h.log(f"{name}: warm-up {args.warmup:g}s")
        warm = load(args, url, args.warmup, key_mode, f"warm-{name}", stack)
        loadgen: list[int] = []
        roles = {"web_workers": server.children, "web_master": lambda: [server.pid],
                 "postgres": lambda: h.postgres_pids(stack.database_name),
                 "redis": lambda: h.pids_named("redis-server"), "loadgen": lambda: loadgen}
        if worker is not None:
            celery = worker
            roles["celery_main"] = lambda: [celery.pid]
            roles["celery_children"] = celery.children
        quiet = h.wait_quiet(max_wait=args.max_wait_quiet)
        h.log(f"{name}: {args.seconds:g}s at {args.concurrency} connections")
        with h.Sampler(roles) as sampler:
            if args.loadgen == "python" or not h.have_wrk():
                loadgen.append(os.getpid())
            result = load(args, url, args.seconds, key_mode, f"run-{name}", stack,
                          on_start=lambda p: loadgen.append(p.pid))
        after = after_run(name, stack, warm, result)
    finally:
        server.stop()
        if worker is not None:
            worker.stop(timeout=20)
    h.log(f"{name}: {result.rps:,.0f} req/s, p50 {result.p50_ms:.1f} ms, "
          f"p99 {result.p99_ms:.1f} ms, {result.errors} errors")
    return {"name": name, "server": server_kind, "key_mode": key_mode, "url_port": port,
            "server_command": shlex.join(server.argv),
            "worker_command": shlex.join(worker.argv) if worker else None,
            "busy_cores_before": round(quiet, 2),
            "warmup": warm.as_json(), "load": result.as_json(), "sampling": sampler.report(),
            "after": after}


def after_run(name: str, stack: h.Stack, warm: h.LoadResult,
              result: h.LoadResult) -> dict[str, Any]:
    """What the database and the broker hold afterwards (and a check that 202 meant stored)."""
    sent = (warm.ok + result.ok) * h.ALERTS_PER_REQUEST.get(VARIANTS[name][1], 1)
    if name.startswith("insert"):
        stored = stack.sql("SELECT count(*) FROM bench_baseline")[0][0]
        return {"rows_stored": stored, "ok_responses": sent, "all_stored": stored >= sent}
    if not name.startswith("oncall"):
        return {}
    alerts, incidents = stack.sql(
        "SELECT (SELECT count(*) FROM alerts), (SELECT count(*) FROM incidents)")[0]
    pages = dict(stack.sql("SELECT status, count(*) FROM pages GROUP BY status"))
    return {"alerts_stored": alerts, "ok_responses": sent, "all_stored": alerts >= sent,
            "incidents": incidents, "pages_by_status": pages,
            "escalate_backlog_in_redis": stack.queue_length("oncall")}


def _cores(roles: dict[str, Any], *names: str) -> float | None:
    found = [roles[n]["cpu_cores_avg"] for n in names if n in roles]
    return sum(found) if found else None


def _per_alert_ms(cores: float | None, rps: float) -> float | None:
    return cores / rps * 1000 if cores is not None and rps else None


def alerts_per_s(run: dict[str, Any]) -> float:
    return float(run["load"]["rps"]) * h.ALERTS_PER_REQUEST.get(run["key_mode"], 1)


def summarize(runs: list[dict[str, Any]]) -> tuple[str, str, dict[str, Any]]:
    """The results table, the CPU table, and the verdict against the targets."""
    by_name = {r["name"]: r for r in runs}
    rows, cpu_rows = [], []
    for r in runs:
        load_, roles, sampling = r["load"], r["sampling"]["roles"], r["sampling"]
        celery = "-"
        if "celery_main" in roles:
            celery = (f"{h.fmt(roles['celery_main']['peak_rss_mb_max'], 1)} / "
                      f"{h.fmt(roles['celery_children']['peak_rss_mb_max'], 1)}")
        rows.append([
            r["name"], h.fmt(load_["rps"], 0), h.fmt(alerts_per_s(r), 0), str(load_["errors"]),
            h.fmt(load_["p50_ms"], 1),
            h.fmt(load_["p99_ms"], 1), h.fmt(load_["max_ms"], 0),
            h.fmt(roles["web_workers"]["peak_rss_mb_max"], 1),
            h.fmt(roles["web_workers"]["pss_mb_at_end_max"], 1), celery])
        web = _cores(roles, "web_workers", "web_master")
        pg = _cores(roles, "postgres")
        cel = _cores(roles, "celery_main", "celery_children")
        cpu_rows.append([
            r["name"], h.fmt(web, 2), h.fmt(pg, 2), h.fmt(cel, 2),
            h.fmt(_cores(roles, "redis"), 2), h.fmt(_cores(roles, "loadgen"), 2),
            h.fmt(sampling["other_busy_cores"], 2), h.fmt(sampling["machine_busy_cores"], 2),
            h.fmt(_per_alert_ms(web, alerts_per_s(r)), 2),
            h.fmt(_per_alert_ms(pg, alerts_per_s(r)), 2),
            h.fmt(_per_alert_ms(cel, alerts_per_s(r)), 2)])
    table = h.markdown_table(
        ["server", "req/s (202 only)", "alerts/s", "errors", "p50 ms", "p99 ms", "max ms",
         "web worker peak RSS MB (max)", "web worker PSS MB at end (max)",
         "celery peak RSS MB (main / max child)"],
        rows)
    cpu_table = h.markdown_table(
        ["server", "web", "postgres", "celery", "redis", "loadgen", "other", "machine",
         "web ms/alert", "postgres ms/alert", "celery ms/alert"], cpu_rows)
    verdict: dict[str, Any] = {}
    floor = by_name.get("insert")
    for base in ("insert", "insert-autocommit"):
        for name in ("oncall-unique", "oncall-dedup", "oncall-unique-noworker"):
            if name in by_name and by_name.get(base) and by_name[base]["load"]["rps"]:
                verdict[f"ratio {name} / {base}"] = round(
                    by_name[name]["load"]["rps"] / by_name[base]["load"]["rps"], 3)
    for name in ("am50-repeat", "am50-new", "am50-norule"):
        if name in by_name and floor and floor["load"]["rps"]:
            verdict[f"ratio {name} alerts/s / insert"] = round(
                alerts_per_s(by_name[name]) / floor["load"]["rps"], 3)
    targets = verdict.setdefault("targets", {})
    targets.update(rate_targets({
        name: (alerts_per_s(r), verdict.get(f"ratio {name} / insert", 0),
               float(r["load"]["p99_ms"])) for name, r in by_name.items()}, "got"))
    targets.update(memory_targets(runs))
    return table, cpu_table, verdict


def rate_targets(measured: dict[str, tuple[float, float, float]],
                 word: str) -> dict[str, bool]:
    """The rate targets, from each server's (alerts/s, ratio to insert, p99 ms): Alertmanager
    batches by rate alone; single alerts by rate, ratio and p99, for each way of sending
    them (the intake with the worker idle or absent, and the worst case, every alert
    paged). ``word`` says what the figures are ("got", "median")."""
    out: dict[str, bool] = {}
    for name in ("am50-norule", "am50-repeat"):
        if name in measured:
            rate = measured[name][0]
            out[f"{name} >= {TARGETS['am_alerts_per_s']:,.0f} alerts/s ({word} {rate:,.0f})"] = \
                rate >= TARGETS["am_alerts_per_s"]
    for name in ("oncall-dedup", "oncall-unique-noworker", "oncall-unique"):
        if name not in measured:
            continue
        rate, ratio, p99 = measured[name]
        out.update({
            f"{name} >= {TARGETS['rps']:,.0f} alerts/s ({word} {rate:,.0f})":
                rate >= TARGETS["rps"],
            f"{name} >= {TARGETS['ratio_to_insert']:.0%} of insert ({word} {ratio:.0%})":
                ratio >= TARGETS["ratio_to_insert"],
            f"{name} p99 < {TARGETS['p99_ms']:g} ms ({word} {p99:.1f})": p99 < TARGETS["p99_ms"],
        })
    return out


def memory_targets(runs: list[dict[str, Any]]) -> dict[str, bool]:
    """The peak RSS of every oncall web worker and Celery process over these runs."""
    with_worker = [r for r in runs if "celery_main" in r["sampling"]["roles"]]
    if not with_worker:
        return {}
    celery_peak = max(max(r["sampling"]["roles"]["celery_main"]["peak_rss_mb_max"] or 0,
                          r["sampling"]["roles"]["celery_children"]["peak_rss_mb_max"] or 0)
                      for r in with_worker)
    web_peak = max(r["sampling"]["roles"]["web_workers"]["peak_rss_mb_max"] or 0
                   for r in runs if r["server"] == "oncall")
    return {
        f"oncall web worker peak RSS < {TARGETS['web_rss_mb']:g} MB (got {web_peak:.1f})":
            web_peak < TARGETS["web_rss_mb"],
        f"celery peak RSS < {TARGETS['celery_rss_mb']:g} MB, every process "
        f"(got {celery_peak:.1f})": celery_peak < TARGETS["celery_rss_mb"],
    }


def over_rounds(rounds: list[list[dict[str, Any]]],
                verdicts: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    """Every server's alerts/s, p99 and ratio to insert in each round, their medians, and
    the targets judged on the medians (memory: the largest peak of any round)."""
    names = [r["name"] for r in rounds[0]]
    rows = []
    verdict: dict[str, Any] = {}
    medians: dict[str, dict[str, float | None]] = {}
    for name in names:
        got = [next(r for r in runs if r["name"] == name) for runs in rounds]
        rates = [alerts_per_s(r) for r in got]
        p99s = [float(r["load"]["p99_ms"]) for r in got]
        key = next((k for k in (f"ratio {name} / insert", f"ratio {name} alerts/s / insert")
                    if k in verdicts[0]), None)
        reference = f"ratio {name} / insert-autocommit"
        if reference in verdicts[0]:  # for the record only, not judged
            verdict[reference] = statistics.median(float(v[reference]) for v in verdicts)
        ratios = [float(v[key]) for v in verdicts] if key else []
        medians[name] = {"alerts_per_s": statistics.median(rates),
                         "p99_ms": statistics.median(p99s),
                         "ratio": statistics.median(ratios) if ratios else None}
        if key:
            verdict[key] = medians[name]["ratio"]
        rows.append([name, ", ".join(h.fmt(x, 0) for x in rates),
                     h.fmt(medians[name]["alerts_per_s"], 0),
                     ", ".join(f"{x:.2f}" for x in ratios) or "-",
                     h.fmt(medians[name]["ratio"], 2),
                     ", ".join(h.fmt(x, 1) for x in p99s), h.fmt(medians[name]["p99_ms"], 1)])
    table = h.markdown_table(["server", "alerts/s each round", "median", "ratio to insert",
                              "median", "p99 ms each round", "median"], rows)
    verdict.setdefault("targets", {}).update(rate_targets({
        name: (m["alerts_per_s"] or 0.0, m["ratio"] or 0.0, m["p99_ms"] or 0.0)
        for name, m in medians.items()}, "median"))
    # Memory: the largest peak of any round.
    verdict["targets"].update(memory_targets([r for runs in rounds for r in runs]))
    return table, verdict


def storm(stack: h.Stack, copies: int, port: int, args: argparse.Namespace) -> dict[str, Any]:
    """``copies`` posts of one alert, as fast as ``args.concurrency`` connections go, with the
    worker running; then wait for the worker and check: one incident, every copy stored,
    exactly one page (level 1's on-call, console channel), no error."""
    import http.client
    import threading
    import time
    from urllib.parse import urlsplit

    stack.sql(f"TRUNCATE {VOLUME_TABLES} RESTART IDENTITY CASCADE")
    stack.flush_broker()
    worker = h.start_worker(stack, args.celery_concurrency)
    server = h.start_web(stack, port, args.workers, args.threads)
    path = urlsplit(f"http://127.0.0.1:{port}/integrations/{stack.token}").path
    body = h.alert_body("storm-one-key")
    remaining = iter(range(copies))
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: dict[str, int] = {}

    def sender() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            with lock:
                if next(remaining, None) is None:
                    break
            t0 = time.perf_counter()
            try:
                conn.request("POST", path, body, {"Content-Type": "application/json"})
                resp = conn.getresponse()
                resp.read()
                code = str(resp.status)
                if resp.will_close:
                    conn.close()
            except OSError as exc:
                conn.close()
                code = type(exc).__name__
            with lock:
                latencies.append((time.perf_counter() - t0) * 1000)
                statuses[code] = statuses.get(code, 0) + 1

    h.log(f"storm: {copies:,} copies of one alert")
    try:
        t0 = time.monotonic()
        threads = [threading.Thread(target=sender) for _ in range(args.concurrency)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - t0
        deadline = time.monotonic() + 30
        while stack.queue_length("oncall") and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(5)  # anything more the worker would page, it pages within this
        incidents, alerts = stack.sql(
            "SELECT (SELECT count(*) FROM incidents), (SELECT count(*) FROM alerts)")[0]
        pages = stack.sql("SELECT count(*) FROM pages")[0][0]
    finally:
        server.stop()
        worker.stop(timeout=20)
    ok = statuses.get("202", 0)
    result = {
        "sent": copies, "seconds": round(elapsed, 2), "alerts_per_s": round(ok / elapsed, 1),
        "p50_ms": h.percentile(latencies, 50), "p99_ms": h.percentile(latencies, 99),
        "statuses": statuses, "incidents": incidents, "alerts_stored": alerts, "pages": pages,
        "rate_limit": stack.env.get("ONCALL_INTAKE_RATE_LIMIT", "default")}
    result["checks"] = {
        f"every copy answered 202 (got {ok:,} of {copies:,})": ok == copies,
        f"one incident (got {incidents})": incidents == 1,
        f"every copy stored (got {alerts:,})": alerts == copies,
        f"one page, none after the first (got {pages})": pages == 1,
    }
    h.log(f"storm: {result['alerts_per_s']:,.0f} alerts/s, {incidents} incident(s), "
          f"{pages} page(s)")
    return result


def main() -> None:
    args = parse_args()
    if args.no_dedup and "oncall-dedup" in args.only:
        args.only.remove("oncall-dedup")
    h.install_cleanup()
    workdir = h.scratch_dir("oncall-bench-ingest-")
    h.log(f"scratch directory (process logs): {workdir}")
    stack = h.prepare(args.database_url, args.broker_url, workdir)
    stack.sql(BASELINE_DDL)
    if args.rate_limit != "default":
        stack.env["ONCALL_INTAKE_RATE_LIMIT"] = args.rate_limit
    rounds: list[list[dict[str, Any]]] = []
    for n in range(args.rounds):
        if args.rounds > 1:
            h.log(f"round {n + 1} of {args.rounds}")
        rounds.append([measure(name, stack, args.port + i, args)
                       for i, name in enumerate(n for n in VARIANTS if n in args.only)])
    runs = rounds[-1]
    storm_result = storm(stack, args.storm, args.port + len(VARIANTS), args) if args.storm \
        else None
    per_round = [summarize(runs_) for runs_ in rounds]
    table, cpu_table, verdict = per_round[-1]
    if args.rounds > 1:
        for n, (table_, cpu_table_, _) in enumerate(per_round[:-1]):
            print(f"\n## Round {n + 1} of {args.rounds}\n\n{table_}\n\n{cpu_table_}")
        print(f"\n## Round {args.rounds} of {args.rounds}")
        medians, verdict = over_rounds(rounds, [v for _, _, v in per_round])
    tool = runs[0]["load"]["tool"] if runs else "-"
    print(f"\n## Alert intake, {args.workers} gunicorn workers"
          f"{f' x {args.threads} threads' if args.threads else ''}, {args.concurrency} "
          f"connections, {args.seconds:g}s per server ({tool}; {os.cpu_count()} CPUs)\n")
    print(table)
    print("\nPeak RSS is each process's high-water mark (VmHWM), shared pages included; PSS "
          "counts shared pages pro rata. Web columns: the largest worker; celery: the main "
          "process / the largest pool child.\n")
    print(f"CPU during the measured window, in cores (the machine has {os.cpu_count()}), and "
          "CPU milliseconds per accepted alert; 'other' is everything else on the machine.\n")
    print(cpu_table)
    print()
    if args.rounds > 1:
        print(f"## Medians of {args.rounds} rounds (each ratio against its own round's insert)"
              f"\n\n{medians}\n")
    for key, value in verdict.items():
        if key.startswith("ratio"):
            print(f"{key}: {value:.2f}")
    for what, ok in verdict.get("targets", {}).items():
        print(f"  [{'PASS' if ok else 'FAIL'}] {what}")
    for r in runs:
        if r["after"]:
            print(f"{r['name']}: {r['after']}")
    for n, runs_ in enumerate(rounds):
        for r in runs_:
            note = h.stall_note(r["sampling"])
            if note:
                print(f"round {n + 1}, {r['name']}: {note}")
    if storm_result:
        print(f"\n## Duplicate storm: {storm_result['sent']:,} copies of one alert, "
              f"{args.concurrency} connections\n")
        print(f"{storm_result['alerts_per_s']:,.0f} alerts/s, p50 {storm_result['p50_ms']:.1f} ms,"
              f" p99 {storm_result['p99_ms']:.1f} ms; statuses {storm_result['statuses']}; "
              f"incidents {storm_result['incidents']}, alerts stored "
              f"{storm_result['alerts_stored']:,}, pages {storm_result['pages']}")
        for what, ok in storm_result["checks"].items():
            print(f"  [{'PASS' if ok else 'FAIL'}] {what}")
    path = h.save_results("ingest", {
        "command": shlex.join([Path(sys.executable).name, *sys.argv]),
        "args": vars(args), "machine": h.machine_info(args.database_url), "runs": runs,
        "rounds": rounds if args.rounds > 1 else None,
        "summary": verdict, "storm": storm_result, "table": table, "cpu_table": cpu_table,
        "scratch_dir": str(workdir)})
    stack.flush_broker()
    print(f"\nJSON: {path.relative_to(h.REPO)}")


if __name__ == "__main__":
    main()
