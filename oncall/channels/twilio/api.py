"""The Twilio REST client the SMS and voice channels share, and how its failures are classed.

The real ``twilio`` SDK does the talking. ``TWILIO_API_BASE_URL`` points its ``api`` domain
(``api.twilio.com``, where Messages and Calls live) at a mock or proxy: the SDK supports that
by its ``Domain.base_url`` attribute, so the request it sends is otherwise exactly what it
would send to Twilio.

``twilio`` and ``requests`` are imported when a client first talks to Twilio, not when this
module is: a web process that only takes alerts never loads them.
"""

from __future__ import annotations

import json
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from oncall.channels import DeliveryError, OutgoingPage, Receipt, Recipient
from oncall.config import Settings

if TYPE_CHECKING:
    from twilio.base.exceptions import TwilioRestException, TwilioServiceException
    from twilio.rest import Client

    from oncall.channels.twilio.http import RecordingHttpClient

T = TypeVar("T")

# Twilio error codes that no retry will fix: the number, not the moment, is the problem.
# https://www.twilio.com/docs/api/errors
PERMANENT_CODES = {
    20003,  # authentication failed (wrong account SID or token: retrying won't help)
    20404,  # resource not found (e.g. wrong account)
    21211,  # invalid 'To' phone number
    21212,  # invalid 'From' phone number
    21214,  # 'To' number cannot be reached
    21217,  # phone number does not appear to be valid
    21219,  # 'To' not verified (trial accounts)
    21401,  # invalid phone number (voice)
    21408,  # permission to send to this region not enabled
    21606,  # 'From' number is not a valid SMS-capable number
    21610,  # recipient unsubscribed (replied STOP)
    21612,  # 'To' not currently reachable via SMS
    21614,  # 'To' is not a mobile number
    30004,  # message blocked
    30005,  # unknown destination handset
    30006,  # landline or unreachable carrier
    30007,  # message filtered by the carrier
    30032,  # toll-free number not verified
}
# Codes that mean "try again later" whatever the HTTP status says.
TRANSIENT_CODES = {20429, 20500, 20503, 30001, 30003, 30008, 30009, 30010, 31005}


def is_permanent_code(code: int | None, http_status: int | None = None) -> bool:
    """Classify a Twilio error: True when no retry can succeed."""
    if code in TRANSIENT_CODES:
        return False
    if code in PERMANENT_CODES:
        return True
    if http_status is None:
        return False  # an asynchronous failure with an unknown code: try again
    return 400 <= http_status < 500 and http_status not in (408, 409, 429)


class TwilioChannel(ABC):
    """What the SMS and voice channels share: the client, who they reach (anyone with a
    phone), and the checks before a request."""

    name = ""

    def __init__(self, api: TwilioAPI) -> None:
        self.api = api

    def reaches(self, recipient: Recipient) -> bool:
        return bool(recipient.phone)

    @abstractmethod
    def send(self, page: OutgoingPage) -> Receipt:
        """Each channel's own request (a message, a call)."""

    def destination(self, page: OutgoingPage) -> str:
        """The number to page, or a permanent DeliveryError saying why there is none."""
        if not page.recipient.phone:
            raise DeliveryError(f"{page.recipient.email or page.recipient.name} has no phone "
                                "number", permanent=True)
        if not self.api.from_number:
            raise DeliveryError("TWILIO_FROM_NUMBER is not set", permanent=True)
        return page.recipient.phone


C = TypeVar("C", bound=TwilioChannel)


def setup_channel(settings: Settings, make: Callable[[TwilioAPI], C]) -> C | None:
    """Register a Twilio channel when Twilio credentials are configured."""
    if not settings.twilio_enabled:
        return None
    from oncall.channels.registry import register

    channel = make(TwilioAPI(settings))
    register(channel)
    return channel


class TwilioAPI:
    """One authenticated client (thread-safe: one requests session per process), made when
    it is first used."""

    def __init__(self, settings: Settings) -> None:
        if not settings.twilio_enabled:
            raise ValueError("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are required")
        self.settings = settings
        self.from_number = settings.twilio_from_number
        self.public_url = settings.public_url.rstrip("/")
        self._lock = threading.Lock()
        self._http: RecordingHttpClient | None = None
        self._client: Client | None = None

    @property
    def client(self) -> Client:
        return self._connect()[1]

    @property
    def http(self) -> RecordingHttpClient:
        return self._connect()[0]

    def _connect(self) -> tuple[RecordingHttpClient, Client]:
        """The HTTP client and the SDK client on it, made once (the first use imports the
        ``twilio`` SDK)."""
        if self._http is not None and self._client is not None:
            return self._http, self._client
        with self._lock:
            if self._http is None or self._client is None:
                from twilio.rest import Client

                from oncall.channels.twilio.http import RecordingHttpClient

                http = RecordingHttpClient(timeout=self.settings.twilio_timeout)
                client = Client(self.settings.twilio_account_sid,
                                self.settings.twilio_auth_token, http_client=http)
                if self.settings.twilio_api_base_url:
                    client.api.base_url = self.settings.twilio_api_base_url.rstrip("/")
                self._http, self._client = http, client
            return self._http, self._client

    @property
    def status_callback(self) -> str:
        return f"{self.public_url}/twilio/status"

    def call(self, fn: Callable[[], T]) -> T:
        """Run one SDK call, turning every failure into a :class:`DeliveryError`."""
        import requests
        from twilio.base.exceptions import (
            TwilioException,
            TwilioRestException,
            TwilioServiceException,
        )

        try:
            return fn()
        except (TwilioRestException, TwilioServiceException) as exc:
            raise self._classify(exc) from exc
        except TwilioException as exc:  # e.g. a list's next page that would not load
            raise DeliveryError(f"twilio: {exc}", permanent=False) from exc
        except requests.Timeout as exc:
            raise DeliveryError(f"twilio: timed out: {exc}", permanent=False,
                                answer_lost=may_have_left(exc)) from exc
        except requests.RequestException as exc:
            raise DeliveryError(f"twilio: connection failed: {exc}", permanent=False,
                                answer_lost=may_have_left(exc)) from exc

    def _classify(self, exc: TwilioRestException | TwilioServiceException) -> DeliveryError:
        status = int(exc.status) if exc.status is not None else None
        code = int(exc.code) if isinstance(exc.code, int | str) and str(exc.code).isdigit() \
            else None
        message = getattr(exc, "msg", None) or getattr(exc, "detail", None) or str(exc)
        problems = _validation(self.http.last_text())
        if problems:  # a mock such as Prism says what was wrong with the request
            message = f"{message} ({problems})"
        permanent = is_permanent_code(code, status)
        wait = retry_after(self.http.last_headers()) if status == 429 or code == 20429 else None
        return DeliveryError(f"twilio {status} error {code}: {message}", permanent=permanent,
                             retry_after=wait)


def may_have_left(exc: Exception) -> bool:
    """Whether a request that failed this way may still have reached Twilio: yes, unless
    the connection was never made (refused, or timed out while connecting). A read timeout
    or a connection dropped mid-answer leaves the message possibly taken."""
    import requests
    from urllib3.exceptions import NewConnectionError

    if isinstance(exc, requests.ConnectTimeout):
        return False
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return not isinstance(exc.args[0] if exc.args else None, NewConnectionError) \
        and not isinstance(reason, NewConnectionError)


def retry_after(headers: dict[str, str]) -> float | None:
    for name, value in headers.items():
        if name.lower() == "retry-after":
            try:
                return max(0.0, float(value))
            except ValueError:
                return None
    return None


def _validation(body: str) -> str:
    try:
        found = json.loads(body).get("validation") or []
    except (ValueError, AttributeError):
        return ""
    return "; ".join(str(v.get("message")) for v in found if isinstance(v, dict))
