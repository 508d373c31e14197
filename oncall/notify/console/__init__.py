"""The console channel: prints the page on the worker's standard output. The page itself is
stored in the outbox like any other, so it can be read back with the API."""

from __future__ import annotations

import sys
from typing import TextIO

from oncall.notify import OutgoingPage, Receipt, Recipient


class ConsoleChannel:
    name = "console"

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    def reaches(self, recipient: Recipient) -> bool:
        return True

    def send(self, page: OutgoingPage) -> Receipt:
        out = self.stream or sys.stdout
        who = page.recipient.email or page.recipient.name
        if page.kind == "notice":
            print(f"NOTICE to {who}: {page.text}", file=out, flush=True)
            return Receipt(provider_id=f"console-notice-{page.page_id}")
        print(f"PAGE to {who} (level {page.level}): {page.text}\n"
              f"     acknowledge: POST /api/v1/incidents/{page.incident_id}/ack",
              file=out, flush=True)
        return Receipt(provider_id=f"console-{page.page_id}")
