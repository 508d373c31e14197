"""Managing the configuration that is not in files: users, services, escalation policies,
integrations and API tokens. The API (``oncall.web.manage``) and the console
(``oncall.web.console.manage``) call these functions; neither repeats a rule.

Each function takes the session as a keyword-free first argument and the actor
(``user:<email>``), changes rows and writes the audit log in the caller's transaction, and
raises ``Refused`` (a field, a message and the HTTP-like status to answer with) instead of
changing anything when the change is not allowed: a row managed by a config file (409, naming
the file), a name taken (409), an unknown row (404) or bad input (400)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,199}")  # as in config files ($defs/name)


class Refused(Exception):
    def __init__(self, field: str | None, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.status = status


def not_found(kind: str, ident: Any) -> Refused:
    return Refused(None, f"{kind} {ident} not found", 404)


def check_editable(kind: str, name: str, managed_by: str | None) -> None:
    """409 when a config file defines the row: it is changed there, and `oncall apply`."""
    if managed_by:
        raise Refused(None, f"{kind} {name} is managed by {managed_by}; edit that file and "
                            "run `oncall apply`", 409)


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def check_name(field: str, name: str) -> str:
    name = (name or "").strip()
    if not NAME.fullmatch(name):
        raise Refused(field, "letters, digits, '.', '_' and '-', starting with a letter or "
                             "digit, at most 200")
    return name
