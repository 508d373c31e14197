"""``celery`` as ``oncall worker`` runs it, plus two tasks the broker-restart test sends:
``tests.sleep`` (a task still running when the broker goes) and ``tests.touch`` (proof that
the worker takes new work afterwards)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from celery import shared_task
from celery.__main__ import main


@shared_task(name="tests.sleep")
def sleep(seconds: float) -> None:
    time.sleep(seconds)


@shared_task(name="tests.touch")
def touch(path: str) -> None:
    Path(path).write_text("done")


if __name__ == "__main__":
    sys.exit(main())
