"""The importers' benchmark (issue 18): ``oncall import <source>`` of 200 users, 50 schedules
of 3 layers and 50 policies, paged 100 at a time, with ``--verify 8``, against the tests' local
fake of each source (every answer validated against the source's published description or,
for Grafana OnCall, the shapes of its API reference).

    python bench/importers.py [--runs 3] [--source pagerduty|opsgenie|grafana-oncall|all]

Target: under 30 s each. Prints the wall time of each run (the fake runs in this process, in
a thread: its time is included) and the number of requests.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TARGET_S = 30.0
SOURCES = ("pagerduty", "opsgenie", "grafana-oncall")


def sources() -> dict[str, tuple[Any, Callable[[], dict[str, Any]], Any]]:
    """source -> (its fake's class, the benchmark's account, the fixtures' "now")."""
    from tests.importers import gf_fixture, og_fixture, pd_fixture
    from tests.importers.big_accounts import grafana_account, opsgenie_account
    from tests.importers.gf_fake import FakeGrafanaOnCall
    from tests.importers.og_fake import FakeOpsgenie
    from tests.importers.pd_fake import FakePagerDuty
    from tests.importers.test_pagerduty_bench import big_account

    return {"pagerduty": (FakePagerDuty, big_account, pd_fixture.NOW),
            "opsgenie": (FakeOpsgenie, opsgenie_account, og_fixture.NOW),
            "grafana-oncall": (FakeGrafanaOnCall, grafana_account, gf_fixture.NOW)}


def bench(source: str, runs: int) -> bool:
    from click.testing import CliRunner

    import oncall.cli.importers as importers_cli
    from oncall.cli import cli

    fake_class, make_account, now = sources()[source]
    importers_cli.utcnow = lambda: now  # the fixture's "now" (a window across DST)
    account = make_account()
    times = []
    for run in range(runs):
        with tempfile.TemporaryDirectory() as tmp, fake_class(account, page_size=100) as fake:
            began = time.monotonic()
            result = CliRunner().invoke(cli, [
                "import", source, "--url", fake.url, "--token-env", "KEY", "--out",
                str(Path(tmp) / "out"), "--verify", "8"], env={"KEY": fake.token})
            took = time.monotonic() - began
            if result.exit_code != 0 or "verify: 0 difference(s)" not in result.output:
                print(result.output)
                raise SystemExit(f"{source} run {run + 1}: the import failed")
            if fake.invalid:
                raise SystemExit(f"{source}: the fake sent invalid answers: {fake.invalid[:3]}")
            times.append(took)
            print(f"{source} run {run + 1}: {took:.2f} s, {len(fake.log)} requests")
    ok = max(times) < TARGET_S
    print(f"{source}: median {statistics.median(times):.2f} s, max {max(times):.2f} s "
          f"(target < {TARGET_S:.0f} s): {'PASS' if ok else 'FAIL'}")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--source", choices=(*SOURCES, "all"), default="all")
    args = parser.parse_args()
    print(f"command: python bench/importers.py --runs {args.runs} --source {args.source}")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.1f}; 200 users, 50 schedules, 50 policies, 100 per page")
    chosen = SOURCES if args.source == "all" else (args.source,)
    results = [bench(source, args.runs) for source in chosen]
    if not all(results):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
