"""A fake Twilio REST API (Messages and Calls) on a loopback port, fake phones that expect
exact messages and fail on any message nobody expected, and Twilio's request signing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode
from xml.etree import ElementTree

ACCOUNT_SID = "AC5e0f2a4c6b8d0e1f3a5c7b9d1e3f5a7c"
AUTH_TOKEN = "0123456789abcdef0123456789abcdef"
FROM_NUMBER = "+12125550147"
PUBLIC_URL = "https://oncall.example.com"


def sign(url: str, params: dict[str, str], token: str = AUTH_TOKEN) -> str:
    """X-Twilio-Signature, computed here from Twilio's published algorithm (not with the SDK's
    RequestValidator, which the code under test uses): HMAC-SHA1 over the URL followed by
    each POST parameter's name and value, sorted by name; base64."""
    data = url + "".join(k + params[k] for k in sorted(params))
    digest = hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


@dataclass
class Received:
    kind: str  # message | call
    form: dict[str, str]
    auth: str | None
    path: str
    status: int = 0
    sid: str | None = None
    completed: bool = False
    at: float = field(default_factory=time.monotonic)
    wall: float = field(default_factory=time.time)


class FakeTwilio:
    """Records every Messages/Calls request. ``fail(...)`` queues error answers; ``delay``
    slows every answer (to widen a crash window); ``delay_for``, when set, says how long to
    hold the answer to each request (past the caller's timeout: an answer lost after the
    message was taken)."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.errors: deque[tuple[int, int, dict[str, str]]] = deque()
        self.error_for: dict[str, tuple[int, int]] = {}  # To number -> (status, code)
        self.delay = 0.0
        self.delay_for: Callable[[Received], float] | None = None
        self.lookups = 0
        self._lock = threading.Lock()
        self._sids = itertools.count(1)
        self.listeners: list[Callable[[Received], None]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def do_POST(self) -> None:
                fake._handle(self)

            def do_GET(self) -> None:
                fake._list(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail(self, status: int, code: int, times: int = 1,
             headers: dict[str, str] | None = None) -> None:
        for _ in range(times):
            self.errors.append((status, code, headers or {}))

    def accepted(self, kind: str = "message") -> list[Received]:
        with self._lock:
            return [r for r in self.requests if r.kind == kind and r.status == 201]

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        form = {k: v[-1] for k, v in parse_qs(handler.rfile.read(length).decode(),
                                              keep_blank_values=True).items()}
        found = re.fullmatch(r"/2010-04-01/Accounts/(\w+)/(Messages|Calls)\.json",
                             handler.path)
        if found is None:
            return self._answer(handler, 404, {"code": 20404, "message": "not found",
                                               "status": 404})
        kind = "message" if found.group(2) == "Messages" else "call"
        got = Received(kind, form, handler.headers.get("Authorization"), handler.path)
        with self._lock:
            self.requests.append(got)
            error = self.errors.popleft() if self.errors else None
            if error is None and form.get("To") in self.error_for:
                error = (*self.error_for[form["To"]], {})
            if error is None:  # taken: it exists at Twilio even if the caller dies now
                got.sid = f"{'SM' if kind == 'message' else 'CA'}{next(self._sids):032x}"
                got.status = 201
            else:
                got.status = error[0]
        delay = self.delay_for(got) if self.delay_for is not None else self.delay
        if delay:
            time.sleep(delay)
        if error is not None:
            status, code, headers = error
            body = {"code": code, "message": f"fake error {code}",
                    "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status}
            return self._answer(handler, status, body, headers)
        self._answer(handler, 201, self._resource(got, found.group(1)))
        got.completed = True
        for listener in list(self.listeners):
            listener(got)

    @staticmethod
    def _resource(got: Received, account: str) -> dict[str, Any]:
        return {"sid": got.sid, "account_sid": account, "to": got.form.get("To"),
                "from": got.form.get("From"), "body": got.form.get("Body"),
                "status": "queued", "api_version": "2010-04-01", "direction": "outbound-api",
                "date_created": format_datetime(datetime.fromtimestamp(got.wall, UTC),
                                                usegmt=True),
                "error_code": None, "num_segments": "1",
                "uri": f"{got.path[:-5]}/{got.sid}.json"}

    def _list(self, handler: BaseHTTPRequestHandler) -> None:
        """GET Messages.json?To=...: the most recent messages taken for a number."""
        path, _, query = handler.path.partition("?")
        found = re.fullmatch(r"/2010-04-01/Accounts/(\w+)/Messages\.json", path)
        if found is None:
            return self._answer(handler, 404, {"code": 20404, "message": "not found",
                                               "status": 404})
        args = {k: v[-1] for k, v in parse_qs(query).items()}
        size = int(args.get("PageSize", "50"))
        self.lookups += 1
        with self._lock:
            mine = [r for r in self.requests if r.kind == "message" and r.sid
                    and r.form.get("To") == args.get("To", r.form.get("To"))]
        items = [self._resource(r, found.group(1)) for r in reversed(mine)][:size]
        self._answer(handler, 200, {"messages": items, "page": 0, "page_size": size,
                                    "first_page_uri": handler.path, "next_page_uri": None,
                                    "previous_page_uri": None, "uri": handler.path,
                                    "start": 0, "end": max(0, len(items) - 1)})

    @staticmethod
    def _answer(handler: BaseHTTPRequestHandler, status: int, body: dict[str, Any],
                headers: dict[str, str] | None = None) -> None:
        raw = json.dumps(body).encode()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(raw)))
            for name, value in (headers or {}).items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(raw)
        except OSError:  # the caller went away (a killed worker)
            pass


class Phone:
    """A user's phone: SMS and calls from the fake Twilio arrive here. ``expect`` takes the
    next one and checks it; ``assert_quiet`` fails on any message nobody expected."""

    def __init__(self, number: str, twilio: FakeTwilio, client: Any) -> None:
        self.number = number
        self.twilio = twilio
        self.client = client
        self.seen = 0

    def _mine(self, kind: str) -> list[Received]:
        return [r for r in self.twilio.accepted(kind) if r.form.get("To") == self.number]

    def expect_sms(self, pattern: str) -> Received:
        inbox = self._mine("message")
        assert len(inbox) > self.seen, f"{self.number}: expected an SMS matching {pattern!r}"
        got = inbox[self.seen]
        self.seen += 1
        assert re.search(pattern, got.form["Body"], re.S), \
            f"{self.number}: SMS {got.form['Body']!r} does not match {pattern!r}"
        return got

    def assert_quiet(self) -> None:
        extra = [r.form["Body"] for r in self._mine("message")[self.seen:]]
        assert not extra, f"{self.number}: unexpected SMS {extra}"

    def reply(self, body: str, sid: str | None = None) -> tuple[int, str]:
        """Text back; returns (HTTP status, the TwiML reply's message text)."""
        form = {"From": self.number, "To": FROM_NUMBER, "Body": body,
                "MessageSid": sid or f"SM{time.monotonic_ns():032x}"[:34],
                "AccountSid": ACCOUNT_SID, "SmsStatus": "received", "NumMedia": "0",
                "ApiVersion": "2010-04-01"}
        r = post_signed(self.client, "/twilio/sms", form)
        assert r.mimetype == "text/xml", r.get_data(as_text=True)
        message = ElementTree.fromstring(r.get_data()).find("Message")
        return r.status_code, (message.text or "") if message is not None else ""


def post_signed(client: Any, path: str, form: dict[str, str], *, token: str = AUTH_TOKEN,
                signature: str | None = None) -> Any:
    sig = signature if signature is not None else sign(PUBLIC_URL + path, form, token)
    return client.post(path, data=urlencode(form),
                       content_type="application/x-www-form-urlencoded",
                       headers={"X-Twilio-Signature": sig})
