"""Settings, read from the environment through small typed helpers that fail loudly.

Every name is prefixed ``ONCALL_`` except the providers' own (``TWILIO_*``, ``SLACK_*``).
Any secret may instead be given as ``<NAME>_FILE``, the path of a file holding it.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the message names it."""


def env_str(name: str, default: str | None = None) -> str | None:
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        try:
            return Path(file_path).read_text().strip()
        except OSError as exc:
            raise ConfigError(f"{name}_FILE: cannot read {file_path}: {exc}") from exc
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def env_int(name: str, default: int) -> int:
    raw = env_str(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc


def env_positive_int(name: str, default: int) -> int:
    value = env_int(name, default)
    if value < 1:
        raise ConfigError(f"{name} must be at least 1, got {value}")
    return value


def env_float(name: str, default: float) -> float:
    raw = env_str(name)
    if raw is None:
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc


def env_days(name: str, default: float) -> float:
    """A number of days, above 0 and at most 100 years."""
    value = env_float(name, default)
    if not 0 < value <= 36525:
        raise ConfigError(f"{name} must be a number of days above 0 (at most 36525), "
                          f"got {value!r}")
    return value


def env_bool(name: str, default: bool) -> bool:
    raw = env_str(name)
    if raw is None:
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def default_data_dir() -> Path:
    return Path(env_str("ONCALL_DATA_DIR") or ".oncall")


def sqlite_url(data_dir: Path, name: str = "oncall.sqlite") -> str:
    return f"sqlite:///{(data_dir / name).resolve()}"


DEFAULT_INTAKE_RATE_LIMIT = "100/second;3000/minute"
DEFAULT_SIGNIN_RATE_LIMIT = "5/15minutes"


@dataclass(frozen=True)
class Settings:
    database_url: str
    broker_url: str
    public_url: str
    secret_key: str
    data_dir: Path
    deadman_url: str | None = None
    deadman_interval: float = 60.0
    sweep_interval: float = 1.0
    # Beat (through the worker) must have swept within this many seconds for /ready.
    ready_max_sweep_age: float = 30.0
    max_body_bytes: int = 1024 * 1024
    # The longest override a responder / a manager or admin may create (oncall.permissions).
    max_override_days: float = 14.0
    manager_max_override_days: float = 366.0
    # The largest config file `oncall apply` reads (rules/, schedules/).
    config_max_bytes: int = 1024 * 1024
    # Alerts one webhook request may carry (a generic array, Alertmanager's or Grafana's
    # ``alerts``); more is refused whole with 413. Alertmanager batches by group, so a real
    # sender stays far below it.
    max_alerts_per_request: int = 1000
    metrics_dir: str | None = None
    # Slack: disabled without a bot token; the signing secret verifies Slack's requests.
    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_api_base_url: str | None = None
    # Per-integration intake limit (flask-limiter notation, ";"-separated), "off" to disable,
    # and where the counters live (default: the broker's Redis, else this process's memory).
    intake_rate_limit: str = DEFAULT_INTAKE_RATE_LIMIT
    ratelimit_storage_url: str | None = None
    # Twilio (SMS and voice). Without an account SID and auth token the console stands in.
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_from_number: str | None = None
    twilio_api_base_url: str | None = None  # a mock or proxy instead of https://api.twilio.com
    twilio_timeout: float = 10.0
    # The console: a session unused this long ends; failed sign-ins allowed per account and
    # per client address (flask-limiter notation), counted where the intake limits are.
    session_idle_minutes: int = 720
    signin_rate_limit: str = DEFAULT_SIGNIN_RATE_LIMIT
    # Email pages (oncall.channels.email): off without ONCALL_SMTP_URL; the From address; how
    # long the one-click Acknowledge / Resolve links in a page work.
    smtp_url: str | None = None
    smtp_from: str | None = None
    smtp_timeout: float = 10.0
    email_link_hours: float = 24.0
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def twilio_enabled(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token)

    @property
    def embedded(self) -> bool:
        return self.database_url.startswith("sqlite")


def load_settings(data_dir: Path | None = None) -> Settings:
    """Read settings; without ``ONCALL_DATABASE_URL`` the embedded SQLite files under
    ``data_dir`` (``--data``, ``ONCALL_DATA_DIR`` or ``./.oncall``) are used."""
    data = Path(data_dir) if data_dir is not None else default_data_dir()
    database_url = env_str("ONCALL_DATABASE_URL") or sqlite_url(data)
    if database_url.startswith("postgresql://"):
        # psycopg 3 is the driver we ship; accept the plain scheme users copy from docs.
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://"):]
    broker_url = env_str("ONCALL_BROKER_URL") or "sqla+" + sqlite_url(data, "broker.sqlite")
    return Settings(
        database_url=database_url,
        broker_url=broker_url,
        public_url=(env_str("ONCALL_PUBLIC_URL") or "http://127.0.0.1:8080").rstrip("/"),
        secret_key=env_str("ONCALL_SECRET_KEY") or "",
        data_dir=data,
        deadman_url=env_str("ONCALL_DEADMAN_URL"),
        deadman_interval=env_float("ONCALL_DEADMAN_INTERVAL", 60.0),
        sweep_interval=env_float("ONCALL_SWEEP_INTERVAL", 1.0),
        ready_max_sweep_age=env_float("ONCALL_READY_MAX_SWEEP_AGE", 30.0),
        max_body_bytes=env_int("ONCALL_MAX_BODY_BYTES", 1024 * 1024),
        max_override_days=env_days("ONCALL_MAX_OVERRIDE_DAYS", 14.0),
        manager_max_override_days=env_days("ONCALL_MANAGER_MAX_OVERRIDE_DAYS", 366.0),
        config_max_bytes=env_int("ONCALL_CONFIG_MAX_BYTES", 1024 * 1024),
        max_alerts_per_request=env_positive_int("ONCALL_MAX_ALERTS_PER_REQUEST", 1000),
        metrics_dir=env_str("ONCALL_METRICS_DIR") or env_str("PROMETHEUS_MULTIPROC_DIR"),
        slack_bot_token=env_str("SLACK_BOT_TOKEN"),
        slack_signing_secret=env_str("SLACK_SIGNING_SECRET"),
        slack_api_base_url=env_str("SLACK_API_BASE_URL"),
        intake_rate_limit=env_str("ONCALL_INTAKE_RATE_LIMIT") or DEFAULT_INTAKE_RATE_LIMIT,
        ratelimit_storage_url=env_str("ONCALL_RATELIMIT_STORAGE_URL"),
        twilio_account_sid=env_str("TWILIO_ACCOUNT_SID"),
        twilio_auth_token=env_str("TWILIO_AUTH_TOKEN"),
        twilio_from_number=env_str("TWILIO_FROM_NUMBER"),
        twilio_api_base_url=env_str("TWILIO_API_BASE_URL"),
        twilio_timeout=env_float("TWILIO_TIMEOUT", 10.0),
        session_idle_minutes=env_positive_int("ONCALL_SESSION_IDLE_MINUTES", 720),
        signin_rate_limit=env_str("ONCALL_SIGNIN_RATE_LIMIT") or DEFAULT_SIGNIN_RATE_LIMIT,
        **smtp_settings(),
    )


SMTP_SCHEMES = ("smtp", "smtps")


def smtp_settings() -> dict[str, Any]:
    """``ONCALL_SMTP_URL`` (``smtp://[user:pass@]host[:port]``, STARTTLS when the server
    offers it and always before a password is sent; ``smtps://...`` TLS from the first byte),
    ``ONCALL_SMTP_FROM`` (required with it), ``ONCALL_SMTP_TIMEOUT`` (seconds) and
    ``ONCALL_EMAIL_LINK_HOURS`` (how long an email's action links work)."""
    from urllib.parse import urlsplit

    url, sender = env_str("ONCALL_SMTP_URL"), env_str("ONCALL_SMTP_FROM")
    hours = env_float("ONCALL_EMAIL_LINK_HOURS", 24.0)
    if not 0 < hours <= 24 * 30:
        raise ConfigError(f"ONCALL_EMAIL_LINK_HOURS must be above 0 and at most 720, got {hours}")
    out: dict[str, Any] = {"smtp_timeout": env_float("ONCALL_SMTP_TIMEOUT", 10.0),
                              "email_link_hours": hours}
    if url is None:
        return out
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise ConfigError(f"ONCALL_SMTP_URL: {exc}") from exc
    if parts.scheme not in SMTP_SCHEMES or not parts.hostname:
        raise ConfigError("ONCALL_SMTP_URL must look like smtp://user:password@host:587 "
                          "(STARTTLS), smtps://user:password@host:465 (TLS) or "
                          "smtp://localhost:25")
    if not sender or "@" not in sender:
        raise ConfigError("ONCALL_SMTP_FROM must be set to the address email pages come from "
                          "(e.g. oncall@example.com, or 'oncall <oncall@example.com>') when "
                          "ONCALL_SMTP_URL is set")
    out.update(smtp_url=url, smtp_from=sender)
    return out


# The development value older versions fell back to: as good as no key at all.
_KNOWN_KEYS = ("dev-only-insecure-key",)
SECRET_KEY_FILE = "secret_key"


def require_secret_key(settings: Settings, process: str) -> None:
    """Refuse to run a production process (``oncall web``, ``worker``, ``beat``) without a
    secret key of its own: a fixed fallback would be the same on every installation."""
    if settings.secret_key and settings.secret_key not in _KNOWN_KEYS:
        return
    what = "is not set" if not settings.secret_key else "is the old development value"
    raise ConfigError(
        f"ONCALL_SECRET_KEY {what}; {process} will not start without a secret key of its "
        "own. Generate one with\n"
        "  python3 -c 'import secrets; print(secrets.token_hex(32))'\n"
        "and set it as ONCALL_SECRET_KEY, or put it in a file named by ONCALL_SECRET_KEY_FILE "
        "(the same key for every process of the installation). `oncall up` (embedded) makes "
        "one by itself.")


def embedded_secret_key(data_dir: Path) -> Path:
    """The embedded installation's key file (``<data dir>/secret_key``, readable by its owner
    only), made once with a random key and then kept, so that what was signed with it stays
    valid across restarts."""
    path = data_dir / SECRET_KEY_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if not path.read_text().strip():
            raise ConfigError(f"{path} is empty; delete it to have a new key made") from None
        return path
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_hex(32) + "\n")
    return path
