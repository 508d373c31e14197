"""The production mode under faults (issue 15): two ``oncall web``, two ``oncall worker -c 2``
and two ``oncall beat`` on the test's own PostgreSQL and Redis, paging by SMS through a
recording fake Twilio, while a stream of alerts comes in and workers are killed with
``kill -9``, Redis is flushed and killed, PostgreSQL crashes, some Twilio answers are lost
and some incidents are acknowledged mid-escalation. Afterwards, against the database and
Twilio's record: every 202 is stored, every due page went out exactly once and within 30 s,
none is stuck, nothing went out after an acknowledgement, no process exited by itself.

Run it alone: ``.venv/bin/python -m pytest tests/chaos -m slow -s`` (docs/_ops_chaos.md)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.chaos import checks
from tests.chaos.scenario import Cluster, Run
from tests.chaos.services import missing_tools
from tests.conftest import REQUIRED

pytestmark = [pytest.mark.slow, pytest.mark.worker]


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    missing = missing_tools()
    if missing:
        message = f"the chaos test needs {', '.join(missing)}"
        if REQUIRED:
            pytest.fail(message)
        pytest.skip(message)
    # Not pytest's tmp_path: the folder must be reachable by the postgres user.
    tmp = Path(tempfile.mkdtemp(prefix="oncall-chaos-"))
    os.chmod(tmp, 0o755)
    started = Cluster(tmp)
    try:
        started.start()
        yield started
    finally:
        started.close()
        if started.passed:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"\nchaos logs kept: {tmp / 'logs'}")


def test_production_mode_keeps_every_promise_under_faults(cluster: Cluster) -> None:
    record = Run(cluster, seed=int(os.environ.get("ONCALL_CHAOS_SEED", "15"))).go()
    db = checks.load(cluster.pg.url)
    report = checks.check(record, db)
    if report.problems:  # what the database held, beside the processes' logs
        with open(cluster.logs / "database.txt", "w") as out:
            for table, rows in db.items():
                out.write(f"== {table}\n" + "".join(f"{tuple(r)}\n" for r in rows))
    report.stats["startup_seconds"] = round(cluster.startup_seconds, 1)
    print("\n" + report.text())
    assert not report.problems, report.text()
    cluster.passed = True
