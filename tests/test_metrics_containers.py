"""Metrics shared by containers: docker-compose's web, worker and beat write to one metrics
volume, each container numbering its processes from 1. Two processes with the same pid in
different containers must not write to the same file."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from tests.conftest import ROOT, wait_for

# In turn: the first container counts one page and waits; the second counts one; the first
# counts another. Three pages in all, whatever the file layout.
CONTAINER = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    me, sync = sys.argv[1], Path(sys.argv[2])

    def wait(name):
        while not (sync / name).exists():
            time.sleep(0.01)

    from oncall.metrics import PAGES
    page = PAGES.labels(channel="sms", outcome="sent")
    print(os.getpid(), flush=True)
    if me == "c1":
        page.inc()
        (sync / "c1-counted").touch()
        wait("c2-counted")
        page.inc()
    else:
        wait("c1-counted")
        page.inc()
        (sync / "c2-counted").touch()
""")


def in_container(host: str, metrics: Path, sync: Path) -> subprocess.Popen[str]:
    """A process as a container runs it: its own pid namespace (it is pid 1) and host name."""
    code = f"hostname {host} && exec {sys.executable} -c \"$0\" {host} {sync}"
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics), "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(["unshare", "--pid", "--fork", "--uts", "sh", "-c", code,
                             CONTAINER], env=env, stdout=subprocess.PIPE, text=True)


def test_processes_with_one_pid_in_two_containers_keep_their_own_counts(tmp_path: Path) -> None:
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("making pid and host name namespaces needs root (CI runs as root)")
    metrics, sync = tmp_path / "metrics", tmp_path / "sync"
    metrics.mkdir()
    sync.mkdir()
    first = in_container("c1", metrics, sync)
    wait_for(lambda: (sync / "c1-counted").exists(), 30, what="the first container")
    second = in_container("c2", metrics, sync)
    pids = [p.communicate(timeout=30)[0].strip() for p in (second, first)]
    assert (second.returncode, first.returncode) == (0, 0)
    assert pids == ["1", "1"]  # the same pid, as in two containers
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(metrics))
    value = registry.get_sample_value("oncall_pages_total",
                                      {"channel": "sms", "outcome": "sent"})
    assert value == 3.0
    assert sorted(f.name for f in metrics.glob("counter_*.db")) == [
        "counter_c1-1.db", "counter_c2-1.db"]
