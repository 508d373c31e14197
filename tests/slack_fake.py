"""A local fake of the Slack Web API, reached through ``SLACK_API_BASE_URL``.

It records every call, answers in Slack's shapes (``ok``, ``channel``, ``ts``; errors as
HTTP 200 ``{"ok": false, "error": ...}``; rate limits as 429 with ``Retry-After``), and can
be scripted per method. Tests read the calls like a script, GoAlert style: ``expect`` takes
the next call and checks it; ``done`` fails on any call nobody expected (a duplicate post,
an update too many).

Also here: signing requests the way Slack documents it, independently of slack-sdk.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

TOKEN = "xoxb-test-token"
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"  # FORMATS.md §5.2 (fake)


def sign(body: bytes | str, secret: str = SECRET, timestamp: int | None = None) -> dict[str, str]:
    """Headers for a request Slack signed: v0=hex(HMAC-SHA256(secret, "v0:{ts}:{body}"))."""
    raw = body.encode() if isinstance(body, str) else body
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + raw,
                      hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}",
            "Content-Type": "application/x-www-form-urlencoded"}


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    auth: str | None


@dataclass
class Reply:
    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


class FakeSlack:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.seen = 0  # calls consumed by expect()
        self.scripted: dict[str, list[Reply]] = {}
        self.directory: dict[str, str] = {}  # email -> member id, for users.lookupByEmail
        self._lock = threading.Lock()
        self._ts = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._handle(self)

            def do_POST(self) -> None:
                fake._handle(self)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        host, port = self.server.server_address[:2]
        self.url = f"http://{host!s}:{port}"
        self.base_url = f"{self.url}/api/"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def response_url(self, name: str = "1") -> str:
        return f"{self.url}/respond/{name}"

    # --- scripting and reading ------------------------------------------------------------

    def script(self, method: str, *replies: Reply) -> None:
        """The next answers to ``method``, in order; afterwards the default answers."""
        with self._lock:
            self.scripted.setdefault(method, []).extend(replies)

    def error(self, method: str, code: str, status: int = 200,
              retry_after: int | None = None) -> None:
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        self.script(method, Reply({"ok": False, "error": code}, status, headers))

    def wait(self, count: int, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.calls) - self.seen >= count:
                    return
            time.sleep(0.05)
        raise AssertionError(f"waited {timeout}s for {count} Slack call(s); unread: "
                             f"{self.unread()}")

    def unread(self) -> list[Call]:
        with self._lock:
            return self.calls[self.seen:]

    def expect(self, method: str, timeout: float = 0.0, **match: Any) -> Call:
        """The next call: it must be ``method`` with these arguments (a subset match)."""
        if timeout:
            self.wait(1, timeout)
        with self._lock:
            if self.seen >= len(self.calls):
                raise AssertionError(f"expected {method} {match}, but Slack got no more calls")
            call = self.calls[self.seen]
            self.seen += 1
        assert call.method == method, f"expected {method}, got {call.method} {call.args}"
        for key, value in match.items():
            assert call.args.get(key) == value, (
                f"{method}: {key}={call.args.get(key)!r}, expected {value!r}")
        return call

    def take(self, method: str, count: int, timeout: float = 20.0) -> list[Call]:
        """The next ``count`` calls, all ``method``, in whatever order they came."""
        self.wait(count, timeout)
        with self._lock:
            calls = self.calls[self.seen:self.seen + count]
            self.seen += count
        assert [c.method for c in calls] == [method] * count, calls
        return calls

    def done(self) -> None:
        """Fail on any call that no expect() accounted for."""
        unexpected = self.unread()
        assert not unexpected, f"unexpected Slack calls: {unexpected}"

    # --- the server ----------------------------------------------------------------------

    def _handle(self, req: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(req.path)
        length = int(req.headers.get("Content-Length") or 0)
        raw = req.rfile.read(length) if length else b""
        args: dict[str, Any] = dict(parse_qsl(parts.query))
        if raw:
            if (req.headers.get("Content-Type") or "").startswith("application/json"):
                args.update(json.loads(raw))
            else:
                args.update(parse_qsl(raw.decode()))
        if parts.path.startswith("/respond/"):
            method, auth = "response_url", None
        else:
            method, auth = parts.path.removeprefix("/api/"), req.headers.get("Authorization")
        with self._lock:
            self.calls.append(Call(method, args, auth))
            queue = self.scripted.get(method)
            reply = queue.pop(0) if queue else None
        if reply is None:
            reply = self._default(method, args, auth)
        payload = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
        req.send_response(reply.status)
        req.send_header("Content-Type", "text/plain" if isinstance(reply.body, str)
                        else "application/json; charset=utf-8")
        for key, value in reply.headers.items():
            req.send_header(key, value)
        req.send_header("Content-Length", str(len(payload.encode())))
        req.end_headers()
        req.wfile.write(payload.encode())

    def _default(self, method: str, args: dict[str, Any], auth: str | None) -> Reply:
        if method == "response_url":
            return Reply("ok")
        if auth != f"Bearer {TOKEN}":
            return Reply({"ok": False, "error": "not_authed" if not auth else "invalid_auth"})
        if method == "chat.postMessage":
            with self._lock:
                self._ts += 1
                ts = f"{1741683730 + self._ts}.{self._ts:06d}"
            channel = str(args.get("channel", ""))
            if channel.startswith("#"):
                channel = "C" + hashlib.sha1(channel.encode()).hexdigest()[:9].upper()
            return Reply({"ok": True, "channel": channel, "ts": ts,
                          "message": {"type": "message", "ts": ts, "text": args.get("text"),
                                      "blocks": args.get("blocks", [])}})
        if method == "chat.update":
            return Reply({"ok": True, "channel": args.get("channel"), "ts": args.get("ts"),
                          "text": args.get("text")})
        if method == "conversations.open":
            return Reply({"ok": True, "channel": {"id": "D" + str(args.get("users"))[1:]}})
        if method == "users.lookupByEmail":
            found = self.directory.get(str(args.get("email")))
            if found is None:
                return Reply({"ok": False, "error": "users_not_found"})
            return Reply({"ok": True, "user": {"id": found, "profile": {
                "email": args.get("email")}}})
        if method == "users.info":
            emails = [e for e, uid in self.directory.items() if uid == args.get("user")]
            if not emails:
                return Reply({"ok": False, "error": "user_not_found"})
            return Reply({"ok": True, "user": {"id": args.get("user"),
                                               "profile": {"email": emails[0]}}})
        return Reply({"ok": False, "error": "unknown_method"})


def dm(user_id: str) -> str:
    """The DM channel id the fake opens for a member id."""
    return "D" + user_id[1:]


def channel_id(name: str) -> str:
    return "C" + hashlib.sha1(name.encode()).hexdigest()[:9].upper()


def free_port_url() -> str:
    """A base URL where nothing listens."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/api/"
