"""A small JSON-over-HTTP client for importers: GET only (an importer never writes to its
source), timeouts, retries of rate-limit (429, honouring ``Retry-After``) and 5xx answers and
of dropped connections, and ``offset``/``limit``/``more`` pagination. Every failure is a
:class:`SourceError` whose message is one line naming what to fix."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from email.utils import parsedate_to_datetime
from typing import Any

__all__ = ["ApiClient", "SourceError"]


class SourceError(Exception):
    """The source could not be read; ``str()`` is one line for the operator."""


class ApiClient:
    """GET JSON from ``base_url`` with ``headers``. ``retries`` more attempts after a 429, a
    5xx or a dropped connection, waiting ``Retry-After`` (at most ``max_wait`` seconds) or an
    exponential backoff from ``backoff`` seconds. ``name`` is the source, for messages."""

    def __init__(self, base_url: str, headers: dict[str, str], *, name: str,
                 timeout: float = 30.0, retries: int = 4, backoff: float = 1.0,
                 max_wait: float = 60.0, sleep: Callable[[float], None] = time.sleep) -> None:
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise SourceError(f"--url {base_url!r} is not an http(s) URL")
        self.base_url = base_url.rstrip("/")
        self.headers = {"Accept": "application/json", **headers}
        self.name = name
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_wait = max_wait
        self.sleep = sleep
        self.requests = 0

    def url(self, path: str, params: dict[str, Any] | None = None) -> str:
        query = urllib.parse.urlencode(
            [(k, x) for k, v in (params or {}).items() if v is not None
             for x in (v if isinstance(v, list | tuple) else [v])])
        return f"{self.base_url}{path}" + (f"?{query}" if query else "")

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        url = self.url(path, params)
        attempt = 0
        while True:
            attempt += 1
            self.requests += 1
            request = urllib.request.Request(url, headers=self.headers, method="GET")
            wait: float | None = None
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    body = response.read()
            except urllib.error.HTTPError as exc:
                status = exc.code
                # Retry-After, or the seconds until the window resets (PagerDuty's
                # ratelimit-reset) when only that is sent.
                retry_after = (exc.headers.get("Retry-After")
                               or exc.headers.get("ratelimit-reset"))
                detail = _detail(exc) if status < 500 and status != 429 else ""
                exc.close()
                if status in (401, 403):
                    raise SourceError(
                        f"{self.name} refused the token ({status} "
                        f"{'unauthorized' if status == 401 else 'forbidden'}) for GET {path}: "
                        "check the token in the environment variable and its read access, "
                        f"and that --url {self.base_url} is {self.name}'s API") from None
                if status == 404:
                    raise SourceError(f"{self.name}: GET {path} answered 404 not found "
                                      "(is --url the API's base URL?)") from None
                if status != 429 and status < 500:
                    raise SourceError(f"{self.name}: GET {path} answered {status}: "
                                      f"{detail}") from None
                wait = _retry_after(retry_after)
                problem = f"answered {status}"
            except TimeoutError:
                problem = f"timed out after {self.timeout:g} s"
            except urllib.error.URLError as exc:
                if isinstance(exc.reason, TimeoutError):
                    problem = f"timed out after {self.timeout:g} s"
                else:
                    problem = (f"could not connect ({exc.reason}): is --url {self.base_url} "
                               "right, and reachable from here?")
            except (ConnectionError, OSError) as exc:
                problem = f"connection failed ({exc})"
            else:
                try:
                    return json.loads(body)
                except ValueError:
                    raise SourceError(f"{self.name}: GET {path} did not answer JSON: is --url "
                                      f"{self.base_url} {self.name}'s API (not its web "
                                      "app)?") from None
            if attempt > self.retries:
                tries = "1 attempt" if attempt == 1 else f"{attempt} attempts"
                raise SourceError(f"{self.name}: GET {path} {problem} ({tries})") from None
            if wait is None:
                wait = self.backoff * 2 ** (attempt - 1)
            self.sleep(min(wait, self.max_wait))

    def paginate(self, path: str, key: str, params: dict[str, Any] | None = None,
                 limit: int = 100) -> Iterator[dict[str, Any]]:
        """Every item of ``key`` over the ``offset``/``limit``/``more`` pages."""
        offset = 0
        while True:
            page = self.get(path, {**(params or {}), "offset": offset, "limit": limit})
            items = page.get(key)
            if not isinstance(items, list):
                raise SourceError(f"{self.name}: GET {path} has no {key!r} list")
            yield from items
            if not page.get("more") or not items:
                return
            offset += len(items)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _detail(exc: urllib.error.HTTPError) -> str:
    try:
        data = json.loads(exc.read() or b"{}")
        error = data.get("error", data)
        if isinstance(error, dict):
            return str(error.get("message") or error)[:200]
        return str(error)[:200]
    except (ValueError, OSError):
        return exc.reason if isinstance(exc.reason, str) else "error"
