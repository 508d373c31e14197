"""The importers' benchmark (issue 18): ``oncall import pagerduty`` of 200 users, 50 schedules
of 3 layers and 50 policies, paged 100 at a time, with ``--verify 8``, against the local fake
PagerDuty of the tests (every answer validated against PagerDuty's published schema).

    python bench/importers.py [--runs 3]

Target: under 30 s. Prints the wall time of each run (the fake runs in this process, in a
thread: its time is included) and the number of requests.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TARGET_S = 30.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    from click.testing import CliRunner

    import oncall.cli.importers as importers_cli
    from oncall.cli import cli
    from tests.importers.pd_fake import FakePagerDuty
    from tests.importers.pd_fixture import NOW
    from tests.importers.test_pagerduty_bench import big_account

    importers_cli.utcnow = lambda: NOW  # the fixture's "now" (a window across DST)
    account = big_account()
    print(f"command: python bench/importers.py --runs {args.runs}")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.1f}; 200 users, 50 schedules, 50 policies, 100 per page")
    times = []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp, \
                FakePagerDuty(account, page_size=100) as fake:
            began = time.monotonic()
            result = CliRunner().invoke(cli, [
                "import", "pagerduty", "--url", fake.url, "--token-env", "PD", "--out",
                str(Path(tmp) / "out"), "--verify", "8"], env={"PD": fake.token})
            took = time.monotonic() - began
            if result.exit_code != 0 or "verify: 0 difference(s)" not in result.output:
                print(result.output)
                raise SystemExit(f"run {run + 1}: the import failed")
            times.append(took)
            print(f"run {run + 1}: {took:.2f} s, {len(fake.log)} requests")
    median = statistics.median(times)
    verdict = "PASS" if max(times) < TARGET_S else "FAIL"
    print(f"median {median:.2f} s, max {max(times):.2f} s (target < {TARGET_S:.0f} s): {verdict}")


if __name__ == "__main__":
    main()
