"""The console channel: prints the page on the worker's standard output. The page itself is
stored in the outbox like any other, so it can be read back with the API."""

from __future__ import annotations

import sys
from typing import TextIO

from oncall.channels import ChannelInfo, Defaults, OutgoingPage, Receipt, Recipient
from oncall.logsafe import escape

# No contact of its own; part of the built-in rules wherever the console pages.
INFO = ChannelInfo("console", address=lambda recipient: None, defaults=Defaults())


class ConsoleChannel:
    name = "console"

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    def reaches(self, recipient: Recipient) -> bool:
        return True

    def send(self, page: OutgoingPage) -> Receipt:
        out = self.stream or sys.stdout
        # One page, one line: a newline in an alert's summary must not print a line of its
        # own (a forged page or log line) nor an escape sequence reach the terminal.
        who, text = escape(page.recipient.email or page.recipient.name), escape(page.text)
        if page.kind == "notice":
            print(f"NOTICE to {who}: {text}", file=out, flush=True)
            return Receipt(provider_id=f"console-notice-{page.page_id}")
        print(f"PAGE to {who} (level {page.level}): {text}\n"
              f"     acknowledge: POST /api/v1/incidents/{page.incident_id}/ack",
              file=out, flush=True)
        return Receipt(provider_id=f"console-{page.page_id}")
