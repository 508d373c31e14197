"""The work an alert costs, counted: SQL statements, Python calls and CPU from its POST to
its console page sent.

    python bench/core_cost.py [--alerts 300] [--batch 2] [--top 25] [--callgrind]
                              [--web-callgrind] [--against OTHER-TREE-RESULT.json]

Timing benchmarks on a shared machine swing more than the differences a refactoring makes;
counts do not. This runs the real web app (Flask's test client, in process) and the real
worker's ``dispatch`` (what the wake listener runs in the worker on PostgreSQL) on the
scratch PostgreSQL database, with the rules and schedules of this repository:

  1. warm-up: 20 alerts (caches filled, connections open), not counted;
  2. counted: N alerts with unique dedup keys; after every ``--batch`` of them, one
     ``dispatch`` steps their incidents and sends their console pages. SQL statements are
     counted on the engine, Python calls by cProfile, separately for the intake (web) and
     the dispatch (worker). The same tree and arguments give the same counts every run;
  3. timed: another N alerts the same way with no profiler, CPU seconds of this process
     (``time.process_time``; PostgreSQL's own time is not in it), best of ``--repeat``;
  4. with ``--callgrind``: the CPU instructions this process executes per alert, counted
     by valgrind (runs of N and 3N alerts, their difference): CPU cost that no other load
     on the machine can blur;
  5. with ``--web-callgrind``: the same for one real gunicorn web worker (``oncall web``)
     taking lone alerts over HTTP: what ``ingest.py``'s web CPU per alert measures, counted.

Run it from each tree to compare two versions (old and new code need not share module
names: it goes through the web app and ``worker.tasks.dispatch`` only). ``--top`` lists the
functions with the most calls; ``--against`` another tree's JSON lists the functions whose
calls changed most. Results: Markdown on stdout and JSON in
bench/results/core-cost-<timestamp>.json. See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import http.client
import io
import json
import pstats
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _harness as h


def _at_least_one(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--alerts", type=int, default=300, help="alerts counted (and timed)")
    p.add_argument("--batch", type=int, default=2,
                   help="alerts per dispatch (the wake listener's batch at 20 alerts/s)")
    p.add_argument("--repeat", type=_at_least_one, default=3, metavar="N",
                   help="timed passes (at least 1); the best is kept")
    p.add_argument("--top", type=int, default=25, help="functions listed by calls")
    p.add_argument("--against", metavar="JSON",
                   help="an earlier run's results (another tree's): list what changed")
    p.add_argument("--database-url", default=h.DEFAULT_DATABASE_URL)
    p.add_argument("--broker-url", default=h.DEFAULT_BROKER_URL)
    p.add_argument("--callgrind", action="store_true",
                   help="also count the CPU instructions per alert under valgrind (slow)")
    p.add_argument("--web-callgrind", action="store_true",
                   help="count the CPU instructions per lone alert of one gunicorn web worker "
                        "(oncall web --workers 1) under valgrind, the real HTTP path (slow)")
    p.add_argument("--port", type=int, default=18480, help="for --web-callgrind")
    p.add_argument("--rate-limit", default="off",
                   help="ONCALL_INTAKE_RATE_LIMIT (default off, as in ingest.py; 'default' "
                        "keeps the shipped limit)")
    p.add_argument("--inner", metavar="TOKEN", help=argparse.SUPPRESS)
    p.add_argument("--plain", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args(argv)


# --------------------------------------------------------------------------- in the child


def _short(filename: str) -> str:
    """A code file as ``package/module.py`` (the last two parts of its path)."""
    return "/".join(Path(filename).parts[-2:])


class Counter:
    """Round trips to the database from any engine of this process: SQL statements, and
    what no statement shows (a connection checked out of the pool, a COMMIT, a ROLLBACK:
    the pool rolls back every connection handed back to it)."""

    def __init__(self) -> None:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine
        from sqlalchemy.pool import Pool

        self.statements = 0
        self.other = {"checkout": 0, "commit": 0, "rollback": 0, "reset": 0}
        event.listen(Engine, "before_cursor_execute", self._count)
        for name in ("commit", "rollback"):
            event.listen(Engine, name, functools.partial(self._note, name))
        for name in ("checkout", "reset"):
            event.listen(Pool, name, functools.partial(self._note, name))

    def _count(self, *args: Any) -> None:
        self.statements += 1

    def _note(self, name: str, *args: Any) -> None:
        self.other[name] += 1


def measure(token: str, args: argparse.Namespace) -> dict[str, Any]:
    """Runs with the stack's environment (the settings are read from it at import)."""
    from oncall.web import create_app
    from worker import tasks

    app = create_app()
    client = app.test_client()
    counter = Counter()
    serial = iter(range(10**9))

    def post() -> None:
        body = h.alert_body(f"cost-{next(serial)}")
        resp = client.post(f"/integrations/{token}", data=body,
                           headers={"Content-Type": "application/json"})
        if resp.status_code != 202:
            raise RuntimeError(f"intake answered {resp.status_code}: {resp.get_data()!r}")

    def run(n: int, intake: Any = None, worker: Any = None) -> dict[str, Any]:
        counts: dict[str, Any] = {"intake": 0, "dispatch": 0,
                                  "round_trips": {"intake": {}, "dispatch": {}}}

        def part(name: str, work: Callable[[], object], profile: Any) -> None:
            before, other = counter.statements, dict(counter.other)
            with profile or contextlib.nullcontext():
                work()
            counts[name] += counter.statements - before
            trips = counts["round_trips"][name]
            for key, value in counter.other.items():
                trips[key] = trips.get(key, 0) + value - other[key]

        for start in range(0, n, args.batch):
            batch = min(args.batch, n - start)
            part("intake", lambda: [post() for _ in range(batch)], intake)  # noqa: B023
            part("dispatch", tasks.dispatch, worker)
        return counts

    run(20)  # warm-up
    if args.plain:  # under callgrind: no profiler, no timing, only the work
        run(args.alerts)
        return {}
    profiles = {"intake": cProfile.Profile(), "dispatch": cProfile.Profile()}
    counts = run(args.alerts, profiles["intake"], profiles["dispatch"])
    trips = counts.pop("round_trips")
    statements = counts
    calls: dict[str, Any] = {}
    for part, prof in profiles.items():
        stats = pstats.Stats(prof, stream=io.StringIO())
        top = sorted(stats.stats.items(), key=lambda kv: -kv[1][1])[:args.top]  # type: ignore[attr-defined]
        every: dict[str, int] = {}
        for (f, _line, name), c in stats.stats.items():  # type: ignore[attr-defined]
            key = f"{_short(f)}({re.sub(' at 0x[0-9a-f]+', '', name)})"
            every[key] = every.get(key, 0) + c[1]
        calls[part] = {
            "total": stats.total_calls,  # type: ignore[attr-defined]
            "top": [[f"{_short(f)}:{line}({name})", c[1]] for (f, line, name), c in top],
            "every": {k: v for k, v in every.items() if v >= args.alerts // 10},
        }
    cpu = []
    for _ in range(args.repeat):
        t0 = time.process_time()
        run(args.alerts)
        cpu.append(time.process_time() - t0)
    return {"statements": statements, "round_trips": trips, "calls": calls,
            "cpu_seconds": cpu}


# --------------------------------------------------------------------------- the driver


def instructions_per_alert(child: Any, inner: list[str], workdir: Path,
                           args: argparse.Namespace) -> float:
    """Instructions counted by callgrind for N alerts and for 3N, each after the same
    warm-up: their difference over 2N is the cost of an alert without the start-up's.
    Exact for the same code and inputs, whatever else the machine does."""
    counts = []
    for n in (args.alerts, 3 * args.alerts):
        h.log(f"callgrind: {n} alerts (a second each, after a minute of start-up)")
        out = child(["valgrind", "--tool=callgrind",
                     f"--callgrind-out-file={workdir / f'callgrind.out.{n}'}",
                     *inner, "--plain", "--alerts", str(n), "--batch", str(args.batch)])
        found = re.search(r"Collected : (\d+)", out.stderr)
        if not found:
            sys.exit(f"no instruction count from callgrind:\n{out.stderr[-2000:]}")
        counts.append(int(found.group(1)))
    h.log(f"callgrind's files (callgrind_annotate reads them): {workdir}/callgrind.out.*")
    return (counts[1] - counts[0]) / (2 * args.alerts)


def web_instructions_per_alert(stack: h.Stack, env: dict[str, str],
                               args: argparse.Namespace) -> float:
    """``oncall web --workers 1`` under callgrind (which follows the exec into gunicorn and
    the fork of its worker), 20 alerts of warm-up and N alerts, one at a time over one
    keep-alive connection; then again with 3N. The worker is the process that executed the
    most instructions; the difference of its two counts over 2N is what an alert costs it."""
    counts = []
    for n in (args.alerts, 3 * args.alerts):
        run_dir = stack.workdir / f"web-callgrind-{n}"
        run_dir.mkdir()
        h.log(f"web under callgrind: {n} alerts (start-up takes a minute or two)")
        proc = h.Proc(f"web-callgrind-{n}", [
            "valgrind", "--tool=callgrind", "--trace-children=yes",
            f"--callgrind-out-file={run_dir}/callgrind.out.%p",
            *h.oncall_cmd("web", "--host", "127.0.0.1", "--port", str(args.port),
                          "--workers", "1")], env, stack.workdir, cwd=stack.workdir)
        h.wait_http(args.port, "/health", proc=proc, timeout=600)
        conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=120)
        for i in range(20 + n):
            conn.request("POST", f"/integrations/{stack.token}",
                         h.alert_body(f"web-{n}-{i}"), {"Content-Type": "application/json"})
            resp = conn.getresponse()
            resp.read()
            if resp.status != 202:
                sys.exit(f"the web worker answered {resp.status}")
        conn.close()
        proc.stop(timeout=300)
        totals = []
        for path in run_dir.glob("callgrind.out.*"):
            found = re.search(r"^totals: (\d+)", path.read_text(errors="replace"), re.M)
            if found:
                totals.append(int(found.group(1)))
        if not totals:
            sys.exit(f"no callgrind totals in {run_dir}")
        counts.append(max(totals))
    return (counts[1] - counts[0]) / (2 * args.alerts)


def compare(result: dict[str, Any], other: dict[str, Any], top: int) -> None:
    """This run against an earlier one (another tree's): totals, then the functions whose
    calls per alert changed most (a function that moved module shows as gone and new)."""
    n, m = result["alerts"], other["alerts"]
    print(f"\n## Against {other['machine']['git_commit']} (ratios this / that)\n")
    rows = []
    for part in ("intake", "dispatch"):
        ours, theirs = result["calls"][part], other["calls"][part]
        rows.append([part, f"{result['statements'][part] / n:.2f}",
                     f"{other['statements'][part] / m:.2f}",
                     f"{ours['total'] / n:,.0f}", f"{theirs['total'] / m:,.0f}",
                     f"{ours['total'] / n / (theirs['total'] / m):.3f}"])
    print(h.markdown_table(["per alert", "statements", "(that)", "Python calls", "(that)",
                            "calls ratio"], rows))
    ours_i, theirs_i = result.get("instructions_per_alert"), other.get("instructions_per_alert")
    if ours_i and theirs_i:
        print(f"\nCPU instructions per alert: {ours_i:,.0f} against {theirs_i:,.0f} "
              f"(ratio {ours_i / theirs_i:.3f})")
    ours_w, theirs_w = (result.get("web_instructions_per_alert"),
                        other.get("web_instructions_per_alert"))
    if ours_w and theirs_w:
        print(f"\nCPU instructions of the web worker per lone alert: {ours_w:,.0f} against "
              f"{theirs_w:,.0f} (ratio {ours_w / theirs_w:.3f})")
    for part in ("intake", "dispatch"):
        ours, theirs = result["calls"][part]["every"], other["calls"][part]["every"]
        delta = {k: ours.get(k, 0) / n - theirs.get(k, 0) / m for k in {*ours, *theirs}}
        print(f"\n{part}: calls per alert, this minus that (largest changes):")
        for name, d in sorted(delta.items(), key=lambda kv: -abs(kv[1]))[:top]:
            if abs(d) >= 0.5:
                print(f"  {d:+9.1f}  {name}")


def main() -> None:
    args = parse_args()
    if args.inner:
        with contextlib.redirect_stdout(io.StringIO()):  # the console pages
            result = measure(args.inner, args)
        print(json.dumps(result))
        return
    h.install_cleanup()
    workdir = h.scratch_dir("oncall-bench-cost-")
    h.log(f"scratch directory: {workdir}")
    stack = h.prepare(args.database_url, args.broker_url, workdir)
    inner = [sys.executable, str(Path(__file__).resolve()), "--inner", stack.token]
    env = dict(stack.env, ONCALL_LOG_LEVEL="WARNING", PYTHONHASHSEED="0")
    if args.rate_limit != "default":
        env["ONCALL_INTAKE_RATE_LIMIT"] = args.rate_limit

    def child(argv: list[str]) -> subprocess.CompletedProcess[str]:
        out = subprocess.run(argv, env=env, cwd=workdir, capture_output=True, text=True,
                             check=False)
        if out.returncode != 0:
            sys.exit(f"measuring failed:\n{out.stderr[-4000:]}")
        return out

    result = json.loads(child([*inner, *sys.argv[1:]]).stdout.strip().splitlines()[-1])
    if args.callgrind:
        result["instructions_per_alert"] = instructions_per_alert(child, inner, workdir, args)
    if args.web_callgrind:
        result["web_instructions_per_alert"] = web_instructions_per_alert(stack, env, args)
    n = args.alerts
    rows = []
    for part in ("intake", "dispatch"):
        rows.append([part, f"{result['statements'][part] / n:.2f}",
                     f"{result['calls'][part]['total'] / n:,.0f}"])
    rows.append(["both", f"{sum(result['statements'].values()) / n:.2f}",
                 f"{sum(c['total'] for c in result['calls'].values()) / n:,.0f}"])
    for part in ("intake", "dispatch"):
        trips = result["round_trips"][part]
        rows.append([f"{part}: pool checkouts / COMMITs / ROLLBACKs / resets",
                     " / ".join(f"{trips[k] / n:.2f}" for k in
                                ("checkout", "commit", "rollback", "reset")), ""])
    best = min(result["cpu_seconds"])
    machine = h.machine_info(args.database_url)
    result.update(alerts=n, batch=args.batch, machine=machine)
    print(f"core cost, {n} alerts, a dispatch every {args.batch} "
          f"(git {machine['git_commit']}):\n")
    print(h.markdown_table(["per alert", "SQL statements", "Python calls"], rows))
    print(f"\nCPU of this process per alert (intake + dispatch, best of {args.repeat}): "
          f"{best / n * 1000:.3f} ms (passes: "
          f"{', '.join(f'{c / n * 1000:.3f}' for c in result['cpu_seconds'])})")
    for part in ("intake", "dispatch"):
        print(f"\nmost-called in {part} (calls per alert):")
        for name, calls in result["calls"][part]["top"]:
            print(f"  {calls / n:10.1f}  {name}")
    if args.callgrind:
        print(f"\nCPU instructions of this process per alert (callgrind; intake + dispatch): "
              f"{result['instructions_per_alert']:,.0f}")
    if args.web_callgrind:
        print(f"\nCPU instructions of one gunicorn web worker per lone alert (callgrind): "
              f"{result['web_instructions_per_alert']:,.0f}")
    if args.against:
        compare(result, json.loads(Path(args.against).read_text()), args.top)
    h.log(f"wrote {h.save_results('core-cost', result)}")


if __name__ == "__main__":
    main()
