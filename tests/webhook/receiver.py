"""A webhook receiver for the tests: a local HTTP server (a thread) that checks each
request's signature the way docs/channels.md tells a receiver to, records what came, and
answers with the statuses it is told (then 200)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from oncall.channels.webhook import signing


@dataclass
class Received:
    verified: bool
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Receiver:
    secret: str
    answers: list[int] = field(default_factory=list)  # statuses to answer first, in order
    delay: float = 0.0  # seconds to wait before answering (a slow receiver)
    got: list[Received] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/oncall"

    def handle(self, headers: dict[str, str], raw: bytes) -> int:
        """A real receiver's steps: verify, refuse a bad signature (401), else take it."""
        verified = signing.verify(self.secret, headers.get(signing.HEADER, ""), raw,
                                  time.time())
        self.got.append(Received(verified, headers, json.loads(raw)))
        if not verified:
            return 401
        return self.answers.pop(0) if self.answers else 200

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                time.sleep(receiver.delay)
                status = receiver.handle(dict(self.headers.items()), raw)
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", "30")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
