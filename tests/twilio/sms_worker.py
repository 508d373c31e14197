"""``celery`` as ``oncall worker`` runs it, with every user paged by SMS only (tests and the
bench: the default notification rules follow ``registry.channels_for``, pinned here), and with
the throttle off when ONCALL_TEST_NO_THROTTLE is set."""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from celery.__main__ import main

from oncall.channels import registry
from oncall.channels.sms import throttle

registry.channels_for = lambda user: ["sms"]  # type: ignore[assignment]
if os.environ.get("ONCALL_TEST_NO_THROTTLE"):
    throttle.THROTTLE["sms"] = []

if __name__ == "__main__":
    sys.exit(main())
