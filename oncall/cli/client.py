"""The responders' commands talk to a running service over its REST API: where it is and the
API token to use are saved by ``oncall login`` in the user's config directory
(``~/.config/oncall/credentials.json`` on Linux, readable by its owner only), or given by
``ONCALL_URL`` and ``ONCALL_TOKEN``.

Every failure is a ``click.ClickException`` of one line that names what to do about it; no
traceback reaches the terminal. HTTP is the standard library's (``urllib``)."""

from __future__ import annotations

import json
import os
import socket
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

TIMEOUT = 15.0
CREDENTIALS = "credentials.json"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is reported, not followed: a followed one would carry the token (and a
    POST's password) to wherever it points, or turn the POST into a GET."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirects)


class Failed(click.ClickException):
    """One line, exit status 1."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))


def config_dir() -> Path:
    """``$XDG_CONFIG_HOME/oncall`` (``~/.config/oncall``) on Linux; click picks the
    platform's place elsewhere."""
    return Path(click.get_app_dir("oncall"))


def credentials_path() -> Path:
    return config_dir() / CREDENTIALS


def normalize_url(url: str) -> str:
    url = url.strip().rstrip("/")
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise Failed(f"{url!r} is not the service's address: give it as https://host "
                     "(or http://127.0.0.1:8080 for `oncall up` on this machine)")
    if parsed.query or parsed.fragment:
        raise Failed(f"{url!r}: give the service's address without ?query or #fragment")
    return url


def save(data: dict[str, Any]) -> Path:
    """Write the credentials, the directory 0700 and the file 0600 from the first byte
    (written to a temporary file beside it, then renamed over the old one)."""
    folder = config_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)
    path = folder / CREDENTIALS
    tmp = folder / f".{CREDENTIALS}.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        if hasattr(os, "fchmod"):  # POSIX: whatever the umask, owner only
            os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(data, out, indent=2)
            out.write("\n")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def load() -> dict[str, Any] | None:
    path = credentials_path()
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise Failed(f"cannot read {path} ({exc}): delete it and run `oncall login URL` "
                     "again") from None
    if not isinstance(data, dict) or not isinstance(data.get("url"), str) \
            or not isinstance(data.get("token"), str):
        raise Failed(f"{path} is not what `oncall login` writes: delete it and run "
                     "`oncall login URL` again")
    return data


@dataclass
class Remote:
    url: str
    token: str | None = None
    email: str | None = None
    from_env: bool = False

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                body: dict[str, Any] | None = None, not_found: str | None = None,
                unauthorized: str | None = None, auth: bool = True) -> Any:
        """The decoded JSON answer (None for 204); any failure a one-line ``Failed``."""
        url = self.url + path
        if params:
            url += "?" + urllib.parse.urlencode({k: v for k, v in params.items()
                                                 if v is not None})
        headers = {"Accept": "application/json", "User-Agent": "oncall-cli"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if auth and self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with _opener.open(req, timeout=TIMEOUT) as resp:
                status, raw, ctype = resp.status, resp.read(), resp.headers.get_content_type()
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            if 300 <= exc.code < 400:
                raise self._redirected(exc.headers.get("Location") or "?") from None
            raise self._refused(exc.code, raw, not_found, unauthorized) from None
        except TimeoutError:
            raise Failed(f"no answer from {self.url} within {TIMEOUT:.0f} s: is the service "
                         "up? try again") from None
        except urllib.error.URLError as exc:
            raise Failed(f"cannot reach {self.url} ({_reason(exc.reason)}): is the service "
                         "running there, and is the address right? (`oncall login URL` "
                         "saves another)") from None
        except (OSError, ValueError) as exc:  # a reset connection, an http.client oddity
            raise Failed(f"cannot talk to {self.url} ({_reason(exc)}): check the address "
                         "and try again") from None
        if status == 204 or not raw:
            return None
        if ctype != "application/json":
            raise Failed(f"{self.url} answered {method} {path} with {ctype}, not the "
                         "oncall API's JSON: is this the address of the oncall service?")
        try:
            return json.loads(raw)
        except ValueError:
            raise Failed(f"{self.url} answered {method} {path} with malformed JSON: is this "
                         "the address of the oncall service?") from None

    def _redirected(self, location: str) -> Failed:
        target = urllib.parse.urljoin(self.url + "/", location)
        parts = urllib.parse.urlsplit(target)
        base = f"{parts.scheme}://{parts.netloc}"
        return Failed(f"{self.url} redirects to {target}: use that address, e.g. "
                      f"`oncall login {base}`")

    def _refused(self, status: int, raw: bytes, not_found: str | None,
                 unauthorized: str | None) -> Failed:
        try:
            message = str(json.loads(raw).get("error") or "")
        except (ValueError, AttributeError):
            message = ""
        if status == 401:
            if unauthorized:
                return Failed(unauthorized)
            if self.from_env:
                return Failed(f"{self.url} refused ONCALL_TOKEN (revoked, expired or "
                              "unknown): set a valid token, or unset it and run "
                              "`oncall login`")
            return Failed(f"{self.url} no longer accepts your API token (revoked or "
                          f"expired): log in again with `oncall login {self.url}`")
        if status == 403:
            return Failed(f"not allowed: {message or 'your role may not do this'} "
                          "(an admin can change your role)")
        if status == 404:
            if not message or "<" in message:  # not our API's error body
                return Failed(f"{self.url} has no oncall API here (404): is this the address "
                              "of the oncall service?")
            return Failed(not_found or message)
        if status == 429:
            return Failed(message or "too many requests: wait a minute and try again")
        if status in (400, 409, 413, 422):
            return Failed(message or f"the service refused the request ({status})")
        if status >= 500:
            return Failed(f"{self.url} failed ({status}{': ' + message if message else ''});"
                          " try again in a moment, or tell its operator")
        return Failed(f"{self.url} answered {status}{': ' + message if message else ''}")


def _reason(reason: object) -> str:
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, socket.gaierror):
        return "unknown host name"
    if isinstance(reason, ssl.SSLCertVerificationError):
        return f"its TLS certificate is not trusted: {reason.verify_message}"
    if isinstance(reason, TimeoutError):
        return "timed out"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror.lower()
    return str(reason)


def remote() -> Remote:
    """The service and token to use: ``ONCALL_URL`` / ``ONCALL_TOKEN`` when set, else what
    ``oncall login`` saved."""
    saved = load()
    env_url, env_token = os.environ.get("ONCALL_URL"), os.environ.get("ONCALL_TOKEN")
    url = env_url or (saved or {}).get("url")
    if not url:
        raise Failed("not logged in: run `oncall login https://oncall.example.com` (the "
                     "address of your oncall service), or set ONCALL_URL and ONCALL_TOKEN")
    url = normalize_url(url)
    if env_token:
        return Remote(url, env_token, None, from_env=True)
    if saved is None or normalize_url(saved["url"]) != url:
        raise Failed(f"not logged in to {url}: run `oncall login {url}`, or set "
                     "ONCALL_TOKEN")
    return Remote(url, saved["token"], saved.get("email"))
