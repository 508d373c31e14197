"""The ``twilio`` SDK's HTTP client, recording each thread's last response.

Its own module because it subclasses an SDK class: importing it imports ``twilio`` and
``requests``, which :class:`oncall.channels.twilio.api.TwilioAPI` does only when it first talks
to Twilio (a web process that only takes alerts never loads them).
"""

from __future__ import annotations

import threading
from typing import Any

from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response


class RecordingHttpClient(TwilioHttpClient):
    """The SDK's own HTTP client, keeping each thread's last response so that a 429's
    ``Retry-After`` header can be read after the SDK has raised."""

    def __init__(self, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self._local = threading.local()

    def request(self, *args: Any, **kwargs: Any) -> Response:
        self._local.response = None
        response = super().request(*args, **kwargs)
        self._local.response = response
        return response

    def last_text(self) -> str:
        response = getattr(self._local, "response", None)
        return str(response.text) if response is not None else ""

    def last_headers(self) -> dict[str, str]:
        response = getattr(self._local, "response", None)
        return dict(response.headers or {}) if response is not None else {}
