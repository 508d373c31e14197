"""A web process that only takes alerts never imports the big provider libraries: slack_sdk,
twilio (and requests), icalendar and croniter load on first use, not at start-up. Each web
worker stays under its memory budget that way (bench/ingest.py, ``web_rss_mb``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from oncall.config import Settings
from tests.conftest import ROOT, Cast, alert

HEAVY = ("slack_sdk", "twilio", "requests", "icalendar", "croniter")

SCRIPT = """
import json, sys
from oncall.channels import registry
from oncall.web import create_app

heavy = {heavy!r}
loaded = lambda: sorted(m for m in heavy if m in sys.modules)
app = create_app()
at_start = loaded()
r = app.test_client().post("/integrations/" + sys.argv[1], json=json.loads(sys.argv[2]))
print(json.dumps({{"channels": sorted(registry._CHANNELS), "at_start": at_start,
                  "status": r.status_code, "after_intake": loaded()}}))
"""


def run_web(settings: Settings, token: str, **extra: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SLACK_", "TWILIO_", "ONCALL_"))
           and k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(ONCALL_DATABASE_URL=settings.database_url,
               ONCALL_BROKER_URL=settings.broker_url,
               ONCALL_DATA_DIR=str(settings.data_dir),
               ONCALL_PUBLIC_URL=settings.public_url, **extra)
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(heavy=HEAVY), token, json.dumps(alert())],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-4000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_web_start_and_intake_import_no_provider_library(settings: Settings,
                                                          cast: Cast) -> None:
    found = run_web(settings, cast.integration_token)
    assert found == {"channels": ["console"], "at_start": [], "status": 202,
                     "after_intake": []}


def test_configured_providers_load_their_libraries_only_when_used(settings: Settings,
                                                                   cast: Cast) -> None:
    # Slack and Twilio configured: their channels are registered, their SDKs not yet loaded.
    found = run_web(settings, cast.integration_token,
                    SLACK_BOT_TOKEN="xoxb-test", SLACK_SIGNING_SECRET="secret",
                    TWILIO_ACCOUNT_SID="AC00000000000000000000000000000000",
                    TWILIO_AUTH_TOKEN="token", TWILIO_FROM_NUMBER="+12125550147")
    assert found == {"channels": ["console", "slack", "sms", "voice"], "at_start": [],
                     "status": 202, "after_intake": []}
