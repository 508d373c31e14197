"""Log lines that cannot be forged and carry no secrets, from every logger in the process.

Alert summaries, labels, Slack and Twilio answers and request paths end up in log messages.
A newline in a summary would start a line of the attacker's choosing (``\\n2026-... ERROR
...``) and an escape sequence would rewrite the operator's terminal; a request path or query
can carry a secret (``/integrations/<token>``, ``?token=`` of a calendar feed, the uuid of a
heartbeat's ``/ping/<uuid>``, a ``Bearer`` header quoted in an error).

:func:`install` wraps the log record factory once per process, so the rule holds for our
loggers and for gunicorn's access and error logs, werkzeug's, Flask's and Celery's alike,
whatever handler or formatter prints them: every argument of a message is escaped (control
characters as ``\\n``, ``\\x1b``, ...) and redacted, as is a message without arguments (an
f-string), the formatted message is redacted again (a template's ``/integrations/%s``), and
an exception's text is formatted the same way. A message template with arguments is code,
and keeps its own line breaks.
"""

from __future__ import annotations

import logging
import numbers
import re
import traceback
from collections.abc import Callable, Mapping
from typing import Any

REDACTED = "[redacted]"

_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r"}

_SECRETS: list[tuple[re.Pattern[str], str]] = [
    # Integration tokens and heartbeat uuids in paths (any absolute or relative URL).
    (re.compile(r"(/integrations/)[^/?#\s\"'<>]+"), rf"\g<1>{REDACTED}"),
    (re.compile(r"(/ping/)[^/?#\s\"'<>]+"), rf"\g<1>{REDACTED}"),
    # Feed tokens and keys in query strings.
    (re.compile(r"([?&;](?:token|feed_token|routing_key|key|api_key)=)[^&#\s\"'<>]+", re.I),
     rf"\g<1>{REDACTED}"),
    # A PagerDuty routing key quoted from a body; a bearer token quoted from a header.
    (re.compile(r"(\"routing_key\"\s*:\s*\")[^\"]*"), rf"\g<1>{REDACTED}"),
    (re.compile(r"(\bBearer\s+)[^\s\"',;]+", re.I), rf"\g<1>{REDACTED}"),
    # A password in a URL (a database or broker URL quoted in an error).
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^@\s/]+(@)", re.I),
     rf"\g<1>{REDACTED}\g<2>"),
    # Our own tokens wherever they appear: oci_ (integration), oct_ (API), ocf_ (feed).
    (re.compile(r"\b(oc[itf]_)[A-Za-z0-9_-]{8,}"), rf"\g<1>{REDACTED}"),
]


def _escape_char(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape(text: str) -> str:
    """``text`` on one line: control and line-separator characters as escapes (tab kept)."""
    return _CONTROL.sub(_escape_char, text)


def redact(text: str) -> str:
    """``text`` with the secrets we know the shape of replaced by ``[redacted]``."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


def safe(text: str) -> str:
    return escape(redact(text))


class _Safe:
    """An argument formatted safely when (and only if) the record is printed."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value

    def __str__(self) -> str:
        return safe(str(self.value))

    def __repr__(self) -> str:
        return safe(repr(self.value))


def _arg(value: Any) -> Any:
    if value is None or isinstance(value, numbers.Number):
        return value  # %d and %.1f must still work
    if isinstance(value, str):
        return safe(value)
    return _Safe(value)


def exception_text(exc: BaseException) -> str:
    """The traceback as logging prints it, with every exception's message (and notes) in
    the chain escaped and redacted: the frames are our code, the messages may quote input."""
    te = traceback.TracebackException.from_exception(exc)
    seen: set[int] = set()
    pending = [te]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(getattr(current, "_str", None), str):
            current._str = safe(current._str)  # type: ignore[attr-defined]
        notes = getattr(current, "__notes__", None)
        if isinstance(notes, list):
            current.__notes__ = [safe(str(n)) for n in notes]
        pending.extend(t for t in (current.__cause__, current.__context__) if t is not None)
        pending.extend(current.exceptions or [])
    return redact("".join(te.format())).rstrip("\n")


class SafeRecord(logging.LogRecord):
    """A record whose formatted message is redacted as a whole."""

    def getMessage(self) -> str:
        return redact(super().getMessage())


def sanitize(record: logging.LogRecord) -> None:
    """Make one record safe to print (see the module docstring)."""
    if record.args:
        if isinstance(record.args, Mapping):
            record.args = {k: _arg(v) for k, v in record.args.items()}
        elif isinstance(record.args, tuple):
            record.args = tuple(_arg(v) for v in record.args)
    elif isinstance(record.msg, str):
        record.msg = safe(record.msg)
    else:
        record.msg = _Safe(record.msg)
    if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
        record.exc_text = exception_text(record.exc_info[1])


def install() -> None:
    """Wrap the process's log record factory (once; calling again does nothing)."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "oncall_safe", False):
        return

    # The standard record becomes a SafeRecord; another library's factory is kept (its
    # records get everything but the final redaction of the formatted message).
    make = SafeRecord if previous is logging.LogRecord else previous

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        try:
            sanitize(record)
        except Exception:  # never lose a log line to its own cleaning
            record.msg, record.args = safe(repr(record.msg)), ()
        return record

    marked: Callable[..., logging.LogRecord] = factory
    marked.oncall_safe = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(marked)
